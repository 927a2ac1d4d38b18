// Asynchronous HTTP/1.1 client over libevent's evhttp, one connection per request, with TLS
// through libevent_openssl. Every completion path goes through finish(), which defers the user
// callback and the freeing of the connection to the next loop turn: evhttp may call us from
// inside evhttp_make_request() or from a connection callback, where freeing is not allowed.
#include "common/io/http_client.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/core/url.h"
#include "common/io/event_loop.h"

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

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
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
  HttpClient::Impl* impl = nullptr;
  HttpClient::RequestId id = 0;
  bool streaming = false;
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
  // already been read wait in `pending`, and a response that completed waits in `held`.
  bool paused = false;
  std::string pending;
  std::optional<HttpResponse> held;
  bool done = false;
  bool cancelled = false;
  std::optional<evhttp_request_error> lib_error;
  Result<HttpResponse> result = HttpResponse{};
};

struct HttpClient::Impl : std::enable_shared_from_this<HttpClient::Impl> {
  Impl(EventLoop& l, HttpClientOptions o) : loop(l), opt(std::move(o)) {}
  ~Impl() {
    for (auto& [id, call] : calls) {
      call->timer.reset();
      if (call->evcon != nullptr) evhttp_connection_free(call->evcon);
    }
    calls.clear();
    if (dns != nullptr) evdns_base_free(dns, 0);
    if (ssl_ctx != nullptr) SSL_CTX_free(ssl_ctx);
  }

