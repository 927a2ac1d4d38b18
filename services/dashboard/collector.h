#pragma once
// Polls the metastore's node registry and every node's control API on a timer, keeping the
// latest overview document ready to serve (so page loads never fan out to the nodes).
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "overview.h"

namespace sc {
class EventLoop;
class Timer;
}  // namespace sc

namespace sc::dashboard {

// One GET: url → body or error. Injected so tests can drive the collector without sockets.
using Getter = std::function<void(const std::string& url, std::function<void(Result<std::string>)> done)>;

struct CollectorOptions {
  std::string metastore;           // base URL, e.g. http://metastore:7070
  int64_t poll_interval_ms = 2000;
  std::string tracker_admin;         // tracker's admin base URL ("" = not shown)
  std::vector<std::string> proxies;  // proxy base URLs: health and bytes by source
};

class Collector {
 public:
  Collector(EventLoop& loop, CollectorOptions options, Getter get);
  ~Collector();
  void start();
  // Runs one round now (tests); `done` runs when every node has answered or failed.
  void poll(std::function<void()> done = {});
  // Latest overview, compact JSON ("" before the first round).
  const std::string& overview_json() const { return overview_; }
  // Whether the last round reached the metastore.
  bool metastore_ok() const { return metastore_ok_; }

 private:
  struct Round;
  void finish(Round& round);
  void probe(const std::shared_ptr<Round>& round, size_t index);
  void settle(const std::shared_ptr<Round>& round);
  EventLoop& loop_;
  CollectorOptions opt_;
  Getter get_;
  std::unique_ptr<Timer> timer_;
  std::string overview_;
  bool metastore_ok_ = false;
  bool polling_ = false;
};

}  // namespace sc::dashboard
