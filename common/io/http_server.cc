// HttpServer on libevhtp: routing, per-request limits (headers, body, URI) answered with
// 413/414/431 before a lingering close, a per-connection deadline that cuts off slow clients,
// pipelining, held (asynchronous) requests, streaming, TLS, worker threads and a graceful
// drain. All evhtp specifics stay in this file.
#include "common/io/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <evhtp/evhtp.h>
#include <evhtp/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>

#include "common/core/json.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/io/http_request_target.h"

namespace sc {
namespace {

// evhtp's parser (1.2.18) keeps the request target and each header line in an 8 KiB stack
// buffer and drops the connection without an answer beyond it: longer ones are refused with
// 414/431 before evhtp sees them, a little under that size.
constexpr size_t kParserFieldMax = 8000;
// Bytes of a request line around its target: a method (OPTIONS, CONNECT: 7) and " HTTP/1.1".
constexpr size_t kRequestLineSlack = 24;
// A refused request is answered, then the connection lingers: the write side is shut and what
// the client still sends is read and discarded, so that closing does not reset the connection
// before the client has read the answer (nginx's lingering_close). Bounded in time and bytes,
// like nginx's lingering_time; 8 MiB is a few loopback socket buffers of an upload in flight.
constexpr int64_t kLingerMs = 5'000;
constexpr uint64_t kLingerMaxBytes = 8 << 20;
// How often shutdown() checks whether in-flight requests have finished.
constexpr int64_t kDrainPollMs = 20;
// Connections the kernel completes ahead of accept(), per listener (capped by somaxconn).
constexpr int kListenBacklog = 1024;

timeval to_tv(int64_t ms) { return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)}; }

const char* method_name(htp_method m) {
  switch (m) {
    case htp_method_GET: return "GET";
    case htp_method_HEAD: return "HEAD";
    case htp_method_POST: return "POST";
    case htp_method_PUT: return "PUT";
    case htp_method_DELETE: return "DELETE";
    case htp_method_OPTIONS: return "OPTIONS";
    case htp_method_CONNECT: return "CONNECT";
    case htp_method_PATCH: return "PATCH";
    case htp_method_TRACE: return "TRACE";
    default: return "UNKNOWN";
  }
}

// evhtp takes every hook as a generic function pointer (cast through void(*)() to say so).
template <class F>
evhtp_hook hook(F* f) {
  return reinterpret_cast<evhtp_hook>(reinterpret_cast<void (*)()>(f));
}

// A reply answered inside its handler is written at once (see EvRequest::finish), with the
// bufferevent's write side left off while nothing waits; anything else that writes turns it on
// again first, so that libevent flushes what a single write could not.
void ensure_writing(bufferevent* bev) {
  if (bev && !(bufferevent_get_enabled(bev) & EV_WRITE)) bufferevent_enable(bev, EV_WRITE);
}

}  // namespace

void HttpRequest::reply_error(const Error& err) {
  Json detail = Json::object();
  detail.set("code", errc_name(err.code)).set("message", err.message);
  Json body = Json::object();
  body.set("error", std::move(detail));
  reply(errc_http_status(err.code), "application/json", body.dump());
}

void HttpRequest::stream_write_copy(std::string_view data) {
  evbuffer* b = evbuffer_new();
  evbuffer_add(b, data.data(), data.size());
  stream_write(b);
  evbuffer_free(b);
}

struct Route {
  std::string pattern;  // without the trailing '*'
  bool prefix;
  HttpHandler handler;
};

class EvRequest;

// Per-connection state: limits for the request being read, the slow-client deadline and the
// held request (if any) that must learn when the client goes away.
struct ConnCtx {
  HttpServer::Impl* server = nullptr;
  evhtp_connection_t* conn = nullptr;
  std::unique_ptr<Timer> deadline;  // its callback frees this ConnCtx: Timer allows that
  size_t headers = 0;
  size_t header_bytes = 0;
  uint64_t body_bytes = 0;
  bool dispatched = false;  // the current request reached a handler (counts as in flight)
  // evhtp's parser (1.2.18) truncates a request line that arrives split across reads, so the
  // request head is held back until it is complete (see on_readable).
  bool awaiting_head = true;
  bufferevent_data_cb evhtp_readcb = nullptr;
  void* evhtp_readcb_arg = nullptr;
  std::weak_ptr<EvRequest> held;
  // Pipelined bytes behind a bodiless request, kept from evhtp until that request is answered:
  // evhtp parses one request per read and complains on stderr about the rest ("ODDITY").
  evbuffer* backlog = nullptr;

  ~ConnCtx() {
    if (backlog) evbuffer_free(backlog);
  }
  // Puts the held-back bytes in front of what the socket delivered since.
  void restore_backlog(bufferevent* bev) {
    if (backlog && evbuffer_get_length(backlog) > 0) evbuffer_prepend_buffer(bufferevent_get_input(bev), backlog);
  }
};

