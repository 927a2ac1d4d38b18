#pragma once
// CONNECT for the forward proxy (https origins through http_proxy): a byte tunnel to the
// host:port pairs listed in connect.allow, and nowhere else. The name is resolved here and
// every address checked against the dial policy before the tunnel dials the checked address.
#include <string>
#include <vector>

#include "common/io/dns_resolver.h"

namespace sc {

class EventLoop;
class HttpRequest;
class TargetPolicy;
template <class M>
class Family;
class Counter;

class ConnectHandler {
 public:
  // `requests` is swarmcache_proxy_requests_total{kind,result}.
  ConnectHandler(EventLoop& loop, const std::vector<std::string>& allow, const TargetPolicy& policy,
                 Family<Counter>& requests);
  void handle(HttpRequest& req);

 private:
  std::vector<std::string> allow_;  // normalised "host:port", host lower-case
  const TargetPolicy& policy_;
  Family<Counter>& requests_;
  DnsResolver dns_;
};

}  // namespace sc
