// swarmcache-dashboard: composition root. One page and one JSON document over every node the
// metastore knows, refreshed every poll interval.
#include <cstdio>
#include <fstream>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/daemon.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"
#include "dashboard_app.h"

using namespace sc;

namespace {

// Per request to a node or the metastore: a dead node must not hold up the whole round.
constexpr int64_t kFetchTimeoutMs = 1500;
constexpr size_t kMaxBodyBytes = 8 << 20;

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "0.0.0.0:8080", metastore = "http://127.0.0.1:7070", token_file, log_level = "info";
  int64_t poll_ms = 2000;
  std::string tracker_admin;
  std::vector<std::string> proxies;
  Options opts("swarmcache-dashboard", "Web page and JSON API over every swarmcache node and swarm.");
  opts.add_string("listen", &listen, "HTTP listener HOST:PORT (port 0 = any free port)", "listen");
  opts.add_string("metastore", &metastore, "metastore base URL", "metastore");
  opts.add_string("token_file", &token_file, "bearer token sent to the metastore (when reads are closed)", "token-file");
  opts.add_string("tracker_admin", &tracker_admin, "tracker admin base URL whose health is shown, e.g. http://tracker:6880", "tracker-admin");
  opts.add_list("proxies", &proxies, "proxy base URLs whose health and bytes by source are shown (comma-separated or repeated)", "proxy");
  opts.add_duration("poll_interval", &poll_ms, "how often nodes are polled", "poll-interval");
  opts.add_string("log_level", &log_level, "debug, info, warn or error", "log-level");
  if (auto exit_code = parse_command_line(opts, "swarmcache-dashboard", argc, argv, log_level)) return *exit_code;

  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!std::getline(in, token)) {
      fprintf(stderr, "swarmcache-dashboard: cannot read token file %s\n", token_file.c_str());
      return 2;
    }
  }

  EventLoop loop;
  HttpServerOptions http;
  http.listen = listen;
  adopt_systemd_socket(http, "http");
  HttpClient client(loop);
  HttpHeaderList headers = {{"Accept", "application/json"}};
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  dashboard::Getter get = [&client, headers](const std::string& url, std::function<void(Result<std::string>)> done) {
    client.request("GET", url, headers, {}, kFetchTimeoutMs, kMaxBodyBytes,
                   [done = std::move(done), url](Result<HttpResponse> r) {
                     if (!r) return done(std::unexpected(r.error()));
                     if (r->status != 200)
                       return done(fail(Errc::unavailable, url + " answered " + std::to_string(r->status)));
                     done(std::move(r->body));
                   });
  };
  dashboard::DashboardApp app(loop, http, dashboard::CollectorOptions{metastore, poll_ms, tracker_admin, proxies}, get);
  if (auto st = app.start(); !st) {
    fprintf(stderr, "swarmcache-dashboard: %s\n", st.error().message.c_str());
    return 1;
  }
  log_listener("http", app.port());
  return run_daemon(loop, [&app](std::function<void()> done) { app.shutdown(std::move(done)); });
}
