#pragma once
// HTTP frontend of the tracker: maps /announce and /scrape (and Chihaya's configurable routes)
// on an sc::HttpServer to TrackerLogic, replying with bencoded bodies. No evhtp types here.
#include <string>
#include <vector>

#include "services/tracker/logic.h"
#include "services/tracker/metrics.h"

namespace sc {

class HttpServer;

class HttpFrontend {
 public:
  HttpFrontend(TrackerLogic& logic, TrackerMetrics& metrics) : logic_(logic), metrics_(metrics) {}

  void install(HttpServer& server, const std::vector<std::string>& announce_routes,
               const std::vector<std::string>& scrape_routes);

 private:
  TrackerLogic& logic_;
  TrackerMetrics& metrics_;
};

}  // namespace sc
