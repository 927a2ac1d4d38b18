// Asynchronous HTTP/1.1 client over libevent's evhttp, one connection per request, with TLS
// through libevent_openssl. Every completion path goes through finish(), which defers the user
// callback and the freeing of the connection to the next loop turn: evhttp may call us from
// inside evhttp_make_request() or from a connection callback, where freeing is not allowed.
// A request is a chain of hops (redirects): each resolves its host (DnsResolver), lets the
// caller check the addresses, and dials the checked address.
#include "common/io/http_client.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/core/bytes.h"
#include "common/core/url.h"
#include "common/io/dns_resolver.h"
#include "common/io/event_loop.h"
#include "common/io/private_loop.h"

namespace sc {
namespace {

// The stream idle check runs this often at most; finer than any idle timeout worth setting.
constexpr int64_t kMaxIdleCheckMs = 250;
// evhttp's own socket timeouts sit behind ours, so our timer reports the timeout first and
// with a precise message; theirs is only a backstop.
constexpr int64_t kLibeventTimeoutSlackMs = 1000;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool is_token_char(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

Status check_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
    return fail(Errc::invalid_argument, "invalid HTTP header name \"" + std::string(name) + "\"");
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return fail(Errc::invalid_argument, "HTTP header " + std::string(name) + " has a line break or NUL in its value");
    }
  }
  return {};
}

std::optional<evhttp_cmd_type> method_type(std::string_view m) {
  if (m == "GET") return EVHTTP_REQ_GET;
  if (m == "POST") return EVHTTP_REQ_POST;
  if (m == "HEAD") return EVHTTP_REQ_HEAD;
  if (m == "PUT") return EVHTTP_REQ_PUT;
  if (m == "DELETE") return EVHTTP_REQ_DELETE;
  if (m == "OPTIONS") return EVHTTP_REQ_OPTIONS;
  if (m == "PATCH") return EVHTTP_REQ_PATCH;
  return std::nullopt;
}

std::string openssl_error_text() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

std::string_view HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

bool HttpResponse::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& kv) { return iequals(kv.first, name); });
}

int64_t HttpResponse::content_length() const {
  std::string_view v = header("Content-Length");
  if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  int64_t n = 0;
  for (char c : v) n = n * 10 + (c - '0');
  return n;
}

std::string HttpUrl::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != (tls ? 443 : 80)) h += ":" + std::to_string(port);
  return h;
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_argument, "invalid URL \"" + std::string(url.substr(0, 200)) + "\": " + std::string(why));
  };
  auto u = parse_url(url);
  if (!u) return bad(u.error().message);
  HttpUrl out;
  if (u->scheme != "http" && u->scheme != "https") return bad("scheme must be http or https");
  out.tls = u->scheme == "https";
  out.host = std::move(u->host);
  out.port = u->port != 0 ? u->port : (out.tls ? 443 : 80);
  out.target = u->path.empty() ? "/" : std::move(u->path);
  if (u->has_query) out.target += "?" + u->query;
  out.userinfo = std::move(u->userinfo);
  return out;
}

struct HttpCall {
  HttpCall() : pending(evbuffer_new()), draining(evbuffer_new()) {}
  ~HttpCall() {
    evbuffer_free(pending);
    evbuffer_free(draining);
  }
  HttpCall(const HttpCall&) = delete;
  HttpCall& operator=(const HttpCall&) = delete;

