// SwarmSession: a libtorrent session tuned for a LAN, its alerts drained on our event loop,
// fast-resume files under the state dir, and per-peer provenance (provenance.h).
// Every libtorrent call that can throw is inside a try block; nothing escapes to the loop.
//
// Swarm speed (the goal is one file on ten tc-capped hosts in 1.25x size/link-rate):
// - Piece size: auto_piece_length() (torrent_maker.h) keeps pieces small (64 KiB for 64 MiB,
//   512 KiB for 1 GiB): a leecher relays a piece only once it has all of it, so small pieces
//   let a byte reach the tenth host after ten short store-and-forward hops, not ten long ones.
// - Serving on verify: libtorrent sends HAVE as soon as a piece passes its hash check and
//   serves it right away; we never hold pieces back (no super-seeding, no predictive HAVE of
//   unverified data) and `send_redundant_have` keeps seeds' views exact.
// - Choker: fixed slots with no slot limit (unchoke_slots = -1). Tit-for-tat exists to punish
//   free riders; on our LAN everyone is cooperative, and a choked leecher is idle upload
//   capacity, which is exactly what made rtorrent's swarm 10.8x the limit. Seeds use
//   round-robin so the origin spreads distinct pieces over all leechers rather than feeding
//   the fastest one, and rarest-first piece picking keeps those pieces distinct.
// - Learning peers: announce on add; incoming connections teach the older peers about
//   newcomers, and ut_pex (on by default) spreads the rest; connection_speed is high so a
//   tracker reply becomes connections at once.
// - Request queues sized to one second of a peer's rate (request_queue_time = 1, not 3): a LAN
//   round trip is far below that, and each request still queued to the origin for a piece
//   another leecher is already fetching is a duplicate the origin pays for (bench/swarm/swarm.sh
//   prints origin copies: ~1.6-1.9 with 3 leechers). BEP 16 super-seeding (AddTorrentOptions::
//   super_seed, seeder --super-seed) brings that to ~1.05 but was slower end to end on loopback
//   (2.8x vs 2.5x the limit, 10 leechers, 64 MiB, 8 MiB/s caps, loaded 2-core host), so it is
//   off. The seeder instead runs first_copy_plugin.h (AddTorrentOptions::first_copy): each piece
//   goes to one leecher and the others are steered elsewhere, ~1.0-1.2 copies at full speed
//   (bench/swarm/README.md); it advertises a 16-block request queue (peer_request_queue,
//   BEP 10 reqq), which caps the leechers' queues to it.
// - Send buffers stay at libtorrent's defaults (500 KiB, refilled below 10 KiB). With 4 MiB
//   (until session 4) a fresh piece could wait behind up to 4 MiB already queued to a peer
//   before it moved on: lan.sh 16 MiB to 30 hosts at 20 Mbit/s took 13.3-17.4 s, with the
//   defaults 12.2-13.1 s (64 MiB to 10 hosts: 7.9 vs 7.4 s); 256 MiB to 3 leechers on loopback
//   was unchanged (8.7-9.6 vs 8.8-9.0 s).
// - Strict end game: a block is requested from a second peer only once every block of the
//   torrent has been requested. Without it libtorrent duplicates requests whenever a peer has
//   nothing new to offer, and on bench/swarm/lan.sh (64 MiB, 10 hosts, 100 Mbit/s) leechers
//   received 1.147 payload bytes per byte delivered; strict, 1.014 (and 1.03 instead of 1.16
//   bytes on the wire), in about the same time. Its cost: a connection whose last pick found
//   every block it could ask for already on its way from someone else goes idle, and libtorrent
//   wakes it only on that connection's own events. Every torrent therefore runs wake_plugin.h,
//   which repeats UNCHOKE after a HAVE to such an idle peer; without it one of 4 leechers in
//   swarm_integration_test fell to the origin's pace for seconds under load.
// - TCP only (uTP measured 15x slower on loopback), no UPnP/NAT-PMP/LSD/DHT unless asked.
#include "common/swarm/session.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/ip_filter.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/posix_disk_io.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "common/core/atomic_file.h"
#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/swarm/first_copy_plugin.h"
#include "common/swarm/lazy_ca.h"
#include "common/swarm/piece_cache.h"
#include "common/swarm/provenance.h"
#include "common/swarm/wake_plugin.h"
#include "common/io/event_loop.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

