// Seeder logic: scan → seed → register, kept in sync with the data directory through inotify.
// The scan (and any hashing) runs on a background thread; everything else on the loop.
#include "services/seeder/seeder.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/swarm/metastore_client.h"
#include "common/swarm/node.h"
#include "services/seeder/scanner.h"

namespace sc {
namespace {

// inotify is read from a short timer rather than an fd watch: it keeps libevent out of the
// service, and a quarter second is far below the settle delay anyway.
constexpr int64_t kInotifyPollMs = 250;
// Wait this long after a change before rescanning, so a file being copied is seen whole.
constexpr int64_t kSettleMs = 1000;
// Safety net for lost inotify events (queue overflow, network file systems).
constexpr int64_t kFullRescanMs = 300'000;
// Registration retries while the metastore is down or refusing.
constexpr int64_t kRegisterRetryMs = 5000;
constexpr uint32_t kWatchMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;

enum class Reg { pending, registered, failed };

struct Pub {
  std::string infohash, torrent, save_path;
  Reg reg = Reg::pending;
  bool in_flight = false;
  bool replaced = false;  // the key held another infohash before (file changed)
  std::string error;
};

}  // namespace

void declare_seeder_options(Options& o, SeederOptions& c) {
  o.add_bool("seeder.dir_torrents", &c.dir_torrents,
             "Also make one torrent per subdirectory (key dirs/<path>). Off: its bytes are already in the "
             "files' torrents, and a leecher following both would download them twice.",
             "dir-torrents");
}

struct Seeder::Impl {
  SwarmNode& node;
  SeederOptions opt;
  int inotify_fd = -1;
  std::unique_ptr<Timer> poll_timer, rescan_timer, full_timer, retry_timer;
  bool rescan_scheduled = false;
  bool scanning = false, dirty = false, first_scan_done = false, stopping = false;
  std::thread scan_thread;
  std::map<std::string, Pub> published;  // by key
  std::map<std::string, int> ih_refs;    // keys per infohash (identical content under two keys)
  int64_t scans = 0;
  std::vector<std::string> last_errors;
  Counter& scans_total;
  Counter& hashed_bytes;
  Counter& registered_total;
  Counter& register_failures;
  Counter& unpublished_total;

  Impl(SwarmNode& n, SeederOptions o)
      : node(n),
        opt(o),
        scans_total(n.metrics().counter("swarmcache_seeder_scans_total", "Data directory scans.")),
        hashed_bytes(n.metrics().counter("swarmcache_seeder_hashed_bytes_total", "Bytes hashed into new torrents.")),
        registered_total(n.metrics().counter("swarmcache_seeder_registrations_total", "Keys registered with the metastore.")),
        register_failures(n.metrics().counter("swarmcache_seeder_registration_failures_total", "Failed registrations.")),
        unpublished_total(n.metrics().counter("swarmcache_seeder_unpublished_total", "Keys unregistered after removal.")) {}

  ~Impl() {
    if (scan_thread.joinable()) scan_thread.join();
    if (inotify_fd >= 0) ::close(inotify_fd);
  }

  void schedule_rescan(int64_t delay_ms) {
    if (rescan_scheduled || stopping) return;
    rescan_scheduled = true;
    rescan_timer = node.loop().after(delay_ms, [this] {
      rescan_scheduled = false;
      start_scan();
    });
  }

  void start_scan() {
    if (stopping) return;
    if (scanning) {
      dirty = true;
      return;
    }
    scanning = true;
    dirty = false;
    if (scan_thread.joinable()) scan_thread.join();
    ScanOptions so;
    so.data_dir = node.config().data;
    so.state_dir = node.config().state;
    so.tracker = node.config().tracker;
    so.settle_ms = kSettleMs;
    so.now_ms = system_now_ms();
    so.dir_torrents = opt.dir_torrents;
    int fd = inotify_fd;
    so.on_directory = [fd](const std::string& dir) {
      if (fd >= 0) ::inotify_add_watch(fd, dir.c_str(), kWatchMask);
    };
    EventLoop* loop = &node.loop();
    scan_thread = std::thread([this, so, loop] {
      auto result = std::make_shared<Result<ScanResult>>(scan_data_dir(so));
      loop->defer([this, result] { on_scan(*result); });
    });
  }

