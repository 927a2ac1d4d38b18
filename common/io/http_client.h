#pragma once
// Asynchronous HTTP/1.1 client on an sc::EventLoop (libevent's evhttp), with HTTPS verified
// against the system CA store (or a given CA file) including the host name. One connection per
// request, closed when it completes. Every request is bounded: a deadline, a response size
// limit, a header size limit, a redirect count. Host names are resolved by the client itself
// and the connection goes to an address it resolved (and the caller checked, if it asked to).
// Callbacks run on the loop thread, never from inside request() or stream().
//
// Errors: invalid_argument (bad URL, method or header), unavailable (cannot resolve or connect,
// TLS verification failed, connection dropped, malformed response, unusable redirect),
// timeout, too_large, and whatever check_address or a stream handler returned.
// A response with any status (404, 500…) is a success at this layer. The first client made
// sets SIGPIPE to ignored if it still has its default (process-killing) disposition.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/error.h"

struct evbuffer;

namespace sc {

class EventLoop;

using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  HttpHeaderList headers;  // in arrival order, names as sent
  std::string body;
  std::string url;  // the URL that answered: the request's, or the last redirect's
  // Case-insensitive lookup of the first header with this name; "" when absent.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  // Content-Length as a number; -1 when absent or not a plain decimal.
  int64_t content_length() const;
};

// An http:// or https:// URL split for a request. userinfo ("user:pass") becomes Basic auth.
struct HttpUrl {
  bool tls = false;
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // default 80 / 443 filled in
  std::string target;  // path and query, "/" at least
  std::string userinfo;
  std::string host_header() const;  // "host[:port]" as sent in Host:
};
// Errors: invalid_argument (other scheme, empty host, bad port, spaces or control bytes).
Result<HttpUrl> parse_http_url(std::string_view url);

struct HttpClientOptions {
  std::string ca_file;  // PEM CA bundle used instead of the system store (private CAs, tests)
  std::string user_agent = "swarmcache/0.1";
  size_t max_header_bytes = 64 << 10;  // response status line + headers
  enum class Family { any, ipv4, ipv6 } family = Family::any;  // for host names that resolve to both
  // false only for tests against self-signed servers (the proxy's upstream.tls_verify): no
  // certificate or host name check at all.
  bool tls_verify = true;
};

// What one request may do beyond the client's defaults.
struct HttpRequestOptions {
  // 301/302/303/307/308 answers with a Location are followed up to this many times; past it
  // (or at 0) the 3xx is the response. A relative Location resolves against the URL that
  // answered. Authorization (given or from userinfo) is not sent to another origin (scheme,
  // host, port). 303, and 301/302 after a POST, continue as a GET without body (HEAD stays
  // HEAD); 307/308 repeat the method and body.
  int max_redirects = 0;
  // PEM CA bundle for this request instead of the client's (a registry with a private CA).
  std::string ca_file;
  // Called with every address the host of the URL (and of each redirect) resolves to, before
  // dialling; an error fails the request with it. The connection then goes to the first
  // checked address, without a second lookup that DNS rebinding could answer differently.
  std::function<Status(std::string_view ip, uint16_t port)> check_address;
};

using HttpCallback = std::function<void(Result<HttpResponse>)>;

// Callbacks of a streaming request. on_head and on_body run from inside libevent: they must not
// destroy the client (return an error, or call cancel(), instead).
struct HttpStreamHandlers {
  // Once, when the status line and headers have arrived (body empty). An error aborts the
  // transfer and becomes the result.
  std::function<Status(const HttpResponse& head)> on_head;
  // For each piece of the body as it arrives. An error aborts the transfer likewise.
  std::function<Status(std::string_view chunk)> on_body;
  // Instead of on_body, for consumers that forward bytes without copying them: the body as it
  // arrives, in a libevent buffer the callee moves bytes out of (OwnedBuffer::move_from).
  // Bytes it leaves are discarded when it returns. Pausing applies from the next delivery.
  std::function<Status(struct evbuffer* chunk)> on_body_buffer;
  // Exactly once (unless cancelled): the head without body, or the error that ended it.
  std::function<void(Result<HttpResponse>)> on_done;
};

class HttpClient {
 public:
  using RequestId = uint64_t;

  explicit HttpClient(EventLoop& loop, HttpClientOptions options = {});
  // Abandons requests in flight without calling their callbacks.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Buffers the whole response. timeout_ms bounds the whole exchange (connect to last byte);
  // a body larger than max_response_bytes fails with too_large. A Host, User-Agent,
  // Content-Length and "Connection: close" header are added unless given.
  RequestId request(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                    std::string_view body, int64_t timeout_ms, uint64_t max_response_bytes, HttpCallback callback,
                    const HttpRequestOptions& options = {});

  // Delivers the body as it arrives (large downloads). idle_timeout_ms bounds each wait for
  // bytes rather than the whole transfer; max_response_bytes 0 means unlimited.
  RequestId stream(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                   std::string_view body, int64_t idle_timeout_ms, uint64_t max_response_bytes,
                   HttpStreamHandlers handlers, const HttpRequestOptions& options = {});

  // Flow control for stream() (a consumer slower than the network): pause() stops reading
  // from the socket, so the server is held back by TCP; resume() continues. Bytes already
  // read when pause() is called are delivered after resume(), and on_done never overtakes
  // them. The idle timeout does not run while paused. Both may be called from on_body.
  void pause(RequestId id);
  void resume(RequestId id);

  // Stops a request; its callbacks are not called afterwards. Unknown or finished ids are ignored.
  void cancel(RequestId id);
  // Requests started and not yet delivered.
  size_t in_flight() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// "Basic <base64(user:password)>", an Authorization value for credentials kept apart from a URL.
std::string http_basic_auth(std::string_view user, std::string_view password);

// Blocking forms for command-line tools: run a private loop until the exchange ends.
Result<HttpResponse> http_fetch(std::string_view method, std::string_view url, const HttpHeaderList& headers = {},
                                std::string_view body = {}, int64_t timeout_ms = 30'000,
                                uint64_t max_response_bytes = 64ull << 20, const HttpClientOptions& options = {});
// Streams the body into on_body (e.g. to a file, with a progress bar); the result has no body.
Result<HttpResponse> http_fetch_stream(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                       std::string_view body, int64_t idle_timeout_ms, uint64_t max_response_bytes,
                                       std::function<Status(const HttpResponse& head)> on_head,
                                       std::function<Status(std::string_view chunk)> on_body,
                                       const HttpClientOptions& options = {});

}  // namespace sc
