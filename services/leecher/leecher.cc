// Leecher logic: event follower (long-poll on the metastore worker thread), torrent store in
// the state dir, seed policy, and the leecher's part of the status document.
#include "services/leecher/leecher.h"

#include <fnmatch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/core/atomic_file.h"
#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "common/swarm/metastore_client.h"
#include "common/swarm/node.h"
#include "common/swarm/torrent_maker.h"
#include "proto/content_key.h"
#include "services/leecher/leecher_state.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

// Back-off between failed event polls: quick first retries, then no faster than every 10 s.
constexpr int64_t kRetryMinMs = 500;
constexpr int64_t kRetryMaxMs = 10'000;
// How often seed policies are checked; policies are in seconds to hours.
constexpr int64_t kPolicyCheckMs = 1000;
// Listing page size for the first sync.
constexpr int kListPage = 500;
// Keys followed at once: a bound on what a hostile metastore can make us add.
constexpr size_t kMaxItems = 100'000;
// Download durations, seconds: from a small file on a LAN to a large image over a slow link.
const std::vector<double> kDurationBuckets = {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};

// The literal part of a glob before its first wildcard: what the first sync lists by prefix.
std::string glob_prefix(const std::string& glob) {
  auto pos = glob.find_first_of("*?[\\");
  return glob.substr(0, pos);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// One fetched change, applied on the loop in stream order.
struct Change {
  std::string type;  // "put" | "delete"
  std::string key, infohash, torrent;
};

struct PollResult {
  Status status;
  std::vector<Change> changes;
  std::string last_id;
};

}  // namespace

void declare_leecher_options(Options& o, LeecherConfig& c) {
  o.add_string("select", &c.select, "Glob of content keys to follow, e.g. files/* (default all).", "select");
  o.add_duration("seed.time", &c.seed_time_ms, "Seed this long after completion, then stop (0 = no limit).", "seed-time");
  o.add_string("seed.ratio", &c.seed_ratio, "Stop seeding at this upload/size ratio (0 = no limit).", "seed-ratio");
  o.add_duration("events.wait", &c.poll_wait_ms, "Long-poll wait of each events request.", "events-wait");
}

bool key_selected(const std::string& glob, const std::string& key) {
  return glob.empty() || ::fnmatch(glob.c_str(), key.c_str(), 0) == 0;
}

struct Leecher::Impl {
  SwarmNode& node;
  LeecherConfig cfg;
  double seed_ratio = 0;
  LeecherState state;
  bool synced = false, stopping = false, polling = false;
  int64_t retry_ms = kRetryMinMs;
  std::unique_ptr<Timer> retry_timer, policy_timer;
  bool retry_scheduled = false;
  Counter& events_applied;
  Counter& poll_failures;
  Counter& completed;
  Counter& retired;
  Histogram& download_seconds;
  Family<Gauge>& key_download_seconds;
  std::map<std::string, int64_t> added_ms;  // infohash → when this run started downloading it
  std::set<std::string> key_download_seconds_keys;  // at most kMaxKeyedSeries

  Impl(SwarmNode& n, LeecherConfig c)
      : node(n),
        cfg(std::move(c)),
        events_applied(n.metrics().counter("swarmcache_leecher_events_applied_total", "Metastore events applied.")),
        poll_failures(n.metrics().counter("swarmcache_leecher_event_poll_failures_total", "Failed event polls.")),
        completed(n.metrics().counter("swarmcache_leecher_completed_total", "Torrents fully downloaded and verified.")),
        retired(n.metrics().counter("swarmcache_leecher_retired_total", "Torrents whose seed policy ended.")),
        download_seconds(n.metrics().histogram("swarmcache_leecher_download_duration_seconds",
                                               "From adding a torrent to having every piece verified.",
                                               kDurationBuckets)),
        key_download_seconds(n.metrics().gauge_family("swarmcache_leecher_key_download_seconds",
                                                      "Last download duration per content key (the first keys only).",
                                                      {"key"})) {}