// Alerts queued inside libtorrent before it drops them (drained every loop turn; per-torrent
// alerts only, since provenance is counted by a plugin instead of per-block alerts).
constexpr int kAlertQueueSize = 1 << 14;
// Bounded wait for the listen socket at start, and for resume data at shutdown.
constexpr int kListenWaitMs = 5'000;
constexpr int64_t kShutdownSaveWaitMs = 10'000;
// Resume files are small; refuse anything absurd rather than read it.
constexpr int64_t kMaxResumeBytes = 64 << 20;

std::string hex20(const lt::sha1_hash& h) { return to_hex(std::string_view(h.data(), h.size())); }

// "HOST:PORT" or "HOST:FIRST-LAST" (a port range: the first free port in it is used). Returns
// libtorrent's listen_interfaces value and how many further ports to try.
std::pair<std::string, int> listen_spec(std::string spec) {
  if (!spec.empty() && spec[0] == ':') spec = "0.0.0.0" + spec;
  auto colon = spec.rfind(':');
  auto dash = spec.find('-', colon == std::string::npos ? 0 : colon);
  if (colon == std::string::npos || dash == std::string::npos) return {spec, 0};
  int first = std::atoi(spec.substr(colon + 1, dash - colon - 1).c_str());
  int last = std::atoi(spec.substr(dash + 1).c_str());
  if (first <= 0 || last < first || last > 65535) return {spec, 0};  // libtorrent reports it as invalid
  return {spec.substr(0, dash), last - first};
}

std::optional<std::vector<char>> read_small_file(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec || static_cast<int64_t>(size) > kMaxResumeBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<char> buf(size);
  in.read(buf.data(), static_cast<std::streamsize>(size));
  if (!in) return std::nullopt;
  return buf;
}

}  // namespace

struct SwarmSession::Impl : std::enable_shared_from_this<Impl> {
  struct Rec {
    lt::torrent_handle h;
    std::string key, infohash, name, save_path;
    int64_t total = 0, piece_length = 0;
    int num_pieces = 0;
    std::shared_ptr<ProvenanceLedger> ledger;  // filled on libtorrent's network thread
    bool complete_reported = false;
  };

  // Shared with libtorrent's notify callback, which may run on its thread at any time.
  struct Bridge {
    std::mutex mu;
    EventLoop* loop = nullptr;
    std::weak_ptr<Impl> impl;
    std::atomic<bool> pending{false};
  };

  EventLoop* loop = nullptr;
  SwarmOptions opt;
  std::unique_ptr<lt::session> ses;
  std::shared_ptr<Bridge> bridge = std::make_shared<Bridge>();
  std::unique_ptr<Timer> save_timer, shutdown_timer;
  std::unordered_map<std::string, Rec> torrents;  // by infohash
  std::unordered_map<lt::torrent_handle, std::string> by_handle;
  std::function<void(const std::string&)> complete_cb;
  std::function<void(const std::string&, const std::string&)> error_cb;
  std::atomic<int64_t> dropped{0};
  std::shared_ptr<FirstCopyCounters> first_copy = std::make_shared<FirstCopyCounters>();
  uint16_t port = 0;
  int pending_saves = 0;
  bool shutting_down = false;
  bool finish_scheduled = false;
  std::function<void()> shutdown_done;

  ~Impl() {
    {
      std::lock_guard lock(bridge->mu);
      bridge->loop = nullptr;
    }
    if (ses) {
      try {
        ses->set_alert_notify([] {});
        ses.reset();
      } catch (...) {
      }
    }
  }

