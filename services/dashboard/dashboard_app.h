#pragma once
// The dashboard daemon minus main(): HTTP routes over a Collector.
#include <memory>

#include "collector.h"
#include "common/core/metrics.h"
#include "common/io/http_server.h"

namespace sc::dashboard {

class DashboardApp {
 public:
  DashboardApp(EventLoop& loop, HttpServerOptions http, CollectorOptions collector, Getter get);
  Status start();
  uint16_t port() const { return server_.port(); }
  Collector& collector() { return collector_; }
  void shutdown(std::function<void()> done) { server_.shutdown(std::move(done)); }

 private:
  MetricsRegistry metrics_;
  Counter& page_views_;
  Counter& api_requests_;
  Collector collector_;
  HttpServer server_;
};

}  // namespace sc::dashboard