  const std::string& state_dir() const { return node.config().state; }

  std::string save_path_for(const std::string& key) const {
    auto slash = key.rfind('/');
    if (slash == std::string::npos) return node.config().data;
    return node.config().data + "/" + key.substr(0, slash);
  }

  void save() {
    if (auto st = save_leecher_state(state_dir(), state); !st)
      SC_ERROR("cannot save leecher state", {"error", st.error().message});
  }

  Status add_to_swarm(const std::string& key, const std::string& torrent) {
    std::error_code ec;
    fs::create_directories(save_path_for(key), ec);
    if (ec) return fail(Errc::io, "cannot create " + save_path_for(key) + ": " + ec.message());
    AddTorrentOptions ao;
    ao.key = key;
    ao.save_path = save_path_for(key);
    if (!node.config().tracker.empty()) ao.trackers.push_back(node.config().tracker);
    auto ih = node.swarm().add(torrent, ao);
    if (!ih) return std::unexpected(ih.error());
    added_ms.try_emplace(*ih, node.loop().clock().mono_ms());
    return {};
  }

  // Re-adds what the previous run followed; resume data makes this cheap.
  void restore() {
    for (auto& [key, item] : state.items) {
      if (item.retired) continue;
      std::string torrent = read_file(leecher_torrent_path(state_dir(), item.infohash));
      if (torrent.empty()) {
        SC_WARN("torrent missing from state; will refetch on the next event", {"key", key});
        continue;
      }
      if (auto st = add_to_swarm(key, torrent); !st)
        SC_WARN("cannot resume", {"key", key}, {"error", st.error().message});
    }
  }

  void apply(const Change& ch) {
    events_applied.inc();
    auto it = state.items.find(ch.key);
    if (ch.type == "delete") {
      if (it == state.items.end()) return;
      bool shared = false;
      for (auto& [k, other] : state.items) shared = shared || (k != ch.key && other.infohash == it->second.infohash && !other.retired);
      if (!shared) (void)node.swarm().remove(it->second.infohash);
      SC_INFO("key deleted upstream; stopped", {"key", ch.key});
      state.items.erase(it);
      return;
    }
    if (ch.torrent.empty()) return;  // vanished before we fetched it
    if (it != state.items.end() && it->second.infohash == ch.infohash) {
      // Already known: make sure it is in the swarm (first sync + replayed events).
      if (!it->second.retired && !node.swarm().contains(ch.infohash)) (void)add_to_swarm(ch.key, ch.torrent);
      return;
    }
    if (it == state.items.end() && state.items.size() >= kMaxItems) {
      SC_WARN("too many keys followed; ignoring", {"key", ch.key});
      return;
    }
    if (it != state.items.end()) (void)node.swarm().remove(it->second.infohash);  // content replaced
    if (auto st = write_file_atomically(leecher_torrent_path(state_dir(), ch.infohash), ch.torrent); !st) {
      SC_ERROR("cannot store torrent", {"key", ch.key}, {"error", st.error().message});
      return;
    }
    if (auto st = add_to_swarm(ch.key, ch.torrent); !st) {
      SC_WARN("cannot add torrent", {"key", ch.key}, {"error", st.error().message});
      return;
    }
    LeecherItem item;
    item.infohash = ch.infohash;
    state.items[ch.key] = item;
    SC_INFO("following", {"key", ch.key}, {"infohash", ch.infohash});
  }

  // Fetches the torrents of matching put events (worker thread).
  static void fetch(const MetastoreClient& c, std::vector<Change>& changes) {
    for (auto& ch : changes) {
      if (ch.type != "put") continue;
      auto t = c.get_torrent(ch.key);
      if (!t) continue;  // deleted since, or unreachable: a later event or restart fixes it
      auto s = inspect_torrent(*t);
      if (!s) {
        SC_WARN("metastore served an unreadable torrent", {"key", ch.key}, {"error", s.error().message});
        continue;
      }
      ch.infohash = s->infohash;
      ch.torrent = std::move(*t);
    }
  }

