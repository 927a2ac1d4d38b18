#pragma once
// Host name lookups on an sc::EventLoop with libevent's evdns (resolv.conf and /etc/hosts).
// The one resolver of common/io: the HTTP client and the proxy's CONNECT use it, so that the
// addresses a caller checks are the addresses it then dials.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace sc {

class EventLoop;

class DnsResolver {
 public:
  enum class Family { any, ipv4, ipv6 };
  using Done = std::function<void(Result<std::vector<std::string>>)>;

  explicit DnsResolver(EventLoop& loop);
  // Answers still pending are dropped: their callbacks never run.
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // The textual addresses of `host` (a literal answers itself), at most kMaxAddresses, in the
  // resolver's order; `done` runs on a later loop turn, never from inside resolve().
  // Errors: unavailable (no such host, no address, no resolver).
  void resolve(const std::string& host, Family family, Done done);

  // Addresses kept per name; a longer answer is a misconfigured or hostile resolver.
  static constexpr size_t kMaxAddresses = 8;

  struct Core;  // the evdns base; public only for the lookup callback in the .cc

 private:
  EventLoop& loop_;
  std::shared_ptr<Core> core_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sc