  HttpClient::Impl* impl = nullptr;
  HttpClient::RequestId id = 0;
  bool streaming = false;
  // The request as asked, for each hop: a redirect may turn it into a GET without body.
  std::string method;
  std::string url;  // of the current hop
  HttpHeaderList headers;
  std::string body;
  HttpRequestOptions options;
  std::string first_origin;  // Authorization goes to this origin only
  int redirects = 0;
  std::string redirect_to;  // set by a 3xx head that will be followed when its body is read
  // Connections of earlier hops: evhttp may still use them in the turn their response ends.
  std::vector<evhttp_connection*> retired;
  std::string where;  // "host:port" for messages
  evhttp_connection* evcon = nullptr;
  SSL* ssl = nullptr;  // owned by the connection's bufferevent
  std::unique_ptr<Timer> timer;
  HttpCallback callback;
  HttpStreamHandlers handlers;
  int64_t timeout_ms = 0;
  uint64_t max_bytes = 0;
  uint64_t received = 0;
  int64_t last_activity_ms = 0;
  bool head_seen = false;
  // Flow control (stream only): while paused the socket is not read; body bytes that had
  // already been read wait in `pending` (moved, not copied), and a response that completed
  // waits in `held`. `draining` holds what resume() hands over, so that a consumer pausing
  // again sends the rest back to `pending` in order.
  bool paused = false;
  evbuffer* pending;
  evbuffer* draining;
  std::optional<HttpResponse> held;
  bool done = false;
  bool cancelled = false;
  std::optional<evhttp_request_error> lib_error;
  Result<HttpResponse> result = HttpResponse{};
};

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(EventLoop& l, HttpClientOptions o) : loop(l), opt(std::move(o)), dns(l) {}
  ~Impl() {
    for (auto& [id, call] : calls) {
      call->timer.reset();
      free_connections(*call);
    }
    calls.clear();
    for (auto& [ca, ctx] : ssl_ctx) SSL_CTX_free(ctx);
  }

  static void free_connections(HttpCall& c) {
    for (evhttp_connection* old : c.retired) evhttp_connection_free(old);
    c.retired.clear();
    if (c.evcon != nullptr) evhttp_connection_free(c.evcon);
    c.evcon = nullptr;
  }

  // One context per CA bundle: the client's, or a request's own.
  Result<SSL_CTX*> tls_context(const std::string& request_ca) {
    const std::string& ca = request_ca.empty() ? opt.ca_file : request_ca;
    if (auto it = ssl_ctx.find(ca); it != ssl_ctx.end()) return it->second;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return fail(Errc::internal, "SSL_CTX_new: " + openssl_error_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, opt.tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    int ok = ca.empty() ? SSL_CTX_set_default_verify_paths(ctx) : SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
    if (ok != 1) {
      std::string why = openssl_error_text();
      SSL_CTX_free(ctx);
      return fail(Errc::invalid_argument,
                  "cannot load CA certificates from " + (ca.empty() ? std::string("the system store") : ca) + ": " + why);
    }
    ssl_ctx.emplace(ca, ctx);
    return ctx;
  }

  void finish(HttpCall* c, Result<HttpResponse> r) {
    if (c->done) return;
    c->done = true;
    c->result = std::move(r);
    std::weak_ptr<Impl> weak = weak_from_this();
    loop.defer([weak, id = c->id] {
      if (auto self = weak.lock()) self->deliver(id);
    });
  }

  void deliver(HttpClient::RequestId id) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    std::unique_ptr<HttpCall> c = std::move(it->second);
    calls.erase(it);
    c->timer.reset();
    free_connections(*c);
    if (c->cancelled) return;
    // The callback may destroy the client; nothing of *this is touched after it.
    if (c->streaming) {
      if (c->handlers.on_done) c->handlers.on_done(std::move(c->result));
    } else if (c->callback) {
      c->callback(std::move(c->result));
    }
  }

  // Registers the call and starts it; a request refused before any I/O is answered through
  // the loop like any other failure, never from inside request().
  HttpClient::RequestId launch(std::unique_ptr<HttpCall> call, std::string_view method, std::string_view url,
                               const HttpHeaderList& headers, std::string_view body, int64_t timeout_ms,
                               uint64_t max_bytes, const HttpRequestOptions& options) {
    HttpCall* c = call.get();
    c->impl = this;
    c->id = next_id++;
    c->timeout_ms = timeout_ms;
    c->max_bytes = max_bytes;
    c->method = std::string(method);
    c->url = std::string(url);
    c->headers = headers;
    c->body = std::string(body);
    c->options = options;
    calls.emplace(c->id, std::move(call));
    if (auto st = start(c); !st) {
      c->timer.reset();
      free_connections(*c);
      finish(c, std::unexpected(st.error()));
    }
    return c->id;
  }

  static void set_reading(HttpCall* c, bool on) {
    bufferevent* bev = c->evcon != nullptr ? evhttp_connection_get_bufferevent(c->evcon) : nullptr;
    if (bev == nullptr) return;
    if (!on) {
      bufferevent_disable(bev, EV_READ);
      return;
    }
    bufferevent_enable(bev, EV_READ);
    // Bytes that arrived before the pause raise no new read event by themselves.
    if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
      bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
  }

  // Gives body bytes to the consumer; what it cannot take because it paused moves to
  // `pending`. An error from the consumer is returned (the caller ends the call with it).
  static Status hand_over(HttpCall* c, evbuffer* buf) {
    if (c->handlers.on_body_buffer) {
      Status st = c->handlers.on_body_buffer(buf);
      evbuffer_drain(buf, evbuffer_get_length(buf));
      return st;
    }
    while (evbuffer_get_length(buf) > 0 && !c->done) {
      if (c->paused) {
        evbuffer_add_buffer(c->pending, buf);
        return {};
      }
      evbuffer_iovec v{};
      if (evbuffer_peek(buf, -1, nullptr, &v, 1) < 1) break;
      size_t n = v.iov_len;
      Status st = c->handlers.on_body ? c->handlers.on_body({static_cast<const char*>(v.iov_base), n}) : Status{};
      evbuffer_drain(buf, n);
      if (!st) return st;
    }
    evbuffer_drain(buf, evbuffer_get_length(buf));  // a call cancelled from on_body wants no more
    return {};
  }

  // After resume(): hands over what waited, then lets the socket be read again.
  void pump(HttpClient::RequestId id) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    HttpCall* c = it->second.get();
    if (c->done || c->paused) return;
    if (evbuffer_get_length(c->pending) > 0) {
      evbuffer_add_buffer(c->draining, c->pending);
      if (auto st = hand_over(c, c->draining); !st) {
        finish(c, std::unexpected(st.error()));
        return;
      }
      if (c->done || c->paused) return;
    }
    if (c->held) {
      HttpResponse r = std::move(*c->held);
      c->held.reset();
      finish(c, std::move(r));
      return;
    }
    set_reading(c, true);
  }

  Status start(HttpCall* c);
  Status begin_hop(HttpCall* c);
  void resolved(HttpClient::RequestId id, Result<std::vector<std::string>> ips);
  Status dial(HttpCall* c, const HttpUrl& u, const std::string& address);
  void follow_redirect(HttpCall* c, int status);
  void next_hop(HttpClient::RequestId id);

  EventLoop& loop;
  HttpClientOptions opt;
  DnsResolver dns;
  std::map<std::string, SSL_CTX*> ssl_ctx;  // by CA file ("" = the system store)
  HttpClient::RequestId next_id = 1;
  std::unordered_map<HttpClient::RequestId, std::unique_ptr<HttpCall>> calls;
};

