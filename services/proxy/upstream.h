#pragma once
// What the proxy fetches, over the one HTTP client: the upstream registry as the proxy sees it
// (Distribution API requests with the bearer token dance: challenge → token endpoint, cached
// per scope until it expires; redirects to blob storage; retries with back-off for failures
// that happen before any response byte was handed to the caller), and configured URLs fetched
// as they are (OSTree remotes). Every address dialled passes the proxy's dial check first.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/core/clock.h"
#include "common/core/error.h"
#include "common/io/http_client.h"

struct evbuffer;

namespace sc {

class EventLoop;
class RegistryCall;

// Redirects followed per fetch: a registry sends blobs to storage (one hop, sometimes two).
constexpr int kUpstreamMaxRedirects = 5;

// The head of the final response (after auth, retries and redirects).
struct UpstreamHead {
  int status = 0;
  HttpHeaderList headers;
  int64_t content_length = -1;  // -1 when unknown (chunked)
  std::string url;              // that answered, after redirects
  std::string_view header(std::string_view name) const;  // case-insensitive; "" if absent
};

// A fetch in flight. Dropping the handle does not stop it; cancel() does, and then none of its
// callbacks runs again.
class UpstreamCall {
 public:
  virtual ~UpstreamCall() = default;
  virtual void pause() = 0;  // stop reading the body (the client is slow)
  virtual void resume() = 0;
  virtual void cancel() = 0;
};

// on_head: the final head; false stops the fetch, which then ends with Errc::cancelled.
// on_data: body bytes; the callee moves what it keeps out of the buffer (OwnedBuffer::move_from,
//          HttpRequest::stream_write), what it leaves is dropped. May be null.
// on_done: once: ok when the whole body arrived; errors: timeout, unavailable (resolve, connect,
//          TLS, truncated), forbidden (dial check, token refused), too_large, cancelled.
using UpstreamHeadFn = std::function<bool(const UpstreamHead&)>;
using UpstreamDataFn = std::function<void(struct evbuffer*)>;
using UpstreamDoneFn = std::function<void(Status)>;

// A whole small document (manifest, tag list).
struct UpstreamDocument {
  UpstreamHead head;
  std::string body;
};

struct UpstreamOptions {
  std::string url;  // e.g. https://registry-1.docker.io
  std::string username, password;
  std::string ca_file;  // extra CA bundle for this registry ("" = system store)
  int64_t timeout_ms = 30'000;  // connect, and every wait for bytes
  int retries = 3;
  // Every address dialled (registry, token realm, redirect targets) passes this first.
  std::function<Status(std::string_view ip, uint16_t port)> check_address;
  bool tls_verify = true;  // false only for tests against self-signed registries
};

struct UpstreamRequest {
  std::string method = "GET";
  std::string path;   // "/v2/<name>/blobs/<digest>"
  std::string scope;  // "repository:<name>:pull"
  HttpHeaderList headers;
};

class Upstream {
 public:
  Upstream(EventLoop& loop, UpstreamOptions options);
  // Calls still in flight are cancelled: their callbacks never run.
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // on_head runs at most once, for the final response (after auth and retries).
  std::shared_ptr<UpstreamCall> start(UpstreamRequest req, UpstreamHeadFn on_head, UpstreamDataFn on_data,
                                      UpstreamDoneFn on_done);
  // The whole body, up to max_bytes (else too_large), any status.
  std::shared_ptr<UpstreamCall> get_all(UpstreamRequest req, size_t max_bytes,
                                        std::function<void(Result<UpstreamDocument>)> done);

  int64_t token_fetches() const { return token_fetches_; }
  int64_t retries() const { return retries_; }
  int64_t requests() const { return requests_; }

 private:
  friend class RegistryCall;
  struct Token {
    std::string value;
    int64_t expires_ms = 0;
  };
  EventLoop& loop_;
  UpstreamOptions opt_;
  std::shared_ptr<HttpClient> http_;
  std::map<std::string, Token> tokens_;  // by scope
  std::unordered_map<uint64_t, std::weak_ptr<RegistryCall>> live_;
  uint64_t next_call_ = 0;
  int64_t token_fetches_ = 0, retries_ = 0, requests_ = 0;
};

// A configured URL fetched as it is: no token dance, no retries; redirects followed.
struct UrlRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaderList headers;
  int64_t timeout_ms = 30'000;  // connect, and every wait for bytes
  std::function<Status(std::string_view ip, uint16_t port)> check_address;
};

class UrlFetcher {
 public:
  UrlFetcher(EventLoop& loop, bool tls_verify);
  std::shared_ptr<UpstreamCall> start(UrlRequest req, UpstreamHeadFn on_head, UpstreamDataFn on_data,
                                      UpstreamDoneFn on_done);

 private:
  std::shared_ptr<HttpClient> http_;
};

// Parses a token endpoint answer: {"token"|"access_token": "...", "expires_in": seconds}.
// Returns the token and its lifetime in ms (60 s when absent, per the distribution spec).
Result<std::pair<std::string, int64_t>> parse_token_response(std::string_view json);

}  // namespace sc
