// Peer addresses shared by every PeerStore: compact encoding and text parsing/formatting.
#include "services/tracker/peer_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace sc {

void PeerAddr::append_compact(std::string& out) const {
  out.append(reinterpret_cast<const char*>(ip.data()), ip_len());
  out.push_back(static_cast<char>(port >> 8));
  out.push_back(static_cast<char>(port & 0xff));
}

std::string PeerAddr::ip_text() const {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(ipv6 ? AF_INET6 : AF_INET, ip.data(), buf, sizeof buf)) return "?";
  return buf;
}

Result<PeerAddr> parse_ip(std::string_view text) {
  constexpr size_t kMaxText = INET6_ADDRSTRLEN;
  if (text.empty() || text.size() >= kMaxText) return fail(Errc::invalid_argument, "invalid IP address");
  char buf[kMaxText];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  PeerAddr a;
  if (inet_pton(AF_INET, buf, a.ip.data()) == 1) return a;
  uint8_t v6[16];
  if (inet_pton(AF_INET6, buf, v6) != 1) return fail(Errc::invalid_argument, "invalid IP address");
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6, kMapped, 12) == 0) {
    std::memcpy(a.ip.data(), v6 + 12, 4);
    return a;
  }
  a.ipv6 = true;
  std::memcpy(a.ip.data(), v6, 16);
  return a;
}

PeerAddr peer_addr_from_sockaddr(const struct sockaddr* sa) {
  PeerAddr a;
  if (!sa) return a;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(a.ip.data(), &in->sin_addr, 4);
    a.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* b = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, kMapped, 12) == 0) {
      std::memcpy(a.ip.data(), b + 12, 4);
    } else {
      a.ipv6 = true;
      std::memcpy(a.ip.data(), b, 16);
    }
    a.port = ntohs(in6->sin6_port);
  }
  return a;
}

}  // namespace sc