namespace {

using Impl = HttpClient::Impl;

HttpResponse head_of(evhttp_request* req, const HttpCall* c) {
  HttpResponse r;
  r.status = evhttp_request_get_response_code(req);
  r.url = c->url;
  evkeyvalq* h = evhttp_request_get_input_headers(req);
  for (evkeyval* kv = h->tqh_first; kv != nullptr; kv = kv->next.tqe_next) r.headers.emplace_back(kv->key, kv->value);
  return r;
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// "scheme://host:port", the unit Authorization is scoped to.
std::string origin_of(const HttpUrl& u) {
  std::string host = u.host;
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return std::string(u.tls ? "https://" : "http://") + host + ":" + std::to_string(u.port);
}

// A Location header resolved against the URL that answered (absolute, "//host/…", "/path",
// or relative to the directory of the path).
std::string resolve_location(const HttpUrl& base, std::string_view loc) {
  // A scheme (a ':' before any '/', '?' or '#') makes it absolute, whether we can follow it or not.
  size_t colon = loc.find(':');
  if (colon != std::string_view::npos && colon < loc.find_first_of("/?#")) return std::string(loc);
  std::string scheme = base.tls ? "https:" : "http:";
  if (loc.starts_with("//")) return scheme + std::string(loc);
  std::string origin = scheme + "//" + base.host_header();
  if (loc.starts_with("/")) return origin + std::string(loc);
  std::string path = base.target.substr(0, base.target.find('?'));
  return origin + path.substr(0, path.rfind('/') + 1) + std::string(loc);
}

// The TLS reason for a failed exchange, if TLS is what failed.
std::optional<Error> tls_error(HttpCall* c) {
  if (c->ssl == nullptr) return std::nullopt;
  long vr = SSL_get_verify_result(c->ssl);
  if (c->impl->opt.tls_verify && vr != X509_V_OK) {
    return Error{Errc::unavailable,
                 "TLS certificate of " + c->where + " not trusted: " + X509_verify_cert_error_string(vr)};
  }
  bufferevent* bev = c->evcon != nullptr ? evhttp_connection_get_bufferevent(c->evcon) : nullptr;
  unsigned long e = bev != nullptr ? bufferevent_get_openssl_error(bev) : 0;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return Error{Errc::unavailable, "TLS with " + c->where + " failed: " + buf};
  }
  return std::nullopt;
}

Error connect_error(HttpCall* c) {
  if (auto e = tls_error(c)) return *e;
  return Error{Errc::unavailable, "cannot connect to " + c->where};
}

void on_error(evhttp_request_error err, void* arg) { static_cast<HttpCall*>(arg)->lib_error = err; }

void on_complete(evhttp_request* req, void* arg) {
  auto* c = static_cast<HttpCall*>(arg);
  if (c->done) return;
  Impl* impl = c->impl;
  if (!c->redirect_to.empty() && req != nullptr && evhttp_request_get_response_code(req) != 0) {
    impl->follow_redirect(c, evhttp_request_get_response_code(req));
    return;
  }
  if (req == nullptr) {
    evhttp_request_error err = c->lib_error.value_or(EVREQ_HTTP_EOF);
    if (err == EVREQ_HTTP_EOF || err == EVREQ_HTTP_BUFFER_ERROR) {
      if (auto e = tls_error(c)) {
        impl->finish(c, std::unexpected(*e));
        return;
      }
    }
    switch (err) {
      case EVREQ_HTTP_TIMEOUT:
        impl->finish(c, fail(Errc::timeout, "no response from " + c->where + " within " + std::to_string(c->timeout_ms) + " ms"));
        return;
      case EVREQ_HTTP_DATA_TOO_LONG:
        impl->finish(c, fail(Errc::too_large, "response from " + c->where + " is larger than " + std::to_string(c->max_bytes) + " bytes"));
        return;
      case EVREQ_HTTP_INVALID_HEADER:
        impl->finish(c, fail(Errc::unavailable, "malformed or oversized response head from " + c->where));
        return;
      default:
        impl->finish(c, fail(Errc::unavailable, "connection to " + c->where + " closed before a complete response"));
        return;
    }
  }
  if (evhttp_request_get_response_code(req) == 0) {
    impl->finish(c, std::unexpected(connect_error(c)));
    return;
  }
  HttpResponse r = head_of(req, c);
  if (!c->streaming) {
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    r.body.resize(n);
    if (n > 0) evbuffer_copyout(in, r.body.data(), n);
  } else if (c->paused || evbuffer_get_length(c->pending) > 0) {
    c->held = std::move(r);  // on_done must follow the body still waiting for resume()
    return;
  }
  impl->finish(c, std::move(r));
}

int on_header(evhttp_request* req, void* arg) {
  auto* c = static_cast<HttpCall*>(arg);
  if (c->done) return -1;
  int code = evhttp_request_get_response_code(req);
  if (code == 100) return 0;  // an interim response; the real head follows
  c->last_activity_ms = c->impl->loop.clock().mono_ms();
  if (is_redirect(code) && c->redirects < c->options.max_redirects) {
    const char* loc = evhttp_find_header(evhttp_request_get_input_headers(req), "Location");
    if (loc != nullptr && *loc != '\0') {
      c->redirect_to = loc;  // followed once this response's (small, ignored) body is read
      return 0;
    }
  }
  if (!c->streaming) return 0;
  c->head_seen = true;
  HttpResponse head = head_of(req, c);
  if (c->max_bytes > 0) {
    int64_t n = head.content_length();
    if (n > 0 && static_cast<uint64_t>(n) > c->max_bytes) {
      c->impl->finish(c, fail(Errc::too_large, "response from " + c->where + " announces " + std::to_string(n) +
                                                   " bytes, more than the limit of " + std::to_string(c->max_bytes)));
      return -1;
    }
  }
  if (c->handlers.on_head) {
    if (auto st = c->handlers.on_head(head); !st) {
      c->impl->finish(c, std::unexpected(st.error()));
      return -1;
    }
  }
  return 0;
}

void on_chunk(evhttp_request* req, void* arg) {
  auto* c = static_cast<HttpCall*>(arg);
  if (c->done || !c->redirect_to.empty()) return;  // libevent drains what we leave
  c->last_activity_ms = c->impl->loop.clock().mono_ms();
  evbuffer* in = evhttp_request_get_input_buffer(req);
  size_t n = evbuffer_get_length(in);
  if (n == 0) return;
  c->received += n;
  if (c->max_bytes > 0 && c->received > c->max_bytes) {
    // A chunked body announces no length: it is stopped here, the socket no longer read.
    Impl::set_reading(c, false);
    c->impl->finish(c, fail(Errc::too_large, "response from " + c->where + " is larger than " +
                                                 std::to_string(c->max_bytes) + " bytes"));
    return;
  }
  // libevent drains the buffer when we return, so what a paused consumer cannot take yet is
  // kept for resume().
  if (c->paused || evbuffer_get_length(c->pending) > 0) {
    evbuffer_add_buffer(c->pending, in);
  } else if (auto st = Impl::hand_over(c, in); !st) {
    c->impl->finish(c, std::unexpected(st.error()));
    return;
  }
  if (c->paused) Impl::set_reading(c, false);
}

}  // namespace

