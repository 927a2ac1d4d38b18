// The per-digest blob state machine (see blob_fetch.h): cache hits (sendfile, or hashed as they
// stream when not yet verified in this run), the swarm path with its stall fallback, the lease
// wait, the upstream tee, and registration of what was fetched.
#include "services/proxy/blob_fetch.h"

#include <unistd.h>

#include <algorithm>

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"
#include "proto/oci.h"
#include "services/proxy/oci_reply.h"

namespace sc {
namespace {

// Back-pressure: stop reading (upstream, swarm file, cache file) while this much is queued for
// a slow client, resume below the low mark. Bounds memory per streaming client.
constexpr size_t kHighWater = 8 << 20;
constexpr size_t kLowWater = 2 << 20;
constexpr int64_t kBackPressurePollMs = 5;
// Lease losers look for the winner's torrent this often.
constexpr int64_t kTorrentPollMs = 250;
// Waiters on one blob in one proxy; more get 429 rather than unbounded memory.
constexpr size_t kMaxWaiters = 1024;
// Files are read and hashed in 1 MiB chunks, 8 per look: one loop turn stays under ~10 ms.
constexpr int64_t kChunk = 1 << 20;
constexpr int kChunksPerTick = 8;
constexpr int64_t kTickMs = 5;
// Swarm downloads are looked at this often for newly verified pieces.
constexpr int64_t kSwarmPollMs = 10;

bool wants_stream(const BlobSink& s) { return s.alive() && !s.head_only() && s.range().empty(); }

// Frees a timer outside its own callback.
void drop_later(EventLoop& loop, std::unique_ptr<Timer>& t) {
  if (t) loop.defer([gone = std::shared_ptr<Timer>(std::move(t))] {});
}

}  // namespace

// Bytes hashed before they go out: every chunk is sent once the next one was read, the last
// only after the whole blob matched, so a mismatch leaves the client with a truncated body.
struct HeldStream {
  std::shared_ptr<BlobSink> sink;
  std::string held;
  bool started = false;
  int64_t sent = 0;