  std::string resume_path(const std::string& ih) const {
    return opt.state_dir.empty() ? std::string() : opt.state_dir + "/resume/" + ih + ".resume";
  }

  void drain() {
    bridge->pending.store(false);
    if (!ses) return;
    std::vector<lt::alert*> alerts;
    try {
      ses->pop_alerts(&alerts);
      for (lt::alert* a : alerts) handle(a);
    } catch (const std::exception& e) {
      SC_ERROR("swarm alert handling failed", {"error", e.what()});
    }
  }

  Rec* rec_of(const lt::torrent_handle& h) {
    auto it = by_handle.find(h);
    if (it == by_handle.end()) return nullptr;
    auto r = torrents.find(it->second);
    return r == torrents.end() ? nullptr : &r->second;
  }

  void report_complete(Rec& r) {
    if (r.complete_reported) return;
    r.complete_reported = true;
    save_one(r.h, false);
    if (complete_cb) complete_cb(r.infohash);
  }

  void save_one(const lt::torrent_handle& h, bool only_if_modified) {
    if (opt.state_dir.empty() || !h.is_valid()) return;
    auto flags = lt::torrent_handle::save_info_dict;
    if (only_if_modified) flags |= lt::torrent_handle::only_if_modified;
    h.save_resume_data(flags);
    ++pending_saves;
  }

  void handle(lt::alert* a) {
    if (auto* tf = lt::alert_cast<lt::torrent_finished_alert>(a)) {
      if (Rec* r = rec_of(tf->handle)) report_complete(*r);
    } else if (auto* sc = lt::alert_cast<lt::state_changed_alert>(a)) {
      if (sc->state == lt::torrent_status::seeding)
        if (Rec* r = rec_of(sc->handle)) report_complete(*r);
    } else if (auto* sr = lt::alert_cast<lt::save_resume_data_alert>(a)) {
      --pending_saves;
      if (Rec* r = rec_of(sr->handle)) {
        try {
          auto buf = lt::write_resume_data_buf(sr->params);
          if (auto st = write_file_atomically(resume_path(r->infohash), std::string_view(buf.data(), buf.size())); !st)
            SC_WARN("cannot save resume data", {"infohash", r->infohash}, {"error", st.error().message});
        } catch (const std::exception& e) {
          SC_WARN("cannot encode resume data", {"infohash", r->infohash}, {"error", e.what()});
        }
      }
      maybe_finish_shutdown();
    } else if (lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
      --pending_saves;
      maybe_finish_shutdown();
    } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
      Rec* r = rec_of(fe->handle);
      std::string ih = r ? r->infohash : "";
      std::string msg = std::string(fe->filename()) + ": " + fe->error.message();
      SC_WARN("torrent file error", {"infohash", ih}, {"error", msg});
      if (error_cb && r) error_cb(ih, msg);
    } else if (auto* te = lt::alert_cast<lt::torrent_error_alert>(a)) {
      Rec* r = rec_of(te->handle);
      std::string msg = te->error.message();
      SC_WARN("torrent error", {"infohash", r ? r->infohash : ""}, {"error", msg});
      if (error_cb && r) error_cb(r->infohash, msg);
    } else if (auto* tre = lt::alert_cast<lt::tracker_error_alert>(a)) {
      SC_DEBUG("tracker error", {"url", tre->tracker_url()}, {"error", tre->error.message()});
    } else if (auto* ad = lt::alert_cast<lt::alerts_dropped_alert>(a)) {
      dropped.fetch_add(static_cast<int64_t>(ad->dropped_alerts.count()));
    }
  }

  void maybe_finish_shutdown() {
    if (!shutting_down || pending_saves > 0 || !shutdown_done || finish_scheduled) return;
    // Not from inside the alert loop: destroying the session frees the alerts being walked.
    finish_scheduled = true;
    std::weak_ptr<Impl> weak = weak_from_this();
    loop->defer([weak] {
      if (auto self = weak.lock())
        if (self->shutdown_done) self->finish_shutdown();
    });
  }

  void finish_shutdown() {
    auto done = std::move(shutdown_done);
    shutdown_done = nullptr;
    shutdown_timer.reset();
    save_timer.reset();
    try {
      if (ses) ses->set_alert_notify([] {});
      // Destroying the session stops trackers (bounded by stop_tracker_timeout) and joins its
      // threads; pieces already written are in the page cache, so nothing is lost.
      ses.reset();
    } catch (const std::exception& e) {
      SC_WARN("swarm session stop failed", {"error", e.what()});
    }
    torrents.clear();
    by_handle.clear();
    if (done) loop->defer(std::move(done));
  }
};

