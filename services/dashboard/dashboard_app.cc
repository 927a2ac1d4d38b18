// Dashboard HTTP routes: the page, its JSON, health and metrics.
#include "dashboard_app.h"

#include "page.h"

namespace sc::dashboard {

DashboardApp::DashboardApp(EventLoop& loop, HttpServerOptions http, CollectorOptions collector, Getter get)
    : page_views_(metrics_.counter("swarmcache_dashboard_page_views_total", "Dashboard page loads.")),
      api_requests_(metrics_.counter("swarmcache_dashboard_api_requests_total", "Overview JSON requests.")),
      collector_(loop, std::move(collector), std::move(get)),
      server_(loop, std::move(http)) {
  metrics_.gauge_callback("swarmcache_dashboard_metastore_up", "1 when the last poll reached the metastore.",
                          [this] { return collector_.metastore_ok() ? 1.0 : 0.0; });
  server_.route("/", [this](HttpRequest& r) {
    page_views_.inc();
    r.reply(200, "text/html; charset=utf-8", page_html());
  });
  server_.route("/api/overview", [this](HttpRequest& r) {
    api_requests_.inc();
    r.add_header("Cache-Control", "no-store");
    const std::string& doc = collector_.overview_json();
    r.reply(200, "application/json", doc.empty() ? R"({"generated_at":0,"nodes":[],"swarms":[]})" : doc);
  });
  server_.route("/healthz", [](HttpRequest& r) { r.reply(200, "text/plain", "ok\n"); });
  server_.route("/readyz", [this](HttpRequest& r) {
    if (collector_.metastore_ok()) r.reply(200, "text/plain", "ready\n");
    else r.reply_error(Error{Errc::unavailable, "metastore not reachable"});
  });
  server_.route("/metrics", [this](HttpRequest& r) { r.reply(200, "text/plain; version=0.0.4", metrics_.render()); });
}

Status DashboardApp::start() {
  if (auto st = server_.start(); !st) return st;
  collector_.start();
  return {};
}

}  // namespace sc::dashboard