Status HttpClient::Impl::start(HttpCall* c) {
  if (!method_type(c->method)) {
    return fail(Errc::invalid_argument, "unsupported HTTP method \"" + c->method.substr(0, 32) + "\"");
  }
  auto u = parse_http_url(c->url);
  if (!u) return std::unexpected(u.error());
  if (c->timeout_ms <= 0) return fail(Errc::invalid_argument, "HTTP timeout must be positive");
  for (const auto& [k, v] : c->headers) {
    if (auto st = check_header(k, v); !st) return st;
  }
  c->first_origin = origin_of(*u);
  c->last_activity_ms = loop.clock().mono_ms();
  if (c->streaming) {
    int64_t period = std::clamp<int64_t>(c->timeout_ms / 4, 10, kMaxIdleCheckMs);
    c->timer = loop.every(period, [this, c] {
      if (!c->done && !c->paused && loop.clock().mono_ms() - c->last_activity_ms >= c->timeout_ms) {
        finish(c, fail(Errc::timeout, "no data from " + c->where + " for " + std::to_string(c->timeout_ms) + " ms"));
      }
    });
  } else {
    c->timer = loop.after(c->timeout_ms, [this, c] {
      finish(c, fail(Errc::timeout, "no complete response from " + c->where + " within " +
                                        std::to_string(c->timeout_ms) + " ms"));
    });
  }
  return begin_hop(c);
}