Result<std::unique_ptr<SwarmSession>> SwarmSession::start(EventLoop& loop, const SwarmOptions& options) try {
  std::unique_ptr<SwarmSession> s(new SwarmSession());
  auto impl = std::make_shared<Impl>();
  impl->loop = &loop;
  impl->opt = options;
  if (!options.state_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.state_dir + "/resume", ec);
    if (ec) return fail(Errc::io, "state dir " + options.state_dir + ": " + ec.message());
  }

  lt::settings_pack sp;
  auto [interfaces, retries] = listen_spec(options.peer_listen);
  sp.set_str(lt::settings_pack::listen_interfaces, interfaces);
  sp.set_int(lt::settings_pack::max_retry_port_bind, retries);
  sp.set_bool(lt::settings_pack::listen_system_port_fallback, false);
  sp.set_str(lt::settings_pack::peer_fingerprint, "-SC0100-");
  sp.set_str(lt::settings_pack::user_agent, "swarmcache/0.1");
  sp.set_int(lt::settings_pack::alert_mask,
             lt::alert_category::error | lt::alert_category::status | lt::alert_category::storage |
                 lt::alert_category::tracker);
  sp.set_int(lt::settings_pack::alert_queue_size, kAlertQueueSize);
  // LAN transport: TCP only, nothing that talks to routers or the Internet.
  sp.set_bool(lt::settings_pack::enable_outgoing_utp, false);
  sp.set_bool(lt::settings_pack::enable_incoming_utp, false);
  sp.set_bool(lt::settings_pack::enable_outgoing_tcp, true);
  sp.set_bool(lt::settings_pack::enable_incoming_tcp, true);
  sp.set_bool(lt::settings_pack::enable_upnp, false);
  sp.set_bool(lt::settings_pack::enable_natpmp, false);
  sp.set_bool(lt::settings_pack::enable_ip_notifier, false);
  sp.set_bool(lt::settings_pack::enable_dht, options.dht);
  sp.set_bool(lt::settings_pack::enable_lsd, options.dht);
  if (options.dht) sp.set_str(lt::settings_pack::dht_bootstrap_nodes, "");
  // Several peers behind one address (containers, loopback tests) must all be reachable.
  sp.set_bool(lt::settings_pack::allow_multiple_connections_per_ip, true);
  sp.set_int(lt::settings_pack::connections_limit, options.connections_limit);
  sp.set_int(lt::settings_pack::upload_rate_limit, static_cast<int>(options.upload_rate_limit));
  sp.set_int(lt::settings_pack::download_rate_limit, static_cast<int>(options.download_rate_limit));
  // Choking: see the comment at the top of this file.
  sp.set_int(lt::settings_pack::choking_algorithm, lt::settings_pack::fixed_slots_choker);
  sp.set_int(lt::settings_pack::seed_choking_algorithm, lt::settings_pack::round_robin);
  sp.set_int(lt::settings_pack::unchoke_slots_limit, options.unchoke_slots);
  sp.set_bool(lt::settings_pack::send_redundant_have, true);
  // Duplicate requests only once every block of the torrent is requested (see the top of file).
  sp.set_bool(lt::settings_pack::strict_end_game_mode, true);
  sp.set_bool(lt::settings_pack::announce_to_all_trackers, true);
  sp.set_bool(lt::settings_pack::announce_to_all_tiers, true);
  // Turn a tracker reply into connections at once, and keep LAN pipes full.
  sp.set_int(lt::settings_pack::connection_speed, 200);
  sp.set_bool(lt::settings_pack::smooth_connects, false);
  sp.set_int(lt::settings_pack::request_queue_time, 1);
  sp.set_int(lt::settings_pack::max_out_request_queue, 1500);
  sp.set_int(lt::settings_pack::max_allowed_in_request_queue, options.peer_request_queue);
  sp.set_int(lt::settings_pack::hashing_threads,
             options.hashing_threads > 0 ? options.hashing_threads
                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // Torrents are added unmanaged (always active); these only matter if a caller queues some.
  sp.set_int(lt::settings_pack::active_downloads, -1);
  sp.set_int(lt::settings_pack::active_seeds, -1);
  sp.set_int(lt::settings_pack::active_limit, -1);
  sp.set_int(lt::settings_pack::stop_tracker_timeout, 1);

  // Once per process, before libtorrent's threads exist (lazy_ca.h).
  static const bool lazy_ca [[maybe_unused]] = prefer_lazy_ca_lookup(default_cert_dir());
  lt::session_params params(std::move(sp));
  // Disk back-end (SwarmOptions::disk_io): libtorrent's memory-mapped one with its thread pool,
  // or its single-threaded pread/pwrite one behind the piece cache (piece_cache.h), which costs
  // less CPU on small hosts.
  if (options.disk_io == DiskIo::posix)
    params.disk_io_constructor = [budget = options.piece_cache_bytes](lt::io_context& ioc, lt::settings_interface const& s,
                                                                      lt::counters& c) {
      return make_piece_cache(lt::posix_disk_io_constructor(ioc, s, c), ioc, budget);
    };
  impl->ses = std::make_unique<lt::session>(std::move(params));
  // libtorrent exempts private address ranges from rate limits by default; our caps are for
  // the LAN, so every address goes in the global (limited) class.
  lt::ip_filter classes;
  classes.add_rule(lt::make_address("0.0.0.0"), lt::make_address("255.255.255.255"),
                   1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id));
  classes.add_rule(lt::make_address("::"), lt::make_address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                   1u << static_cast<std::uint32_t>(lt::session::global_peer_class_id));
  impl->ses->set_peer_class_filter(classes);

  // Wait (bounded) for the listen socket, so the caller can print the bound port.
  bool listening = false;
  std::string listen_error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kListenWaitMs);
  while (!listening && listen_error.empty() && std::chrono::steady_clock::now() < deadline) {
    impl->ses->wait_for_alert(std::chrono::milliseconds(100));
    std::vector<lt::alert*> alerts;
    impl->ses->pop_alerts(&alerts);
    for (auto* a : alerts) {
      if (auto* ok = lt::alert_cast<lt::listen_succeeded_alert>(a)) {
        if (ok->socket_type == lt::socket_type_t::tcp) {
          listening = true;
          impl->port = static_cast<uint16_t>(ok->port);
        }
      } else if (auto* bad = lt::alert_cast<lt::listen_failed_alert>(a)) {
        listen_error = bad->error.message();
      }
    }
  }
  if (!listening)
    return fail(Errc::unavailable, "cannot listen for peers on " + options.peer_listen + ": " +
                                       (listen_error.empty() ? "timed out" : listen_error));

  impl->bridge->loop = &loop;
  impl->bridge->impl = impl;
  std::weak_ptr<Impl> weak = impl;
  auto bridge = impl->bridge;
  impl->ses->set_alert_notify([bridge] {
    if (bridge->pending.exchange(true)) return;
    std::lock_guard lock(bridge->mu);
    if (!bridge->loop) return;
    bridge->loop->defer([bridge] {
      if (auto self = bridge->impl.lock()) self->drain();
    });
  });
  // Alerts that arrived between the listen wait and set_alert_notify.
  loop.defer([weak] {
    if (auto self = weak.lock()) self->drain();
  });
  if (!options.state_dir.empty() && options.resume_save_interval_ms > 0) {
    impl->save_timer = loop.every(options.resume_save_interval_ms, [weak] {
      if (auto self = weak.lock())
        for (auto& [ih, r] : self->torrents) self->save_one(r.h, true);
    });
  }
  s->impl_ = std::move(impl);
  return s;
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("starting swarm session: ") + e.what());
}