// Whether a request head (the first head_len bytes of `in`) announces a body. Without
// Content-Length or Transfer-Encoding a request has none (RFC 9112 6.3).
static bool declares_body(evbuffer* in, size_t head_len) {
  std::string_view head(reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(head_len))), head_len);
  for (size_t nl = head.find('\n'); nl != std::string_view::npos; nl = head.find('\n', nl + 1)) {
    std::string_view line = head.substr(nl + 1);
    for (std::string_view name : {std::string_view("content-length:"), std::string_view("transfer-encoding:")}) {
      if (line.size() >= name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) return true;
    }
  }
  return false;
}

// Releases a connection's state when evhtp will not call its fini hooks (take_over()).
static void forget_connection(ConnCtx* c);

class EvRequest final : public HttpRequest, public std::enable_shared_from_this<EvRequest> {
 public:
  EvRequest(evhtp_request_t* r, ConnCtx* ctx) : r_(r), ctx_(ctx) {}

  std::string_view method() const override { return method_name(evhtp_request_get_method(r_)); }
  std::string_view path() const override {
    if (evhtp_request_get_method(r_) == htp_method_CONNECT) return connect_target();
    return r_->uri && r_->uri->path && r_->uri->path->full ? r_->uri->path->full : "/";
  }
  // CONNECT's authority-form target ("host:port"), which evhtp keeps apart from the path.
  std::string_view connect_target() const {
    const evhtp_authority_t* a = r_->uri ? r_->uri->authority : nullptr;
    if (connect_target_.empty() && a && a->hostname) {
      bool v6 = strchr(a->hostname, ':') != nullptr;
      connect_target_ = (v6 ? "[" : "") + std::string(a->hostname) + (v6 ? "]:" : ":") + std::to_string(a->port);
    }
    return connect_target_;
  }
  std::string_view query() const override {
    return r_->uri && r_->uri->query_raw ? reinterpret_cast<const char*>(r_->uri->query_raw) : "";
  }
  std::string_view header(std::string_view name) const override {
    evhtp_header_t* h;
    TAILQ_FOREACH(h, r_->headers_in, next) {
      if (h->klen == name.size() && strncasecmp(h->key, name.data(), name.size()) == 0) return {h->val, h->vlen};
    }
    return {};
  }
  size_t header_count() const override { return ctx_->headers; }
  std::string_view body() override {
    size_t n = evbuffer_get_length(r_->buffer_in);
    if (n == 0) return {};
    return {reinterpret_cast<const char*>(evbuffer_pullup(r_->buffer_in, -1)), n};
  }
  const sockaddr* peer() const override { return r_->conn->saddr; }
  std::string peer_ip() const override {
    char buf[INET6_ADDRSTRLEN] = "";
    const sockaddr* sa = peer();
    if (!sa) return "";
    if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
    else if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
    return buf;
  }
  event_base* base() const override { return r_->conn->evbase; }

  void add_header(std::string_view name, std::string_view value) override {
    evhtp_headers_add_header(r_->headers_out,
                             evhtp_header_new(std::string(name).c_str(), std::string(value).c_str(), 1, 1));
  }
  void set_content_type(std::string_view ct) {
    if (!ct.empty()) add_header("Content-Type", ct);
  }
  void reply(int status, std::string_view content_type, std::string_view body) override {
    set_content_type(content_type);
    evbuffer_add(r_->buffer_out, body.data(), body.size());
    finish(status);
  }
  void reply_buffer(int status, std::string_view content_type, evbuffer* body) override {
    set_content_type(content_type);
    evbuffer_add_buffer(r_->buffer_out, body);
    finish(status);
  }
  void reply_file(int status, std::string_view content_type, int fd, int64_t offset, int64_t length) override {
    set_content_type(content_type);
    if (length > 0) {
      // Without this flag libevent mmaps the file into the buffer and writev()s it; with it the
      // segment stays a sendfile segment when evhtp moves it to the socket's output buffer.
      evbuffer_set_flags(r_->buffer_out, EVBUFFER_FLAG_DRAINS_TO_FD);
      evbuffer_add_file(r_->buffer_out, fd, offset, length);
    } else {
      close(fd);
    }
    finish(status);
  }
  void stream_start(int status, std::string_view content_type, int64_t content_length) override {
    set_content_type(content_type);
    streaming_ = true;
    ensure_writing(evhtp_request_get_bev(r_));
    if (content_length >= 0) {
      add_header("Content-Length", std::to_string(content_length));
      evhtp_send_reply_start(r_, static_cast<evhtp_res>(status));
      chunked_ = false;
    } else {
      evhtp_send_reply_chunk_start(r_, static_cast<evhtp_res>(status));
      chunked_ = true;
    }
    // Starting a reply overwrites the request's status, which is how evhtp knows a held request
    // is paused; a stream started inside the handler after hold() would otherwise lose it.
    if (held_) r_->status = EVHTP_RES_PAUSE;
  }
  void stream_write(evbuffer* data) override {
    if (chunked_) evhtp_send_reply_chunk(r_, data);
    else evhtp_send_reply_body(r_, data);
  }
  void stream_end() override {
    if (chunked_) evhtp_send_reply_chunk_end(r_);
    else evhtp_send_reply_end(r_);
    done();
  }
  void stream_abort() override {
    evhtp_request_set_keepalive(r_, 0);
    evhtp_send_reply_end(r_);  // no chunked terminator either: the client must see a short body
    done();
  }
  size_t pending_output() const override {
    bufferevent* bev = evhtp_request_get_bev(r_);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
  }

