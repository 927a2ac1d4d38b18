// SwarmNode: the runtime shared by swarmcache-seeder and swarmcache-leecher (flags, swarm
// session, control API, metastore worker, heartbeat, systemd, shutdown order). No libtorrent
// header here: the session is used through common/swarm/session.h.
#include "common/swarm/node.h"

#include <unistd.h>

#include <csignal>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "common/core/bytes.h"
#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/systemd.h"
#include "common/swarm/first_copy_plugin.h"
#include "common/swarm/metastore_client.h"
#include "proto/metastore_api.h"

namespace sc {
namespace {

// The control API serves small JSON documents to the dashboard and health checkers.
constexpr uint64_t kControlMaxBody = 4096;
// A heartbeat advertises at most this many swarms (the metastore's own bound).
constexpr size_t kMaxAdvertisedSwarms = kMaxNodeSwarms;
// Heartbeats are dropped rather than queued behind a stuck metastore.
constexpr size_t kMaxHeartbeatBacklog = 4;
// Traffic counters are brought up to date at every scrape and at least this often, so the bytes
// of a torrent removed between two scrapes are lost for at most this long.
constexpr int64_t kTrafficSampleMs = 5000;

// "-SC0100-", 6 hex digits of sha256(node id), then 6 random ones: the dashboard maps a peer to
// its node by the peer id the node reports, whatever address or ephemeral port its connections
// come from. The random half keeps two nodes that share a name (one hostname, one peer port,
// in namespaces or containers) from taking each other for a connection to themselves, which
// libtorrent drops.
std::string make_peer_id(const std::string& node_id) {
  std::random_device rd;
  uint8_t salt[3] = {static_cast<uint8_t>(rd()), static_cast<uint8_t>(rd()), static_cast<uint8_t>(rd())};
  return "-SC0100-" + to_hex(sha256(node_id)).substr(0, 6) + to_hex(std::span<const uint8_t>(salt, 3));
}

// libtorrent keeps the last measured rate of a torrent nothing ticks any more: a finished
// download, or a seed without peers, moves nothing. {download, upload} bytes/s.
std::pair<int64_t, int64_t> live_rates(const TorrentStatus& t) {
  return {t.complete ? 0 : t.download_rate, t.peers == 0 ? 0 : t.upload_rate};
}

std::string hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::string render_status_json(const std::vector<StatusField>& node, const std::vector<TorrentStatus>& torrents,
                               const std::vector<StatusField>& extra) {
  Json node_obj = Json::object();
  for (const auto& f : node) node_obj.set(f.name, f.value);
  Json list = Json::array();
  for (const auto& t : torrents) {
    auto [download_rate, upload_rate] = live_rates(t);
    Json prov = Json::array();
    for (const auto& p : t.provenance) {
      Json peer = Json::object();
      peer.set("endpoint", p.endpoint)
          .set("client", p.client)
          .set("peer_id", p.peer_id)
          .set("bytes_given", p.bytes_given)
          .set("bytes_taken", p.bytes_taken)
          .set("pieces_given", p.pieces_given)
          .set("connected", p.connected);
      prov.push(std::move(peer));
    }
    Json o = Json::object();
    o.set("key", t.key)
        .set("infohash", t.infohash)
        .set("name", t.name)
        .set("size", t.size)
        .set("piece_length", t.piece_length)
        .set("num_pieces", t.num_pieces)
        .set("progress", t.progress)
        .set("state", t.state)
        .set("complete", t.complete)
        .set("peers", t.peers)
        .set("seeds", t.seeds)
        .set("download_rate", download_rate)
        .set("upload_rate", upload_rate)
        .set("downloaded", t.downloaded)
        .set("uploaded", t.uploaded)
        .set("seeding_seconds", t.seeding_seconds)
        .set("error", t.error)
        .set("provenance", std::move(prov));
    if (!t.piece_source.empty()) {
      Json src = Json::array();
      for (int i : t.piece_source) src.push(Json::integer(i));
      o.set("piece_source", std::move(src));
    }
    list.push(std::move(o));
  }
  Json doc = Json::object();
  doc.set("node", std::move(node_obj)).set("torrents", std::move(list));
  for (const auto& f : extra) doc.set(f.name, f.value);
  return doc.dump();
}

void declare_node_options(Options& o, NodeConfig& c, std::string_view role) {
  bool seeder = role == "seeder";
  o.add_string("metastore", &c.metastore, "Metastore base URL, e.g. http://metastore:7070.", "metastore");
  o.add_string("tracker", &c.tracker,
               seeder ? "Announce URL put into torrents (e.g. http://tracker:6969/announce)."
                      : "Announce URL added to every torrent followed (e.g. http://tracker:6969/announce).",
               "tracker");
  o.add_string("token_file", &c.token_file, "File holding the bearer token sent to the metastore.", "token-file");
  o.add_string("data", &c.data, seeder ? "Content directory to seed." : "Directory downloads are written to.", "data");
  o.add_string("state", &c.state, "State directory (resume data, caches, event position).", "state");
  o.add_string("listen", &c.listen, "Control API HOST:PORT (port 0 = any free port).", "listen");
  o.add_string("peer_listen", &c.peer_listen, "BitTorrent listener HOST:PORT (port 0 = any free port).", "peer-listen");
  o.add_string("log_level", &c.log_level, "debug, info, warn or error.", "log-level");
  o.add_string("node_id", &c.node_id, "Name in the metastore's node registry (default <hostname>-<peer port>).", "node-id");
  o.add_string("advertise", &c.advertise, "Host in the control URL advertised to the metastore (default hostname).", "advertise");
  o.add_bytes("swarm.upload_rate_limit", &c.upload_rate_limit, "Upload cap in bytes/s (0 = none).", "upload-rate-limit");
  o.add_bytes("swarm.download_rate_limit", &c.download_rate_limit, "Download cap in bytes/s (0 = none).", "download-rate-limit");
  o.add_int("swarm.connections_limit", &c.connections_limit, "Peer connections over all torrents.", "connections-limit");
  o.add_int("swarm.unchoke_slots", &c.unchoke_slots, "Peers unchoked at once (-1 = all interested peers).", "unchoke-slots");
  o.add_bool("swarm.dht", &c.dht, "Trackerless mode: DHT and local service discovery.", "dht");
  o.add_string("swarm.disk_io", &c.disk_io,
               "Disk back-end: mmap (disk thread pool) or posix (no threads, less CPU; a slow disk stalls peers).",
               "disk-io");
  o.add_bytes("swarm.piece_cache", &c.piece_cache,
              "With disk_io posix: memory for pieces being downloaded and recent ones (written a piece at a time, hashed and uploaded from memory; committed as it is first used; 0 = off).",
              "piece-cache");
  if (seeder)
    o.add_bool("swarm.super_seed", &c.super_seed,
               "Reveal pieces one at a time (BEP 16) so the origin sends each piece about once.", "super-seed");
  if (seeder)
    o.add_bool("swarm.first_copy", &c.first_copy,
               "Serve each piece to one peer only, steering the others to pieces nobody has yet.", "first-copy");
  o.add_duration("heartbeat_interval", &c.heartbeat_interval_ms, "How often the node registers itself.", "heartbeat-interval");
  o.add_duration("swarm.resume_save_interval", &c.resume_save_interval_ms, "How often resume data is saved.", "resume-save-interval");
}

struct SwarmNode::Impl {
  std::string role;
  NodeConfig cfg;
  std::string id;
  std::string peer_id;  // as given to libtorrent and reported in the status document
  EventLoop loop;
  MetricsRegistry registry;
  std::unique_ptr<SwarmSession> swarm;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<MetastoreWorker> worker;
  // Heartbeats get their own worker thread (and so their own connection): on the shared one
  // they queued behind the leecher's 30 s event long-poll and outlived their 3x-interval TTL.
  std::unique_ptr<MetastoreWorker> beat_worker;
  std::unique_ptr<Timer> heartbeat_timer, watchdog;
  std::function<std::vector<StatusField>()> extra;
  std::function<bool()> ready = [] { return true; };
  std::function<void(std::function<void()>)> shutdown_hook;
  bool draining = false;
  std::string control_url;
  // libtorrent's per-torrent byte totals vanish with the torrent and restart when it is added
  // again: the sampler adds each torrent's growth since its last look to lifetime counters.
  std::map<std::string, std::pair<int64_t, int64_t>> traffic_seen;  // infohash → {down, up}
  std::set<std::string> keyed;  // keys with their own series, at most kMaxKeyedSeries
  Counter* bytes_down = nullptr;
  Counter* bytes_up = nullptr;
  Family<Counter>* key_down = nullptr;
  Family<Counter>* key_up = nullptr;
  Gauge* peers = nullptr;
  std::unique_ptr<Timer> traffic_timer;
  Counter* heartbeats_ok = nullptr;
  Counter* heartbeats_failed = nullptr;
  Counter* status_requests = nullptr;