SwarmSession::~SwarmSession() = default;

uint16_t SwarmSession::listen_port() const { return impl_->port; }

void SwarmSession::set_peer_id(std::string_view peer_id) {
  if (!impl_->ses) return;
  lt::settings_pack sp;
  sp.set_str(lt::settings_pack::peer_fingerprint, std::string(peer_id));
  impl_->ses->apply_settings(std::move(sp));
}

Result<std::string> SwarmSession::add(std::string_view bytes, const AddTorrentOptions& o) try {
  if (!impl_->ses) return fail(Errc::unavailable, "swarm session stopped");
  lt::load_torrent_limits limits;
  limits.max_buffer_size = 16 << 20;
  lt::error_code ec;
  auto ti = std::make_shared<lt::torrent_info>(
      lt::span<const char>(bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())), limits, lt::from_span);
  if (!ti->info_hashes().has_v1()) return fail(Errc::invalid_argument, "v2-only torrents are not supported");
  std::string ih = hex20(ti->info_hashes().v1);
  if (auto it = impl_->torrents.find(ih); it != impl_->torrents.end()) {
    if (!o.key.empty()) it->second.key = o.key;
    return ih;
  }

  lt::add_torrent_params atp;
  bool resumed = false;
  if (auto path = impl_->resume_path(ih); !path.empty()) {
    if (auto buf = read_small_file(path)) {
      lt::error_code rec;
      auto rp = lt::read_resume_data(lt::span<const char>(buf->data(), static_cast<std::ptrdiff_t>(buf->size())), rec);
      if (!rec && rp.info_hashes.has_v1() && hex20(rp.info_hashes.v1) == ih) {
        atp = std::move(rp);
        resumed = true;
      } else {
        SC_WARN("ignoring unreadable resume data", {"infohash", ih}, {"error", rec ? rec.message() : "hash mismatch"});
      }
    }
  }
  atp.ti = ti;
  atp.save_path = o.save_path.empty() ? std::string(".") : o.save_path;
  atp.flags &= ~(lt::torrent_flags::auto_managed | lt::torrent_flags::paused);
  if (o.seed_mode && !resumed) atp.flags |= lt::torrent_flags::seed_mode;
  if (o.super_seed)
    atp.flags |= lt::torrent_flags::super_seeding;
  else
    atp.flags &= ~lt::torrent_flags::super_seeding;
  if (o.first_copy) atp.extensions.push_back(first_copy_plugin(ti->num_pieces(), ti->piece_length(), impl_->first_copy));
  auto ledger = std::make_shared<ProvenanceLedger>(ti->num_pieces());
  atp.extensions.push_back(provenance_plugin(ledger));
  atp.extensions.push_back(wake_plugin());  // last: sees only requests the others let through
  for (auto& t : o.trackers) {
    bool known = false;
    for (auto& e : ti->trackers()) known = known || e.url == t;
    if (!known && !t.empty()) atp.trackers.push_back(t);
  }
  auto h = impl_->ses->add_torrent(std::move(atp), ec);
  if (ec) return fail(Errc::io, "adding torrent " + ih + ": " + ec.message());

  Impl::Rec r;
  r.h = h;
  r.key = o.key;
  r.infohash = ih;
  r.name = ti->name();
  r.save_path = o.save_path;
  r.total = ti->total_size();
  r.piece_length = ti->piece_length();
  r.num_pieces = ti->num_pieces();
  r.ledger = std::move(ledger);
  impl_->by_handle[h] = ih;
  impl_->torrents.emplace(ih, std::move(r));
  if (!resumed) impl_->save_one(h, false);  // so a SIGKILL before the first timer still resumes
  return ih;
} catch (const std::exception& e) {
  return fail(Errc::invalid_argument, std::string("not a valid torrent: ") + e.what());
}

