// evdns lookups with a lifetime that survives their owner: libevent touches the evdns base
// from every lookup's callback (also a cancelled one), so the base is freed only after the
// last pending lookup answered, and never from inside that callback.
#include "common/io/dns_resolver.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/io/event_loop.h"

namespace sc {

struct DnsResolver::Core {
  Core(event_base* l, evdns_base* b) : loop_base(l), base(b) {}
  ~Core() { evdns_base_free(base, 0); }
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  event_base* loop_base;
  evdns_base* base;
};

namespace {

struct Pending {
  std::shared_ptr<DnsResolver::Core> core;
  std::weak_ptr<bool> alive;
  EventLoop* loop = nullptr;
  std::string host;
  DnsResolver::Done done;
};

bool is_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void answer(EventLoop& loop, std::weak_ptr<bool> alive, DnsResolver::Done done, Result<std::vector<std::string>> r) {
  loop.defer([alive = std::move(alive), done = std::move(done), r = std::move(r)]() mutable {
    if (!alive.expired()) done(std::move(r));
  });
}

void on_lookup(int err, evutil_addrinfo* res, void* arg) {
  auto* p = static_cast<Pending*>(arg);
  std::vector<std::string> ips;
  for (evutil_addrinfo* a = res; a != nullptr && ips.size() < DnsResolver::kMaxAddresses; a = a->ai_next) {
    char out[INET6_ADDRSTRLEN] = "";
    if (a->ai_family == AF_INET) {
      evutil_inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, out, sizeof out);
    } else if (a->ai_family == AF_INET6) {
      evutil_inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, out, sizeof out);
    }
    if (*out != '\0') ips.emplace_back(out);
  }
  if (res != nullptr) evutil_freeaddrinfo(res);
  std::shared_ptr<DnsResolver::Core> core = std::move(p->core);
  if (!p->alive.expired()) {
    Result<std::vector<std::string>> r = std::move(ips);
    if (err != 0 || r->empty()) {
      r = fail(Errc::unavailable, "cannot resolve " + p->host + ": " + (err != 0 ? evutil_gai_strerror(err) : "no address"));
    }
    answer(*p->loop, p->alive, std::move(p->done), std::move(r));
  }
  event_base* base = core.use_count() == 1 ? core->loop_base : nullptr;
  delete p;
  if (base != nullptr) {
    // The last user of a resolver whose owner is gone: free it on the next turn.
    event_base_once(
        base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* c) { delete static_cast<std::shared_ptr<DnsResolver::Core>*>(c); },
        new std::shared_ptr<DnsResolver::Core>(std::move(core)), nullptr);
  }
}

}  // namespace

DnsResolver::DnsResolver(EventLoop& loop) : loop_(loop) {}

DnsResolver::~DnsResolver() = default;

void DnsResolver::resolve(const std::string& host, Family family, Done done) {
  if (is_literal(host)) return answer(loop_, alive_, std::move(done), std::vector<std::string>{host});
  if (!core_) {
    evdns_base* b = evdns_base_new(loop_.base(), EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (b == nullptr) return answer(loop_, alive_, std::move(done), fail(Errc::unavailable, "cannot create a DNS resolver"));
    core_ = std::make_shared<Core>(loop_.base(), b);
  }
  evutil_addrinfo hints{};
  hints.ai_family = family == Family::ipv4 ? AF_INET : family == Family::ipv6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // Answers through loop.defer, so an answer from inside evdns_getaddrinfo (/etc/hosts) is
  // still delivered on a later turn.
  auto* p = new Pending{core_, alive_, &loop_, host, std::move(done)};
  evdns_getaddrinfo(core_->base, host.c_str(), nullptr, &hints, &on_lookup, p);
}

}  // namespace sc
