#pragma once
// swarmcache-tracker configuration: our keys plus both Chihaya dialects (v2.0 as in Quay's
// documentation, and the current one), so an existing chihaya.yaml starts us unchanged.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/config.h"
#include "services/tracker/logic.h"

namespace sc {

struct HookConfig {
  std::string name;
  YAML::Node options;  // Chihaya's `options:` (current) or `config:` (v2.0); may be null
};

struct TrackerConfig {
  int64_t announce_interval_ms = 30 * 60 * 1000;
  int64_t min_announce_interval_ms = 15 * 60 * 1000;
  std::string metrics_addr = "0.0.0.0:6880";
  std::string log_level = "info";

  std::string http_addr = "0.0.0.0:6969";
  int64_t http_threads = 0;  // 0: one per core
  int64_t read_timeout_ms = 5000;
  int64_t write_timeout_ms = 5000;
  int64_t request_timeout_ms = 5000;
  bool allow_ip_spoofing = false;
  std::string real_ip_header;
  std::vector<std::string> trusted_proxies;
  int64_t max_numwant = 100;
  int64_t default_numwant = 50;
  int64_t max_scrape_infohashes = 50;
  std::vector<std::string> announce_routes{"/announce"};
  std::vector<std::string> scrape_routes{"/scrape"};
  std::string tls_cert_path, tls_key_path;

  std::string udp_addr = "0.0.0.0:6969";  // "" = no UDP listener
  int64_t udp_threads = 1;
  std::string udp_private_key;  // "" = random at start
  int64_t udp_max_clock_skew_ms = 10'000;
  bool udp_allow_ip_spoofing = false;
  int64_t udp_max_numwant = -1;            // -1: as http
  int64_t udp_default_numwant = -1;
  int64_t udp_max_scrape_infohashes = -1;

  std::string storage_name = "memory";
  int64_t gc_interval_ms = 3 * 60 * 1000;
  int64_t peer_lifetime_ms = 31 * 60 * 1000;
  int64_t shard_count = 1024;
  int64_t max_swarms = static_cast<int64_t>(kDefaultMaxSwarms);  // new info hashes are refused beyond it
  // storage.name: redis (Chihaya's redis storage options, plus a key prefix of ours).
  std::string redis_broker = "redis://127.0.0.1:6379/0";
  int64_t redis_read_timeout_ms = 2'000;
  int64_t redis_write_timeout_ms = 2'000;
  int64_t redis_connect_timeout_ms = 1'000;
  std::string redis_key_prefix = "sc:tracker:";

  std::vector<HookConfig> prehooks;
};

// Declares every key (with Chihaya aliases and tolerated keys) on `opts`, writing into `cfg`.
void declare_tracker_options(Options& opts, TrackerConfig& cfg);

// Checks ranges and builds the logic's options. Errors name the offending key.
Result<LogicOptions> make_logic_options(const TrackerConfig& cfg);
// The UDP frontend's: as HTTP's, with the udp.* overrides and no real-IP header.
Result<LogicOptions> make_udp_logic_options(const TrackerConfig& cfg);

}  // namespace sc
