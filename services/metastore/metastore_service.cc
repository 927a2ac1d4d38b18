// The metastore's HTTP API over a TorrentStore: request parsing and limits, auth, the JSON
// error shape, conditional GET, paging cursors, events as long-poll pages or SSE streams,
// leases, node heartbeats, GC and request metrics. Every handler answers from the loop
// thread, usually after one store round trip (the request is held meanwhile).
#include "services/metastore/metastore_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>

#include "common/core/bytes.h"
#include "common/core/config.h"
#include "common/core/log.h"
#include "proto/content_key.h"
#include "proto/metainfo.h"
#include "proto/metastore_api.h"

namespace sc::metastore {
namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kTorrentType = "application/x-bittorrent";

const char* const kRouteNames[] = {"put", "get", "head", "delete", "list", "events", "lease_post", "lease_delete",
                                   "node_put", "nodes", "healthz", "readyz", "metrics", "quarantine", "other"};

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

using Query = std::vector<std::pair<std::string, std::string>>;

Result<Query> parse_query(std::string_view q) {
  Query out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (part.empty()) continue;
    if (out.size() >= kMaxQueryParams) return fail(Errc::invalid_argument, "too many query parameters");
    size_t eq = part.find('=');
    auto k = percent_decode(part.substr(0, eq));
    auto v = percent_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!k || !v) return fail(Errc::invalid_argument, "bad escape in query string");
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

const std::string* param(const Query& q, std::string_view name) {
  for (auto& [k, v] : q) {
    if (k == name) return &v;
  }
  return nullptr;
}

// The content key from a path below `prefix`, percent-decoded and validated.
Result<std::string> key_from_path(std::string_view path, std::string_view prefix) {
  auto key = percent_decode(path.substr(prefix.size()), false);
  if (!key) return fail(Errc::invalid_argument, "bad escape in key");
  if (auto k = parse_content_key(*key); !k) return std::unexpected(k.error());
  return std::move(*key);
}

struct EventId {
  uint64_t ms = 0, seq = 0;
  auto operator<=>(const EventId&) const = default;
};

// Stream ids: "<ms>-<seq>", "<ms>" or "0". Anything else is a client error.
std::optional<EventId> parse_event_id(std::string_view s) {
  EventId id;
  size_t dash = s.find('-');
  std::string_view a = s.substr(0, dash), b = dash == std::string_view::npos ? "0" : s.substr(dash + 1);
  if (a.empty() || b.empty() || a.size() > 20 || b.size() > 20) return std::nullopt;
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), id.ms);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), id.seq);
  if (r1.ec != std::errc() || r1.ptr != a.data() + a.size() || r2.ec != std::errc() || r2.ptr != b.data() + b.size()) {
    return std::nullopt;
  }
  return id;
}

std::string canonical_id(const EventId& id) { return std::to_string(id.ms) + "-" + std::to_string(id.seq); }

bool accepts(std::string_view accept, std::string_view type) { return accept.find(type) != std::string_view::npos; }

// If-None-Match: "*", or a list of (possibly weak) entity tags.
bool etag_matches(std::string_view inm, std::string_view infohash) {
  if (inm.empty()) return false;
  if (inm.find('*') != std::string_view::npos) return true;
  size_t at = inm.find(infohash);
  return at != std::string_view::npos;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeIdBytes) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string sse_event(const MetaEvent& e) {
  std::string out = "id: " + e.id + "\nevent: " + e.type + "\ndata: " + to_json(e) + "\n\n";
  return out;
}

}  // namespace

struct MetastoreService::Waiter {
  std::shared_ptr<HttpRequest> req;
  std::string after;
  int64_t deadline_ms = 0;  // long-poll only; monotonic, like every deadline
  bool sse = false;
  bool started = false;  // SSE: headers sent
  int64_t t0 = 0;
  int64_t last_write_ms = 0;
  std::unique_ptr<Timer> start_timer;  // SSE: starts the stream on the next loop turn
  bool fetching = false;
  bool done = false;
};