// Resolves the host of c->url (unless it is an address), checks the addresses, dials.
Status HttpClient::Impl::begin_hop(HttpCall* c) {
  auto u = parse_http_url(c->url);
  if (!u) return std::unexpected(u.error());
  c->where = u->host_header();
  if (u->port == (u->tls ? 443 : 80)) c->where += ":" + std::to_string(u->port);
  c->head_seen = false;
  c->lib_error.reset();
  c->ssl = nullptr;
  if (is_ip_literal(u->host)) {
    if (c->options.check_address) {
      if (auto st = c->options.check_address(u->host, u->port); !st) return st;
    }
    return dial(c, *u, u->host);
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  auto family = opt.family == HttpClientOptions::Family::ipv4   ? DnsResolver::Family::ipv4
                : opt.family == HttpClientOptions::Family::ipv6 ? DnsResolver::Family::ipv6
                                                                : DnsResolver::Family::any;
  dns.resolve(u->host, family, [weak, id = c->id](Result<std::vector<std::string>> ips) {
    if (auto self = weak.lock()) self->resolved(id, std::move(ips));
  });
  return {};
}

void HttpClient::Impl::resolved(HttpClient::RequestId id, Result<std::vector<std::string>> ips) {
  auto it = calls.find(id);
  if (it == calls.end() || it->second->done) return;
  HttpCall* c = it->second.get();
  auto u = parse_http_url(c->url);
  if (!u) return finish(c, std::unexpected(u.error()));
  if (!ips) return finish(c, std::unexpected(ips.error()));
  if (c->options.check_address) {
    for (const auto& ip : *ips) {
      if (auto st = c->options.check_address(ip, u->port); !st) return finish(c, std::unexpected(st.error()));
    }
  }
  if (auto st = dial(c, *u, ips->front()); !st) finish(c, std::unexpected(st.error()));
}

// Connects to `address` (a literal the host was checked as) and sends the request; the TLS
// name check, SNI and the Host header keep the URL's host.
Status HttpClient::Impl::dial(HttpCall* c, const HttpUrl& u, const std::string& address) {
  bufferevent* bev = nullptr;
  if (u.tls) {
    auto ctx = tls_context(c->options.ca_file);
    if (!ctx) return std::unexpected(ctx.error());
    SSL* ssl = SSL_new(*ctx);
    if (ssl == nullptr) return fail(Errc::internal, "SSL_new: " + openssl_error_text());
    if (is_ip_literal(u.host)) {
      if (opt.tls_verify) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, u.host.c_str());
      if (opt.tls_verify) SSL_set1_host(ssl, u.host.c_str());
    }
    bev = bufferevent_openssl_socket_new(loop.base(), -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == nullptr) {
      SSL_free(ssl);
      return fail(Errc::internal, "cannot create a TLS bufferevent");
    }
    // Servers that close without close_notify are common; the body length is checked anyway.
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    c->ssl = ssl;
  }
  c->evcon = evhttp_connection_base_bufferevent_new(loop.base(), nullptr, bev, address.c_str(), u.port);
  if (c->evcon == nullptr) {
    if (bev != nullptr) bufferevent_free(bev);
    c->ssl = nullptr;
    return fail(Errc::internal, "cannot create an HTTP connection to " + c->where);
  }
  evhttp_connection_set_max_headers_size(c->evcon, static_cast<ev_ssize_t>(opt.max_header_bytes));
  if (c->max_bytes > 0 || !c->streaming) {
    evhttp_connection_set_max_body_size(c->evcon, static_cast<ev_ssize_t>(std::min<uint64_t>(c->max_bytes, INT64_MAX)));
  }
  int64_t lib_ms = c->timeout_ms + kLibeventTimeoutSlackMs;
  timeval tv{static_cast<time_t>(lib_ms / 1000), static_cast<suseconds_t>((lib_ms % 1000) * 1000)};
  evhttp_connection_set_timeout_tv(c->evcon, &tv);
  evhttp_connection_set_retries(c->evcon, 0);

  evhttp_request* req = evhttp_request_new(&on_complete, c);
  if (req == nullptr) return fail(Errc::internal, "cannot allocate an HTTP request");
  evhttp_request_set_error_cb(req, &on_error);
  evhttp_request_set_header_cb(req, &on_header);
  if (c->streaming) evhttp_request_set_chunked_cb(req, &on_chunk);
  // Credentials stay with the origin they were given for.
  bool foreign = origin_of(u) != c->first_origin;
  bool has_host = false, has_ua = false, has_length = false, has_conn = false, has_auth = false;
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  for (const auto& [k, v] : c->headers) {
    if (foreign && iequals(k, "Authorization")) continue;
    has_host |= iequals(k, "Host");
    has_ua |= iequals(k, "User-Agent");
    has_length |= iequals(k, "Content-Length");
    has_conn |= iequals(k, "Connection");
    has_auth |= iequals(k, "Authorization");
    evhttp_add_header(out, k.c_str(), v.c_str());
  }
  if (!has_host) evhttp_add_header(out, "Host", u.host_header().c_str());
  if (!has_ua && !opt.user_agent.empty()) evhttp_add_header(out, "User-Agent", opt.user_agent.c_str());
  if (!has_conn) evhttp_add_header(out, "Connection", "close");
  if (!has_auth && !u.userinfo.empty()) evhttp_add_header(out, "Authorization", ("Basic " + base64_encode(u.userinfo)).c_str());
  auto type = *method_type(c->method);
  if (!has_length && (!c->body.empty() || type == EVHTTP_REQ_POST || type == EVHTTP_REQ_PUT || type == EVHTTP_REQ_PATCH)) {
    evhttp_add_header(out, "Content-Length", std::to_string(c->body.size()).c_str());
  }
  if (!c->body.empty()) evbuffer_add(evhttp_request_get_output_buffer(req), c->body.data(), c->body.size());

  // May call on_complete synchronously (a refused connect to a local port); finish() defers.
  if (evhttp_make_request(c->evcon, req, type, u.target.c_str()) != 0) {
    finish(c, fail(Errc::unavailable, "cannot start a request to " + c->where));
  }
  return {};
}