  std::shared_ptr<HttpRequest> hold() override {
    auto held = std::make_shared<EvRequest>(r_, ctx_);
    held->held_ = true;
    ctx_->held = held;
    evhtp_request_pause(r_);
    handed_off_ = true;
    return held;
  }
  bool alive() const override { return r_ != nullptr; }

  bufferevent* take_over() override {
    if (!r_) return nullptr;
    evhtp_connection_t* conn = r_->conn;
    ConnCtx* c = ctx_;
    r_ = nullptr;
    bufferevent* bev = evhtp_connection_take_ownership(conn);
    ensure_writing(bev);
    c->restore_backlog(bev);  // bytes the client sent right behind its CONNECT are the tunnel's
    forget_connection(c);  // evhtp dropped our hooks with the connection: no fini hook will run
    evhtp_connection_free(conn);  // frees evhtp's state, not the bufferevent we now own
    return bev;
  }

  bool replied() const { return replied_ || handed_off_; }
  void detach() { r_ = nullptr; }

 private:
  // Inside the handler, a plain (not TLS) connection gets its reply in one write now rather than
  // on the loop's next turn: that saves a wake-up and two epoll_ctl calls per request. evhtp's
  // write callback, run next, then readies the connection for the next request or closes it
  // (Connection: close), as it would after libevent's own write.
  void finish(int status) {
    bufferevent* bev = evhtp_request_get_bev(r_);
    bool now = !held_ && bev && !r_->conn->ssl && evbuffer_get_length(bufferevent_get_output(bev)) == 0;
    if (now) bufferevent_disable(bev, EV_WRITE);
    else ensure_writing(bev);
    evhtp_send_reply(r_, static_cast<evhtp_res>(status));
    done();
    if (!now) return;
    evbuffer* out = bufferevent_get_output(bev);
    evbuffer_unfreeze(out, 1);  // a socket bufferevent lets only itself drain its output, so say we do
    evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) > 0) {
      bufferevent_enable(bev, EV_WRITE);  // libevent sends the rest
      return;
    }
    bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
  }
  void done() {
    replied_ = true;
    if (held_ && r_) {
      evhtp_request_t* r = r_;
      r_ = nullptr;  // evhtp frees the request once it is written; never touch it again
      evhtp_request_resume(r);
    }
  }

  evhtp_request_t* r_;
  ConnCtx* ctx_;
  bool held_ = false;
  bool replied_ = false;
  bool handed_off_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  mutable std::string connect_target_;

 public:
  // Absolute-form request lines (a forward proxy's "GET http://host:port/path"): evhtp keeps
  // the scheme and authority apart from the path.
  std::string absolute_origin() const {
    const evhtp_authority_t* a = r_->uri ? r_->uri->authority : nullptr;
    if (!a || !a->hostname || !*a->hostname) return {};
    std::string scheme = r_->uri->scheme == htp_scheme_http    ? "http"
                         : r_->uri->scheme == htp_scheme_https ? "https"
                                                               : "unsupported";
    bool v6 = strchr(a->hostname, ':') != nullptr;
    std::string out = scheme + "://" + (v6 ? "[" : "") + a->hostname + (v6 ? "]" : "");
    if (a->port) out += ":" + std::to_string(a->port);
    return out;
  }
};

std::string absolute_form_origin(const HttpRequest& req) {
  auto* ev = dynamic_cast<const EvRequest*>(&req);
  return ev ? ev->absolute_origin() : std::string();
}

struct Linger;

// A worker thread's own evhtp on the worker's loop, accepting on the worker's own listening
// socket: connections are accepted where they are served, with no hand-off from an accepting
// thread (which cost two wake-ups and a socketpair message per connection).
struct Worker {
  int fd = -1;             // its listener until bound: an SO_REUSEPORT sibling or a dup of an adopted one
  evthr_t* thr = nullptr;  // set once the thread runs
  evhtp_t* htp = nullptr;  // made and freed on the worker's thread
};

struct HttpServer::Impl {
  EventLoop& loop;
  HttpServerOptions opt;
  evhtp_t* htp = nullptr;  // on the caller's loop; with threads, only the owner of the pool
  evhtp_ssl_cfg_t ssl_cfg{};  // evhtp keeps a pointer to it
  std::mutex workers_mu;      // guards the fields below against the workers' start
  std::vector<Worker> workers;
  size_t workers_started = 0;
  bool workers_stop = false;  // shutdown() came: a worker that starts later does not accept
  std::vector<Route> routes;
  uint16_t port = 0;
  std::atomic<int64_t> in_flight{0};
  bool accepting = false;
  std::unique_ptr<Timer> drain_timer;
  int64_t drain_deadline_ms = 0;
  // Connections being closed after a refusal, so that those still lingering when their thread
  // or the server ends are freed (worker threads' lingers on their exit hook).
  std::mutex linger_mu;
  std::unordered_set<Linger*> lingers;