MetastoreService::MetastoreService(struct event_base* base, const Clock& clock, TorrentStore& store, const TokenAuth& auth,
                                   MetricsRegistry& metrics, MetastoreConfig config, bool housekeeping)
    : base_(base),
      clock_(clock),
      store_(store),
      auth_(auth),
      cfg_(config),
      metrics_(metrics),
      requests_(metrics.counter_family("swarmcache_metastore_requests_total", "HTTP requests by route and status",
                                       {"route", "code"})),
      request_counters_(kRouteCount),
      torrents_(metrics.gauge("swarmcache_metastore_torrents", "Torrents stored (refreshed every few seconds)")),
      waiters_gauge_(metrics.gauge("swarmcache_metastore_event_waiters", "Long-polls and SSE streams open")),
      gc_deleted_(metrics.counter("swarmcache_metastore_gc_deleted_total", "Torrents deleted by the GC policy")),
      quarantined_(metrics.counter("swarmcache_metastore_quarantined_total",
                                   "Quarantine requests (torrents reported as failing verification)")),
      internal_errors_(metrics.counter("swarmcache_metastore_internal_errors_total", "Requests that failed on our side")),
      housekeeping_(housekeeping) {
  auto& dur = metrics.histogram_family("swarmcache_metastore_request_duration_seconds", "HTTP request latency by route",
                                       {"route"});
  for (int r = 0; r < kRouteCount; ++r) durations_.push_back(&dur.with({kRouteNames[r]}));
}

MetastoreService::~MetastoreService() { *alive_ = false; }

void MetastoreService::install_routes(HttpServer& server, std::function<MetastoreService*()> current) {
  auto route = [&server, current](std::string pattern, void (MetastoreService::*fn)(HttpRequest&)) {
    server.route(std::move(pattern), [current, fn](HttpRequest& r) { (current()->*fn)(r); });
  };
  route("/v1/torrents", &MetastoreService::on_torrents);
  route("/v1/torrents/*", &MetastoreService::on_torrent);
  route("/v1/events", &MetastoreService::on_events);
  route("/v1/leases/*", &MetastoreService::on_lease);
  route("/v1/quarantine/*", &MetastoreService::on_quarantine);
  route("/v1/nodes", &MetastoreService::on_nodes);
  route("/v1/nodes/*", &MetastoreService::on_node);
  route("/healthz", &MetastoreService::on_healthz);
  route("/readyz", &MetastoreService::on_readyz);
  route("/metrics", &MetastoreService::on_metrics);
}

void MetastoreService::on_healthz(HttpRequest& r) { send(r, kHealthz, mono_ns(), 200, "text/plain", "ok\n"); }

void MetastoreService::on_metrics(HttpRequest& r) {
  send(r, kMetrics, mono_ns(), 200, "text/plain; version=0.0.4", metrics_.render());
}

void MetastoreService::start(const std::atomic<bool>* stop_flag) {
  stop_flag_ = stop_flag;
  touch_timer_ = EventLoop::timer_on(base_, kTouchFlushMs, true, [this] { store_.flush_touches(); });
  waiter_timer_ = EventLoop::timer_on(base_, kEventPollMs, true, [this] {
    if (stop_flag_ && !stopping_ && stop_flag_->load(std::memory_order_relaxed)) stop();
    on_waiter_tick();
  });
  if (!housekeeping_) return;
  auto refresh = [this, alive = alive_] {
    store_.count([this, alive](Result<int64_t> n) {
      if (*alive && n) torrents_.set(*n);
    });
  };
  refresh();
  count_timer_ = EventLoop::timer_on(base_, kCountRefreshMs, true, refresh);
  if (cfg_.gc_max_age_ms > 0 || cfg_.gc_max_count > 0) {
    gc_timer_ = EventLoop::timer_on(base_, cfg_.gc_interval_ms, true, [this] { run_gc(); });
  }
}

void MetastoreService::stop() {
  stopping_ = true;
  for (auto& w : waiters_) {
    if (w->done) continue;
    if (w->req->alive()) finish_waiter(*w);
    w->done = true;
  }
  waiters_gauge_.add(-static_cast<int64_t>(waiters_.size()));
  waiters_.clear();
  store_.flush_touches();
}

// ---------------------------------------------------------------------------------------------
// replies and metrics