// Called from on_complete of a 3xx that is followed: the next hop starts on the next loop
// turn, once evhttp is done with this connection.
void HttpClient::Impl::follow_redirect(HttpCall* c, int status) {
  auto here = parse_http_url(c->url);
  std::string next = here ? resolve_location(*here, c->redirect_to) : c->redirect_to;
  c->redirect_to.clear();
  auto u = parse_http_url(next);
  if (!u) {
    return finish(c, fail(Errc::unavailable, c->where + " redirected to an unusable URL: " + u.error().message));
  }
  ++c->redirects;
  if (status == 303 || ((status == 301 || status == 302) && c->method == "POST")) {
    if (c->method != "HEAD") c->method = "GET";
    c->body.clear();
    std::erase_if(c->headers, [](const auto& kv) { return iequals(kv.first, "Content-Length") || iequals(kv.first, "Content-Type"); });
  }
  c->url = std::move(next);
  c->retired.push_back(c->evcon);
  c->evcon = nullptr;
  c->ssl = nullptr;
  std::weak_ptr<Impl> weak = weak_from_this();
  loop.defer([weak, id = c->id] {
    if (auto self = weak.lock()) self->next_hop(id);
  });
}

void HttpClient::Impl::next_hop(HttpClient::RequestId id) {
  auto it = calls.find(id);
  if (it == calls.end() || it->second->done) return;
  HttpCall* c = it->second.get();
  for (evhttp_connection* old : c->retired) evhttp_connection_free(old);
  c->retired.clear();
  if (auto st = begin_hop(c); !st) finish(c, std::unexpected(st.error()));
}

