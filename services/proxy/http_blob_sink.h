#pragma once
// BlobSink over a held HttpRequest: the blob state machine's view of one client's response.
#include <memory>

#include "services/proxy/blob_ports.h"

namespace sc {

class HttpRequest;

class HttpBlobSink : public BlobSink {
 public:
  // Over the request being handled: retain() holds it.
  explicit HttpBlobSink(HttpRequest& req) : req_(&req) {}
  std::shared_ptr<BlobSink> retain() override;
  bool alive() const override;
  bool head_only() const override;
  std::string_view range() const override;
  size_t pending_output() const override;
  void add_header(std::string_view name, std::string_view value) override;
  void start(int status, std::string_view content_type, int64_t content_length) override;
  void send(std::string_view bytes) override;
  void send_file(int fd, int64_t offset, int64_t length) override;
  void finish() override;
  void abort() override;
  void reply_file(int status, int fd, int64_t offset, int64_t length) override;
  void reply_head(int status, int64_t content_length) override;
  void reply_oci_error(int status, std::string_view code, std::string_view message) override;
  void reply_fetch_error(const Error& e) override;

 private:
  explicit HttpBlobSink(std::shared_ptr<HttpRequest> held) : req_(held.get()), held_(std::move(held)) {}
  HttpRequest* req_;
  std::shared_ptr<HttpRequest> held_;  // set once retained
};

}  // namespace sc
