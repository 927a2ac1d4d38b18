// The proxy's dial policy: resolved addresses are checked against the internal ranges, the
// host's own listeners and the literal addresses the configuration names.
#include "services/proxy/target_policy.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include "common/core/log.h"
#include "proto/oci.h"

namespace sc {
namespace {

// The textual form inet_ntop gives, with IPv4-mapped IPv6 unwrapped; "" when not an address.
std::string normalise(std::string_view ip) {
  std::string s(ip);
  if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  char out[INET6_ADDRSTRLEN] = "";
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return inet_ntop(AF_INET, &v4, out, sizeof out) ? out : "";
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return "";
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4, &v6.s6_addr[12], 4);
    return inet_ntop(AF_INET, &v4, out, sizeof out) ? out : "";
  }
  return inet_ntop(AF_INET6, &v6, out, sizeof out) ? out : "";
}

std::string host_of(const std::string& target) {
  if (auto u = parse_absolute_url(target)) return u->host;
  // host:port (connect.allow)
  if (!target.empty() && target.front() == '[') return target.substr(1, target.find(']') - 1);
  return target.substr(0, target.rfind(':'));
}

}  // namespace

bool is_internal_address(std::string_view ip) {
  std::string n = normalise(ip);
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, n.c_str(), &v4) == 1) {
    uint32_t a = ntohl(v4.s_addr);
    return (a >> 24) == 127 || (a >> 24) == 0 || (a >> 16) == 0xA9FE;  // 127/8, 0/8, 169.254/16
  }
  if (inet_pton(AF_INET6, n.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LINKLOCAL(&v6);
  return false;
}

TargetPolicy::TargetPolicy(const std::vector<std::string>& configured_urls) {
  for (const auto& t : configured_urls) {
    std::string n = normalise(host_of(t));
    if (!n.empty()) literal_.insert(n);
  }
  ifaddrs* ifs = nullptr;
  if (getifaddrs(&ifs) == 0) {
    for (ifaddrs* i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      char out[INET6_ADDRSTRLEN] = "";
      if (i->ifa_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, out, sizeof out);
      else if (i->ifa_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, out, sizeof out);
      if (*out) local_.insert(normalise(out));
    }
    freeifaddrs(ifs);
  }
}

Status TargetPolicy::check(std::string_view ip, uint16_t port) const {
  std::string n = normalise(ip);
  std::string why;
  if (n.empty()) why = "not an address";
  else if (own_ports_.count(port) && (local_.count(n) || is_internal_address(n))) why = "the proxy's own listener";
  else if (literal_.count(n)) return {};
  else if (is_internal_address(n)) why = "loopback or link-local address";
  else return {};
  SC_WARN("refused target", {"address", n.empty() ? std::string(ip) : n}, {"port", port}, {"reason", why});
  return fail(Errc::forbidden, "refused to dial " + (n.empty() ? std::string(ip) : n) + ":" + std::to_string(port) +
                                   ": " + why);
}

}  // namespace sc