  void first_sync() {
    polling = true;
    auto result = std::make_shared<PollResult>();
    std::string select = cfg.select, prefix = glob_prefix(cfg.select);
    node.metastore().post(
        [result, select, prefix](const MetastoreClient& c) {
          std::string cursor;
          for (;;) {
            auto page = c.list(prefix, kListPage, cursor);
            if (!page) {
              result->status = std::unexpected(page.error());
              return;
            }
            for (auto& it : page->items)
              if (key_selected(select, it.key) && result->changes.size() < kMaxItems)
                result->changes.push_back({"put", it.key, it.infohash, ""});
            if (page->cursor.empty() || page->items.empty()) break;
            cursor = page->cursor;
          }
          fetch(c, result->changes);
        },
        [this, result] {
          polling = false;
          if (stopping) return;
          if (!result->status) {
            poll_failures.inc();
            SC_WARN("first sync failed; retrying", {"error", result->status.error().message});
            schedule_retry([this] { first_sync(); });
            return;
          }
          for (auto& ch : result->changes) apply(ch);
          state.last_event_id = "0";  // then replay the stream from its start: idempotent
          save();
          retry_ms = kRetryMinMs;
          poll();
        });
  }

  void poll() {
    if (stopping || polling) return;
    polling = true;
    auto result = std::make_shared<PollResult>();
    std::string after = state.last_event_id, select = cfg.select;
    int64_t wait = cfg.poll_wait_ms;
    node.metastore().post(
        [result, after, select, wait](const MetastoreClient& c) {
          auto page = c.events(after, wait);
          if (!page) {
            result->status = std::unexpected(page.error());
            return;
          }
          for (auto& e : page->events)
            if (key_selected(select, e.key)) result->changes.push_back({e.type, e.key, e.infohash, ""});
          result->last_id = page->last_id;
          fetch(c, result->changes);
        },
        [this, result] {
          polling = false;
          if (stopping) return;
          if (!result->status) {
            poll_failures.inc();
            if (result->status.error().code == Errc::gone) {
              // Our last event id was trimmed from the metastore's history: rebuild from the
              // listing rather than miss what happened in between.
              SC_WARN("event history trimmed past our last id; resyncing from the listing");
              return first_sync();
            }
            SC_DEBUG("event poll failed", {"error", result->status.error().message});
            schedule_retry([this] { poll(); });
            return;
          }
          for (auto& ch : result->changes) apply(ch);
          if (!result->last_id.empty()) state.last_event_id = result->last_id;
          save();
          synced = true;
          retry_ms = kRetryMinMs;
          poll();
        });
  }

  void schedule_retry(std::function<void()> fn) {
    if (retry_scheduled || stopping) return;
    retry_scheduled = true;
    retry_timer = node.loop().after(retry_ms, [this, fn] {
      retry_scheduled = false;
      fn();
    });
    retry_ms = std::min(retry_ms * 2, kRetryMaxMs);
  }

  void on_complete(const std::string& ih) {
    bool changed = false;
    auto added = added_ms.find(ih);
    double seconds = added == added_ms.end() ? -1 : static_cast<double>(node.loop().clock().mono_ms() - added->second) / 1000;
    for (auto& [key, item] : state.items) {
      if (item.infohash != ih || item.complete) continue;
      item.complete = true;
      item.completed_at_ms = system_now_ms();
      changed = true;
      if (seconds >= 0 && key_download_seconds_keys.size() < kMaxKeyedSeries) key_download_seconds_keys.insert(key);
      if (seconds >= 0 && key_download_seconds_keys.contains(key))
        key_download_seconds.with({key}).set(static_cast<int64_t>(seconds + 0.5));
      SC_INFO("complete", {"key", key}, {"infohash", ih});
    }
    if (added != added_ms.end()) added_ms.erase(added);
    if (!changed) return;
    // One torrent, however many keys share its bytes.
    completed.inc();
    if (seconds >= 0) download_seconds.observe(seconds);
    save();
  }