  Result<SSL_CTX*> tls_context() {
    if (ssl_ctx != nullptr) return ssl_ctx;
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return fail(Errc::internal, "SSL_CTX_new: " + openssl_error_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = opt.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                                 : SSL_CTX_load_verify_locations(ctx, opt.ca_file.c_str(), nullptr);
    if (ok != 1) {
      std::string why = openssl_error_text();
      SSL_CTX_free(ctx);
      return fail(Errc::invalid_argument,
                  "cannot load CA certificates from " + (opt.ca_file.empty() ? std::string("the system store") : opt.ca_file) +
                      ": " + why);
    }
    ssl_ctx = ctx;
    return ctx;
  }

  evdns_base* dns_base() {
    if (!dns_tried) {
      dns_tried = true;
      // Without an evdns base evhttp resolves with a blocking getaddrinfo(): acceptable as a
      // fallback only.
      dns = evdns_base_new(loop.base(), EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    }
    return dns;
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
    if (c->evcon != nullptr) {
      evhttp_connection_free(c->evcon);
      c->evcon = nullptr;
    }
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
                               uint64_t max_bytes) {
    HttpCall* c = call.get();
    c->impl = this;
    c->id = next_id++;
    c->timeout_ms = timeout_ms;
    c->max_bytes = max_bytes;
    calls.emplace(c->id, std::move(call));
    if (auto st = start(c, method, url, headers, body); !st) {
      c->timer.reset();
      if (c->evcon != nullptr) {
        evhttp_connection_free(c->evcon);
        c->evcon = nullptr;
      }
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

  // After resume(): hands over what waited, then lets the socket be read again.
  void pump(HttpClient::RequestId id) {
    auto it = calls.find(id);
    if (it == calls.end()) return;
    HttpCall* c = it->second.get();
    if (c->done || c->paused) return;
    if (!c->pending.empty()) {
      std::string data = std::move(c->pending);
      c->pending.clear();
      if (c->handlers.on_body) {
        if (auto st = c->handlers.on_body(data); !st) {
          finish(c, std::unexpected(st.error()));
          return;
        }
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

  Status start(HttpCall* c, std::string_view method, std::string_view url, const HttpHeaderList& headers,
               std::string_view body);

  EventLoop& loop;
  HttpClientOptions opt;
  evdns_base* dns = nullptr;
  bool dns_tried = false;
  SSL_CTX* ssl_ctx = nullptr;
  HttpClient::RequestId next_id = 1;
  std::unordered_map<HttpClient::RequestId, std::unique_ptr<HttpCall>> calls;
};

namespace {

using Impl = HttpClient::Impl;

HttpResponse head_of(evhttp_request* req) {
  HttpResponse r;
  r.status = evhttp_request_get_response_code(req);
  evkeyvalq* h = evhttp_request_get_input_headers(req);
  for (evkeyval* kv = h->tqh_first; kv != nullptr; kv = kv->next.tqe_next) r.headers.emplace_back(kv->key, kv->value);
  return r;
}

// The TLS reason for a failed exchange, if TLS is what failed.
std::optional<Error> tls_error(HttpCall* c) {
  if (c->ssl == nullptr) return std::nullopt;
  long vr = SSL_get_verify_result(c->ssl);
  if (vr != X509_V_OK) {
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
  HttpResponse r = head_of(req);
  if (!c->streaming) {
    evbuffer* in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    r.body.resize(n);
    if (n > 0) evbuffer_copyout(in, r.body.data(), n);
  } else if (c->paused || !c->pending.empty()) {
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
  c->head_seen = true;
  c->last_activity_ms = c->impl->loop.clock().mono_ms();
  HttpResponse head = head_of(req);
  if (c->max_bytes > 0) {
    std::string_view cl = head.header("Content-Length");
    if (!cl.empty()) {
      uint64_t n = 0;
      for (char ch : cl) n = (ch >= '0' && ch <= '9' && n < UINT64_MAX / 10) ? n * 10 + static_cast<uint64_t>(ch - '0') : n;
      if (n > c->max_bytes) {
        c->impl->finish(c, fail(Errc::too_large, "response from " + c->where + " announces " + std::string(cl) +
                                                     " bytes, more than the limit of " + std::to_string(c->max_bytes)));
        return -1;
      }
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
  if (c->done) return;  // libevent drains what we leave
  c->last_activity_ms = c->impl->loop.clock().mono_ms();
  evbuffer* in = evhttp_request_get_input_buffer(req);
  int nvec = evbuffer_peek(in, -1, nullptr, nullptr, 0);
  if (nvec <= 0) return;
  std::vector<evbuffer_iovec> vec(static_cast<size_t>(nvec));
  evbuffer_peek(in, -1, nullptr, vec.data(), nvec);
  for (const auto& v : vec) {
    c->received += v.iov_len;
    if (c->max_bytes > 0 && c->received > c->max_bytes) {
      c->impl->finish(c, fail(Errc::too_large, "response from " + c->where + " is larger than " +
                                                   std::to_string(c->max_bytes) + " bytes"));
      return;
    }
    std::string_view piece(static_cast<const char*>(v.iov_base), v.iov_len);
    // libevent drains the buffer when we return, so what a paused consumer cannot take yet
    // is kept for resume().
    if (c->paused || !c->pending.empty()) {
      c->pending.append(piece);
      continue;
    }
    if (c->handlers.on_body) {
      if (auto st = c->handlers.on_body(piece); !st) {
        c->impl->finish(c, std::unexpected(st.error()));
        return;
      }
    }
  }
  if (c->paused) Impl::set_reading(c, false);
}

}  // namespace

Status HttpClient::Impl::start(HttpCall* c, std::string_view method, std::string_view url,
                              const HttpHeaderList& headers, std::string_view body) {
  auto type = method_type(method);
  if (!type) return fail(Errc::invalid_argument, "unsupported HTTP method \"" + std::string(method) + "\"");
  auto u = parse_http_url(url);
  if (!u) return std::unexpected(u.error());
  if (c->timeout_ms <= 0) return fail(Errc::invalid_argument, "HTTP timeout must be positive");
  bool has_host = false, has_ua = false, has_length = false, has_conn = false, has_auth = false;
  for (const auto& [k, v] : headers) {
    if (auto st = check_header(k, v); !st) return st;
    has_host |= iequals(k, "Host");
    has_ua |= iequals(k, "User-Agent");
    has_length |= iequals(k, "Content-Length");
    has_conn |= iequals(k, "Connection");
    has_auth |= iequals(k, "Authorization");
  }
  c->where = u->host_header();
  if (u->port == (u->tls ? 443 : 80)) c->where += ":" + std::to_string(u->port);
  c->last_activity_ms = loop.clock().mono_ms();
  const int64_t timeout_ms = c->timeout_ms;
  const uint64_t max_bytes = c->max_bytes;

  bufferevent* bev = nullptr;
  if (u->tls) {
    auto ctx = tls_context();
    if (!ctx) return std::unexpected(ctx.error());
    SSL* ssl = SSL_new(*ctx);
    if (ssl == nullptr) return fail(Errc::internal, "SSL_new: " + openssl_error_text());
    if (is_ip_literal(u->host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, u->host.c_str());
      SSL_set1_host(ssl, u->host.c_str());
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
  c->evcon = evhttp_connection_base_bufferevent_new(loop.base(), is_ip_literal(u->host) ? nullptr : dns_base(), bev,
                                                    u->host.c_str(), u->port);
  if (c->evcon == nullptr) {
    if (bev != nullptr) bufferevent_free(bev);
    c->ssl = nullptr;
    return fail(Errc::internal, "cannot create an HTTP connection to " + c->where);
  }
  if (opt.family == HttpClientOptions::Family::ipv4) evhttp_connection_set_family(c->evcon, AF_INET);
  if (opt.family == HttpClientOptions::Family::ipv6) evhttp_connection_set_family(c->evcon, AF_INET6);
  evhttp_connection_set_max_headers_size(c->evcon, static_cast<ev_ssize_t>(opt.max_header_bytes));
  if (max_bytes > 0 || !c->streaming) {
    evhttp_connection_set_max_body_size(c->evcon, static_cast<ev_ssize_t>(std::min<uint64_t>(max_bytes, INT64_MAX)));
  }
  int64_t lib_ms = timeout_ms + kLibeventTimeoutSlackMs;
  timeval tv{static_cast<time_t>(lib_ms / 1000), static_cast<suseconds_t>((lib_ms % 1000) * 1000)};
  evhttp_connection_set_timeout_tv(c->evcon, &tv);
  evhttp_connection_set_retries(c->evcon, 0);

  evhttp_request* req = evhttp_request_new(&on_complete, c);
  if (req == nullptr) return fail(Errc::internal, "cannot allocate an HTTP request");
  evhttp_request_set_error_cb(req, &on_error);
  if (c->streaming) {
    evhttp_request_set_header_cb(req, &on_header);
    evhttp_request_set_chunked_cb(req, &on_chunk);
  }
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  for (const auto& [k, v] : headers) evhttp_add_header(out, k.c_str(), v.c_str());
  if (!has_host) evhttp_add_header(out, "Host", u->host_header().c_str());
  if (!has_ua && !opt.user_agent.empty()) evhttp_add_header(out, "User-Agent", opt.user_agent.c_str());
  if (!has_conn) evhttp_add_header(out, "Connection", "close");
  if (!has_auth && !u->userinfo.empty()) {
    evhttp_add_header(out, "Authorization", ("Basic " + base64(u->userinfo)).c_str());
  }
  if (!has_length && (!body.empty() || *type == EVHTTP_REQ_POST || *type == EVHTTP_REQ_PUT || *type == EVHTTP_REQ_PATCH)) {
    evhttp_add_header(out, "Content-Length", std::to_string(body.size()).c_str());
  }
  if (!body.empty()) evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());

  if (c->streaming) {
    int64_t period = std::clamp<int64_t>(timeout_ms / 4, 10, kMaxIdleCheckMs);
    c->timer = loop.every(period, [this, c] {
      if (!c->done && !c->paused && loop.clock().mono_ms() - c->last_activity_ms >= c->timeout_ms) {
        finish(c, fail(Errc::timeout, "no data from " + c->where + " for " + std::to_string(c->timeout_ms) + " ms"));
      }
    });
  } else {
    c->timer = loop.after(timeout_ms, [this, c] {
      finish(c, fail(Errc::timeout, "no complete response from " + c->where + " within " +
                                        std::to_string(c->timeout_ms) + " ms"));
    });
  }

  // May call on_complete synchronously (a refused connect to a local port); finish() defers.
  if (evhttp_make_request(c->evcon, req, *type, u->target.c_str()) != 0) {
    finish(c, fail(Errc::unavailable, "cannot start a request to " + c->where));
  }
  return {};
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
                                          HttpCallback callback) {
  auto call = std::make_unique<HttpCall>();
  call->callback = std::move(callback);
  return impl_->launch(std::move(call), method, url, headers, body, timeout_ms, max_response_bytes);
}

HttpClient::RequestId HttpClient::stream(std::string_view method, std::string_view url, const HttpHeaderList& headers,
                                         std::string_view body, int64_t idle_timeout_ms, uint64_t max_response_bytes,
                                         HttpStreamHandlers handlers) {
  auto call = std::make_unique<HttpCall>();
  call->streaming = true;
  call->handlers = std::move(handlers);
  return impl_->launch(std::move(call), method, url, headers, body, idle_timeout_ms, max_response_bytes);
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

namespace {

// The blocking forms: a private loop runs one exchange, started by `start` with the callback
// that ends it, and stops when that callback fires.
Result<HttpResponse> run_blocking(const HttpClientOptions& options,
                                  const std::function<void(HttpClient&, HttpCallback)>& start) {
  std::unique_ptr<EventLoop> loop;
  try {
    loop = std::make_unique<EventLoop>();
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("cannot create an event loop: ") + e.what());
  }
  std::optional<Result<HttpResponse>> out;
  {
    HttpClient client(*loop, options);
    start(client, [&](Result<HttpResponse> r) {
      out = std::move(r);
      loop->stop();
    });
    loop->run();
  }
  if (!out) return fail(Errc::internal, "event loop ended without an HTTP result");
  return std::move(*out);
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