  void push(std::string_view bytes, int64_t total, Counter& served) {
    if (!sink || !sink->alive()) return;
    if (!held.empty()) {
      if (!started) sink->start(200, "application/octet-stream", total);
      started = true;
      sink->send(held);
      served.inc(held.size());
      sent += static_cast<int64_t>(held.size());
    }
    held.assign(bytes);
  }
  void complete(int64_t total, Counter& served) {
    if (!sink || !sink->alive()) return;
    if (!started) sink->start(200, "application/octet-stream", total);
    if (!held.empty()) sink->send(held);
    served.inc(held.size());
    sink->finish();
    sink.reset();
  }
};

struct BlobFetcher::Fetch {
  BlobAsk ask;
  std::shared_ptr<UpstreamSource> source;
  std::vector<std::shared_ptr<BlobSink>> waiters;
  bool leased = false;
  std::unique_ptr<Timer> timer;  // lease wait, or the swarm stall check
  // Swarm download.
  std::string swarm_id;
  std::string torrent;
  int64_t total = 0, read_off = 0;
  Sha256 sha;
  HeldStream stream;
  std::unique_ptr<Timer> pump;
  // Upstream tee.
  std::unique_ptr<SourceCall> call;
  std::unique_ptr<BlobStore::Writer> writer;
  int status = 0;
  int64_t content_length = -1;
  std::string content_type;
  std::unique_ptr<Timer> bp_timer;
};

// A cache entry not yet verified in this run: hashed from its file, sent while hashed (whole
// GET) or first hashed and then served (Range).
struct BlobFetcher::CacheCheck {
  BlobAsk ask;
  std::shared_ptr<BlobSink> sink;
  bool send = false;
  int fd = -1;
  int64_t size = 0, off = 0;
  std::string want;
  Sha256 sha;
  std::string buf;
  Counter* served = nullptr;
  std::unique_ptr<Timer> timer;
  ~CacheCheck() {
    if (fd >= 0) ::close(fd);
  }
};

BlobFetcher::BlobFetcher(EventLoop& loop, Ports ports, BlobFetchOptions options, MetricsRegistry& m)
    : loop_(loop),
      ports_(ports),
      opt_(options),
      served_cache_(m.counter_family("swarmcache_proxy_served_bytes_total", "Body bytes served, by where they came from",
                                     {"source"})
                        .with({"cache"})),
      served_peer_(m.counter_family("swarmcache_proxy_served_bytes_total", "", {"source"}).with({"peer"})),
      served_upstream_(m.counter_family("swarmcache_proxy_served_bytes_total", "", {"source"}).with({"upstream"})),
      requests_(m.counter_family("swarmcache_proxy_requests_total", "Requests by kind and result", {"kind", "result"})),
      digest_mismatch_(m.counter("swarmcache_proxy_digest_mismatch_total",
                                 "Blobs whose bytes did not match their digest (never cached)")),
      registered_(m.counter("swarmcache_proxy_torrents_registered_total", "Torrents this proxy registered")),
      swarm_downloads_(m.counter_family("swarmcache_proxy_swarm_downloads_total", "Swarm downloads by outcome",
                                        {"result"})),
      leases_(m.counter_family("swarmcache_proxy_leases_total", "Upstream-fetch lease requests by outcome",
                               {"outcome"})),
      upstream_fetches_(m.counter("swarmcache_proxy_upstream_blob_fetches_total",
                                  "Blob (and OSTree delta) fetches sent upstream")),
      quarantined_(m.counter("swarmcache_proxy_torrents_quarantined_total",
                             "Torrents reported to the metastore because their bytes failed the digest")) {}

BlobFetcher::~BlobFetcher() {
  *alive_ = false;
  // Upstream calls first: their callbacks hold the fetches.
  for (auto& [hex, f] : inflight_) f->call.reset();
  heads_.clear();
}

void BlobFetcher::count(std::string_view result) { requests_.with({"blob", result}).inc(); }

// ---- cache -------------------------------------------------------------------------------

void BlobFetcher::serve(const BlobAsk& ask, BlobSink& sink, const SourceFactory& make_source) {
  if (auto e = ports_.store.lookup(ask.hex)) return serve_cached(ask, sink, *e, served_cache_);
  if (sink.head_only()) return head_upstream(ask, sink.retain(), *make_source());
  FetchPtr& slot = inflight_[ask.hex];
  if (slot && slot->waiters.size() >= kMaxWaiters)
    return sink.reply_oci_error(429, "TOOMANYREQUESTS", "too many clients waiting for this blob");
  bool fresh = !slot;
  if (fresh) {
    slot = std::make_shared<Fetch>();
    slot->ask = ask;
    slot->source = make_source();
  }
  slot->waiters.push_back(sink.retain());
  FetchPtr f = slot;  // the slot goes when the fetch ends, maybe inside start()
  if (fresh) start(f);
}

void BlobFetcher::serve_cached(const BlobAsk& ask, BlobSink& sink, const BlobStore::Entry& e,
                               Counter& served_from) {
  auto fd = ports_.store.open(ask.hex);
  if (!fd) {
    count("error");
    return sink.reply_oci_error(404, "BLOB_UNKNOWN", "blob not available");
  }
  if (!e.verified && !sink.head_only() && !sink.range().empty())
    return check_cached(ask, sink.retain(), *fd, e, served_from);  // hashed whole first, then the range
  if (ask.verify) sink.add_header("Docker-Content-Digest", "sha256:" + ask.hex);
  sink.add_header("Accept-Ranges", "bytes");
  sink.add_header("ETag", "\"sha256:" + ask.hex + "\"");
  auto range = parse_range(sink.range(), e.size);
  if (range.outcome == RangeOutcome::unsatisfiable) {
    ::close(*fd);
    sink.add_header("Content-Range", "bytes */" + std::to_string(e.size));
    count("range_unsatisfiable");
    return sink.reply_oci_error(416, "SIZE_INVALID", "requested range not satisfiable");
  }
  int64_t first = 0, len = e.size;
  int status = 200;
  if (range.outcome == RangeOutcome::range) {
    first = range.range.first;
    len = range.range.length();
    status = 206;
    sink.add_header("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                                          std::to_string(range.range.last) + "/" + std::to_string(e.size));
  }
  if (sink.head_only()) {
    ::close(*fd);
    count("head");
    return sink.reply_head(status, len);
  }
  if (!e.verified) return check_cached(ask, sink.retain(), *fd, e, served_from);
  served_from.inc(static_cast<uint64_t>(len));
  count(&served_from == &served_peer_ ? "peer" : "cache");
  sink.reply_file(status, *fd, first, len);
}

void BlobFetcher::check_cached(const BlobAsk& ask, std::shared_ptr<BlobSink> sink, int fd, const BlobStore::Entry& e,
                               Counter& served_from) {
  auto c = std::make_unique<CacheCheck>();
  c->ask = ask;
  c->send = sink->range().empty();
  c->sink = std::move(sink);
  c->fd = fd;
  c->size = e.size;
  c->want = e.sha256;
  c->served = &served_from;
  if (c->send) c->sink->start(200, "application/octet-stream", c->size);
  uint64_t id = next_check_++;
  c->timer = loop_.every(kTickMs, [this, id] { check_tick(id); });
  checks_[id] = std::move(c);
}

void BlobFetcher::check_tick(uint64_t id) {
  auto it = checks_.find(id);
  if (it == checks_.end()) return;
  CacheCheck& c = *it->second;
  auto end = [&](bool matched, bool gone) {
    auto done = std::move(it->second);
    checks_.erase(it);
    drop_later(loop_, done->timer);
    if (gone) return;  // the client left first: nothing learned
    if (!matched) {
      ports_.store.evict_corrupt(done->ask.hex);
      count("corrupt_cache");
      if (!done->sink->alive()) return;
      if (done->send) return done->sink->abort();
      return done->sink->reply_oci_error(503, "UNAVAILABLE", "the cached copy was corrupt; retry");
    }
    ports_.store.mark_verified(done->ask.hex);
    if (done->send) {
      count("cache_verified");
      if (done->sink->alive()) done->sink->finish();
    } else if (done->sink->alive()) {
      auto e = ports_.store.lookup(done->ask.hex);
      if (e) serve_cached(done->ask, *done->sink, *e, *done->served);
      else done->sink->reply_oci_error(404, "BLOB_UNKNOWN", "blob not available");
    }
  };
  if (!c.sink->alive()) return end(false, true);
  if (c.send && c.sink->pending_output() > kHighWater) return;
  for (int i = 0; i < kChunksPerTick; ++i) {
    int64_t len = std::min(kChunk, c.size - c.off);
    c.buf.resize(static_cast<size_t>(len));
    if (len > 0 && ::pread(c.fd, c.buf.data(), static_cast<size_t>(len), c.off) != len) return end(false, false);
    c.sha.update(c.buf);
    bool last = c.off + len == c.size;
    if (last && to_hex(c.sha.finish()) != c.want) return end(false, false);
    if (c.send && len > 0) {
      // The bytes just hashed go out as a sendfile segment of the same file.
      int dup_fd = ::dup(c.fd);
      if (dup_fd < 0) return end(false, true);
      c.sink->send_file(dup_fd, c.off, len);
      c.served->inc(static_cast<uint64_t>(len));
    }
    c.off += len;
    if (last) return end(true, false);
  }
}

void BlobFetcher::head_upstream(const BlobAsk& ask, std::shared_ptr<BlobSink> sink, UpstreamSource& source) {
  uint64_t id = next_head_++;
  std::string digest = "sha256:" + ask.hex;
  auto call = source.head([this, id, sink, digest](Result<SourceHead> h) {
    if (sink->alive()) {
      if (!h) {
        sink->reply_fetch_error(h.error());
      } else if (h->status == 200) {
        sink->add_header("Docker-Content-Digest", digest);
        sink->reply_head(200, h->content_length);
      } else if (h->status == 404) {
        sink->reply_oci_error(404, "BLOB_UNKNOWN", "blob unknown upstream");
      } else {
        sink->reply_fetch_error(error_for_upstream_status(h->status, "blob"));
      }
    }
    // The call is running this callback: free it on the next turn.
    if (auto it = heads_.find(id); it != heads_.end()) {
      loop_.defer([gone = std::shared_ptr<SourceCall>(std::move(it->second))] {});
      heads_.erase(it);
    } else {
      answered_heads_.insert(id);  // answered from inside head() itself
    }
  });
  if (answered_heads_.erase(id) == 0) heads_[id] = std::move(call);
  else loop_.defer([gone = std::shared_ptr<SourceCall>(std::move(call))] {});
}

// ---- fetch: registry, lease ----------------------------------------------------------------

void BlobFetcher::start(const FetchPtr& f) {
  if (!ports_.registry || !ports_.swarm) return fetch_upstream(f);
  std::weak_ptr<bool> alive = alive_;
  ports_.registry->lookup(f->ask.key, [this, alive, f](Result<std::optional<std::string>> r) {
    if (alive.expired()) return;
    if (!r) {
      SC_DEBUG("metastore lookup failed", {"key", f->ask.key}, {"error", r.error().message});
      return fetch_upstream(f);
    }
    if (*r) return fetch_swarm(f, **r);
    ports_.registry->take_lease(f->ask.key, [this, alive, f](Result<bool> granted) {
      if (alive.expired()) return;
      if (!granted) {
        leases_.with({"error"}).inc();
        return fetch_upstream(f);
      }
      if (*granted) {
        leases_.with({"granted"}).inc();
        f->leased = true;
        return fetch_upstream(f);
      }
      leases_.with({"lost"}).inc();
      wait_for_torrent(f, loop_.clock().mono_ms() + opt_.lease_wait_ms);
    });
  });
}

// The lease winner is fetching upstream; wait (bounded) for its torrent.
void BlobFetcher::wait_for_torrent(const FetchPtr& f, int64_t deadline_ms) {
  std::weak_ptr<bool> alive = alive_;
  std::weak_ptr<Fetch> weak = f;
  f->timer = loop_.after(kTorrentPollMs, [this, alive, weak, deadline_ms] {
    auto f = weak.lock();
    if (alive.expired() || !f) return;
    ports_.registry->lookup(f->ask.key, [this, alive, f, deadline_ms](Result<std::optional<std::string>> r) {
      if (alive.expired()) return;
      if (r && *r) return fetch_swarm(f, **r);
      if (loop_.clock().mono_ms() >= deadline_ms) {
        leases_.with({"wait_timeout"}).inc();
        return fetch_upstream(f);
      }
      wait_for_torrent(f, deadline_ms);
    });
  });
}

// ---- fetch: swarm --------------------------------------------------------------------------

std::shared_ptr<BlobSink> BlobFetcher::take_streamer(Fetch& f) {
  for (auto it = f.waiters.begin(); it != f.waiters.end(); ++it) {
    if (wants_stream(**it)) {
      auto s = *it;
      f.waiters.erase(it);
      return s;
    }
  }
  return nullptr;
}

void BlobFetcher::fetch_swarm(const FetchPtr& f, const std::string& torrent) {
  auto dl = ports_.swarm->add(f->ask.hex, f->ask.key, torrent);
  if (!dl) {
    swarm_downloads_.with({dl.error().code == Errc::invalid_argument ? "unusable_torrent" : "add_failed"}).inc();
    return fetch_upstream(f);
  }
  f->swarm_id = dl->id;
  f->torrent = torrent;
  f->total = dl->size;
  f->read_off = 0;
  f->sha = Sha256();
  // The first whole-body GET gets the bytes in order as pieces check out.
  f->stream = HeldStream();
  f->stream.sink = take_streamer(*f);
  if (f->stream.sink && f->ask.verify) f->stream.sink->add_header("Docker-Content-Digest", "sha256:" + f->ask.hex);
  std::weak_ptr<bool> alive = alive_;
  std::weak_ptr<Fetch> weak = f;
  f->pump = loop_.every(kSwarmPollMs, [this, alive, weak] {
    auto f = weak.lock();
    if (!alive.expired() && f) swarm_tick(f);
  });
  swarm_stall_check(f, -1);
}

void BlobFetcher::swarm_tick(const FetchPtr& f) {
  auto& s = f->stream;
  if (s.sink && !s.sink->alive()) s.sink.reset();  // the client left; the download goes on
  if (s.sink && s.sink->pending_output() > kHighWater) return;
  // A piece at a time, so that only the last piece is held back from the client.
  for (int64_t got = 0; got < kChunk * kChunksPerTick && f->read_off < f->total;) {
    auto bytes = ports_.swarm->read_verified(f->swarm_id, f->read_off, 1);
    if (!bytes || bytes->empty()) break;  // not here yet (or not yet written to disk)
    f->sha.update(*bytes);
    f->read_off += static_cast<int64_t>(bytes->size());
    got += static_cast<int64_t>(bytes->size());
    s.push(*bytes, f->total, served_peer_);
  }
  if (f->read_off >= f->total) swarm_done(f);
}

// A swarm download that has not gained a byte for swarm_timeout_ms goes upstream; a slow but
// moving one (a large blob on a busy LAN), or one held back by a slow client, is left alone.
void BlobFetcher::swarm_stall_check(const FetchPtr& f, int64_t last_progress) {
  std::weak_ptr<bool> alive = alive_;
  std::weak_ptr<Fetch> weak = f;
  f->timer = loop_.after(opt_.swarm_timeout_ms, [this, alive, weak, last_progress] {
    auto f = weak.lock();
    if (alive.expired() || !f || f->swarm_id.empty()) return;
    // Re-arming or abandoning replaces the timer running this callback: from the next turn.
    loop_.defer([this, alive, f, last_progress] {
      if (alive.expired() || f->swarm_id.empty()) return;
      int64_t now = ports_.swarm->downloaded(f->swarm_id) + f->read_off;
      bool held_back = f->stream.sink && f->stream.sink->alive() && f->stream.sink->pending_output() > kHighWater;
      if (now > std::max<int64_t>(last_progress, 0) || held_back) return swarm_stall_check(f, now);
      swarm_downloads_.with({"timeout"}).inc();
      abandon_swarm(f);
    });
  });
}

// Every piece checked out; the blob is good only if the whole matched its digest.
void BlobFetcher::swarm_done(const FetchPtr& f) {
  drop_later(loop_, f->pump);
  f->timer.reset();
  std::string got = to_hex(f->sha.finish());
  if (f->ask.verify && got != f->ask.hex) {
    digest_mismatch_.inc();
    swarm_downloads_.with({"digest_mismatch"}).inc();
    SC_WARN("swarm download failed its digest; marked bad, going upstream", {"key", f->ask.key},
            {"infohash", f->swarm_id});
    quarantined_.inc();
    ports_.registry->mark_bad(f->ask.key, f->swarm_id);
    return abandon_swarm(f);
  }
  if (auto st = ports_.store.adopt(f->ask.hex, got); !st) {
    swarm_downloads_.with({"cache_error"}).inc();
    return abandon_swarm(f);
  }
  swarm_downloads_.with({"ok"}).inc();
  ports_.swarm->keep(f->swarm_id, f->ask.hex);
  bool streamed = f->stream.sink != nullptr;
  if (streamed) {
    f->stream.complete(f->total, served_peer_);
    count("peer_stream");
  }
  finish(f, {}, streamed ? served_cache_ : served_peer_);
}

// Gives the swarm download up; the waiters are served from upstream. A client that already got
// bytes from the swarm is cut: an upstream tail must never complete a body whose head came from
// a torrent that may itself be wrong. One that got nothing yet rejoins the waiters.
void BlobFetcher::abandon_swarm(const FetchPtr& f) {
  auto& s = f->stream;
  if (s.sink && s.sink->alive()) {
    if (s.started) {
      s.sink->abort();
      count("aborted");
    } else {
      f->waiters.insert(f->waiters.begin(), s.sink);
    }
  }
  s = HeldStream{};
  drop_later(loop_, f->pump);
  f->timer.reset();
  ports_.swarm->remove(f->swarm_id);
  f->swarm_id.clear();
  fetch_upstream(f);
}

// ---- fetch: upstream tee -------------------------------------------------------------------

void BlobFetcher::fetch_upstream(const FetchPtr& f) {
  upstream_fetches_.inc();
  f->stream = HeldStream();
  f->stream.sink = take_streamer(*f);
  f->sha = Sha256();
  f->status = 0;
  auto w = ports_.store.begin(f->ask.hex, f->ask.verify);
  if (w) f->writer = std::move(*w);
  else if (w.error().code == Errc::conflict) {  // cached meanwhile
    release(f);
    return finish(f, {}, served_cache_);
  }
  std::weak_ptr<Fetch> weak = f;
  UpstreamSource::Handlers h;
  h.on_head = [this, weak](const SourceHead& head) {
    auto f = weak.lock();
    if (!f) return false;
    f->status = head.status;
    if (head.status != 200) return false;
    if (head.content_length > ports_.store.budget_bytes()) f->writer.reset();
    f->content_length = head.content_length;
    f->content_type = head.content_type.empty() ? "application/octet-stream" : head.content_type;
    auto& s = f->stream;
    if (s.sink && s.sink->alive()) {
      if (f->ask.verify) s.sink->add_header("Docker-Content-Digest", "sha256:" + f->ask.hex);
      s.sink->start(200, f->content_type, head.content_length);
      s.started = true;
    }
    return true;
  };
  h.on_data = [this, weak](std::string_view data) {
    if (auto f = weak.lock()) upstream_data(f, data);
  };
  h.on_done = [this, weak](Status st) {
    if (auto f = weak.lock()) upstream_done(f, st);
  };
  f->call = f->source->get({}, std::move(h));
}

void BlobFetcher::upstream_data(const FetchPtr& f, std::string_view data) {
  if (f->writer && !f->writer->write(data)) f->writer.reset();
  f->sha.update(data);
  auto& s = f->stream;
  if (!s.sink || !s.sink->alive()) return;
  if (!s.held.empty()) s.sink->send(s.held);
  s.held.assign(data);
  served_upstream_.inc(data.size());
  if (s.sink->pending_output() > kHighWater && f->call && !f->bp_timer) {
    f->call->pause();
    std::weak_ptr<Fetch> weak = f;
    f->bp_timer = loop_.every(kBackPressurePollMs, [this, weak] {
      auto f = weak.lock();
      if (!f) return;
      auto& sink = f->stream.sink;
      if (!sink || !sink->alive() || sink->pending_output() < kLowWater) {
        if (f->call) f->call->resume();
        drop_later(loop_, f->bp_timer);
      }
    });
  }
}

void BlobFetcher::upstream_done(const FetchPtr& f, Status st) {
  drop_later(loop_, f->bp_timer);
  // The call is running this callback: free it on the next turn.
  if (f->call) loop_.defer([gone = std::shared_ptr<SourceCall>(std::move(f->call))] {});
  bool ok = st && f->status == 200;
  Error err;
  if (!ok) {
    err = f->status != 0 && f->status != 200 ? error_for_upstream_status(f->status, "blob " + f->ask.key)
                                             : st.error();
  } else if (f->ask.verify && to_hex(f->sha.finish()) != f->ask.hex) {
    ok = false;
    digest_mismatch_.inc();
    SC_WARN("upstream blob failed its digest; not cached", {"key", f->ask.key});
    err = Error{Errc::unavailable, "upstream blob does not match its digest"};
  } else if (f->writer) {
    if (auto c = f->writer->commit(); !c) {
      ok = false;
      err = c.error();
    }
  }
  bool cached = ok && f->writer;
  f->writer.reset();  // uncommitted: aborted, nothing kept
  auto& s = f->stream;
  if (s.sink && s.sink->alive()) {
    if (ok) {
      if (!s.held.empty()) s.sink->send(s.held);
      s.sink->finish();
      count("upstream");
    } else if (s.started) {
      count("aborted");
      s.sink->abort();
    } else {
      count("error");
      s.sink->reply_fetch_error(err);
    }
  }
  s = HeldStream{};
  if (!ok) {
    release(f);
    return finish(f, std::unexpected(err), served_cache_);
  }
  if (!cached) {  // too large for the cache: the streamer was served, the waiters cannot be
    release(f);
    return finish(f, fail(Errc::unavailable, "blob could not be cached"), served_cache_);
  }
  finish(f, {}, served_cache_);
  register_blob(f);
}

// ---- end -----------------------------------------------------------------------------------

// Serves (or fails) every request waiting on f; the first waiter of a swarm download nobody
// streamed counts as peer bytes, the others as cache hits.
void BlobFetcher::finish(const FetchPtr& f, Status st, Counter& first_source) {
  auto it = inflight_.find(f->ask.hex);
  if (it != inflight_.end() && it->second == f) inflight_.erase(it);
  f->timer.reset();
  Counter* source = &first_source;
  auto waiters = std::move(f->waiters);
  for (auto& w : waiters) {
    if (!w->alive()) continue;
    if (!st) {
      w->reply_fetch_error(st.error());
      continue;
    }
    auto e = ports_.store.lookup(f->ask.hex);
    if (e) serve_cached(f->ask, *w, *e, *source);
    else w->reply_oci_error(404, "BLOB_UNKNOWN", "blob not available");
    source = &served_cache_;
  }
}

void BlobFetcher::release(const FetchPtr& f) {
  if (f->leased && ports_.registry) ports_.registry->release_lease(f->ask.key);
  f->leased = false;
}

void BlobFetcher::register_blob(const FetchPtr& f) {
  if (!ports_.swarm) return release(f);
  std::weak_ptr<bool> alive = alive_;
  ports_.swarm->seed(f->ask.hex, f->ask.key, [this, alive, f](Result<std::string> torrent) {
    if (alive.expired()) return;
    if (!torrent) {
      SC_WARN("cannot seed cached blob", {"key", f->ask.key}, {"error", torrent.error().message});
      return release(f);
    }
    if (!ports_.registry) return;
    ports_.registry->publish(f->ask.key, std::move(*torrent), [this, alive, f](Status st) {
      if (alive.expired()) return;
      if (st) registered_.inc();
      else SC_WARN("cannot register torrent", {"key", f->ask.key}, {"error", st.error().message});
      release(f);
    });
  });
}

}  // namespace sc