void MetastoreService::record(Route route, int status, int64_t t0) {
  auto& cache = request_counters_[route];
  auto it = cache.find(status);
  if (it == cache.end()) {
    it = cache.emplace(status, &requests_.with({kRouteNames[route], std::to_string(status)})).first;
  }
  it->second->inc();
  durations_[route]->observe(static_cast<double>(mono_ns() - t0) / 1e9);
}

void MetastoreService::send(HttpRequest& req, Route route, int64_t t0, int status, std::string_view content_type,
                            std::string_view body) {
  if (!req.alive()) {
    record(route, 499, t0);  // the client went away first (nginx's convention)
    return;
  }
  req.reply(status, content_type, body);
  record(route, status, t0);
}

void MetastoreService::send_error(HttpRequest& req, Route route, int64_t t0, const Error& err) {
  std::string message = err.message;
  if (err.code == Errc::internal || err.code == Errc::io) {
    internal_errors_.inc();
    SC_WARN("metastore internal error", {"route", kRouteNames[route]}, {"error", err.message});
    message = "internal error";
  }
  if (err.code == Errc::unauthorized && req.alive()) req.add_header("WWW-Authenticate", "Bearer");
  send(req, route, t0, errc_http_status(err.code), kJson, error_json(errc_name(err.code), message));
}

void MetastoreService::method_not_allowed(HttpRequest& req, Route route, int64_t t0, std::string_view allow) {
  req.add_header("Allow", allow);
  send(req, route, t0, 405, kJson, error_json("method_not_allowed", "method not allowed here"));
}

bool MetastoreService::authorized(HttpRequest& req, Route route, int64_t t0, bool write) {
  if (!write && !cfg_.read_requires_token) return true;
  if (auth_.allows(req.header("Authorization"), clock_.now_s())) return true;
  send_error(req, route, t0, Error{Errc::unauthorized, "a valid bearer token is required"});
  return false;
}

// ---------------------------------------------------------------------------------------------
// torrents

void MetastoreService::on_torrents(HttpRequest& req) {
  int64_t t0 = mono_ns();
  if (req.method() != "GET") return method_not_allowed(req, kList, t0, "GET");
  if (!authorized(req, kList, t0, false)) return;
  auto q = parse_query(req.query());
  if (!q) return send_error(req, kList, t0, q.error());
  std::string prefix, after;
  int64_t limit = kDefaultListLimit;
  if (auto p = param(*q, "prefix")) {
    if (p->size() > kMaxKeyBytes || !is_valid_utf8(*p)) return send_error(req, kList, t0, Error{Errc::invalid_argument, "bad prefix"});
    prefix = *p;
  }
  if (auto l = param(*q, "limit")) {
    auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || ptr != l->data() + l->size() || limit <= 0) {
      return send_error(req, kList, t0, Error{Errc::invalid_argument, "limit must be a positive integer"});
    }
    limit = std::min(limit, kMaxListLimit);
  }
  if (auto c = param(*q, "cursor"); c && !c->empty()) {
    auto k = from_hex(*c);
    if (!k || k->size() > kMaxKeyBytes) return send_error(req, kList, t0, Error{Errc::invalid_argument, "bad cursor"});
    after = std::move(*k);
  }
  auto h = req.hold();
  store_.list(prefix, after, limit, [this, alive = alive_, h, t0](Result<ListResult> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kList, t0, r.error());
    TorrentPage page;
    page.items = std::move(r->items);
    if (r->more && !page.items.empty()) page.cursor = to_hex(page.items.back().key);
    send(*h, kList, t0, 200, kJson, to_json(page));
  });
}

void MetastoreService::on_torrent(HttpRequest& req) {
  int64_t t0 = mono_ns();
  std::string_view m = req.method();
  Route route = m == "PUT" ? kPut : m == "GET" ? kGet : m == "HEAD" ? kHead : m == "DELETE" ? kDelete : kOther;
  if (route == kOther) return method_not_allowed(req, route, t0, "GET, HEAD, PUT, DELETE");
  if (!authorized(req, route, t0, route == kPut || route == kDelete)) return;
  auto key = key_from_path(req.path(), "/v1/torrents/");
  if (!key) return send_error(req, route, t0, key.error());
  switch (route) {
    case kPut: return do_put(req, *key, t0);
    case kDelete: return do_delete(req, *key, t0);
    default: return do_get(req, *key, route == kHead, t0);
  }
}