  std::vector<StatusField> node_fields() const {
    return {{"id", Json::string(id)},
            {"role", Json::string(role)},
            {"peer_id", Json::string(peer_id)},
            {"control_port", Json::integer(http ? http->port() : 0)},
            {"peer_port", Json::integer(swarm ? swarm->listen_port() : 0)},
            {"dropped_alerts", Json::integer(swarm ? swarm->dropped_alerts() : 0)},
            {"first_copy_rejects", Json::integer(swarm ? swarm->first_copy_rejects() : 0)},
            {"first_copy_suggests", Json::integer(swarm ? swarm->first_copy_suggests() : 0)},
            {"first_copy_tail_copies", Json::integer(swarm ? swarm->first_copy_tail_copies() : 0)},
            {"first_copy_repeat_copies", Json::integer(swarm ? swarm->first_copy_repeat_copies() : 0)}};
  }

  void sample_traffic() {
    std::map<std::string, std::pair<int64_t, int64_t>> seen;
    int64_t connected = 0;
    for (const auto& t : swarm->status()) {
      connected += t.peers;
      auto before = traffic_seen.find(t.infohash);
      auto [down0, up0] = before == traffic_seen.end() ? std::pair<int64_t, int64_t>{0, 0} : before->second;
      // A total below the last look means the torrent was added again: it counts from zero.
      uint64_t down = static_cast<uint64_t>(t.downloaded >= down0 ? t.downloaded - down0 : t.downloaded);
      uint64_t up = static_cast<uint64_t>(t.uploaded >= up0 ? t.uploaded - up0 : t.uploaded);
      bytes_down->inc(down);
      bytes_up->inc(up);
      if (!t.key.empty() && (keyed.contains(t.key) || keyed.size() < kMaxKeyedSeries)) {
        keyed.insert(t.key);
        key_down->with({t.key}).inc(down);
        key_up->with({t.key}).inc(up);
      }
      seen[t.infohash] = {t.downloaded, t.uploaded};
    }
    traffic_seen = std::move(seen);
    peers->set(connected);
  }