  void check_policy() {
    if (cfg.seed_time_ms <= 0 && seed_ratio <= 0) return;  // seed forever
    bool changed = false;
    for (auto& t : node.swarm().status()) {
      if (!t.complete) continue;
      bool stop_time = cfg.seed_time_ms > 0 && t.seeding_seconds * 1000 >= cfg.seed_time_ms;
      bool stop_ratio = seed_ratio > 0 && t.size > 0 &&
                        static_cast<double>(t.all_time_uploaded) / static_cast<double>(t.size) >= seed_ratio;
      if (!stop_time && !stop_ratio) continue;
      (void)node.swarm().remove(t.infohash);
      for (auto& [key, item] : state.items)
        if (item.infohash == t.infohash && !item.retired) {
          item.retired = true;
          retired.inc();
          changed = true;
          SC_INFO("seed policy met; stopped seeding", {"key", key}, {"by", stop_time ? "time" : "ratio"});
        }
    }
    if (changed) save();
  }

  std::vector<StatusField> status_fields() const {
    Json items = Json::array();
    for (auto& [k, it] : state.items) {
      Json item = Json::object();
      item.set("key", k).set("infohash", it.infohash).set("complete", it.complete).set("retired", it.retired);
      items.push(std::move(item));
    }
    Json policy = Json::string("forever");
    if (cfg.seed_time_ms > 0 || seed_ratio > 0) {
      policy = Json::object();
      policy.set("seed_time_ms", cfg.seed_time_ms).set("seed_ratio", seed_ratio);
    }
    return {{"select", Json::string(cfg.select)},
            {"last_event_id", Json::string(state.last_event_id)},
            {"synced", Json::boolean(synced)},
            {"policy", policy},
            {"items", items}};
  }

};

Leecher::Leecher(SwarmNode& node, LeecherConfig config) : impl_(std::make_unique<Impl>(node, std::move(config))) {}
Leecher::~Leecher() = default;

Status Leecher::start() {
  Impl* p = impl_.get();
  if (!p->cfg.seed_ratio.empty()) {
    char* end = nullptr;
    p->seed_ratio = std::strtod(p->cfg.seed_ratio.c_str(), &end);
    if (*end || p->seed_ratio < 0 || !std::isfinite(p->seed_ratio))
      return fail(Errc::invalid_argument, "seed ratio must be a non-negative number");
  }
  if (p->cfg.seed_time_ms < 0) return fail(Errc::invalid_argument, "seed time must not be negative");
  std::error_code ec;
  fs::create_directories(p->state_dir() + "/torrents", ec);
  if (ec) return fail(Errc::io, "cannot create " + p->state_dir() + "/torrents: " + ec.message());
  fs::create_directories(p->node.config().data, ec);
  if (ec) return fail(Errc::io, "cannot create " + p->node.config().data + ": " + ec.message());
  auto st = load_leecher_state(p->state_dir());
  if (!st) return std::unexpected(st.error());
  p->state = std::move(*st);
  p->restore();

  p->node.swarm().on_complete([p](const std::string& ih) { p->on_complete(ih); });
  p->policy_timer = p->node.loop().every(kPolicyCheckMs, [p] { p->check_policy(); });
  p->node.set_status_extra([p] { return p->status_fields(); });
  p->node.set_ready_check([p] { return p->synced; });
  p->node.set_shutdown_hook([p](std::function<void()> done) {
    p->stopping = true;
    p->retry_timer.reset();
    p->policy_timer.reset();
    p->save();
    done();
  });
  p->node.loop().defer([p] {
    if (p->state.last_event_id.empty())
      p->first_sync();
    else
      p->poll();
  });
  return {};
}

}  // namespace sc