void MetastoreService::do_put(HttpRequest& req, const std::string& key, int64_t t0) {
  std::string_view ct = req.header("Content-Type");
  if (!ct.empty() && !ct.starts_with(kTorrentType) && !ct.starts_with("application/octet-stream")) {
    return send_error(req, kPut, t0, Error{Errc::invalid_argument, "Content-Type must be application/x-bittorrent"});
  }
  std::string_view body = req.body();
  if (static_cast<int64_t>(body.size()) > cfg_.max_torrent_bytes) {
    return send_error(req, kPut, t0, Error{Errc::too_large, "torrent larger than " + std::to_string(cfg_.max_torrent_bytes) + " bytes"});
  }
  if (body.empty()) return send_error(req, kPut, t0, Error{Errc::invalid_argument, "empty body"});
  MetainfoLimits limits;
  limits.bencode.max_size = static_cast<size_t>(cfg_.max_torrent_bytes);
  auto mi = parse_metainfo(body, limits);
  if (!mi) return send_error(req, kPut, t0, mi.error());

  auto meta = std::make_shared<TorrentMeta>();
  meta->key = key;
  meta->kind = std::string(key_kind_name(parse_content_key(key)->kind));
  meta->infohash = mi->infohash_hex();
  meta->infohash_v1 = mi->v1_hex();
  meta->infohash_v2 = mi->v2_hex();
  meta->name = mi->name;
  meta->size = mi->total_size;
  meta->piece_length = mi->piece_length;
  for (auto& f : mi->files) {
    if (!f.pad) meta->files.push_back(TorrentFileEntry{f.path, f.length});
  }
  NewTorrent t{key, meta->infohash, meta->size, std::string(body), to_json(*meta), clock_.now_ms()};
  auto h = req.hold();
  store_.put(std::move(t), [this, alive = alive_, h, t0, meta](Result<PutResult> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kPut, t0, r.error());
    if (r->outcome == PutOutcome::quarantined) {
      return send(*h, kPut, t0, 409, kJson,
                  error_json("quarantined", "this torrent failed verification under this key and is refused here"));
    }
    if (r->outcome == PutOutcome::conflict) {
      return send_error(*h, kPut, t0, Error{Errc::conflict, "key holds another torrent (infohash " + r->infohash + ")"});
    }
    meta->created = r->created_ms;
    meta->last_access = r->created_ms;
    if (h->alive()) h->add_header("ETag", "\"" + meta->infohash + "\"");
    bool created = r->outcome == PutOutcome::created;
    send(*h, kPut, t0, created ? 201 : 200, kJson, to_json(*meta));
    if (created) wake_all();
  });
}

void MetastoreService::do_get(HttpRequest& req, const std::string& key, bool head, int64_t t0) {
  Route route = head ? kHead : kGet;
  store_.touch(key, clock_.now_ms());
  auto h = req.hold();
  if (accepts(req.header("Accept"), kJson)) {
    store_.get_meta(key, [this, alive = alive_, h, t0, route, head](Result<TorrentMeta> r) {
      if (!*alive) return;
      if (!r) return send_error(*h, route, t0, r.error());
      if (!h->alive()) return record(route, 499, t0);
      h->add_header("ETag", "\"" + r->infohash + "\"");
      std::string body = to_json(*r);
      if (head) {
        h->add_header("Content-Length", std::to_string(body.size()));
        body.clear();
      }
      send(*h, route, t0, 200, kJson, body);
    });
    return;
  }
  std::string inm(req.header("If-None-Match"));
  store_.get_bytes(key, [this, alive = alive_, h, t0, route, head, inm](Result<TorrentBytes> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, route, t0, r.error());
    if (!h->alive()) return record(route, 499, t0);
    h->add_header("ETag", "\"" + r->infohash + "\"");
    if (etag_matches(inm, r->infohash)) return send(*h, route, t0, 304, "", "");
    if (head) {
      h->add_header("Content-Length", std::to_string(r->bytes.size()));
      return send(*h, route, t0, 200, kTorrentType, "");
    }
    send(*h, route, t0, 200, kTorrentType, r->bytes);
  });
}

