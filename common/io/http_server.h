#pragma once
// HTTP/1.1 server on libevhtp: worker threads, request limits (body size, header count and
// bytes), read/write timeouts, keep-alive, TLS, binding to port 0 and reporting the bound
// port, adoption of a socket passed by systemd, and a graceful drain on shutdown.
//
// Handlers run on the thread that owns the connection. A handler either replies before it
// returns, or calls HttpRequest::hold() and replies later from the same thread (long-poll,
// Redis round trips, swarm streaming). evhtp types never appear in this header.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

struct event_base;
struct evbuffer;
struct bufferevent;
struct sockaddr;

namespace sc {

class EventLoop;
class HttpServer;

// A request in flight. Valid until replied; when held, check alive() before using it again.
class HttpRequest {
 public:
  virtual ~HttpRequest() = default;
  virtual std::string_view method() const = 0;       // "GET", "PUT", …
  virtual std::string_view path() const = 0;         // raw (still percent-encoded) path
  virtual std::string_view query() const = 0;        // raw query string without '?', "" if none
  virtual std::string_view header(std::string_view name) const = 0;  // "" if absent
  virtual size_t header_count() const = 0;
  virtual std::string_view body() = 0;               // whole request body (bounded by max_body)
  virtual const struct sockaddr* peer() const = 0;   // the connection's remote address
  virtual std::string peer_ip() const = 0;           // textual IP of peer()
  virtual struct event_base* base() const = 0;       // loop of the owning thread

  virtual void add_header(std::string_view name, std::string_view value) = 0;
  virtual void reply(int status, std::string_view content_type, std::string_view body) = 0;
  // Zero-copy: moves the buffer's contents into the response.
  virtual void reply_buffer(int status, std::string_view content_type, struct evbuffer* body) = 0;
  // Sends [offset, offset+length) of fd with sendfile where possible; takes ownership of fd.
  virtual void reply_file(int status, std::string_view content_type, int fd, int64_t offset, int64_t length) = 0;
  // Streaming: start (with Content-Length if known, else chunked), append bytes, end.
  virtual void stream_start(int status, std::string_view content_type, int64_t content_length = -1) = 0;
  virtual void stream_write(struct evbuffer* data) = 0;
  // The same for bytes in memory (copied): for callers that keep libevent out of sight.
  void stream_write_copy(std::string_view data);
  virtual void stream_end() = 0;
  // Ends a streamed response without completing it (the body failed a check after its start
  // was sent): the connection closes after what is queued, so the client sees a truncated body,
  // never a complete one. Added for the proxy (a blob whose digest does not match).
  virtual void stream_abort() { stream_end(); }
  // Bytes queued to the client but not yet sent (back-pressure for streaming).
  virtual size_t pending_output() const = 0;
  // JSON error body {"error":{"code":…,"message":…}} with the status of err.code.
  void reply_error(const Error& err);

  // Keep the request open past the handler's return. The shared handle's alive() turns false
  // when the client goes away; after that the request must not be touched.
  virtual std::shared_ptr<HttpRequest> hold() = 0;
  virtual bool alive() const = 0;
  // CONNECT: detaches the client connection from HTTP and hands its bufferevent (nothing
  // written yet) to the caller, who owns it from then on; the request is gone afterwards.
  // Only on a held request, outside the handler. nullptr if the client already left.
  virtual struct bufferevent* take_over() = 0;
};

using HttpHandler = std::function<void(HttpRequest&)>;

struct HttpServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free one
  int adopted_fd = -1;                 // a listening socket passed by systemd replaces `listen`
  int threads = 0;                     // 0: handle on the caller's loop; N: N worker threads
  std::function<void(struct event_base*)> thread_init;  // runs on each worker (per-thread state)
  // Runs on each worker as it ends (after its loop, before its event_base is freed): frees
  // what thread_init made, so that a daemon exits normally and clean under a leak checker.
  std::function<void(struct event_base*)> thread_exit;
  uint64_t max_body_bytes = 1 << 20;
  size_t max_headers = 100;
  size_t max_header_bytes = 16 << 10;
  size_t max_uri_bytes = 8 << 10;
  int64_t read_timeout_ms = 10'000;    // also bounds a slow client that never finishes
  int64_t write_timeout_ms = 10'000;
  uint64_t max_keepalive_requests = 10'000;
  int64_t drain_timeout_ms = 5'000;
  std::string tls_cert_file, tls_key_file;  // both set → HTTPS
};

class HttpServer {
 public:
  HttpServer(EventLoop& loop, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Exact path match ("/announce"), or a prefix when the pattern ends with '*' ("/v1/torrents/*").
  // Longest match wins; unmatched paths get 404. Register before start().
  void route(std::string pattern, HttpHandler handler);
  Status start();
  uint16_t port() const;  // bound port (valid after start)
  // Stops accepting, lets in-flight requests finish up to drain_timeout_ms, then calls done.
  void shutdown(std::function<void()> done);
  // Requests currently being handled or held.
  int64_t in_flight() const;

  struct Impl;  // opaque; public so the evhtp glue in the .cc can name it

 private:
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" (IPv6 as "[::1]:80"; ":80" means any address). Errors: invalid_argument.
Result<std::pair<std::string, uint16_t>> split_host_port(std::string_view hostport);

}  // namespace sc