  void heartbeat() {
    if (!beat_worker || beat_worker->backlog() > kMaxHeartbeatBacklog) return;
    NodeInfo n;
    n.id = id;
    n.role = role;
    n.control_url = control_url;
    n.ttl_ms = cfg.heartbeat_interval_ms * 3;
    auto st = swarm->status();
    int64_t complete = 0, down = 0, up = 0;
    for (auto& t : st) {
      if (n.swarms.size() < kMaxAdvertisedSwarms) n.swarms.push_back(t.infohash);
      complete += t.complete;
      auto [d, u] = live_rates(t);
      down += d;
      up += u;
    }
    n.info_json = "{\"torrents\":" + std::to_string(st.size()) + ",\"complete\":" + std::to_string(complete) +
                  ",\"download_rate\":" + std::to_string(down) + ",\"upload_rate\":" + std::to_string(up) +
                  ",\"peer_port\":" + std::to_string(swarm->listen_port()) + "}";
    auto ok = std::make_shared<Status>();
    beat_worker->post([n, ok](const MetastoreClient& c) { *ok = c.heartbeat(n); },
                 [this, ok] {
                   if (*ok) {
                     heartbeats_ok->inc();
                   } else {
                     heartbeats_failed->inc();
                     SC_DEBUG("heartbeat failed", {"error", ok->error().message});
                   }
                 });
  }
};

SwarmNode::SwarmNode(std::string role, NodeConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->role = std::move(role);
  impl_->cfg = std::move(config);
}

SwarmNode::~SwarmNode() {
  if (impl_->worker) impl_->worker->stop();
  if (impl_->beat_worker) impl_->beat_worker->stop();
}

Status SwarmNode::start() {
  auto& im = *impl_;
  auto& c = im.cfg;
  if (c.data.empty()) return fail(Errc::invalid_argument, "--data is required");
  if (c.state.empty()) return fail(Errc::invalid_argument, "--state is required");
  if (c.metastore.empty()) return fail(Errc::invalid_argument, "--metastore is required");
  if (c.disk_io != "mmap" && c.disk_io != "posix")
    return fail(Errc::invalid_argument, "swarm.disk_io must be mmap or posix, not \"" + c.disk_io + "\"");
  auto token = read_token_file(c.token_file);
  if (!token) return std::unexpected(token.error());
  std::signal(SIGPIPE, SIG_IGN);

  SwarmOptions so;
  so.peer_listen = c.peer_listen;
  so.state_dir = c.state;
  so.dht = c.dht;
  so.upload_rate_limit = c.upload_rate_limit;
  so.download_rate_limit = c.download_rate_limit;
  so.connections_limit = static_cast<int>(c.connections_limit);
  so.unchoke_slots = static_cast<int>(c.unchoke_slots);
  so.resume_save_interval_ms = c.resume_save_interval_ms;
  so.disk_io = c.disk_io == "posix" ? DiskIo::posix : DiskIo::mmap;
  so.piece_cache_bytes = c.piece_cache;
  if (im.role == "seeder" && c.first_copy) so.peer_request_queue = kFirstCopyRequestQueue;
  auto swarm = SwarmSession::start(im.loop, so);
  if (!swarm) return std::unexpected(swarm.error());
  im.swarm = std::move(*swarm);
  im.id = c.node_id.empty() ? hostname() + "-" + std::to_string(im.swarm->listen_port()) : c.node_id;
  im.peer_id = make_peer_id(im.id);
  im.swarm->set_peer_id(im.peer_id);

  std::string prefix = "swarmcache_" + im.role + "_";
  im.heartbeats_ok = &im.registry.counter(prefix + "heartbeats_total", "Heartbeats accepted by the metastore.");
  im.heartbeats_failed = &im.registry.counter(prefix + "heartbeat_failures_total", "Heartbeats that failed.");
  im.status_requests = &im.registry.counter(prefix + "status_requests_total", "GET /v1/status requests.");
  SwarmSession* sw = im.swarm.get();
  im.registry.gauge_callback(prefix + "torrents", "Torrents in the session.", [sw] {
    return static_cast<double>(sw->infohashes().size());
  });
  im.bytes_down = &im.registry.counter(prefix + "downloaded_bytes_total", "Payload bytes received from peers.");
  im.bytes_up = &im.registry.counter(prefix + "uploaded_bytes_total", "Payload bytes sent to peers.");
  im.key_down = &im.registry.counter_family(prefix + "key_downloaded_bytes_total",
                                            "Payload bytes received, per content key (the first keys only).", {"key"});
  im.key_up = &im.registry.counter_family(prefix + "key_uploaded_bytes_total",
                                          "Payload bytes sent, per content key (the first keys only).", {"key"});
  im.peers = &im.registry.gauge(prefix + "peers", "Peer connections over all torrents.");

  {
    auto client = MetastoreClient::create({.base_url = c.metastore, .token = *token});
    if (!client) return std::unexpected(client.error());
    im.beat_worker = std::make_unique<MetastoreWorker>(im.loop, *client);
    im.worker = std::make_unique<MetastoreWorker>(im.loop, std::move(*client));
  }

  HttpServerOptions ho;
  ho.listen = c.listen;
  ho.adopted_fd = systemd_socket("http");
  ho.threads = 0;  // handlers touch the session, which lives on this loop
  ho.max_body_bytes = kControlMaxBody;
  im.http = std::make_unique<HttpServer>(im.loop, ho);
  Impl* p = impl_.get();
  im.http->route("/v1/status", [p](HttpRequest& req) {
    p->status_requests->inc();
    bool pieces = req.query().find("pieces=1") != std::string_view::npos;
    auto body = render_status_json(p->node_fields(), p->swarm->status(pieces),
                                   p->extra ? p->extra() : std::vector<StatusField>{});
    req.reply(200, "application/json", body);
  });
  im.http->route("/healthz", [](HttpRequest& req) { req.reply(200, "text/plain", "ok\n"); });
  im.http->route("/readyz", [p](HttpRequest& req) {
    if (p->draining) return req.reply(503, "text/plain", "draining\n");
    if (!p->ready()) return req.reply(503, "text/plain", "starting\n");
    req.reply(200, "text/plain", "ready\n");
  });
  im.http->route("/metrics", [p](HttpRequest& req) {
    p->sample_traffic();
    req.reply(200, "text/plain; version=0.0.4; charset=utf-8", p->registry.render());
  });
  if (auto st = im.http->start(); !st) return fail(st.error().code, "control listener " + c.listen + ": " + st.error().message);

  std::string host = c.advertise;
  if (host.empty()) {
    auto hp = split_host_port(c.listen);
    host = hp && !hp->first.empty() && hp->first != "0.0.0.0" && hp->first != "::" ? hp->first : hostname();
  }
  im.control_url = "http://" + host + ":" + std::to_string(im.http->port());

  // The daemons' start-up line (common/io/daemon's log_listener format), written whatever the
  // log level; control_port is the http port's older name, kept for scripts that read it.
  log_write(LogLevel::info, "listening",
            {{"name", "http"}, {"http_port", im.http->port()}, {"control_port", im.http->port()},
             {"peer_port", im.swarm->listen_port()}, {"node_id", im.id}, {"role", im.role},
             {"control_adopted", ho.adopted_fd >= 0}});

  if (im.worker && c.heartbeat_interval_ms > 0) {
    im.heartbeat_timer = im.loop.every(c.heartbeat_interval_ms, [p] { p->heartbeat(); });
    im.loop.defer([p] { p->heartbeat(); });
  }
  im.traffic_timer = im.loop.every(kTrafficSampleMs, [p] { p->sample_traffic(); });
  im.watchdog = start_watchdog(im.loop);
  return {};
}

int SwarmNode::run() {
  auto& im = *impl_;
  Impl* p = impl_.get();
  auto stop = [p] {
    if (p->draining) return;
    p->draining = true;
    SC_INFO("shutting down", {"role", p->role});
    notify_stopping();
    p->heartbeat_timer.reset();
    p->traffic_timer.reset();
    auto finish_swarm = [p] {
      if (p->worker) p->worker->stop();
      if (p->beat_worker) p->beat_worker->stop();
      p->swarm->shutdown([p] {
        p->http->shutdown([p] { p->loop.stop(); });
      });
    };
    if (p->shutdown_hook)
      p->shutdown_hook(finish_swarm);
    else
      finish_swarm();
  };
  im.loop.on_signal(SIGTERM, stop);
  im.loop.on_signal(SIGINT, stop);
  notify_ready();
  if (!im.loop.run()) {
    SC_ERROR("event loop failed");
    return 1;
  }
  SC_INFO("stopped", {"role", im.role});
  return 0;
}

EventLoop& SwarmNode::loop() { return impl_->loop; }
SwarmSession& SwarmNode::swarm() { return *impl_->swarm; }
MetastoreWorker& SwarmNode::metastore() { return *impl_->worker; }
MetricsRegistry& SwarmNode::metrics() { return impl_->registry; }
const NodeConfig& SwarmNode::config() const { return impl_->cfg; }
const std::string& SwarmNode::node_id() const { return impl_->id; }
uint16_t SwarmNode::control_port() const { return impl_->http ? impl_->http->port() : 0; }
void SwarmNode::set_status_extra(std::function<std::vector<StatusField>()> fn) { impl_->extra = std::move(fn); }
void SwarmNode::set_ready_check(std::function<bool()> fn) { impl_->ready = std::move(fn); }
void SwarmNode::set_shutdown_hook(std::function<void(std::function<void()>)> fn) { impl_->shutdown_hook = std::move(fn); }

}  // namespace sc