void MetastoreService::do_delete(HttpRequest& req, const std::string& key, int64_t t0) {
  auto h = req.hold();
  store_.remove(key, [this, alive = alive_, h, t0](Result<std::string> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kDelete, t0, r.error());
    send(*h, kDelete, t0, 204, "", "");
    wake_all();
  });
}

void MetastoreService::on_quarantine(HttpRequest& req) {
  int64_t t0 = mono_ns();
  if (req.method() != "POST") return method_not_allowed(req, kQuarantine, t0, "POST");
  if (!authorized(req, kQuarantine, t0, true)) return;
  auto key = key_from_path(req.path(), "/v1/quarantine/");
  if (!key) return send_error(req, kQuarantine, t0, key.error());
  if (req.body().size() > kMaxQuarantineBodyBytes) {
    return send_error(req, kQuarantine, t0, Error{Errc::too_large, "body larger than " + std::to_string(kMaxQuarantineBodyBytes) + " bytes"});
  }
  auto q = quarantine_request_from_json(req.body());
  if (!q) return send_error(req, kQuarantine, t0, q.error());
  quarantined_.inc();
  // Rare and worth an operator's attention: a torrent that served wrong bytes.
  SC_WARN("torrent quarantined", {"key", *key}, {"infohash", q->infohash}, {"reason", q->reason});
  auto h = req.hold();
  store_.quarantine(*key, q->infohash, clock_.now_ms(), [this, alive = alive_, h, t0](Result<bool> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kQuarantine, t0, r.error());
    send(*h, kQuarantine, t0, 200, kJson, *r ? R"({"removed":true})" : R"({"removed":false})");
    if (*r) wake_all();
  });
}

// ---------------------------------------------------------------------------------------------
// events

void MetastoreService::on_events(HttpRequest& req) {
  int64_t t0 = mono_ns();
  if (req.method() != "GET") return method_not_allowed(req, kEvents, t0, "GET");
  if (!authorized(req, kEvents, t0, false)) return;
  auto q = parse_query(req.query());
  if (!q) return send_error(req, kEvents, t0, q.error());
  bool sse = accepts(req.header("Accept"), "text/event-stream");
  std::string after_text = "0";
  if (auto a = param(*q, "after"); a && !a->empty()) after_text = *a;
  if (std::string_view last = req.header("Last-Event-ID"); sse && !last.empty()) after_text = std::string(last);
  auto after = parse_event_id(after_text);
  if (!after) return send_error(req, kEvents, t0, Error{Errc::invalid_argument, "after must be a stream id like 1700000000000-0"});
  // The largest id has no successor: Redis refuses the exclusive range "(max-max" outright.
  if (after->ms == UINT64_MAX && after->seq == UINT64_MAX) {
    return send_error(req, kEvents, t0, Error{Errc::invalid_argument, "after is the largest possible stream id"});
  }
  int64_t wait_ms = 0;
  if (auto w = param(*q, "wait"); w && !w->empty()) {
    auto d = parse_duration_ms(*w);
    if (!d || *d < 0) return send_error(req, kEvents, t0, Error{Errc::invalid_argument, "bad wait duration"});
    wait_ms = std::min(*d, kMaxWaitMs);
  }
  if ((sse || wait_ms > 0) && (stopping_ || waiters_.size() >= kMaxWaiters)) {
    return send_error(req, kEvents, t0, Error{Errc::unavailable, stopping_ ? "shutting down" : "too many event listeners"});
  }
  auto w = std::make_shared<Waiter>();
  w->req = req.hold();
  w->after = canonical_id(*after);
  w->sse = sse;
  w->t0 = t0;
  int64_t now = clock_.mono_ms();
  w->last_write_ms = now;
  if (sse) {
    add_waiter(w);
    // Start the stream on the next loop turn: evhtp 1.2.18 drops a paused connection whose
    // reply was started inside the request callback itself.
    w->start_timer = EventLoop::timer_on(base_, 0, false, [this, alive = alive_, weak = std::weak_ptr<Waiter>(w)] {
      auto w = weak.lock();  // the waiter owns this timer: a strong capture would be a cycle
      if (!*alive || !w || w->done) return;
      if (!w->req->alive()) {
        w->done = true;
        return;
      }
      unless_lost(w, [this, w] {
        w->req->add_header("Cache-Control", "no-cache");
        w->req->add_header("X-Accel-Buffering", "no");
        w->req->stream_start(200, "text/event-stream");
        w->started = true;
        w->req->stream_write_copy("retry: 1000\n\n");
        fetch(w);
      });
    });
    return;
  }
  w->deadline_ms = now + wait_ms;
  // First look; a long-poll with nothing to report then waits for a wake or its deadline.
  w->fetching = true;
  unless_lost(w, [this, w, wait_ms] {
    store_.events_after(w->after, kMaxEventsPerPage, [this, alive = alive_, w, wait_ms](Result<std::vector<MetaEvent>> r) {
      if (!*alive) return;
      w->fetching = false;
      if (!r) return send_error(*w->req, kEvents, w->t0, r.error());
      if (!r->empty() || wait_ms == 0 || stopping_) {
        EventsPage page{std::move(*r), w->after};
        if (!page.events.empty()) page.last_id = page.events.back().id;
        return send(*w->req, kEvents, w->t0, 200, kJson, to_json(page));
      }
      add_waiter(w);
    });
  });
}