Status SwarmSession::remove(std::string_view infohash, bool delete_files) try {
  auto it = impl_->torrents.find(std::string(infohash));
  if (it == impl_->torrents.end()) return fail(Errc::not_found, "no torrent " + std::string(infohash));
  if (impl_->ses)
    impl_->ses->remove_torrent(it->second.h, delete_files ? lt::session::delete_files : lt::remove_flags_t{});
  impl_->by_handle.erase(it->second.h);
  if (auto path = impl_->resume_path(it->first); !path.empty()) std::remove(path.c_str());
  impl_->torrents.erase(it);
  return {};
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("removing torrent: ") + e.what());
}

bool SwarmSession::contains(std::string_view infohash) const {
  return impl_->torrents.count(std::string(infohash)) > 0;
}

std::vector<std::string> SwarmSession::infohashes() const {
  std::vector<std::string> out;
  for (auto& [ih, r] : impl_->torrents) out.push_back(ih);
  return out;
}

namespace {

std::string state_name(const lt::torrent_status& st) {
  if (st.errc) return "error";
  if (st.flags & lt::torrent_flags::paused) return "paused";
  switch (st.state) {
    case lt::torrent_status::checking_files:
    case lt::torrent_status::checking_resume_data:
      return "checking";
    case lt::torrent_status::seeding:
    case lt::torrent_status::finished:
      return "seeding";
    default:
      return "downloading";
  }
}

}  // namespace