  Impl(EventLoop& l, HttpServerOptions o) : loop(l), opt(std::move(o)) {}

  const Route* match(std::string_view path) const {
    for (const Route& r : routes) {  // sorted longest first
      if (r.prefix ? path.starts_with(r.pattern) : path == r.pattern) return &r;
    }
    return nullptr;
  }

  // A timer on the thread that owns `base`: the loop's own (which follows its time source) or
  // a worker thread's.
  std::unique_ptr<Timer> timer(event_base* base, int64_t ms, std::function<void()> fn) {
    if (base == loop.base()) return loop.after(ms, std::move(fn));
    return EventLoop::timer_on(base, ms, false, std::move(fn));
  }

  void arm_deadline(ConnCtx* c) { c->deadline->arm(opt.read_timeout_ms); }

  size_t uri_limit() const { return std::min(opt.max_uri_bytes, kParserFieldMax); }
  // The longest request head worth waiting for: beyond it the headers are over their limit.
  size_t head_cap() const { return uri_limit() + kRequestLineSlack + opt.max_header_bytes + 4 * opt.max_headers + 4; }

  void free_lingers(event_base* base);

  // --- evhtp callbacks (C ABI, no exceptions may escape) ---

  static evhtp_res on_post_accept(evhtp_connection_t* conn, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto* c = new ConnCtx();
    c->server = self;
    c->conn = conn;
    // The client did not finish a request in time (or idled on keep-alive): drop it. This frees
    // c, and with it the timer whose callback this is.
    c->deadline = self->timer(conn->evbase, self->opt.read_timeout_ms, [conn] { evhtp_connection_free(conn); });
    bufferevent_event_cb eventcb = nullptr;
    bufferevent_data_cb writecb = nullptr;
    bufferevent_getcb(conn->bev, &c->evhtp_readcb, &writecb, &eventcb, &c->evhtp_readcb_arg);
    bufferevent_setcb(conn->bev, on_readable, writecb, eventcb, c->evhtp_readcb_arg);
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers_start, hook(on_headers_start), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_header, hook(on_header), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_headers, hook(on_headers), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_read, hook(on_read), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_request_fini, hook(on_request_fini), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_conn_error, hook(on_conn_error), c);
    evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, hook(on_connection_fini), c);
    return EVHTP_RES_OK;
  }

  // The status a complete (or over-long) request head in `in` must be refused with, 0 if none.
  // Only long heads are scanned line by line: a shorter one cannot hold an over-long field.
  int check_head(evbuffer* in, ssize_t head_end) const {
    size_t len = head_end >= 0 ? static_cast<size_t>(head_end) : evbuffer_get_length(in);
    if (len <= kParserFieldMax && len <= uri_limit() + kRequestLineSlack) return 0;
    evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, nullptr, EVBUFFER_EOL_CRLF);
    size_t line = eol.pos >= 0 ? static_cast<size_t>(eol.pos) : len;
    if (line > uri_limit() + kRequestLineSlack) return 414;
    if (head_end < 0) return 431;  // no end in sight though the cap is reached
    for (size_t start = line + 2; start < len;) {
      evbuffer_ptr from;
      evbuffer_ptr_set(in, &from, start, EVBUFFER_PTR_SET);
      evbuffer_ptr next = evbuffer_search_eol(in, &from, nullptr, EVBUFFER_EOL_CRLF);
      size_t end = next.pos >= 0 ? static_cast<size_t>(next.pos) : len;
      if (end - start > kParserFieldMax) return 431;
      start = end + 2;
    }
    return 0;
  }

  // Read callback in front of evhtp's: a request head is handed over only once its blank line
  // has arrived, so the parser always sees the request line and headers in one piece; a head
  // evhtp could not parse (over-long target or header line) is refused here with 414/431.
  static void on_readable(bufferevent* bev, void* arg) {
    auto* conn = static_cast<evhtp_connection_t*>(arg);
    auto* c = static_cast<ConnCtx*>(conn->hooks ? conn->hooks->on_headers_start_arg : nullptr);
    if (c && c->awaiting_head) {
      evbuffer* in = bufferevent_get_input(bev);
      Impl& s = *c->server;
      // A request line starts with a method token; anything else (a TLS ClientHello from a
      // client probing https first, as docker and skopeo do) goes to evhtp now to be refused
      // at once, not after the read timeout.
      unsigned char first = 'G';
      evbuffer_copyout(in, &first, 1);
      bool plausible = (first >= 'A' && first <= 'Z') || first == '\r' || first == '\n';
      if (plausible) {
        ssize_t head_end = evbuffer_search(in, "\r\n\r\n", 4, nullptr).pos;
        if (head_end < 0 && evbuffer_get_length(in) < s.head_cap()) return;
        if (int status = s.check_head(in, head_end)) {
          bool uri = status == 414;
          refuse(c, false, status, uri ? "request URI too long" : "request header fields too large");
          return;
        }
        size_t end = static_cast<size_t>(head_end) + 4;
        if (head_end >= 0 && evbuffer_get_length(in) > end && !declares_body(in, end)) {
          // Pipelined: evhtp gets this request alone; the rest waits in the backlog. (Only
          // the front of a bufferevent's input may be changed: its end is libevent's.)
          if (!c->backlog) c->backlog = evbuffer_new();
          evbuffer* head = evbuffer_new();
          evbuffer_remove_buffer(in, head, end);
          evbuffer_remove_buffer(in, c->backlog, evbuffer_get_length(in));
          evbuffer_prepend_buffer(in, head);
          evbuffer_free(head);
        }
      }
      c->awaiting_head = false;
    } else if (c && c->backlog && evbuffer_get_length(c->backlog) > 0) {
      // More pipelined requests while the current one (bodiless) is answered: queue them, and
      // stop reading the socket once a head's worth waits (TCP pushes back on the client).
      evbuffer* in = bufferevent_get_input(bev);
      evbuffer_remove_buffer(in, c->backlog, evbuffer_get_length(in));
      if (evbuffer_get_length(c->backlog) > c->server->head_cap()) bufferevent_disable(bev, EV_READ);
      return;
    }
    if (c) c->evhtp_readcb(bev, arg);
  }

  static evhtp_res on_headers_start(evhtp_request_t*, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    c->headers = 0;
    c->header_bytes = 0;
    c->body_bytes = 0;
    return EVHTP_RES_OK;
  }

  static evhtp_res on_header(evhtp_request_t*, evhtp_header_t* h, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    const auto& o = c->server->opt;
    c->headers++;
    c->header_bytes += h->klen + h->vlen;
    if (c->headers > o.max_headers || c->header_bytes > o.max_header_bytes) {
      refuse(c, true, 431, "too many or too large headers");
      return EVHTP_RES_ERROR;
    }
    return EVHTP_RES_OK;
  }

  // Runs before evhtp would send "100 Continue": a body announced too large is refused before
  // the client sends it.
  static evhtp_res on_headers(evhtp_request_t* r, evhtp_headers_t* headers, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    uint64_t max = c->server->opt.max_body_bytes;
    if (evhtp_request_content_len(r) > max) {
      refuse(c, true, 413, "request body exceeds " + std::to_string(max) + " bytes");
      return EVHTP_RES_ERROR;
    }
    if (evhtp_kv_find(headers, "Expect")) ensure_writing(c->conn->bev);  // evhtp writes "100 Continue"
    return EVHTP_RES_OK;
  }

  // Body bytes as they arrive: a chunked body that grows past the limit is refused there.
  static evhtp_res on_read(evhtp_request_t*, evbuffer* buf, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    uint64_t max = c->server->opt.max_body_bytes;
    c->body_bytes += evbuffer_get_length(buf);
    if (c->body_bytes > max) {
      refuse(c, true, 413, "request body exceeds " + std::to_string(max) + " bytes");
      return EVHTP_RES_ERROR;
    }
    return EVHTP_RES_OK;
  }

  // Takes the connection from evhtp, answers `status` and closes it lingering. From inside
  // evhtp's parser (a hook, which then returns an error) evhtp frees its side itself once it
  // sees it no longer owns the connection; from outside, we free it here.
  static void refuse(ConnCtx* c, bool in_parser, int status, const std::string& message);

  static evhtp_res on_request_fini(evhtp_request_t*, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    if (auto held = c->held.lock()) held->detach();
    c->held.reset();
    if (c->dispatched) c->server->in_flight.fetch_sub(1, std::memory_order_relaxed);
    c->dispatched = false;
    c->awaiting_head = true;
    c->server->arm_deadline(c);  // the next request (keep-alive) must come in time too
    // Pipelining: evhtp parses one request per read and, once it has answered, waits for the
    // socket to become readable again, though the next requests may already be buffered. Ask
    // for the read callback again, deferred: evhtp resets its parser after this hook returns.
    bufferevent* bev = c->conn->bev;
    if (bev && c->backlog && evbuffer_get_length(c->backlog) > 0) {
      c->restore_backlog(bev);
      bufferevent_enable(bev, EV_READ);
    }
    if (bev && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
      bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    return EVHTP_RES_OK;
  }

  static evhtp_res on_conn_error(evhtp_connection_t* conn, evhtp_error_flags, void* arg) {
    auto* c = static_cast<ConnCtx*>(arg);
    if (auto held = c->held.lock()) {
      held->detach();
      c->held.reset();
      // evhtp keeps a paused connection until it is resumed: let it free it on the next turn.
      if (conn->flags & EVHTP_CONN_FLAG_PAUSED) evhtp_connection_resume(conn);
    }
    return EVHTP_RES_OK;
  }

  static evhtp_res on_connection_fini(evhtp_connection_t* conn, void* arg) {
    // evhtp frees the connection's last request after this hook: it must not reach c.
    evhtp_connection_unset_hook(conn, evhtp_hook_on_request_fini);
    forget_connection(static_cast<ConnCtx*>(arg));
    return EVHTP_RES_OK;
  }

  static void on_request(evhtp_request_t* r, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    evhtp_connection_t* conn = evhtp_request_get_connection(r);
    auto* c = static_cast<ConnCtx*>(conn->hooks ? conn->hooks->on_headers_start_arg : nullptr);
    if (!c) {
      evhtp_send_reply(r, 500);
      return;
    }
    c->deadline->cancel();
    c->dispatched = true;
    self->in_flight.fetch_add(1, std::memory_order_relaxed);
    EvRequest req(r, c);
    std::string_view path = req.path();
    if (path.size() + req.query().size() > self->opt.max_uri_bytes) {
      req.reply(414, "application/json", R"({"error":{"code":"too_large","message":"request URI too long"}})");
      return;
    }
    const Route* route = self->match(path);
    if (!route) {
      req.reply_error(Error{Errc::not_found, "no such endpoint"});
      return;
    }
    try {
      route->handler(req);
    } catch (const std::exception& e) {
      SC_ERROR("http handler threw", {"path", path}, {"what", e.what()});
      if (!req.replied()) req.reply_error(Error{Errc::internal, "internal error"});
      return;
    }
    if (!req.replied()) {
      SC_ERROR("http handler returned without a reply", {"path", path});
      req.reply_error(Error{Errc::internal, "internal error"});
    }
  }

  // An evhtp with the server's settings on `base`: the caller's loop, or a worker's.
  evhtp_t* new_evhtp(event_base* base);

  // Runs on each worker thread before its loop: takes a listener and starts accepting on it.
  static void on_thread_init(evhtp_t*, evthr_t* thr, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    event_base* base = evthr_get_base(thr);
    Worker* w;
    bool stop;
    {
      std::lock_guard lock(self->workers_mu);
      w = &self->workers.at(self->workers_started++);
      w->thr = thr;
      stop = self->workers_stop;
    }
    evthr_set_aux(thr, w);
    w->htp = self->new_evhtp(base);
    if (!stop && w->htp && evhtp_accept_socket(w->htp, w->fd, 0) == 0) {
      w->fd = -1;  // the listener owns it now
    } else {
      if (!stop) SC_ERROR("http worker cannot accept", {"port", static_cast<int>(self->port)});
      close(w->fd);
      w->fd = -1;
    }
    if (self->opt.thread_init) self->opt.thread_init(base);
  }

  // Runs on a worker (evthr_defer) when the server stops accepting.
  static void unbind_worker(evthr_t* thr, void*, void*) {
    auto* w = static_cast<Worker*>(evthr_get_aux(thr));
    if (w->htp) evhtp_unbind_socket(w->htp);
  }

  // Runs on each worker thread after its loop has ended, before its event_base is freed.
  static void on_thread_exit(evhtp_t*, evthr_t* thr, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    event_base* base = evthr_get_base(thr);
    self->free_lingers(base);
    if (self->opt.thread_exit) self->opt.thread_exit(base);
    auto* w = static_cast<Worker*>(evthr_get_aux(thr));
    if (w->htp) {
      evhtp_unbind_socket(w->htp);
      evhtp_free(w->htp);
      w->htp = nullptr;
    }
  }
};

