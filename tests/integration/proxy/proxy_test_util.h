#pragma once
// Helpers for the proxy's integration tests: start real binaries on free ports and read
// their logs, metrics and caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sc::test {

using namespace std::chrono_literals;

inline bool have_tool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

inline int run_cmd(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A counter's value, 0 when the page has no such series yet (a labelled counter appears only
// once incremented); test::metric() says -1 instead, for tests that must tell the two apart.
inline double metric_or_zero(const std::string& page, const std::string& series) {
  return std::max(0.0, metric(page, series));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline size_t count_files(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    ++n;
  return n;
}

inline size_t count_occurrences(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

struct ProxyProc {
  std::unique_ptr<Process> proc;
  int port = 0;
  std::string cache, state;
  std::string metrics() { return http_request(port, "GET", "/metrics").body; }
};

inline ProxyProc start_proxy(const TempDir& dir, const std::string& name, const std::string& upstream,
                             std::vector<std::string> extra = {}) {
  ProxyProc p;
  p.cache = dir.file("cache-" + name);
  p.state = dir.file("state-" + name);
  std::vector<std::string> argv = {build_path("services/proxy/swarmcache-proxy"),
                                   "--listen", "127.0.0.1:0",
                                   "--upstream", upstream,
                                   "--cache", p.cache,
                                   "--state", p.state,
                                   "--peer-listen", "127.0.0.1:0",
                                   "--log-level", "info"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  p.proc = std::make_unique<Process>(argv);
  auto port = p.proc->wait_for_number("http_port", 20s);
  EXPECT_TRUE(port) << p.proc->output();
  p.port = port.value_or(0);
  return p;
}

}  // namespace sc::test