std::vector<TorrentStatus> SwarmSession::status(bool with_piece_sources) const {
  std::vector<TorrentStatus> out;
  if (!impl_->ses) return out;
  try {
    auto all = impl_->ses->get_torrent_status([](const lt::torrent_status&) { return true; },
                                              with_piece_sources ? lt::torrent_handle::query_pieces
                                                                 : lt::status_flags_t{});
    for (auto& st : all) {
      auto* r = impl_->rec_of(st.handle);
      if (!r) continue;
      TorrentStatus t;
      t.key = r->key;
      t.infohash = r->infohash;
      t.name = r->name;
      t.save_path = r->save_path;
      t.size = r->total;
      t.piece_length = r->piece_length;
      t.num_pieces = r->num_pieces;
      t.progress = st.progress_ppm / 1e6;
      t.state = state_name(st);
      bool checking = st.state == lt::torrent_status::checking_files ||
                      st.state == lt::torrent_status::checking_resume_data;
      t.complete = !checking && !st.errc && st.num_pieces == r->num_pieces && r->num_pieces > 0;
      if (t.complete) t.progress = 1.0;
      t.peers = st.num_peers;
      t.seeds = st.num_seeds;
      t.download_rate = st.download_payload_rate;
      t.upload_rate = st.upload_payload_rate;
      t.downloaded = st.total_payload_download;
      t.uploaded = st.total_payload_upload;
      t.all_time_downloaded = st.all_time_download;
      t.all_time_uploaded = st.all_time_upload;
      t.seeding_seconds = st.seeding_duration.count();
      if (st.errc) t.error = st.errc.message();
      // Mark who is connected now; a connected peer that has sent nothing still shows up.
      std::vector<lt::peer_info> peers;
      st.handle.get_peer_info(peers);
      std::vector<int> connected;
      for (auto& pi : peers) {
        // Still handshaking: no peer id yet, and the row would outlive the connection.
        if (!pi.pid.is_all_zeros()) connected.push_back(r->ledger->slot(pi.pid, pi.ip));
      }
      t.provenance = r->ledger->rows();
      for (int slot : connected) t.provenance[static_cast<size_t>(slot)].connected = true;
      if (with_piece_sources) {
        t.piece_source = r->ledger->piece_sources();
        // A piece we have not got (failed hash, or still downloading) has no source yet.
        for (int i = 0; i < r->num_pieces; ++i)
          if (i >= st.pieces.size() || !st.pieces[lt::piece_index_t(i)]) t.piece_source[i] = -1;
      }
      out.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    SC_WARN("swarm status failed", {"error", e.what()});
  }
  return out;
}

std::optional<TorrentStatus> SwarmSession::status_of(std::string_view infohash, bool with_piece_sources) const {
  for (auto& t : status(with_piece_sources))
    if (t.infohash == infohash) return t;
  return std::nullopt;
}

void SwarmSession::on_complete(std::function<void(const std::string&)> fn) { impl_->complete_cb = std::move(fn); }

void SwarmSession::on_error(std::function<void(const std::string&, const std::string&)> fn) {
  impl_->error_cb = std::move(fn);
}

Status SwarmSession::connect_peer(std::string_view infohash, std::string_view endpoint) try {
  auto it = impl_->torrents.find(std::string(infohash));
  if (it == impl_->torrents.end()) return fail(Errc::not_found, "no torrent " + std::string(infohash));
  auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return fail(Errc::invalid_argument, "peer must be ip:port");
  std::string host(endpoint.substr(0, colon));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  lt::error_code ec;
  auto addr = lt::make_address(host, ec);
  int port = std::atoi(std::string(endpoint.substr(colon + 1)).c_str());
  if (ec || port <= 0 || port > 65535) return fail(Errc::invalid_argument, "bad peer address " + std::string(endpoint));
  it->second.h.connect_peer(lt::tcp::endpoint(addr, static_cast<uint16_t>(port)));
  return {};
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("connect_peer: ") + e.what());
}