static void forget_connection(ConnCtx* c) {
  if (auto held = c->held.lock()) held->detach();
  if (c->dispatched) c->server->in_flight.fetch_sub(1, std::memory_order_relaxed);
  delete c;
}

// A refused connection, owned by us from the answer to the close (see kLingerMs).
struct Linger {
  HttpServer::Impl* server;
  event_base* base;
  bufferevent* bev;
  std::unique_ptr<Timer> timer;  // its callback frees this Linger: Timer allows that
  uint64_t discarded = 0;
  bool shut = false;
  bool peer_done = false;  // the client closed its side first: close once the answer is out

  void close() {
    {
      std::lock_guard lock(server->linger_mu);
      server->lingers.erase(this);
    }
    bufferevent_free(bev);
    delete this;
  }
  static void on_write(bufferevent* bev, void* arg) {
    auto* l = static_cast<Linger*>(arg);
    if (l->shut || evbuffer_get_length(bufferevent_get_output(bev)) > 0) return;
    if (l->peer_done) return l->close();
    l->shut = true;
    ::shutdown(bufferevent_getfd(bev), SHUT_WR);  // the client sees the end of the answer
  }
  static void on_read(bufferevent* bev, void* arg) {
    auto* l = static_cast<Linger*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    l->discarded += evbuffer_get_length(in);
    evbuffer_drain(in, evbuffer_get_length(in));
    if (l->discarded > kLingerMaxBytes) l->close();
  }
  static void on_event(bufferevent* bev, short what, void* arg) {
    auto* l = static_cast<Linger*>(arg);
    if ((what & BEV_EVENT_EOF) && !l->shut && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
      l->peer_done = true;
      bufferevent_disable(bev, EV_READ);
      return;
    }
    l->close();
  }
};

