// swarmcache-seeder: the composition root. Parses flags/config/environment, starts the swarm
// node (session, control API, metastore worker, heartbeat) and the seeder logic, and runs
// until SIGTERM.
#include <cstdio>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/daemon.h"
#include "common/io/systemd.h"
#include "common/swarm/node.h"
#include "services/seeder/seeder.h"

namespace sc {
namespace {

int run(int argc, char** argv) {
  Options opts("swarmcache-seeder",
               "Makes deterministic torrents of a data directory (one per file; per directory too with "
               "--dir-torrents), "
               "registers them with the metastore and seeds them; watches the directory for changes");
  NodeConfig cfg;
  declare_node_options(opts, cfg);
  SeederOptions seeder_cfg;
  declare_seeder_options(opts, seeder_cfg);
  if (auto exit_code = parse_command_line(opts, "swarmcache-seeder", argc, argv, cfg.log_level)) return *exit_code;
  SwarmNode node("seeder", cfg);
  if (auto st = node.start(); !st) {
    SC_ERROR("cannot start", {"error", st.error().message});
    return st.error().code == Errc::invalid_argument ? 2 : 1;
  }
  Seeder seeder(node, seeder_cfg);
  if (auto st = seeder.start(); !st) {
    SC_ERROR("cannot start", {"error", st.error().message});
    return 1;
  }
  return node.run();
}

}  // namespace
}  // namespace sc

int main(int argc, char** argv) {
  return sc::guarded_main("swarmcache-seeder", [&] { return sc::run(argc, argv); });
}
