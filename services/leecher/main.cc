// swarmcache-leecher: the composition root. Parses flags/config/environment, starts the swarm
// node (session, control API, metastore worker, heartbeat) and the leecher logic, and runs
// until SIGTERM.
#include <cstdio>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/daemon.h"
#include "common/io/systemd.h"
#include "common/swarm/node.h"
#include "services/leecher/leecher.h"

namespace sc {
namespace {

// Leechers save resume data more often than the default: a SIGKILL then costs at most this
// much re-download.
constexpr int64_t kLeecherResumeSaveMs = 5000;
// A leecher writes what it downloads and forwards it while it is still in the page cache:
// libtorrent's single-threaded posix back-end does that with less CPU than the mmap one and
// its disk threads (SwarmOptions::disk_io, bench/swarm/README.md). The seeder and the proxy
// keep mmap: they read cold data, where disk threads keep a slow read from stalling peers.
constexpr const char* kLeecherDiskIo = "posix";

int run(int argc, char** argv) {
  Options opts("swarmcache-leecher",
               "Follows the metastore's events, downloads the selected keys through the swarm, "
               "verifies them and seeds them for a policy-defined time");
  NodeConfig cfg;
  cfg.resume_save_interval_ms = kLeecherResumeSaveMs;
  cfg.disk_io = kLeecherDiskIo;
  // Clear of the seeder's defaults (7880, 6881), so both run on one host as they are.
  cfg.listen = "0.0.0.0:7881";
  cfg.peer_listen = "0.0.0.0:6882";
  LeecherConfig lcfg;
  declare_node_options(opts, cfg, "leecher");
  declare_leecher_options(opts, lcfg);
  if (auto exit_code = parse_command_line(opts, "swarmcache-leecher", argc, argv, cfg.log_level)) return *exit_code;
  SwarmNode node("leecher", cfg);
  if (auto st = node.start(); !st) {
    SC_ERROR("cannot start", {"error", st.error().message});
    return st.error().code == Errc::invalid_argument ? 2 : 1;
  }
  Leecher leecher(node, lcfg);
  if (auto st = leecher.start(); !st) {
    SC_ERROR("cannot start", {"error", st.error().message});
    return st.error().code == Errc::invalid_argument ? 2 : 1;
  }
  return node.run();
}

}  // namespace
}  // namespace sc

int main(int argc, char** argv) {
  return sc::guarded_main("swarmcache-leecher", [&] { return sc::run(argc, argv); });
}