HttpClient::HttpClient(EventLoop& loop, HttpClientOptions options)
    : impl_(std::make_shared<Impl>(loop, std::move(options))) {
  // A peer that closes while we write must cost an error, not the process. Only the default
  // disposition is replaced, so a program that handles SIGPIPE itself keeps its handler.
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  });
}

HttpClient::~HttpClient() = default;

HttpClient::RequestId HttpClient::request(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                          std::string_view body, int64_t timeout_ms, uint64_t max_response_bytes,
                                          HttpCallback callback, const HttpRequestOptions& options) {
  auto call = std::make_unique<HttpCall>();
  call->callback = std::move(callback);
  return impl_->launch(std::move(call), method, url, headers, body, timeout_ms, max_response_bytes, options);
}

HttpClient::RequestId HttpClient::stream(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                         std::string_view body, int64_t idle_timeout_ms, uint64_t max_response_bytes,
                                         HttpStreamHandlers handlers, const HttpRequestOptions& options) {
  auto call = std::make_unique<HttpCall>();
  call->streaming = true;
  call->handlers = std::move(handlers);
  return impl_->launch(std::move(call), method, url, headers, body, idle_timeout_ms, max_response_bytes, options);
}

void HttpClient::cancel(RequestId id) {
  auto it = impl_->calls.find(id);
  if (it == impl_->calls.end()) return;
  HttpCall* c = it->second.get();
  c->cancelled = true;
  impl_->finish(c, fail(Errc::cancelled, "cancelled"));  // frees the connection next turn
}

