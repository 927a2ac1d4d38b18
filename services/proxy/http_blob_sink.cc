// BlobSink over HttpRequest (see http_blob_sink.h): streamed bodies, sendfile segments and
// whole answers; OCI error bodies through oci_reply.
#include "services/proxy/http_blob_sink.h"

#include <unistd.h>

#include "common/io/byte_buffer.h"
#include "common/io/http_server.h"
#include "services/proxy/oci_reply.h"

namespace sc {
namespace {
constexpr std::string_view kOctets = "application/octet-stream";
}

std::shared_ptr<BlobSink> HttpBlobSink::retain() {
  return std::shared_ptr<BlobSink>(new HttpBlobSink(held_ ? held_ : req_->hold()));
}

bool HttpBlobSink::alive() const { return req_->alive(); }
bool HttpBlobSink::head_only() const { return req_->method() == "HEAD"; }
std::string_view HttpBlobSink::range() const { return req_->header("Range"); }
size_t HttpBlobSink::pending_output() const { return req_->pending_output(); }
void HttpBlobSink::add_header(std::string_view name, std::string_view value) { req_->add_header(name, value); }

void HttpBlobSink::start(int status, std::string_view content_type, int64_t content_length) {
  req_->stream_start(status, content_type, content_length);
}

void HttpBlobSink::send(std::string_view bytes) { req_->stream_write_copy(bytes); }

void HttpBlobSink::send_file(int fd, int64_t offset, int64_t length) {
  OwnedBuffer b;
  if (!b.add_file(fd, offset, length)) return req_->stream_abort();
  req_->stream_write(b.get());
}

void HttpBlobSink::finish() { req_->stream_end(); }
void HttpBlobSink::abort() { req_->stream_abort(); }

void HttpBlobSink::reply_file(int status, int fd, int64_t offset, int64_t length) {
  req_->reply_file(status, kOctets, fd, offset, length);
}

void HttpBlobSink::reply_head(int status, int64_t content_length) {
  if (content_length >= 0) req_->add_header("Content-Length", std::to_string(content_length));
  req_->reply(status, kOctets, "");
}

void HttpBlobSink::reply_oci_error(int status, std::string_view code, std::string_view message) {
  reply_oci(*req_, code, status, message);
}

void HttpBlobSink::reply_fetch_error(const Error& e) { sc::reply_fetch_error(*req_, e, "BLOB_UNKNOWN"); }

}  // namespace sc
