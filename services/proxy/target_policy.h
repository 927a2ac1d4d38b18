#pragma once
// Which addresses the proxy may dial. Targets come from the configuration only, but a name can
// resolve anywhere and an upstream can redirect anywhere: every address is checked after
// resolution, and loopback, link-local, unspecified addresses and the proxy's own listeners
// are refused unless the configuration names that address literally.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

class TargetPolicy {
 public:
  // `configured_urls`: upstream and remote URLs and connect.allow host:port pairs; the literal
  // IP addresses among their hosts are allowed even when they are loopback or link-local.
  explicit TargetPolicy(const std::vector<std::string>& configured_urls);
  // The proxy's own listening ports; a local address on one of them is refused.
  void add_own_port(uint16_t port) { own_ports_.insert(port); }
  // ok, or forbidden with a message naming the address (and the refusal is logged as a warning).
  Status check(std::string_view ip, uint16_t port) const;

 private:
  std::set<std::string> literal_;     // normalised textual addresses
  std::set<std::string> local_;       // addresses of this host's interfaces
  std::set<uint16_t> own_ports_;
};

// True for loopback, link-local, unspecified (and their IPv4-mapped IPv6 forms); false for
// anything else, including text that is not an address.
bool is_internal_address(std::string_view ip);

}  // namespace sc
