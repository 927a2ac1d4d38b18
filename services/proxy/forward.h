#pragma once
// The OSTree forward proxy: absolute-form requests (OSTree's http_proxy) for configured
// remotes only. The request line's authority picks the remote; the Host header plays no part,
// and what is fetched is the remote's configured origin plus the (checked) path. Static
// deltas go through the blob state machine (cached, swarmed, registered under
// ostree/<remote>/<path>); everything else is passed through.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

class BlobFetcher;
class Counter;
class HttpRequest;
class MetricsRegistry;
class UrlFetcher;
struct ProxyConfig;
template <typename T>
class Family;

class ForwardProxy {
 public:
  using DialCheck = std::function<Status(std::string_view ip, uint16_t port)>;
  ForwardProxy(UrlFetcher& urls, const ProxyConfig& cfg, BlobFetcher& blobs, DialCheck check, MetricsRegistry& m);
  // origin: the request line's "scheme://authority".
  void handle(HttpRequest& req, const std::string& origin);

 private:
  void pass_through(HttpRequest& req, const std::string& url);
  void refuse(HttpRequest& req, std::string_view target, std::string_view why);
  void count(std::string_view result);

  UrlFetcher& urls_;
  const ProxyConfig& cfg_;
  BlobFetcher& blobs_;
  DialCheck check_;
  Family<Counter>& requests_;
  Counter& served_upstream_;
};

// A forwarded path must stay below its remote's prefix once the origin normalises it: no dot
// segments, no encoded dots or slashes, no backslashes, no empty segments.
bool safe_forward_path(std::string_view path);

}  // namespace sc
