#pragma once
// A swarmcache deployment on loopback for integration tests: redis-server, metastore and
// tracker started on free ports, plus helpers to start seeders and leechers as real processes
// and read their GET /v1/status. Every wait has a deadline; nothing sleeps blindly.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/support.h"

namespace sc::swarmtest {

struct PeerView {
  std::string endpoint, client;
  int64_t bytes_given = 0, bytes_taken = 0;
};

struct TorrentView {
  std::string key, infohash, name, state;
  double progress = 0;
  bool complete = false;
  int64_t size = 0, downloaded = 0, uploaded = 0;
  std::vector<PeerView> provenance;
  std::vector<int> piece_source;
};

struct StatusView {
  bool ok = false;
  int peer_port = 0;
  std::string raw;  // the JSON document, for failure messages
  std::vector<TorrentView> torrents;
  const TorrentView* find(const std::string& key) const;
};

struct Node {
  std::string role, name, data, state;
  std::vector<std::string> extra;
  std::unique_ptr<test::Process> proc;
  int control_port = 0;
  int peer_port = 0;
};

// Extra arguments for the shared services (e.g. a Redis that trims streams eagerly).
struct ClusterOptions {
  std::vector<std::string> redis_args;
  std::vector<std::string> metastore_args;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();

  std::string metastore_url() const { return "http://127.0.0.1:" + std::to_string(metastore_port_); }
  std::string tracker_url() const { return "http://127.0.0.1:" + std::to_string(tracker_port_) + "/announce"; }
  const std::string& token_file() const { return token_file_; }
  int metastore_port() const { return metastore_port_; }
  int tracker_port() const { return tracker_port_; }
  int tracker_admin_port() const { return tracker_admin_port_; }
  std::string path(const std::string& name) const { return dir_.file(name); }

  // Starts a node; `data` is its data directory. Fails the test if it does not report its ports.
  std::unique_ptr<Node> seeder(const std::string& name, const std::string& data, std::vector<std::string> extra = {});
  std::unique_ptr<Node> leecher(const std::string& name, std::vector<std::string> extra = {});
  // Starts the node's process again with the same directories and flags.
  void restart(Node& node);

  static StatusView status(const Node& node, bool pieces = false);
  // Waits until every leecher reports every key complete.
  static bool wait_complete(const std::vector<Node*>& nodes, const std::vector<std::string>& keys,
                            std::chrono::milliseconds timeout);

 private:
  void start(Node& node);
  test::TempDir dir_;
  std::unique_ptr<test::RedisServer> redis_;
  std::unique_ptr<test::Process> metastore_, tracker_;
  int metastore_port_ = 0, tracker_port_ = 0, tracker_admin_port_ = 0;
  std::string token_file_;
};

// Random bytes (deterministic per seed) written to path, creating parent directories.
void write_random_file(const std::string& path, size_t size, uint32_t seed);
std::string sha256_file(const std::string& path);

}  // namespace sc::swarmtest