void HttpServer::Impl::refuse(ConnCtx* c, bool in_parser, int status, const std::string& message) {
  Impl& s = *c->server;
  evhtp_connection_t* conn = c->conn;
  event_base* base = conn->evbase;
  bufferevent* bev = evhtp_connection_take_ownership(conn);
  forget_connection(c);  // evhtp dropped our hooks with the connection: no fini hook will run
  if (!in_parser) evhtp_connection_free(conn);  // frees evhtp's state, not the bufferevent

  Json detail = Json::object();
  detail.set("code", "too_large").set("message", message);
  Json doc = Json::object();
  doc.set("error", std::move(detail));
  std::string body = doc.dump();
  const char* reason = status == 413 ? "Payload Too Large" : status == 414 ? "URI Too Long" : "Request Header Fields Too Large";
  evbuffer_add_printf(bufferevent_get_output(bev),
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      status, reason, body.size());
  evbuffer_add(bufferevent_get_output(bev), body.data(), body.size());

  auto* l = new Linger{&s, base, bev, nullptr};
  l->timer = s.timer(base, kLingerMs, [l] { l->close(); });
  {
    std::lock_guard lock(s.linger_mu);
    s.lingers.insert(l);
  }
  timeval wt = to_tv(s.opt.write_timeout_ms);
  bufferevent_set_timeouts(bev, nullptr, &wt);  // reading is bounded by the linger timer
  bufferevent_setcb(bev, Linger::on_read, Linger::on_write, Linger::on_event, l);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void HttpServer::Impl::free_lingers(event_base* base) {
  std::vector<Linger*> mine;
  {
    std::lock_guard lock(linger_mu);
    for (Linger* l : lingers)
      if (l->base == base) mine.push_back(l);
  }
  for (Linger* l : mine) l->close();
}

HttpServer::HttpServer(EventLoop& loop, HttpServerOptions options) : impl_(std::make_unique<Impl>(loop, std::move(options))) {}

HttpServer::~HttpServer() {
  Impl& s = *impl_;
  if (s.htp) {
    if (s.accepting && s.workers.empty()) evhtp_unbind_socket(s.htp);
    evhtp_free(s.htp);  // joins the worker threads, which free their own evhtp and lingers
  }
  for (Worker& w : s.workers)
    if (w.fd >= 0) close(w.fd);  // a worker that never started
  s.free_lingers(s.loop.base());
}

void HttpServer::route(std::string pattern, HttpHandler handler) {
  bool prefix = !pattern.empty() && pattern.back() == '*';
  if (prefix) pattern.pop_back();
  impl_->routes.push_back(Route{std::move(pattern), prefix, std::move(handler)});
  std::stable_sort(impl_->routes.begin(), impl_->routes.end(),
                   [](const Route& a, const Route& b) { return a.pattern.size() > b.pattern.size(); });
}

Result<std::pair<std::string, uint16_t>> split_host_port(std::string_view hp) {
  std::string host;
  std::string_view port;
  if (hp.starts_with('[')) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
      return fail(Errc::invalid_argument, "bad address '" + std::string(hp) + "': expected [IPv6]:PORT");
    host = std::string(hp.substr(1, close - 1));
    port = hp.substr(close + 2);
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos)
      return fail(Errc::invalid_argument, "bad address '" + std::string(hp) + "': expected HOST:PORT");
    host = std::string(hp.substr(0, colon));
    port = hp.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos)
    return fail(Errc::invalid_argument, "bad port in '" + std::string(hp) + "'");
  unsigned long p = std::stoul(std::string(port));
  if (p > 65535) return fail(Errc::invalid_argument, "port out of range in '" + std::string(hp) + "'");
  return std::make_pair(host, static_cast<uint16_t>(p));
}

