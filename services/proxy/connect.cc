// CONNECT tunnels, only to configured host:port pairs, only to addresses the dial policy
// accepts. Refusals are 403 with a warning line: a client probing for a relay is worth seeing.
#include "services/proxy/connect.h"

#include <algorithm>
#include <memory>

#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/http_server.h"
#include "common/io/tunnel.h"
#include "services/proxy/target_policy.h"

namespace sc {
namespace {

std::string normalise(std::string_view host_port) {
  auto hp = split_host_port(host_port);
  if (!hp) return {};
  std::string host = hp->first;
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(hp->second);
}

}  // namespace

ConnectHandler::ConnectHandler(EventLoop& loop, const std::vector<std::string>& allow, const TargetPolicy& policy,
                               Family<Counter>& requests)
    : policy_(policy), requests_(requests), dns_(loop) {
  for (const auto& a : allow) allow_.push_back(normalise(a));
}

void ConnectHandler::handle(HttpRequest& req) {
  auto hp = split_host_port(req.path());
  if (!hp || hp->first.empty() || hp->second == 0) {
    requests_.with({"connect", "bad_request"}).inc();
    return req.reply(400, "text/plain", "CONNECT needs host:port\n");
  }
  std::string target = normalise(req.path());
  if (std::find(allow_.begin(), allow_.end(), target) == allow_.end()) {
    requests_.with({"connect", "refused"}).inc();
    SC_WARN("refused target", {"method", "CONNECT"}, {"target", target}, {"client", req.peer_ip()},
            {"reason", allow_.empty() ? "CONNECT is off (connect.allow is empty)" : "not in connect.allow"});
    return req.reply(403, "text/plain", "CONNECT to " + target + " is not allowed\n");
  }
  auto held = req.hold();
  uint16_t port = hp->second;
  dns_.resolve(hp->first, DnsResolver::Family::any, [this, held, port](Result<std::vector<std::string>> ips) {
    if (!held->alive()) return;
    if (!ips) {
      requests_.with({"connect", "unreachable"}).inc();
      return held->reply(502, "text/plain", ips.error().message + "\n");
    }
    for (const auto& ip : *ips) {
      if (auto st = policy_.check(ip, port); !st) {
        requests_.with({"connect", "refused"}).inc();
        return held->reply(403, "text/plain", st.error().message + "\n");
      }
    }
    start_tunnel(held, ips->front(), port, TunnelOptions{},
                 [this](const TunnelResult& t) { requests_.with({"connect", t.status ? "ok" : "unreachable"}).inc(); });
  });
}

}  // namespace sc