void MetastoreService::unless_lost(const std::shared_ptr<Waiter>& w, std::function<void()> next) {
  if (w->after == "0-0") return next();
  store_.events_lost_after(w->after, [this, alive = alive_, w, next = std::move(next)](Result<bool> r) {
    if (!*alive || w->done) return;
    if (!r) {
      w->done = true;
      return send_error(*w->req, kEvents, w->t0, r.error());
    }
    if (*r) {
      // The client would silently miss events: tell it to rebuild its view from the listing.
      w->done = true;
      return send(*w->req, kEvents, w->t0, 410, kJson,
                  error_json("gone", "events after this id were trimmed from the history; resync from /v1/torrents"));
    }
    next();
  });
}

void MetastoreService::add_waiter(std::shared_ptr<Waiter> w) {
  waiters_.push_back(std::move(w));
  waiters_gauge_.add(1);  // instances on several threads share the gauge
}

void MetastoreService::finish_waiter(Waiter& w) {
  if (w.sse && !w.started) {
    send_error(*w.req, kEvents, w.t0, Error{Errc::unavailable, "shutting down"});
  } else if (w.sse) {
    w.req->stream_end();
    record(kEvents, 200, w.t0);
  } else {
    send(*w.req, kEvents, w.t0, 200, kJson, to_json(EventsPage{{}, w.after}));
  }
}

void MetastoreService::fetch(const std::shared_ptr<Waiter>& w) {
  if (w->fetching || w->done) return;
  w->fetching = true;
  store_.events_after(w->after, kMaxEventsPerPage, [this, alive = alive_, w](Result<std::vector<MetaEvent>> r) {
    if (!*alive) return;
    w->fetching = false;
    if (w->done || (w->sse && !w->started)) return;
    if (!w->req->alive()) {
      w->done = true;
      return;
    }
    if (!r || r->empty()) return;  // errors: try again on the next wake or tick
    w->after = r->back().id;
    if (!w->sse) {
      w->done = true;
      EventsPage page{std::move(*r), w->after};
      send(*w->req, kEvents, w->t0, 200, kJson, to_json(page));
      return;
    }
    std::string text;
    for (auto& e : *r) text += sse_event(e);
    w->req->stream_write_copy(text);
    w->last_write_ms = clock_.mono_ms();
    if (static_cast<int64_t>(r->size()) == kMaxEventsPerPage) fetch(w);  // more behind these
  });
}

void MetastoreService::join(EventBell& bell) {
  bell_ = std::make_unique<EventBell::Member>(bell, base_, [this] { wake_waiters(); });
}

void MetastoreService::wake_all() {
  wake_waiters();
  if (bell_) bell_->ring();
}

