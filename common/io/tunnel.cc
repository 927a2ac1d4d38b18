// CONNECT tunnel: an upstream bufferevent dialled by host name (evdns), then two bufferevents
// spliced with back-pressure and idle timeouts.
#include "common/io/tunnel.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <sys/socket.h>

#include <cstring>

#include "common/io/http_server.h"

namespace sc {
namespace {

timeval to_tv(int64_t ms) { return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)}; }

struct Tunnel {
  std::shared_ptr<HttpRequest> held;  // until the upstream answers
  // The tunnel's own resolver, freed once the target is dialled: a resolver cached per thread
  // would outlive the event_base it is bound to.
  evdns_base* dns = nullptr;
  bufferevent* client = nullptr;
  bufferevent* target = nullptr;
  TunnelOptions opt;
  TunnelResult result;
  std::function<void(const TunnelResult&)> done;
  bool client_eof = false, target_eof = false;

  bufferevent* other(bufferevent* b) const { return b == client ? target : client; }

  // The connect callback may run from inside the resolver's own callback: free it on the next
  // loop turn, never from within.
  void release_resolver() {
    if (!dns) return;
    timeval now{0, 0};
    event_base_once(bufferevent_get_base(target), -1, EV_TIMEOUT,
                    [](evutil_socket_t, short, void* d) { evdns_base_free(static_cast<evdns_base*>(d), 0); }, dns, &now);
    dns = nullptr;
  }

  void close() {
    release_resolver();
    if (client) bufferevent_free(client);
    if (target) bufferevent_free(target);
    auto fn = std::move(done);
    TunnelResult r = result;
    delete this;
    if (fn) fn(r);
  }

  static void on_read(bufferevent* from, void* arg) {
    auto* t = static_cast<Tunnel*>(arg);
    bufferevent* to = t->other(from);
    evbuffer* in = bufferevent_get_input(from);
    size_t n = evbuffer_get_length(in);
    (from == t->client ? t->result.to_target : t->result.to_client) += n;
    evbuffer_add_buffer(bufferevent_get_output(to), in);
    if (evbuffer_get_length(bufferevent_get_output(to)) >= t->opt.max_buffered_bytes) {
      bufferevent_disable(from, EV_READ);  // resumed by on_write once `to` has drained
      bufferevent_setwatermark(to, EV_WRITE, t->opt.max_buffered_bytes / 2, 0);
    }
  }

  static void on_write(bufferevent* to, void* arg) {
    auto* t = static_cast<Tunnel*>(arg);
    bufferevent* from = t->other(to);
    bool from_closed = from == t->client ? t->client_eof : t->target_eof;
    if (from_closed) {
      if (evbuffer_get_length(bufferevent_get_output(to)) == 0) t->close();
      return;
    }
    bufferevent_setwatermark(to, EV_WRITE, 0, 0);
    bufferevent_enable(from, EV_READ);
  }

  static void on_event(bufferevent* b, short what, void* arg) {
    auto* t = static_cast<Tunnel*>(arg);
    if (what & BEV_EVENT_EOF) {
      (b == t->client ? t->client_eof : t->target_eof) = true;
      bufferevent* to = t->other(b);
      // Flush what the closing side sent before closing both.
      if (evbuffer_get_length(bufferevent_get_output(to)) == 0) return t->close();
      bufferevent_setwatermark(to, EV_WRITE, 0, 0);
      return;
    }
    t->close();  // error or idle timeout
  }

  static void on_target_connect(bufferevent* b, short what, void* arg) {
    auto* t = static_cast<Tunnel*>(arg);
    auto held = std::move(t->held);
    t->release_resolver();
    if (!(what & BEV_EVENT_CONNECTED)) {
      std::string why = (what & BEV_EVENT_TIMEOUT) ? "timed out" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
      if (int dns = bufferevent_socket_get_dns_error(b)) why = evutil_gai_strerror(dns);
      t->result.status = fail(Errc::unavailable, "cannot reach the CONNECT target: " + why);
      if (held->alive()) held->reply_error(Error{Errc::unavailable, t->result.status.error().message});
      return t->close();
    }
    t->client = held->take_over();
    if (!t->client) return t->close();  // the client left while we dialled
    timeval idle = to_tv(t->opt.idle_timeout_ms);
    for (bufferevent* side : {t->client, t->target}) {
      bufferevent_setcb(side, on_read, on_write, on_event, t);
      bufferevent_set_timeouts(side, &idle, &idle);
      bufferevent_enable(side, EV_READ | EV_WRITE);
    }
    evbuffer_add_printf(bufferevent_get_output(t->client), "HTTP/1.1 200 Connection established\r\n\r\n");
    // Bytes the client sent right behind its CONNECT line are already waiting.
    if (evbuffer_get_length(bufferevent_get_input(t->client)) > 0) on_read(t->client, t);
  }
};

}  // namespace

void start_tunnel(std::shared_ptr<HttpRequest> held, const std::string& host, uint16_t port, TunnelOptions options,
                  std::function<void(const TunnelResult&)> done) {
  event_base* base = held->base();
  auto* t = new Tunnel{.held = std::move(held), .opt = options, .done = std::move(done)};
  t->target = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  timeval connect_to = to_tv(options.connect_timeout_ms);
  bufferevent_set_timeouts(t->target, nullptr, &connect_to);
  bufferevent_setcb(t->target, nullptr, nullptr, Tunnel::on_target_connect, t);
  bufferevent_enable(t->target, EV_WRITE);
  t->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
  // On failure the event callback runs (now or on a later turn) and cleans up.
  bufferevent_socket_connect_hostname(t->target, t->dns, AF_UNSPEC, host.c_str(), port);
}

}  // namespace sc
