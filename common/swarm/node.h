#pragma once
// What the seeder and the leecher share: their command line, the swarm session, the control
// API (GET /v1/status, /healthz, /readyz, /metrics) on a listener that systemd may pass as
// the socket named "http", the metastore worker, the heartbeat to the metastore's node
// registry, sd_notify readiness and watchdog, and an orderly SIGTERM shutdown.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "common/core/json.h"
#include "common/swarm/session.h"

namespace sc {

class EventLoop;
class MetastoreWorker;
class MetricsRegistry;
class Options;

struct NodeConfig {
  std::string metastore;    // http://host:port
  std::string tracker;      // announce URL put into torrents and added to fetched ones
  std::string token_file;
  std::string data;         // content directory
  std::string state;        // resume data and service state
  std::string listen = "0.0.0.0:7880";       // control API
  std::string peer_listen = "0.0.0.0:6881";  // BitTorrent
  std::string log_level = "info";
  std::string node_id;      // "" = <hostname>-<peer port>
  std::string advertise;    // host put in the control URL the heartbeat advertises ("" = hostname)
  int64_t upload_rate_limit = 0;
  int64_t download_rate_limit = 0;
  int64_t connections_limit = 400;
  int64_t unchoke_slots = -1;
  std::string disk_io = "mmap";  // SwarmOptions::disk_io: "mmap" or "posix"
  int64_t piece_cache = 16 << 20;  // SwarmOptions::piece_cache_bytes
  bool dht = false;
  bool super_seed = false;  // seeder: BEP 16 super-seeding of its own data (see session.cc)
  bool first_copy = true;   // seeder: first_copy_plugin.h on its own data (bench/swarm/README.md)
  int64_t heartbeat_interval_ms = 10'000;
  int64_t resume_save_interval_ms = 30'000;
};

// Metric series labelled by content key stop at this many keys per process (the totals keep
// counting): a Prometheus series per key is fine for tens of keys, not for a registry of them.
inline constexpr size_t kMaxKeyedSeries = 100;

// Declares the flags and config keys that seeder and leecher share, with help text for `role`
// ("seeder" or "leecher"); seeder-only keys are declared for the seeder only.
void declare_node_options(Options& options, NodeConfig& config, std::string_view role = "seeder");

// One extra top-level field of the status document.
struct StatusField {
  std::string name;
  Json value;
};

// Renders the GET /v1/status document:
// {"node":{...},"torrents":[{key, infohash, name, size, progress, state, complete, peers, seeds,
//   download_rate, upload_rate, downloaded, uploaded, seeding_seconds, error,
//   provenance:[{endpoint, client, bytes_given, bytes_taken, pieces_given, connected}],
//   piece_source:[...] (only when asked)}], ...extra}
std::string render_status_json(const std::vector<StatusField>& node, const std::vector<TorrentStatus>& torrents,
                                const std::vector<StatusField>& extra);

class SwarmNode {
 public:
  // role: "seeder" or "leecher" (metric names, heartbeat role, log lines).
  SwarmNode(std::string role, NodeConfig config);
  ~SwarmNode();
  SwarmNode(const SwarmNode&) = delete;
  SwarmNode& operator=(const SwarmNode&) = delete;

  // Reads the token, starts the swarm session, the control listener and the metastore worker,
  // prints the bound ports on stdout ("control_port=N peer_port=M"). Errors name the part.
  Status start();
  // Runs the loop until SIGTERM/SIGINT, then shuts down in order (service hook, HTTP drain,
  // resume data, swarm). Returns the process exit code.
  int run();

  EventLoop& loop();
  SwarmSession& swarm();
  MetastoreWorker& metastore();
  MetricsRegistry& metrics();
  const NodeConfig& config() const;
  const std::string& node_id() const;
  uint16_t control_port() const;

  // Service-specific parts of the status document and of the heartbeat's info object.
  void set_status_extra(std::function<std::vector<StatusField>()> fn);
  // readyz answers 200 once this returns true (e.g. the first scan or sync is done).
  void set_ready_check(std::function<bool()> fn);
  // Runs first at shutdown; call done when the service has saved its state.
  void set_shutdown_hook(std::function<void(std::function<void()> done)> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