  void on_scan(Result<ScanResult>& r) {
    scanning = false;
    if (scan_thread.joinable()) scan_thread.join();
    if (stopping) return;
    ++scans;
    scans_total.inc();
    if (!r) {
      SC_ERROR("cannot scan the data directory", {"data", node.config().data}, {"error", r.error().message});
      last_errors = {r.error().message};
      schedule_rescan(kRegisterRetryMs);
      return;
    }
    hashed_bytes.inc(static_cast<uint64_t>(r->hashed_bytes));
    last_errors = r->errors;
    for (auto& e : r->errors) SC_WARN("scan problem", {"detail", e});

    std::set<std::string> seen;
    for (auto& e : r->entries) {
      seen.insert(e.key);
      auto it = published.find(e.key);
      if (it != published.end() && it->second.infohash == e.infohash) continue;
      bool replaced = false;
      if (it != published.end()) {
        release(it->second.infohash);
        published.erase(it);
        replaced = true;
      }
      AddTorrentOptions ao;
      ao.key = e.key;
      ao.save_path = e.save_path;
      ao.seed_mode = e.fresh;
      ao.super_seed = node.config().super_seed;
      ao.first_copy = node.config().first_copy;
      auto ih = node.swarm().add(e.torrent, ao);
      if (!ih) {
        SC_WARN("cannot seed", {"key", e.key}, {"error", ih.error().message});
        continue;
      }
      ih_refs[*ih]++;
      Pub p;
      p.infohash = *ih;
      p.torrent = std::move(e.torrent);
      p.save_path = e.save_path;
      p.replaced = replaced;
      published.emplace(e.key, std::move(p));
      register_key(e.key);
    }
    for (auto it = published.begin(); it != published.end();) {
      if (seen.count(it->first) || (!r->errors.empty() && r->entries.empty())) {
        ++it;
        continue;
      }
      SC_INFO("unpublishing", {"key", it->first});
      release(it->second.infohash);
      std::string key = it->first;
      node.metastore().post([key](const MetastoreClient& c) { (void)c.remove(key); });
      unpublished_total.inc();
      it = published.erase(it);
    }
    // Ready only after a scan that saw everything: a file still being written is not served.
    if (!first_scan_done && !r->unsettled) {
      first_scan_done = true;
      SC_INFO("first scan done", {"entries", static_cast<int64_t>(published.size())},
              {"hashed_bytes", r->hashed_bytes});
    }
    if (r->unsettled || dirty) schedule_rescan(kSettleMs);
  }

  void release(const std::string& ih) {
    auto it = ih_refs.find(ih);
    if (it == ih_refs.end()) return;
    if (--it->second > 0) return;
    ih_refs.erase(it);
    (void)node.swarm().remove(ih);
  }

  void register_key(const std::string& key) {
    auto it = published.find(key);
    if (it == published.end() || it->second.in_flight) return;
    Pub& p = it->second;
    p.in_flight = true;
    auto status = std::make_shared<Result<int>>(0);
    std::string torrent = p.torrent;
    bool replaced = p.replaced;
    node.metastore().post(
        [key, torrent, replaced, status](const MetastoreClient& c) {
          *status = c.put_torrent(key, torrent);
          // Our file changed under the same key: the old registration is ours to replace.
          if (!*status && status->error().code == Errc::conflict && replaced) {
            (void)c.remove(key);
            *status = c.put_torrent(key, torrent);
          }
        },
        [this, key, torrent, status] {
          auto it = published.find(key);
          if (it == published.end() || it->second.torrent != torrent) return;  // superseded
          Pub& p = it->second;
          p.in_flight = false;
          if (*status) {
            p.reg = Reg::registered;
            p.replaced = false;
            p.error.clear();
            registered_total.inc();
          } else {
            p.reg = Reg::failed;
            p.error = status->error().message;
            register_failures.inc();
            SC_WARN("registration failed", {"key", key}, {"error", p.error});
          }
        });
  }

  void poll_inotify() {
    if (inotify_fd < 0) return;
    alignas(inotify_event) char buf[16384];
    bool any = false;
    for (;;) {
      ssize_t n = ::read(inotify_fd, buf, sizeof buf);
      if (n <= 0) break;
      any = true;
    }
    if (any) schedule_rescan(kSettleMs);
  }

  size_t pending() const {
    size_t n = 0;
    for (auto& [k, p] : published) n += p.reg != Reg::registered;
    return n;
  }

  std::vector<StatusField> status_fields() const {
    Json pubs = Json::array();
    for (auto& [k, p] : published) {
      Json pub = Json::object();
      pub.set("key", k).set("infohash", p.infohash).set("registered", p.reg == Reg::registered);
      if (!p.error.empty()) pub.set("error", p.error);
      pubs.push(std::move(pub));
    }
    Json errs = Json::array();
    for (const auto& e : last_errors) errs.push(Json::string(e));
    return {{"data_dir", Json::string(node.config().data)},
            {"scans", Json::integer(scans)},
            {"scanning", Json::boolean(scanning)},
            {"published", pubs},
            {"scan_errors", errs}};
  }

};

Seeder::Seeder(SwarmNode& node, SeederOptions options) : impl_(std::make_unique<Impl>(node, options)) {}
Seeder::~Seeder() = default;

Status Seeder::start() {
  Impl* p = impl_.get();
  p->inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (p->inotify_fd < 0)
    SC_WARN("inotify unavailable; relying on periodic rescans", {"error", std::strerror(errno)});
  auto& loop = p->node.loop();
  p->poll_timer = loop.every(kInotifyPollMs, [p] { p->poll_inotify(); });
  p->full_timer = loop.every(kFullRescanMs, [p] { p->start_scan(); });
  p->retry_timer = loop.every(kRegisterRetryMs, [p] {
    for (auto& [k, pub] : p->published)
      if (pub.reg != Reg::registered && !pub.in_flight) p->register_key(k);
  });
  p->node.set_status_extra([p] { return p->status_fields(); });
  p->node.set_ready_check([p] { return p->first_scan_done && p->pending() == 0; });
  p->node.set_shutdown_hook([p](std::function<void()> done) {
    p->stopping = true;
    p->poll_timer.reset();
    p->full_timer.reset();
    p->retry_timer.reset();
    p->rescan_timer.reset();
    // A scan in progress finishes its hashing (bounded by the data size); its result is
    // dropped and its cache entries are valid for the next start.
    if (p->scan_thread.joinable()) p->scan_thread.join();
    done();
  });
  loop.defer([p] { p->start_scan(); });
  return {};
}

}  // namespace sc