void MetastoreService::wake_waiters() {
  for (auto& w : waiters_) {
    if (!w->done) fetch(w);
  }
}

void MetastoreService::on_waiter_tick() {
  int64_t now = clock_.mono_ms();
  for (auto& w : waiters_) {
    if (w->done) continue;
    if (!w->req->alive()) {
      w->done = true;
      record(kEvents, 499, w->t0);
      continue;
    }
    if (!w->sse && now >= w->deadline_ms && !w->fetching) {
      w->done = true;
      finish_waiter(*w);
      continue;
    }
    if (w->sse && w->req->pending_output() > kSseMaxBufferedBytes) {
      SC_DEBUG("dropping a slow SSE client");
      w->done = true;
      finish_waiter(*w);
      continue;
    }
    if (w->sse && w->started && now - w->last_write_ms >= kSseHeartbeatMs) {
      w->req->stream_write_copy(": ping\n\n");
      w->last_write_ms = now;
    }
  }
  size_t removed = std::erase_if(waiters_, [](const std::shared_ptr<Waiter>& w) { return w->done; });
  waiters_gauge_.add(-static_cast<int64_t>(removed));
  if (waiters_.empty() || tip_fetching_) return;
  // Other instances write to the same stream: a moved tip wakes the waiters behind it.
  tip_fetching_ = true;
  store_.last_event_id([this, alive = alive_](Result<std::string> r) {
    if (!*alive) return;
    tip_fetching_ = false;
    if (!r) return;
    auto tip = parse_event_id(*r);
    if (!tip) return;
    tip_ = *r;
    for (auto& w : waiters_) {
      auto after = parse_event_id(w->after);
      if (!w->done && after && *after < *tip) fetch(w);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// leases

void MetastoreService::on_lease(HttpRequest& req) {
  int64_t t0 = mono_ns();
  std::string_view m = req.method();
  Route route = m == "POST" ? kLeasePost : m == "DELETE" ? kLeaseDelete : kOther;
  if (route == kOther) return method_not_allowed(req, route, t0, "POST, DELETE");
  if (!authorized(req, route, t0, true)) return;
  auto key = key_from_path(req.path(), "/v1/leases/");
  if (!key) return send_error(req, route, t0, key.error());
  if (route == kLeasePost) {
    auto lr = lease_request_from_json(req.body());
    if (!lr) return send_error(req, route, t0, lr.error());
    if (lr->ttl_ms > kMaxLeaseTtlMs) {
      return send_error(req, route, t0, Error{Errc::invalid_argument, "ttl_ms above " + std::to_string(kMaxLeaseTtlMs)});
    }
    if (lr->holder.size() > kMaxLeaseHolderBytes) return send_error(req, route, t0, Error{Errc::invalid_argument, "holder too long"});
    auto h = req.hold();
    store_.lease_acquire(*key, lr->holder, lr->ttl_ms, [this, alive = alive_, h, t0](Result<LeaseResult> r) {
      if (!*alive) return;
      if (!r) return send_error(*h, kLeasePost, t0, r.error());
      std::string lease = to_json(r->lease);
      if (r->outcome == LeaseOutcome::held) {
        // The error shape, plus the lease fields so a waiting proxy learns who fetches and for how long.
        std::string body = error_json("conflict", "lease held by " + r->lease.holder);
        body.pop_back();
        body += "," + lease.substr(1);
        return send(*h, kLeasePost, t0, 409, kJson, body);
      }
      send(*h, kLeasePost, t0, r->outcome == LeaseOutcome::granted ? 201 : 200, kJson, lease);
    });
    return;
  }
  std::string holder;
  auto q = parse_query(req.query());
  if (!q) return send_error(req, route, t0, q.error());
  if (auto p = param(*q, "holder")) holder = *p;
  if (holder.empty() && !req.body().empty()) {
    auto lr = lease_from_json(req.body());
    if (!lr) return send_error(req, route, t0, lr.error());
    holder = lr->holder;
  }
  if (holder.empty() || holder.size() > kMaxLeaseHolderBytes) return send_error(req, route, t0, Error{Errc::invalid_argument, "holder required"});
  auto h = req.hold();
  store_.lease_release(*key, holder, [this, alive = alive_, h, t0](Result<ReleaseOutcome> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kLeaseDelete, t0, r.error());
    switch (*r) {
      case ReleaseOutcome::released: return send(*h, kLeaseDelete, t0, 204, "", "");
      case ReleaseOutcome::not_held: return send_error(*h, kLeaseDelete, t0, Error{Errc::not_found, "no lease on this key"});
      case ReleaseOutcome::held_by_other:
        return send_error(*h, kLeaseDelete, t0, Error{Errc::conflict, "lease held by another holder"});
    }
  });
}

// ---------------------------------------------------------------------------------------------
// nodes, readiness, GC

void MetastoreService::on_nodes(HttpRequest& req) {
  int64_t t0 = mono_ns();
  if (req.method() != "GET") return method_not_allowed(req, kNodes, t0, "GET");
  if (!authorized(req, kNodes, t0, false)) return;
  auto h = req.hold();
  store_.nodes(clock_.now_ms(), [this, alive = alive_, h, t0](Result<NodeList> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kNodes, t0, r.error());
    send(*h, kNodes, t0, 200, kJson, to_json(*r));
  });
}

void MetastoreService::on_node(HttpRequest& req) {
  int64_t t0 = mono_ns();
  if (req.method() != "PUT") return method_not_allowed(req, kNodePut, t0, "PUT");
  if (!authorized(req, kNodePut, t0, true)) return;
  auto id = percent_decode(req.path().substr(std::string_view("/v1/nodes/").size()), false);
  if (!id || !valid_node_id(*id)) {
    return send_error(req, kNodePut, t0, Error{Errc::invalid_argument, "node id must be 1-128 of [A-Za-z0-9._:-]"});
  }
  auto node = node_info_from_json(req.body().empty() ? std::string_view("{}") : req.body());
  if (!node) return send_error(req, kNodePut, t0, node.error());
  int64_t ttl = node->ttl_ms == 0 ? cfg_.node_default_ttl_ms : node->ttl_ms;
  if (ttl < kMinNodeTtlMs || ttl > kMaxNodeTtlMs) {
    return send_error(req, kNodePut, t0, Error{Errc::invalid_argument, "ttl_ms out of range"});
  }
  node->id = *id;
  node->ttl_ms = ttl;
  node->last_seen = clock_.now_ms();
  auto n = std::make_shared<NodeInfo>(std::move(*node));
  auto h = req.hold();
  store_.node_put(*n, ttl, n->last_seen, [this, alive = alive_, h, t0, n](Result<bool> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kNodePut, t0, r.error());
    send(*h, kNodePut, t0, 200, kJson, to_json(*n));
  });
}

void MetastoreService::on_readyz(HttpRequest& req) {
  int64_t t0 = mono_ns();
  auto h = req.hold();
  store_.ping([this, alive = alive_, h, t0](Result<bool> r) {
    if (!*alive) return;
    if (!r) return send_error(*h, kReadyz, t0, Error{Errc::unavailable, "redis unreachable"});
    send(*h, kReadyz, t0, 200, kJson, R"({"status":"ready"})");
  });
}

void MetastoreService::run_gc() {
  if (gc_running_) return;
  gc_running_ = true;
  int64_t cutoff = cfg_.gc_max_age_ms > 0 ? clock_.now_ms() - cfg_.gc_max_age_ms : -1;
  int64_t max_count = cfg_.gc_max_count > 0 ? cfg_.gc_max_count : -1;
  store_.gc(cutoff, max_count, kGcBatch, [this, alive = alive_](Result<int64_t> r) {
    if (!*alive) return;
    gc_running_ = false;
    if (!r) {
      SC_WARN("metastore gc failed", {"error", r.error().message});
      return;
    }
    if (*r > 0) {
      gc_deleted_.inc(static_cast<uint64_t>(*r));
      SC_INFO("metastore gc deleted torrents", {"count", *r});
      wake_all();
      if (*r == kGcBatch) gc_again_ = EventLoop::timer_on(base_, 0, false, [this] { run_gc(); });
    }
  });
}

}  // namespace sc::metastore