void HttpClient::pause(RequestId id) {
  auto it = impl_->calls.find(id);
  if (it == impl_->calls.end()) return;
  HttpCall* c = it->second.get();
  if (!c->streaming || c->done || c->paused) return;
  c->paused = true;
  Impl::set_reading(c, false);
}

void HttpClient::resume(RequestId id) {
  auto it = impl_->calls.find(id);
  if (it == impl_->calls.end()) return;
  HttpCall* c = it->second.get();
  if (!c->paused || c->done) return;
  c->paused = false;
  c->last_activity_ms = impl_->loop.clock().mono_ms();
  // Deferred, so that resume() called from inside on_body does not re-enter it.
  std::weak_ptr<Impl> weak = impl_;
  impl_->loop.defer([weak, id] {
    if (auto self = weak.lock()) self->pump(id);
  });
}

size_t HttpClient::in_flight() const { return impl_->calls.size(); }

std::string http_basic_auth(std::string_view user, std::string_view password) {
  return "Basic " + base64_encode(std::string(user) + ":" + std::string(password));
}

namespace {

// The blocking forms: a private loop runs one exchange, started by `start` with the callback
// that ends it.
Result<HttpResponse> run_blocking(const HttpClientOptions& options,
                                  const std::function<void(HttpClient&, HttpCallback)>& start) {
  return run_on_private_loop<HttpResponse>("an HTTP result", [&](EventLoop& loop, HttpCallback done) {
    HttpClient client(loop, options);
    start(client, std::move(done));
    loop.run();
  });
}

}  // namespace

Result<HttpResponse> http_fetch(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                std::string_view body, int64_t timeout_ms, uint64_t max_response_bytes,
                                const HttpClientOptions& options) {
  return run_blocking(options, [&](HttpClient& client, HttpCallback done) {
    client.request(method, url, headers, body, timeout_ms, max_response_bytes, std::move(done));
  });
}

Result<HttpResponse> http_fetch_stream(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                       std::string_view body, int64_t idle_timeout_ms, uint64_t max_response_bytes,
                                       std::function<Status(const HttpResponse& head)> on_head,
                                       std::function<Status(std::string_view chunk)> on_body,
                                       const HttpClientOptions& options) {
  return run_blocking(options, [&](HttpClient& client, HttpCallback done) {
    HttpStreamHandlers h;
    h.on_head = std::move(on_head);
    h.on_body = std::move(on_body);
    h.on_done = std::move(done);
    client.stream(method, url, headers, body, idle_timeout_ms, max_response_bytes, std::move(h));
  });
}

}  // namespace sc
