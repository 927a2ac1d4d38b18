#pragma once
// The upstream registry as the proxy sees it: Distribution API requests with the bearer token
// dance (challenge → token endpoint, cached per scope until it expires), redirects to blob
// storage, and retries with back-off for failures that happen before any response byte was
// handed to the caller.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/core/clock.h"
#include "common/io/proxy_fetch.h"

namespace sc {

class EventLoop;

struct UpstreamOptions {
  std::string url;  // e.g. https://registry-1.docker.io
  std::string username, password;
  std::string ca_file;  // extra CA bundle for this registry ("" = system store)
  int64_t timeout_ms = 30'000;
  int retries = 3;
  // Every address dialled (registry, token realm, redirect targets) passes this first.
  std::function<Status(std::string_view ip, uint16_t port)> check_address;
};

struct UpstreamRequest {
  std::string method = "GET";
  std::string path;   // "/v2/<name>/blobs/<digest>"
  std::string scope;  // "repository:<name>:pull"
  std::vector<std::pair<std::string, std::string>> headers;
};

class Upstream {
 public:
  Upstream(EventLoop& loop, UpstreamOptions options);
  // on_head runs at most once, for the final response (after auth and retries).
  std::shared_ptr<Fetch> start(UpstreamRequest req, Fetch::HeadFn on_head, Fetch::DataFn on_data, Fetch::DoneFn on_done);
  std::shared_ptr<Fetch> get_all(UpstreamRequest req, size_t max_bytes, std::function<void(Result<FetchResult>)> done);

  int64_t token_fetches() const { return token_fetches_; }
  int64_t retries() const { return retries_; }
  int64_t requests() const { return requests_; }

 private:
  friend class UpstreamCall;
  struct Token {
    std::string value;
    int64_t expires_ms = 0;
  };
  EventLoop& loop_;
  UpstreamOptions opt_;
  std::map<std::string, Token> tokens_;  // by scope
  int64_t token_fetches_ = 0, retries_ = 0, requests_ = 0;
};

// Parses a token endpoint answer: {"token"|"access_token": "...", "expires_in": seconds}.
// Returns the token and its lifetime in ms (60 s when absent, per the distribution spec).
Result<std::pair<std::string, int64_t>> parse_token_response(std::string_view json);

}  // namespace sc
