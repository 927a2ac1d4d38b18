#pragma once
// Helpers for the proxy's integration tests: start real binaries on free ports and read
// their logs, metrics and caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
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

// fake_upstream.py, a registry that misbehaves on request, on a free loopback port; *port is 0
// when it did not start.
inline std::unique_ptr<Process> start_fake_upstream(int* port) {
  auto p = std::make_unique<Process>(
      std::vector<std::string>{"python3", "-u", source_path("tests/integration/proxy/fake_upstream.py")});
  *port = p->wait_for_number("port", 30s).value_or(0);
  return p;
}

// The digest fake_upstream.py serves under `name` ("good", "redirected", "manifest"…); "" if none.
inline std::string fake_upstream_digest(const std::string& name) {
  std::string json;
  FILE* f = popen(("python3 " + source_path("tests/integration/proxy/fake_upstream.py") + " digests").c_str(), "r");
  char buf[1024];
  while (f && fgets(buf, sizeof buf, f)) json += buf;
  if (f) pclose(f);
  size_t p = json.find("\"" + name + "\": \"");
  if (p == std::string::npos) return "";
  p += name.size() + 5;
  return json.substr(p, json.find('"', p) - p);
}

// swarmcache-tracker with its HTTP announce on a free loopback port (*port, 0 if it did not start).
inline std::unique_ptr<Process> start_tracker(int* port) {
  *port = free_port();
  auto p = std::make_unique<Process>(std::vector<std::string>{
      build_path("services/tracker/swarmcache-tracker"), "--http-listen", "127.0.0.1:" + std::to_string(*port),
      "--admin-listen", "127.0.0.1:0", "--udp-listen", "127.0.0.1:0"});
  if (!p->wait_for_output("listening", 20s)) *port = 0;
  return p;
}

// swarmcache-metastore over `redis_url`, accepting the bearer tokens listed in `tokens_file`;
// *port is its HTTP port, 0 if it did not start.
inline std::unique_ptr<Process> start_metastore(const std::string& redis_url, const std::string& tokens_file, int* port) {
  auto p = std::make_unique<Process>(std::vector<std::string>{build_path("services/metastore/swarmcache-metastore"),
                                                              "--listen", "127.0.0.1:0", "--redis", redis_url,
                                                              "--auth-tokens", tokens_file});
  *port = p->wait_for_number("http_port", 20s).value_or(0);
  return p;
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
