// Loopback deployment for the swarm integration tests (see cluster.h).
#include "tests/integration/swarm/cluster.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <cstring>
#include <random>

#include "common/core/bytes.h"
#include "common/core/json.h"
#include "common/core/sha.h"

namespace sc::swarmtest {
namespace {

using namespace std::chrono_literals;

// A status page with per-piece sources runs past json_parse's default 1 MiB on big torrents.
constexpr size_t kMaxStatusJsonBytes = 64 << 20;

}  // namespace

const TorrentView* StatusView::find(const std::string& key) const {
  for (auto& t : torrents)
    if (t.key == key) return &t;
  return nullptr;
}

Cluster::Cluster(ClusterOptions options) {
  redis_ = std::make_unique<test::RedisServer>(options.redis_args);
  token_file_ = dir_.file("token");
  std::ofstream(token_file_) << "integration-secret\n";
  std::vector<std::string> meta_argv{test::build_path("services/metastore/swarmcache-metastore"), "--listen",
                                     "127.0.0.1:0", "--redis", redis_->url(), "--auth-tokens", token_file_,
                                     "--log-level", "warn"};
  meta_argv.insert(meta_argv.end(), options.metastore_args.begin(), options.metastore_args.end());
  metastore_ = std::make_unique<test::Process>(meta_argv);
  auto mp = metastore_->wait_for_number("http_port", 20s);
  if (!mp) ADD_FAILURE() << "metastore did not start: " << metastore_->output();
  metastore_port_ = mp.value_or(0);
  tracker_ = std::make_unique<test::Process>(std::vector<std::string>{
      test::build_path("services/tracker/swarmcache-tracker"), "--http-listen", "127.0.0.1:0", "--admin-listen",
      "127.0.0.1:0", "--udp-listen", "127.0.0.1:0"});
  auto tp = tracker_->wait_for_number("http_port", 20s);
  if (!tp) ADD_FAILURE() << "tracker did not start: " << tracker_->output();
  tracker_port_ = tp.value_or(0);
  tracker_admin_port_ = tracker_->wait_for_number("admin_port", 5s).value_or(0);
  // Ready means Redis is reachable through the metastore.
  test::wait_until([&] { return test::http_request(metastore_port_, "GET", "/readyz").status == 200; }, 20s);
}

Cluster::~Cluster() = default;

void Cluster::start(Node& n) {
  std::vector<std::string> argv = {test::build_path("services/" + n.role + "/swarmcache-" + n.role),
                                   "--metastore", metastore_url(),
                                   "--tracker", tracker_url(),
                                   "--token-file", token_file_,
                                   "--data", n.data,
                                   "--state", n.state,
                                   "--listen", "127.0.0.1:0",
                                   "--peer-listen", "127.0.0.1:0",
                                   "--node-id", n.name,
                                   "--heartbeat-interval", "1s",
                                   "--log-level", "info"};
  argv.insert(argv.end(), n.extra.begin(), n.extra.end());
  n.proc = std::make_unique<test::Process>(argv);
  auto cp = n.proc->wait_for_number("control_port", 30s);
  auto pp = n.proc->wait_for_number("peer_port", 5s);
  if (!cp || !pp) ADD_FAILURE() << n.name << " did not start: " << n.proc->output();
  n.control_port = cp.value_or(0);
  n.peer_port = pp.value_or(0);
}

std::unique_ptr<Node> Cluster::seeder(const std::string& name, const std::string& data, std::vector<std::string> extra) {
  auto n = std::make_unique<Node>();
  n->role = "seeder";
  n->name = name;
  n->data = data;
  n->state = dir_.file(name + "-state");
  n->extra = std::move(extra);
  start(*n);
  return n;
}

std::unique_ptr<Node> Cluster::leecher(const std::string& name, std::vector<std::string> extra) {
  auto n = std::make_unique<Node>();
  n->role = "leecher";
  n->name = name;
  n->data = dir_.file(name + "-data");
  n->state = dir_.file(name + "-state");
  n->extra = std::move(extra);
  start(*n);
  return n;
}

void Cluster::restart(Node& n) { start(n); }

StatusView Cluster::status(const Node& n, bool pieces) {
  StatusView v;
  if (!n.proc) return v;
  auto r = test::http_request(n.control_port, "GET", pieces ? "/v1/status?pieces=1" : "/v1/status", "", {}, 5s);
  if (r.status != 200) return v;
  auto root = json_parse(r.body, {.max_size = kMaxStatusJsonBytes, .max_depth = 32});
  if (!root) return v;
  v.ok = true;
  v.raw = r.body;
  v.peer_port = static_cast<int>(root->get("node").get("peer_port").as_int());
  Json torrents = root->get("torrents");
  for (size_t i = 0; i < torrents.size(); ++i) {
    Json t = torrents.at(i);
    TorrentView tv;
    tv.key = t.get("key").as_string();
    tv.infohash = t.get("infohash").as_string();
    tv.name = t.get("name").as_string();
    tv.state = t.get("state").as_string();
    tv.progress = t.get("progress").as_number();
    tv.complete = t.get("complete").as_bool();
    tv.size = t.get("size").as_int();
    tv.downloaded = t.get("downloaded").as_int();
    tv.uploaded = t.get("uploaded").as_int();
    Json prov = t.get("provenance");
    for (size_t j = 0; j < prov.size(); ++j) {
      Json p = prov.at(j);
      tv.provenance.push_back({std::string(p.get("endpoint").as_string()), std::string(p.get("client").as_string()),
                               p.get("bytes_given").as_int(), p.get("bytes_taken").as_int()});
    }
    Json sources = t.get("piece_source");
    for (size_t j = 0; j < sources.size(); ++j) tv.piece_source.push_back(static_cast<int>(sources.at(j).as_int()));
    v.torrents.push_back(std::move(tv));
  }
  return v;
}

bool Cluster::wait_complete(const std::vector<Node*>& nodes, const std::vector<std::string>& keys,
                            std::chrono::milliseconds timeout) {
  return test::wait_until(
      [&] {
        for (auto* n : nodes) {
          auto s = status(*n);
          if (!s.ok) return false;
          for (auto& k : keys) {
            auto* t = s.find(k);
            if (!t || !t->complete) return false;
          }
        }
        return true;
      },
      timeout, 200ms);
}

void write_random_file(const std::string& path, size_t size, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(size, '\0');
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t x = rng();
    std::memcpy(&data[i], &x, 8);
  }
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing:" + path;
  Sha256 h;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return to_hex(h.finish());
}

}  // namespace sc::swarmtest
