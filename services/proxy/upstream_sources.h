#pragma once
// UpstreamSource adapters: a registry's blob (through its Upstream client: token dance,
// redirects, retries) and an OSTree remote's file (a plain GET of its configured origin).
#include <cstdint>
#include <functional>
#include <string>

#include "services/proxy/blob_ports.h"

namespace sc {

class Upstream;
class UrlFetcher;

class RegistryBlobSource : public UpstreamSource {
 public:
  // name: the repository; digest: "sha256:<hex>".
  RegistryBlobSource(Upstream& up, std::string name, std::string digest)
      : up_(up), name_(std::move(name)), digest_(std::move(digest)) {}
  std::unique_ptr<SourceCall> get(Headers headers, Handlers handlers) override;
  std::unique_ptr<SourceCall> head(std::function<void(Result<SourceHead>)> done) override;

 private:
  Upstream& up_;
  std::string name_, digest_;
};

class OriginFileSource : public UpstreamSource {
 public:
  using DialCheck = std::function<Status(std::string_view ip, uint16_t port)>;
  OriginFileSource(UrlFetcher& urls, std::string url, int64_t timeout_ms, DialCheck check)
      : urls_(urls), url_(std::move(url)), timeout_ms_(timeout_ms), check_(std::move(check)) {}
  std::unique_ptr<SourceCall> get(Headers headers, Handlers handlers) override;
  std::unique_ptr<SourceCall> head(std::function<void(Result<SourceHead>)> done) override;

 private:
  UrlFetcher& urls_;
  std::string url_;
  int64_t timeout_ms_;
  DialCheck check_;
};

}  // namespace sc