// Creates a listening TCP socket for HOST:PORT ("" or "0.0.0.0" = any IPv4, "::" = any IPv6);
// with `reuseport`, one of a group that shares the port (each worker thread accepts on its own).
static Result<int> listen_socket(const std::string& host, uint16_t port, bool reuseport) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? "0.0.0.0" : host.c_str(), port_s.c_str(), &hints, &res);
  if (rc != 0) return fail(Errc::invalid_argument, "cannot resolve '" + host + "': " + gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(Errc::io, std::string("socket: ") + strerror(errno));
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, kListenBacklog) != 0) {
    std::string err = strerror(errno);
    freeaddrinfo(res);
    close(fd);
    return fail(Errc::io, "cannot listen on " + host + ":" + port_s + ": " + err);
  }
  freeaddrinfo(res);
  return fd;
}

static uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

evhtp_t* HttpServer::Impl::new_evhtp(event_base* base) {
  evhtp_t* h = evhtp_new(base, nullptr);
  if (!h) return nullptr;
  evhtp_enable_flag(h, EVHTP_FLAG_ENABLE_NODELAY);
  timeval rt = to_tv(opt.read_timeout_ms), wt = to_tv(opt.write_timeout_ms);
  evhtp_set_timeouts(h, &rt, &wt);
  evhtp_set_max_keepalive_requests(h, opt.max_keepalive_requests);
  evhtp_set_gencb(h, on_request, this);
  evhtp_set_post_accept_cb(h, on_post_accept, this);
  if (htp && htp->ssl_ctx) {  // a worker's: the TLS context loaded in start() (thread-safe, shared)
    SSL_CTX_up_ref(htp->ssl_ctx);
    h->ssl_ctx = htp->ssl_ctx;
    h->ssl_cfg = &ssl_cfg;
  }
  return h;
}

