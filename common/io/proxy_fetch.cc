// Async HTTP(S) client on libevent's evhttp for the proxy's upstream traffic: streaming body,
// redirects, TLS with verification, timeouts. One connection per request keeps the state
// machine small; upstream blobs are large, so the handshake cost is noise next to the body.
#include "common/io/proxy_fetch.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <arpa/inet.h>
#include <strings.h>

#include <map>
#include <mutex>
#include <vector>

#include "common/core/log.h"

namespace sc {
namespace {

// Response headers kept per fetch; a hostile upstream cannot make us store more.
constexpr size_t kMaxResponseHeaders = 200;

// Addresses tried per host name; more is a misconfigured or hostile resolver.
constexpr size_t kMaxAddresses = 8;

std::mutex g_tls_mu;
FetchTlsOptions g_tls_opts;
std::map<std::string, SSL_CTX*> g_ssl_ctx;  // by extra CA file ("" = the process-wide one)

SSL_CTX* ssl_ctx(const std::string& request_ca) {
  std::lock_guard lock(g_tls_mu);
  const std::string& ca = request_ca.empty() ? g_tls_opts.ca_file : request_ca;
  if (auto it = g_ssl_ctx.find(ca); it != g_ssl_ctx.end()) return it->second;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_default_verify_paths(ctx);
  if (!ca.empty() && SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
    SC_WARN("cannot load CA file", {"file", ca});
  SSL_CTX_set_verify(ctx, g_tls_opts.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  g_ssl_ctx[ca] = ctx;
  return ctx;
}

bool is_literal(const std::string& host) {
  in6_addr probe;
  return inet_pton(AF_INET, host.c_str(), &probe) == 1 || inet_pton(AF_INET6, host.c_str(), &probe) == 1;
}

// One evdns base per event loop (thread), created on first use and kept for the process.
evdns_base* dns_for(event_base* base) {
  static thread_local std::map<event_base*, evdns_base*> bases;
  auto it = bases.find(base);
  if (it != bases.end()) return it->second;
  evdns_base* d = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  bases[base] = d;
  return d;
}

evhttp_cmd_type method_of(std::string_view m) {
  if (m == "HEAD") return EVHTTP_REQ_HEAD;
  if (m == "PUT") return EVHTTP_REQ_PUT;
  if (m == "POST") return EVHTTP_REQ_POST;
  if (m == "DELETE") return EVHTTP_REQ_DELETE;
  return EVHTTP_REQ_GET;
}

struct UrlParts {
  std::string scheme, host, path;
  int port = 0;
};

Result<UrlParts> split_url(const std::string& url) {
  evhttp_uri* u = evhttp_uri_parse_with_flags(url.c_str(), 0);
  if (!u) return fail(Errc::invalid_argument, "bad URL: " + url);
  UrlParts p;
  const char* s = evhttp_uri_get_scheme(u);
  const char* h = evhttp_uri_get_host(u);
  p.scheme = s ? s : "";
  p.host = h ? h : "";
  for (auto& c : p.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  p.port = evhttp_uri_get_port(u);
  if (p.port <= 0) p.port = p.scheme == "https" ? 443 : 80;
  const char* path = evhttp_uri_get_path(u);
  p.path = path && *path ? path : "/";
  if (const char* q = evhttp_uri_get_query(u)) p.path += std::string("?") + q;
  evhttp_uri_free(u);
  if ((p.scheme != "http" && p.scheme != "https") || p.host.empty())
    return fail(Errc::invalid_argument, "unsupported URL: " + url);
  return p;
}

// Resolves a Location header against the URL it came from.
std::string resolve_location(const std::string& base, std::string_view loc) {
  if (loc.starts_with("http://") || loc.starts_with("https://")) return std::string(loc);
  auto p = split_url(base);
  if (!p) return std::string(loc);
  std::string origin = p->scheme + "://" + (p->host.find(':') != std::string::npos ? "[" + p->host + "]" : p->host) +
                       ":" + std::to_string(p->port);
  if (loc.starts_with("//")) return p->scheme + ":" + std::string(loc);
  if (loc.starts_with("/")) return origin + std::string(loc);
  std::string dir = p->path.substr(0, p->path.rfind('/') + 1);
  return origin + dir + std::string(loc);
}

class FetchImpl final : public Fetch, public std::enable_shared_from_this<FetchImpl> {
 public:
  FetchImpl(event_base* base, FetchRequest req, HeadFn h, DataFn d, DoneFn done)
      : base_(base), req_(std::move(req)), on_head_(std::move(h)), on_data_(std::move(d)), on_done_(std::move(done)) {}
  ~FetchImpl() override { release_conn_now(); }

  void begin() {
    self_ = shared_from_this();
    if (auto st = issue(req_.url); !st) finish(st);
  }

  void cancel() override {
    resolving_.reset();
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
    finished_ = true;
    release_conn();
    self_.reset();
  }
  void pause() override {
    paused_ = true;
    if (conn_)
      if (bufferevent* b = evhttp_connection_get_bufferevent(conn_)) bufferevent_disable(b, EV_READ);
  }
  void resume() override {
    paused_ = false;
    if (conn_)
      if (bufferevent* b = evhttp_connection_get_bufferevent(conn_)) bufferevent_enable(b, EV_READ);
  }

 private:
  Status issue(const std::string& url) {
    auto parts = split_url(url);
    if (!parts) return std::unexpected(parts.error());
    current_url_ = url;
    if (!req_.check_address) return dial(*parts, parts->host);
    auto port = static_cast<uint16_t>(parts->port);
    if (is_literal(parts->host)) {
      if (auto st = req_.check_address(parts->host, port); !st) return st;
      return dial(*parts, parts->host);
    }
    std::weak_ptr<FetchImpl> weak = weak_from_this();
    resolving_ = resolve_host(base_, parts->host, [weak, p = *parts, port](Result<std::vector<std::string>> ips) {
      auto self = weak.lock();
      if (!self || self->finished_) return;
      self->resolving_.reset();
      if (!ips) return self->finish(std::unexpected(ips.error()));
      for (const auto& ip : *ips)
        if (auto st = self->req_.check_address(ip, port); !st) return self->finish(st);
      if (auto st = self->dial(p, ips->front()); !st) self->finish(st);
    });
    return {};
  }

  // Connects to `address` (the URL's host, or the address it was checked as) and sends the
  // request; TLS names and the Host header keep the URL's host.
  Status dial(const UrlParts& p, const std::string& address) {
    const UrlParts* parts = &p;
    bufferevent* bev = nullptr;
    if (parts->scheme == "https") {
      SSL_CTX* ctx = ssl_ctx(req_.ca_file);
      if (!ctx) return fail(Errc::internal, "no TLS context");
      SSL* ssl = SSL_new(ctx);
      if (!ssl) return fail(Errc::internal, "SSL_new failed");
      SSL_set_tlsext_host_name(ssl, parts->host.c_str());
      if (g_tls_opts.verify) SSL_set1_host(ssl, parts->host.c_str());
      bev = bufferevent_openssl_socket_new(base_, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
      if (!bev) {
        SSL_free(ssl);
        return fail(Errc::internal, "bufferevent_openssl_socket_new failed");
      }
      bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    // Literal addresses need no resolver (and then none is created for this loop).
    conn_ = evhttp_connection_base_bufferevent_new(base_, is_literal(address) ? nullptr : dns_for(base_), bev,
                                                   address.c_str(), static_cast<uint16_t>(parts->port));
    if (!conn_) return fail(Errc::internal, "cannot create connection");
    timeval tv{static_cast<time_t>(req_.timeout_ms / 1000), static_cast<suseconds_t>((req_.timeout_ms % 1000) * 1000)};
    evhttp_connection_set_timeout_tv(conn_, &tv);
    evhttp_request* r = evhttp_request_new(&FetchImpl::done_cb, this);
    if (!r) return fail(Errc::internal, "cannot create request");
    evhttp_request_set_header_cb(r, &FetchImpl::header_cb);
    evhttp_request_set_chunked_cb(r, &FetchImpl::chunk_cb);
    evhttp_request_set_error_cb(r, &FetchImpl::error_cb);
    evkeyvalq* out = evhttp_request_get_output_headers(r);
    bool default_port = (parts->scheme == "https" && parts->port == 443) || (parts->scheme == "http" && parts->port == 80);
    std::string host_hdr = parts->host.find(':') != std::string::npos ? "[" + parts->host + "]" : parts->host;
    if (!default_port) host_hdr += ":" + std::to_string(parts->port);
    evhttp_add_header(out, "Host", host_hdr.c_str());
    evhttp_add_header(out, "Connection", "close");
    bool drop_auth = !first_host_.empty() && first_host_ != parts->host;
    if (first_host_.empty()) first_host_ = parts->host;
    for (auto& [k, v] : req_.headers) {
      if (drop_auth && strcasecmp(k.c_str(), "Authorization") == 0) continue;
      evhttp_add_header(out, k.c_str(), v.c_str());
    }
    if (!req_.body.empty()) {
      evbuffer_add(evhttp_request_get_output_buffer(r), req_.body.data(), req_.body.size());
      evhttp_add_header(out, "Content-Length", std::to_string(req_.body.size()).c_str());
    } else if (req_.method == "PUT" || req_.method == "POST") {
      evhttp_add_header(out, "Content-Length", "0");
    }
    redirect_to_.clear();
    error_ = 0;
    got_error_ = false;
    if (evhttp_make_request(conn_, r, method_of(req_.method), parts->path.c_str()) != 0)
      return fail(Errc::unavailable, "cannot send request to " + parts->host);
    return {};
  }

  static int header_cb(evhttp_request* r, void* arg) {
    auto* self = static_cast<FetchImpl*>(arg);
    try {
      return self->on_headers(r);
    } catch (...) {
      return -1;
    }
  }
  int on_headers(evhttp_request* r) {
    if (finished_) return -1;
    int status = evhttp_request_get_response_code(r);
    evkeyvalq* in = evhttp_request_get_input_headers(r);
    if (status >= 300 && status < 400 && status != 304) {
      const char* loc = evhttp_find_header(in, "Location");
      if (loc && redirects_ < req_.max_redirects) {
        redirect_to_ = resolve_location(current_url_, loc);
        return 0;  // read (and ignore) the small redirect body, then follow it in done_cb
      }
    }
    head_.status = status;
    head_.url = current_url_;
    head_.headers.clear();
    for (evkeyval* kv = in->tqh_first; kv && head_.headers.size() < kMaxResponseHeaders; kv = kv->next.tqe_next)
      head_.headers.emplace_back(kv->key, kv->value);
    head_.content_length = -1;
    if (const char* cl = evhttp_find_header(in, "Content-Length")) {
      char* end = nullptr;
      long long v = strtoll(cl, &end, 10);
      if (end && *end == '\0' && v >= 0) head_.content_length = v;
    }
    head_seen_ = true;
    if (on_head_ && !on_head_(head_)) {
      cancelled_by_head_ = true;
      return -1;
    }
    if (paused_) pause();
    return 0;
  }

  static void chunk_cb(evhttp_request* r, void* arg) {
    auto* self = static_cast<FetchImpl*>(arg);
    evbuffer* in = evhttp_request_get_input_buffer(r);
    if (!self->redirect_to_.empty() || self->finished_ || !self->on_data_) {
      evbuffer_drain(in, evbuffer_get_length(in));
      return;
    }
    auto keep = self->self_;
    try {
      self->received_ += static_cast<int64_t>(evbuffer_get_length(in));
      self->on_data_(in);
    } catch (...) {
    }
    evbuffer_drain(in, evbuffer_get_length(in));
    if (self->paused_) self->pause();
  }

  static void error_cb(evhttp_request_error e, void* arg) {
    auto* self = static_cast<FetchImpl*>(arg);
    self->got_error_ = true;
    self->error_ = static_cast<int>(e);
  }

  static void done_cb(evhttp_request* r, void* arg) {
    auto* self = static_cast<FetchImpl*>(arg);
    auto keep = self->self_;  // the object must outlive this callback
    try {
      self->on_request_done(r);
    } catch (...) {
    }
  }

  void on_request_done(evhttp_request* r) {
    if (finished_) return;
    if (!redirect_to_.empty() && !got_error_) {
      ++redirects_;
      std::string next = std::move(redirect_to_);
      release_conn();
      if (req_.method == "POST" || req_.method == "PUT") {
        // 303 (and de-facto 301/302) turn a write into a GET; nothing of ours writes across one.
      }
      if (auto st = issue(next); !st) finish(st);
      return;
    }
    if (cancelled_by_head_) {
      finish(fail(Errc::cancelled, "cancelled by the head callback"));
      return;
    }
    if (got_error_ || !r || evhttp_request_get_response_code(r) == 0) {
      Errc code = Errc::unavailable;
      std::string what = "upstream connection failed";
      if (error_ == EVREQ_HTTP_TIMEOUT) {
        code = Errc::timeout;
        what = "upstream timed out";
      } else if (head_seen_) {
        code = Errc::io;
        what = "upstream body truncated";
      }
      finish(fail(code, what + " (" + current_url_ + ")"));
      return;
    }
    if (head_seen_ && head_.content_length >= 0 && received_ < head_.content_length && req_.method != "HEAD") {
      finish(fail(Errc::io, "upstream body truncated (" + current_url_ + ")"));
      return;
    }
    if (!head_seen_) {
      // Some evhttp paths skip the header callback (e.g. 1xx handling); synthesise the head.
      if (on_headers(r) < 0) {
        finish(fail(Errc::cancelled, "cancelled by the head callback"));
        return;
      }
      evbuffer* in = evhttp_request_get_input_buffer(r);
      if (evbuffer_get_length(in) > 0 && on_data_) on_data_(in);
    }
    finish({});
  }

  void finish(Status st) {
    if (finished_) return;
    finished_ = true;
    resolving_.reset();
    auto done = std::move(on_done_);
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
    release_conn();
    auto keep = self_;
    self_.reset();
    if (done) done(std::move(st));
  }

  // evhttp must not free a connection from inside its own callback: defer to the next turn.
  // The object stays alive until then, since evhttp may still call back into it this turn.
  void release_conn() {
    if (!conn_) return;
    struct Pending {
      evhttp_connection* conn;
      std::shared_ptr<FetchImpl> keep;
    };
    evhttp_connection* c = conn_;
    conn_ = nullptr;
    if (bufferevent* b = evhttp_connection_get_bufferevent(c)) bufferevent_disable(b, EV_READ | EV_WRITE);
    auto* p = new Pending{c, shared_from_this()};
    event_base_once(
        base_, -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) {
          auto* pending = static_cast<Pending*>(arg);
          evhttp_connection_free(pending->conn);
          delete pending;
        },
        p, nullptr);
  }
  void release_conn_now() {
    if (conn_) evhttp_connection_free(conn_);
    conn_ = nullptr;
  }

  event_base* base_;
  FetchRequest req_;
  HeadFn on_head_;
  DataFn on_data_;
  DoneFn on_done_;
  std::shared_ptr<FetchImpl> self_;
  evhttp_connection* conn_ = nullptr;
  ResolveHandle resolving_;
  std::string current_url_, redirect_to_, first_host_;
  FetchHead head_;
  int redirects_ = 0;
  int error_ = 0;
  int64_t received_ = 0;
  bool got_error_ = false;
  bool head_seen_ = false;
  bool finished_ = false;
  bool paused_ = false;
  bool cancelled_by_head_ = false;
};

// One lookup. evdns calls back exactly once (also when cancelled, and possibly from inside
// evdns_getaddrinfo itself), so the state frees itself there; the handle only detaches.
struct Lookup {
  evdns_getaddrinfo_request* req = nullptr;
  std::function<void(Result<std::vector<std::string>>)> done;
  Result<std::vector<std::string>> result;
  struct Handle* handle = nullptr;
  event_base* base = nullptr;
  bool starting = true;
};
struct Handle {
  Lookup* lookup = nullptr;
  ~Handle() {
    if (!lookup) return;
    lookup->handle = nullptr;
    lookup->done = nullptr;
    if (lookup->req) evdns_getaddrinfo_cancel(lookup->req);  // its callback frees it
  }
};

void deliver(Lookup* l) {
  if (l->handle) l->handle->lookup = nullptr;
  auto done = std::move(l->done);
  auto result = std::move(l->result);
  delete l;
  if (done) done(std::move(result));
}

void lookup_cb(int err, evutil_addrinfo* res, void* arg) {
  auto* l = static_cast<Lookup*>(arg);
  l->req = nullptr;
  std::vector<std::string> ips;
  for (evutil_addrinfo* a = res; a && ips.size() < kMaxAddresses; a = a->ai_next) {
    char out[INET6_ADDRSTRLEN] = "";
    if (a->ai_family == AF_INET)
      evutil_inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, out, sizeof out);
    else if (a->ai_family == AF_INET6)
      evutil_inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, out, sizeof out);
    if (*out) ips.emplace_back(out);
  }
  if (res) evutil_freeaddrinfo(res);
  if (err == EVUTIL_EAI_CANCEL || !l->done) {
    if (l->handle) l->handle->lookup = nullptr;
    delete l;
    return;
  }
  if (err != 0 || ips.empty())
    l->result = fail(Errc::unavailable, std::string("cannot resolve: ") + evutil_gai_strerror(err));
  else l->result = std::move(ips);
  if (!l->starting) return deliver(l);
  // Answered from inside evdns_getaddrinfo (a literal, /etc/hosts): report on the next turn.
  event_base_once(l->base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* a) { deliver(static_cast<Lookup*>(a)); },
                  l, nullptr);
}

}  // namespace

ResolveHandle resolve_host(event_base* base, const std::string& host,
                           std::function<void(Result<std::vector<std::string>>)> done) {
  auto handle = std::make_shared<Handle>();
  auto* l = new Lookup;
  l->done = std::move(done);
  l->base = base;
  l->handle = handle.get();
  handle->lookup = l;
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  evdns_getaddrinfo_request* req = evdns_getaddrinfo(dns_for(base), host.c_str(), nullptr, &hints, lookup_cb, l);
  // Still pending only when req is non-null; otherwise lookup_cb already ran and owns l.
  if (req) {
    l->req = req;
    l->starting = false;
  }
  return handle;
}

std::string_view FetchHead::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return v;
  return {};
}

void set_fetch_tls_options(const FetchTlsOptions& o) {
  std::lock_guard lock(g_tls_mu);
  g_tls_opts = o;
  for (auto& [ca, ctx] : g_ssl_ctx) SSL_CTX_free(ctx);
  g_ssl_ctx.clear();
}

std::shared_ptr<Fetch> Fetch::start(event_base* base, FetchRequest req, HeadFn on_head, DataFn on_data, DoneFn on_done) {
  auto f = std::make_shared<FetchImpl>(base, std::move(req), std::move(on_head), std::move(on_data), std::move(on_done));
  f->begin();
  return f;
}

std::shared_ptr<Fetch> fetch_all(event_base* base, FetchRequest req, size_t max_bytes,
                                 std::function<void(Result<FetchResult>)> done) {
  auto acc = std::make_shared<FetchResult>();
  auto too_big = std::make_shared<bool>(false);
  auto cb = std::make_shared<std::function<void(Result<FetchResult>)>>(std::move(done));
  return Fetch::start(
      base, std::move(req),
      [acc, max_bytes, too_big](const FetchHead& h) {
        acc->head = h;
        if (h.content_length > static_cast<int64_t>(max_bytes)) {
          *too_big = true;
          return false;
        }
        return true;
      },
      [acc, max_bytes, too_big](evbuffer* b) {
        size_t n = evbuffer_get_length(b);
        if (*too_big || acc->body.size() + n > max_bytes) {
          *too_big = true;
          return;
        }
        size_t old = acc->body.size();
        acc->body.resize(old + n);
        evbuffer_remove(b, acc->body.data() + old, n);
      },
      [acc, too_big, cb](Status st) {
        if (*too_big) return (*cb)(fail(Errc::too_large, "response too large"));
        if (!st) return (*cb)(std::unexpected(st.error()));
        (*cb)(std::move(*acc));
      });
}

OwnedBuffer::OwnedBuffer() : buf_(evbuffer_new()) {}
OwnedBuffer::~OwnedBuffer() { evbuffer_free(buf_); }
size_t OwnedBuffer::size() const { return evbuffer_get_length(buf_); }
void OwnedBuffer::move_from(evbuffer* src) { evbuffer_add_buffer(buf_, src); }
bool OwnedBuffer::add_file(int fd, int64_t offset, int64_t length) {
  // Kept as a sendfile segment (not mmapped) when it reaches a socket's output buffer.
  evbuffer_set_flags(buf_, EVBUFFER_FLAG_DRAINS_TO_FD);
  return evbuffer_add_file(buf_, fd, offset, length) == 0;
}
void OwnedBuffer::clear() { evbuffer_drain(buf_, evbuffer_get_length(buf_)); }
size_t buffer_length(evbuffer* b) { return evbuffer_get_length(b); }
void buffer_drain(evbuffer* b, size_t n) { evbuffer_drain(b, n); }

void for_each_segment(evbuffer* b, const std::function<void(std::string_view)>& fn) {
  int n = evbuffer_peek(b, -1, nullptr, nullptr, 0);
  if (n <= 0) return;
  std::vector<evbuffer_iovec> v(static_cast<size_t>(n));
  evbuffer_peek(b, -1, nullptr, v.data(), n);
  for (auto& seg : v) fn(std::string_view(static_cast<const char*>(seg.iov_base), seg.iov_len));
}

}  // namespace sc
