// Glue between sc::HttpServer requests and TrackerLogic. Each worker thread keeps a pool of
// exchanges (parsed request, store result, response body) that are reused, so an announce
// allocates nothing in steady state; a store that answers later (Redis) holds the request.
#include "services/tracker/http_frontend.h"

#include <chrono>
#include <memory>
#include <vector>

#include "common/io/http_server.h"

namespace sc {
namespace {

struct HttpExchange;

// Exchanges free for reuse on this thread. Bounded so a burst of held requests does not pin
// memory forever.
constexpr size_t kMaxPooledExchanges = 256;
thread_local std::vector<std::unique_ptr<HttpExchange>> t_pool;

struct HttpExchange final : TrackerExchange {
  HttpRequest* req = nullptr;
  std::shared_ptr<HttpRequest> held;
  TrackerMetrics* metrics = nullptr;
  Action action = Action::announce;
  std::chrono::steady_clock::time_point start;
  bool in_handler = false;
  bool finished = false;

  void done() override {
    finished = true;
    HttpRequest* target = req;
    if (!in_handler) target = held && held->alive() ? held.get() : nullptr;
    if (target) target->reply(200, "text/plain", body);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics->record(action, ipv6, outcome, secs);
    if (!in_handler) release();
  }

  void release() {
    held.reset();
    req = nullptr;
    // Keep big buffers from a one-off huge response out of the pool.
    constexpr size_t kMaxPooledBody = 64 << 10;
    if (body.capacity() > kMaxPooledBody) std::string().swap(body);
    if (t_pool.size() < kMaxPooledExchanges) {
      t_pool.emplace_back(this);
    } else {
      delete this;
    }
  }
};

HttpExchange* take_exchange() {
  if (t_pool.empty()) return new HttpExchange;
  HttpExchange* ex = t_pool.back().release();
  t_pool.pop_back();
  return ex;
}

}  // namespace

void HttpFrontend::install(HttpServer& server, const std::vector<std::string>& announce_routes,
                           const std::vector<std::string>& scrape_routes) {
  auto handler = [this](Action action) {
    return [this, action](HttpRequest& req) {
      HttpExchange* ex = take_exchange();
      ex->start = std::chrono::steady_clock::now();
      ex->req = &req;
      ex->metrics = &metrics_;
      ex->action = action;
      ex->in_handler = true;
      ex->finished = false;
      ex->query = req.query();
      ex->conn = peer_addr_from_sockaddr(req.peer());
      const auto& header = logic_.options().real_ip_header;
      ex->real_ip_value = header.empty() ? std::string_view{} : req.header(header);
      if (action == Action::announce) {
        logic_.announce(*ex);
      } else {
        logic_.scrape(*ex);
      }
      ex->in_handler = false;
      if (ex->finished) {
        ex->release();
      } else {
        ex->held = req.hold();
      }
    };
  };
  for (const auto& r : announce_routes) server.route(r, handler(Action::announce));
  for (const auto& r : scrape_routes) server.route(r, handler(Action::scrape));
}

}  // namespace sc