Status HttpServer::start() {
  Impl& s = *impl_;
  s.htp = s.new_evhtp(s.loop.base());
  if (!s.htp) return fail(Errc::internal, "evhtp_new failed");
  if (!s.opt.tls_cert_file.empty() || !s.opt.tls_key_file.empty()) {
    if (s.opt.tls_cert_file.empty() || s.opt.tls_key_file.empty())
      return fail(Errc::invalid_argument, "TLS needs both a certificate and a key file");
    evhtp_ssl_cfg_t& cfg = s.ssl_cfg;
    cfg.pemfile = const_cast<char*>(s.opt.tls_cert_file.c_str());
    cfg.privfile = const_cast<char*>(s.opt.tls_key_file.c_str());
    cfg.ssl_opts = SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
    if (access(cfg.pemfile, R_OK) != 0) return fail(Errc::invalid_argument, "cannot read TLS certificate " + s.opt.tls_cert_file);
    if (access(cfg.privfile, R_OK) != 0) return fail(Errc::invalid_argument, "cannot read TLS key " + s.opt.tls_key_file);
    if (evhtp_ssl_init(s.htp, &cfg) != 0) return fail(Errc::invalid_argument, "TLS set-up failed for " + s.opt.tls_cert_file);
  }
  std::string host;
  int fd = s.opt.adopted_fd;
  if (fd >= 0) {
    evutil_make_socket_nonblocking(fd);  // else accept() blocks and SIGTERM is ignored
  } else {
    auto hp = split_host_port(s.opt.listen);
    if (!hp) return std::unexpected(hp.error());
    host = hp->first;
    auto lfd = listen_socket(host, hp->second, s.opt.threads > 0);
    if (!lfd) return std::unexpected(lfd.error());
    fd = *lfd;
  }
  s.port = bound_port(fd);
  if (s.opt.threads <= 0) {
    if (evhtp_accept_socket(s.htp, fd, 0) != 0) {
      close(fd);
      return fail(Errc::io, "cannot accept on socket");
    }
    s.accepting = true;
    return {};
  }

  // One listener per worker: siblings on the same port (the kernel spreads connections over
  // them), or, for a socket systemd passed (there is only the one), a descriptor of it each.
  s.workers.resize(static_cast<size_t>(s.opt.threads));
  s.workers[0].fd = fd;
  for (size_t i = 1; i < s.workers.size(); ++i) {
    if (s.opt.adopted_fd >= 0) {
      s.workers[i].fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (s.workers[i].fd < 0) return fail(Errc::io, std::string("dup: ") + strerror(errno));
    } else {
      auto lfd = listen_socket(host, s.port, true);
      if (!lfd) return std::unexpected(lfd.error());
      s.workers[i].fd = *lfd;
    }
  }
  if (evhtp_use_threads_wexit(s.htp, Impl::on_thread_init, Impl::on_thread_exit, s.opt.threads, &s) != 0)
    return fail(Errc::internal, "evhtp_use_threads failed");
  s.accepting = true;
  return {};
}

uint16_t HttpServer::port() const { return impl_->port; }

int64_t HttpServer::in_flight() const { return impl_->in_flight.load(std::memory_order_relaxed); }

void HttpServer::shutdown(std::function<void()> done) {
  Impl& s = *impl_;
  if (s.accepting) {
    if (s.workers.empty()) {
      evhtp_unbind_socket(s.htp);
    } else {
      std::lock_guard lock(s.workers_mu);
      s.workers_stop = true;
      for (Worker& w : s.workers)
        if (w.thr) evthr_defer(w.thr, Impl::unbind_worker, nullptr);
    }
    s.accepting = false;
  }
  s.drain_deadline_ms = s.loop.clock().mono_ms() + s.opt.drain_timeout_ms;
  auto finish = std::make_shared<std::function<void()>>(std::move(done));
  auto fired = std::make_shared<bool>(false);
  s.drain_timer = s.loop.every(kDrainPollMs, [&s, finish, fired] {
    if (*fired || (s.in_flight.load() > 0 && s.loop.clock().mono_ms() < s.drain_deadline_ms)) return;
    *fired = true;
    // Not from inside the timer's own callback: free it on the next turn.
    s.loop.defer([&s, finish] {
      s.drain_timer.reset();
      if (*finish) (*finish)();
    });
  });
}

}  // namespace sc