void SwarmSession::save_resume_data() {
  try {
    for (auto& [ih, r] : impl_->torrents) impl_->save_one(r.h, true);
  } catch (const std::exception& e) {
    SC_WARN("saving resume data failed", {"error", e.what()});
  }
}

void SwarmSession::shutdown(std::function<void()> done) {
  auto& im = *impl_;
  if (im.shutting_down) {
    if (done) im.loop->defer(std::move(done));
    return;
  }
  im.shutting_down = true;
  im.shutdown_done = done ? std::move(done) : [] {};
  im.save_timer.reset();
  try {
    if (im.ses) {
      im.ses->pause();
      for (auto& [ih, r] : im.torrents) im.save_one(r.h, false);
    }
  } catch (const std::exception& e) {
    SC_WARN("saving resume data at shutdown failed", {"error", e.what()});
  }
  std::weak_ptr<Impl> weak = impl_;
  im.shutdown_timer = im.loop->after(kShutdownSaveWaitMs, [weak] {
    if (auto self = weak.lock()) {
      if (self->shutdown_done) {
        SC_WARN("resume data not all saved before the shutdown deadline", {"pending", self->pending_saves});
        self->finish_shutdown();
      }
    }
  });
  im.maybe_finish_shutdown();
}

int64_t SwarmSession::dropped_alerts() const { return impl_->dropped.load(); }
int64_t SwarmSession::first_copy_rejects() const { return impl_->first_copy->rejected.load(); }
int64_t SwarmSession::first_copy_suggests() const { return impl_->first_copy->suggested.load(); }
int64_t SwarmSession::first_copy_tail_copies() const { return impl_->first_copy->tail_copies.load(); }
int64_t SwarmSession::first_copy_repeat_copies() const { return impl_->first_copy->repeat_copies.load(); }

}  // namespace sc
