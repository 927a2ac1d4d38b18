// SwarmNode: the runtime shared by swarmcache-seeder and swarmcache-leecher (flags, swarm
// session, control API, metastore worker, heartbeat, systemd, shutdown order). No libtorrent
// header here: the session is used through common/swarm/session.h.
#include "common/swarm/node.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/systemd.h"
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
    Json prov = Json::array();
    for (const auto& p : t.provenance) {
      Json peer = Json::object();
      peer.set("endpoint", p.endpoint)
          .set("client", p.client)
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
        .set("download_rate", t.download_rate)
        .set("upload_rate", t.upload_rate)
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

void declare_node_options(Options& o, NodeConfig& c) {
  o.add_string("metastore", &c.metastore, "Metastore base URL, e.g. http://metastore:7070.", "metastore");
  o.add_string("tracker", &c.tracker, "Announce URL put into torrents (e.g. http://tracker:6969/announce).", "tracker");
  o.add_string("token_file", &c.token_file, "File holding the bearer token sent to the metastore.", "token-file");
  o.add_string("data", &c.data, "Content directory.", "data");
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
  o.add_bool("swarm.super_seed", &c.super_seed,
             "Seeder: reveal pieces one at a time (BEP 16) so the origin sends each piece about once.", "super-seed");
  o.add_duration("heartbeat_interval", &c.heartbeat_interval_ms, "How often the node registers itself.", "heartbeat-interval");
  o.add_duration("swarm.resume_save_interval", &c.resume_save_interval_ms, "How often resume data is saved.", "resume-save-interval");
}

struct SwarmNode::Impl {
  std::string role;
  NodeConfig cfg;
  std::string id;
  EventLoop loop;
  MetricsRegistry registry;
  std::unique_ptr<SwarmSession> swarm;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<MetastoreWorker> worker;
  std::unique_ptr<Timer> heartbeat_timer, watchdog;
  std::function<std::vector<StatusField>()> extra;
  std::function<bool()> ready = [] { return true; };
  std::function<void(std::function<void()>)> shutdown_hook;
  bool draining = false;
  std::string control_url;
  Counter* heartbeats_ok = nullptr;
  Counter* heartbeats_failed = nullptr;
  Counter* status_requests = nullptr;

  std::vector<StatusField> node_fields() const {
    return {{"id", Json::string(id)},
            {"role", Json::string(role)},
            {"control_port", Json::integer(http ? http->port() : 0)},
            {"peer_port", Json::integer(swarm ? swarm->listen_port() : 0)},
            {"dropped_alerts", Json::integer(swarm ? swarm->dropped_alerts() : 0)}};
  }

  void heartbeat() {
    if (!worker || worker->backlog() > kMaxHeartbeatBacklog) return;
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
      down += t.download_rate;
      up += t.upload_rate;
    }
    n.info_json = "{\"torrents\":" + std::to_string(st.size()) + ",\"complete\":" + std::to_string(complete) +
                  ",\"download_rate\":" + std::to_string(down) + ",\"upload_rate\":" + std::to_string(up) +
                  ",\"peer_port\":" + std::to_string(swarm->listen_port()) + "}";
    auto ok = std::make_shared<Status>();
    worker->post([n, ok](const MetastoreClient& c) { *ok = c.heartbeat(n); },
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
}

Status SwarmNode::start() {
  auto& im = *impl_;
  auto& c = im.cfg;
  if (c.data.empty()) return fail(Errc::invalid_argument, "--data is required");
  if (c.state.empty()) return fail(Errc::invalid_argument, "--state is required");
  if (c.metastore.empty()) return fail(Errc::invalid_argument, "--metastore is required");
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
  auto swarm = SwarmSession::start(im.loop, so);
  if (!swarm) return std::unexpected(swarm.error());
  im.swarm = std::move(*swarm);
  im.id = c.node_id.empty() ? hostname() + "-" + std::to_string(im.swarm->listen_port()) : c.node_id;

  std::string prefix = "swarmcache_" + im.role + "_";
  im.heartbeats_ok = &im.registry.counter(prefix + "heartbeats_total", "Heartbeats accepted by the metastore.");
  im.heartbeats_failed = &im.registry.counter(prefix + "heartbeat_failures_total", "Heartbeats that failed.");
  im.status_requests = &im.registry.counter(prefix + "status_requests_total", "GET /v1/status requests.");
  SwarmSession* sw = im.swarm.get();
  im.registry.gauge_callback(prefix + "torrents", "Torrents in the session.", [sw] {
    return static_cast<double>(sw->infohashes().size());
  });

  {
    auto client = MetastoreClient::create({.base_url = c.metastore, .token = *token});
    if (!client) return std::unexpected(client.error());
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
    req.reply(200, "text/plain; version=0.0.4; charset=utf-8", p->registry.render());
  });
  if (auto st = im.http->start(); !st) return fail(st.error().code, "control listener " + c.listen + ": " + st.error().message);

  std::string host = c.advertise;
  if (host.empty()) {
    auto hp = split_host_port(c.listen);
    host = hp && !hp->first.empty() && hp->first != "0.0.0.0" && hp->first != "::" ? hp->first : hostname();
  }
  im.control_url = "http://" + host + ":" + std::to_string(im.http->port());

  std::printf("%s listening control_port=%u peer_port=%u node_id=%s\n", ("swarmcache-" + im.role).c_str(),
              static_cast<unsigned>(im.http->port()), static_cast<unsigned>(im.swarm->listen_port()), im.id.c_str());
  std::fflush(stdout);
  SC_INFO("listening", {"role", im.role}, {"control_port", static_cast<int>(im.http->port())},
          {"peer_port", static_cast<int>(im.swarm->listen_port())}, {"node_id", im.id},
          {"control_adopted", ho.adopted_fd >= 0});

  if (im.worker && c.heartbeat_interval_ms > 0) {
    im.heartbeat_timer = im.loop.every(c.heartbeat_interval_ms, [p] { p->heartbeat(); });
    im.loop.defer([p] { p->heartbeat(); });
  }
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
    auto finish_swarm = [p] {
      if (p->worker) p->worker->stop();
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
