#pragma once
// UDP frontend of the tracker (BEP 15, BEP 41 URLData): one socket, served by dedicated
// threads with batched recvmmsg, feeding the same TrackerLogic as HTTP. Plain POSIX sockets,
// no event-loop library: a datagram needs no connection state.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/core/clock.h"
#include "common/core/metrics.h"
#include "common/core/error.h"
#include "proto/udp_tracker.h"
#include "services/tracker/logic.h"
#include "services/tracker/metrics.h"

namespace sc {

struct UdpFrontendOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT
  int adopted_fd = -1;                 // a datagram socket passed by systemd replaces `listen`
  int threads = 1;
  std::string private_key;             // "" = random per process (ids die with a restart)
  int64_t max_clock_skew_s = 10;
};

class UdpFrontend {
 public:
  UdpFrontend(TrackerLogic& logic, TrackerMetrics& metrics, const Clock& clock, UdpFrontendOptions options);
  ~UdpFrontend();
  UdpFrontend(const UdpFrontend&) = delete;
  UdpFrontend& operator=(const UdpFrontend&) = delete;

  Status start();
  uint16_t port() const { return port_; }
  // Stops the threads and closes the socket (also done by the destructor).
  void stop();

 private:
  void serve();

  TrackerLogic& logic_;
  TrackerMetrics& metrics_;
  const Clock& clock_;
  UdpFrontendOptions options_;
  ConnectionIdIssuer ids_;
  Counter* packets_[6];
  int fd_ = -1;
  int stop_fd_ = -1;  // eventfd that wakes the threads
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace sc
