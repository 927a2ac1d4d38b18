// swarmcache-proxy request logic: the OCI pull-through mirror and the OSTree forward proxy.
// A blob is fetched once per proxy (in-process waiters share the fetch), once per cluster
// when a metastore is configured (lease → upstream → torrent → register; others use the
// swarm), and enters the cache only after its sha256 matched. The upstream tee holds the last
// chunk back until the digest is checked, so a mismatch reaches the client as a truncated
// body, never as a complete one.
#include "services/proxy/proxy.h"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"
#include "common/io/http_request_target.h"
#include "common/io/http_server.h"
#include "common/io/byte_buffer.h"
#include "common/swarm/session.h"
#include "common/swarm/stream_resume.h"
#include "common/swarm/torrent_maker.h"
#include "proto/content_key.h"
#include "proto/oci.h"
#include "services/proxy/blob_cache.h"
#include "services/proxy/cache_scrub.h"
#include "services/proxy/connect.h"
#include "services/proxy/manifests.h"
#include "common/swarm/metastore_client.h"
#include "services/proxy/oci_reply.h"
#include "services/proxy/target_policy.h"
#include "services/proxy/upstream.h"
#include "services/proxy/verifying_sender.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

// Back-pressure for the upstream tee: stop reading upstream while this much is queued for a
// slow client, resume below the low mark. Bounds memory per streaming client.
constexpr size_t kTeeHighWater = 8 << 20;
constexpr size_t kTeeLowWater = 2 << 20;
constexpr int64_t kTeePollMs = 5;
// Lease losers poll the metastore for the winner's torrent this often.
constexpr int64_t kTorrentPollMs = 250;
// Waiters on one blob in one proxy; more get 429 rather than unbounded memory.
constexpr size_t kMaxWaiters = 1024;
constexpr size_t kHashChunk = 1 << 20;
// A finished swarm download is re-checked this often (with growing pauses, 100 ms … 1 s)
// while libtorrent's disk threads finish writing it.
constexpr int kVerifyAttempts = 10;
constexpr int64_t kVerifyRetryMs = 100;
// Swarm streaming: how often the next pieces are looked for, and how many are checked per
// look (bounds the loop time spent hashing: 8 pieces of ≤1 MiB for blobs under 2 GiB).
constexpr int64_t kStreamPollMs = 10;
constexpr int kStreamPiecesPerTick = 8;


// A single worker thread for CPU/disk-heavy jobs (hashing, torrent creation) so the loop
// keeps serving; results come back through EventLoop::defer.
class WorkQueue {
 public:
  WorkQueue() : thread_([this] { run(); }) {}
  ~WorkQueue() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      try {
        job();
      } catch (...) {
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

Result<std::string> sha256_file_hex(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io, "open " + path);
  Sha256 h;
  std::string buf(kHashChunk, '\0');
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail(Errc::io, "read " + path);
    }
    if (n == 0) break;
    h.update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return to_hex(h.finish());
}

// The piece layout of a single-file v1 torrent (the shape this proxy makes and accepts).
struct PieceLayout {
  int64_t piece_len = 0, total = 0, pieces = 0;
  std::string hashes;  // 20 bytes of SHA-1 per piece
};

Result<PieceLayout> parse_single_file_torrent(const std::string& torrent) {
  auto root = bdecode(torrent);
  const BValue* info = root && root->is_dict() ? root->find("info") : nullptr;
  const BValue* plen = info && info->is_dict() ? info->find("piece length") : nullptr;
  const BValue* pieces = info && info->is_dict() ? info->find("pieces") : nullptr;
  const BValue* length = info && info->is_dict() ? info->find("length") : nullptr;
  if (!plen || !plen->is_int() || plen->as_int() <= 0 || !pieces || !pieces->is_str() || !length ||
      !length->is_int() || length->as_int() < 0)
    return fail(Errc::invalid_argument, "not a single-file v1 torrent");
  PieceLayout p{plen->as_int(), length->as_int(), 0, pieces->as_str()};
  p.pieces = (p.total + p.piece_len - 1) / p.piece_len;
  if (static_cast<int64_t>(p.hashes.size()) != p.pieces * 20) return fail(Errc::invalid_argument, "piece count mismatch");
  return p;
}

// What a finished swarm download's check learned: the content's sha256 (for the cache record).
struct FileCheck {
  std::string sha256;
};

Result<FileCheck> check_sha256_file(const std::string& path, const std::string& hex) {
  auto d = sha256_file_hex(path);
  if (!d) return std::unexpected(d.error());
  if (*d != hex) return fail(Errc::invalid_argument, "sha256 mismatch");
  return FileCheck{*d};
}

// Checks a single-file torrent's data against its v1 piece hashes (SHA-1 per piece), and
// hashes the content with sha256 on the way.
Result<FileCheck> check_pieces_file(const std::string& path, const std::string& torrent) {
  auto info = parse_single_file_torrent(torrent);
  if (!info) return std::unexpected(info.error());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io, "open " + path);
  Sha256 whole;
  std::string buf(static_cast<size_t>(info->piece_len), '\0');
  for (int64_t i = 0; i < info->pieces; ++i) {
    int64_t want = std::min(info->piece_len, info->total - i * info->piece_len);
    ssize_t got = ::pread(fd, buf.data(), static_cast<size_t>(want), i * info->piece_len);
    if (got != want) {
      ::close(fd);
      return fail(Errc::io, "short read");
    }
    std::string_view piece(buf.data(), static_cast<size_t>(want));
    auto h = sha1(piece);
    if (std::string_view(reinterpret_cast<const char*>(h.data()), h.size()) !=
        std::string_view(info->hashes).substr(static_cast<size_t>(i) * 20, 20)) {
      ::close(fd);
      return fail(Errc::invalid_argument, "piece " + std::to_string(i) + " hash mismatch");
    }
    whole.update(piece);
  }
  ::close(fd);
  return FileCheck{to_hex(whole.finish())};
}

// The value of `name` in a raw query string ("" when absent).
std::string_view query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    if (kv.size() > name.size() && kv.starts_with(name) && kv[name.size()] == '=') return kv.substr(name.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

// A forwarded path must stay below its remote's prefix once the origin normalises it: no dot
// segments, no encoded dots or slashes, no backslashes, no empty segments.
bool safe_forward_path(std::string_view path) {
  if (!path.starts_with('/') || path.find("//") != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return false;
  for (std::string_view bad : {"%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%00"})
    if (path.find(bad) != std::string_view::npos) return false;
  for (size_t pos = 0; pos != std::string_view::npos;) {
    size_t next = path.find('/', pos + 1);
    std::string_view seg = path.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1);
    if (seg == "." || seg == "..") return false;
    pos = next;
  }
  return true;
}

}  // namespace

struct Proxy::Impl {
  // The first client of a swarm download gets the bytes in order as pieces arrive, each piece
  // checked against the torrent's SHA-1 before it is sent; the file's last piece is held back
  // until the whole blob matched its sha256, so a bad blob never looks complete.
  struct SwarmStream {
    std::shared_ptr<HttpRequest> req;
    int fd = -1;
    int64_t piece_len = 0, total = 0, pieces = 0;
    std::string hashes;
    int64_t next = 0;               // next piece to check
    int64_t sent = 0;               // bytes handed to the client (always whole pieces, in order)
    bool started = false;           // the response head went out (with the first verified piece)
    std::unique_ptr<Timer> timer;
    ~SwarmStream() {
      if (fd >= 0) ::close(fd);
    }
  };
  struct Inflight {
    std::string hex, key;
    bool verify = true;
    std::string name;  // repository (registry blobs)
    Upstream* up = nullptr;  // the registry (registry blobs)
    std::string url;   // absolute origin URL (OSTree); "" for registry blobs
    std::vector<std::shared_ptr<HttpRequest>> waiters;
    bool leased = false;
    std::string infohash;
    std::string torrent;
    std::unique_ptr<Timer> timer;
    int64_t wait_deadline_ms = 0;
    std::shared_ptr<SwarmStream> stream;
  };
  struct Tee {
    std::shared_ptr<HttpRequest> streamer;
    std::unique_ptr<BlobCache::Writer> writer;
    OwnedBuffer held;
    bool started = false;
    int status = 0;
    std::shared_ptr<UpstreamCall> call;
    std::unique_ptr<Timer> bp_timer;
  };

  EventLoop& loop;
  ProxyConfig cfg;
  BlobCache& cache;
  MetastoreAsync* metastore;
  SwarmSession* swarm;
  TargetPolicy policy;
  std::map<std::string, std::unique_ptr<Upstream>, std::less<>> registries;  // by configured name
  std::string node_id;
  std::string torrents_dir;

  std::unordered_map<std::string, std::shared_ptr<Inflight>> inflight;       // by hex
  std::unordered_map<std::string, std::shared_ptr<Inflight>> swarm_pending;  // by infohash
  std::unordered_map<std::string, std::string> torrent_of;                   // hex → infohash
  std::unique_ptr<WorkQueue> work = std::make_unique<WorkQueue>();
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Family<Counter>& served;
  Counter &served_cache, &served_peer, &served_upstream;
  Family<Counter>& requests;
  Counter& digest_mismatch;
  Counter& registered;
  Family<Counter>& swarm_downloads;
  Family<Counter>& leases;
  Counter& upstream_blob_fetches;
  Counter& quarantined;
  ConnectHandler connect;
  ManifestMirror manifests;
  UrlFetcher urls;  // OSTree remotes and pass-through
  std::unique_ptr<CacheScrubber> scrubber;
  // Cache entries being served while hashed, until their sender is done (freed a turn later).
  std::unordered_map<uint64_t, std::unique_ptr<VerifyingSender>> senders;
  uint64_t next_sender = 0;

  Impl(EventLoop& l, const ProxyConfig& c, BlobCache& bc, MetastoreAsync* ms, SwarmSession* sw, MetricsRegistry& m)
      : loop(l),
        cfg(c),
        cache(bc),
        metastore(ms),
        swarm(sw),
        policy(configured_targets(c)),
        served(m.counter_family("swarmcache_proxy_served_bytes_total", "Body bytes served, by where they came from",
                                {"source"})),
        served_cache(served.with({"cache"})),
        served_peer(served.with({"peer"})),
        served_upstream(served.with({"upstream"})),
        requests(m.counter_family("swarmcache_proxy_requests_total", "Requests by kind and result", {"kind", "result"})),
        digest_mismatch(m.counter("swarmcache_proxy_digest_mismatch_total",
                                  "Blobs whose bytes did not match their digest (never cached)")),
        registered(m.counter("swarmcache_proxy_torrents_registered_total", "Torrents this proxy registered")),
        swarm_downloads(m.counter_family("swarmcache_proxy_swarm_downloads_total", "Swarm downloads by outcome",
                                         {"result"})),
        leases(m.counter_family("swarmcache_proxy_leases_total", "Upstream-fetch lease requests by outcome",
                                {"outcome"})),
        upstream_blob_fetches(m.counter("swarmcache_proxy_upstream_blob_fetches_total",
                                        "Blob (and OSTree delta) fetches sent upstream")),
        quarantined(m.counter("swarmcache_proxy_torrents_quarantined_total",
                              "Torrents reported to the metastore because their bytes failed the digest")),
        connect(l, c.connect_allow, policy, requests),
        manifests(l, c.tag_ttl_ms, requests, digest_mismatch),
        urls(l, c.upstream_tls_verify) {
    for (const auto& r : cfg.upstreams) {
      registries[r.name] = std::make_unique<Upstream>(
          loop, UpstreamOptions{r.url, r.username, r.password, r.ca_file, cfg.upstream_timeout_ms,
                                static_cast<int>(cfg.upstream_retries), dial_check(), cfg.upstream_tls_verify});
    }
    node_id = cfg.node_id;
    if (node_id.empty()) {
      char host[256] = "";
      ::gethostname(host, sizeof host - 1);
      node_id = std::string(host) + "-" + std::to_string(::getpid());
    }
    torrents_dir = cfg.state_dir + "/torrents";
    std::error_code ec;
    fs::create_directories(torrents_dir, ec);
    m.gauge_callback("swarmcache_proxy_cache_bytes", "Bytes in the blob cache",
                     [this] { return static_cast<double>(cache.used_bytes()); });
    m.gauge_callback("swarmcache_proxy_cache_entries", "Blobs in the cache",
                     [this] { return static_cast<double>(cache.count()); });
    cache.set_counters(&m.counter("swarmcache_proxy_cache_evictions_total", "Blobs evicted to stay in budget"),
                       &m.counter("swarmcache_proxy_cache_corrupt_total",
                                  "Cache entries deleted because their bytes or size did not match their record"));
    if (cfg.cache_scrub_rate > 0)
      scrubber = std::make_unique<CacheScrubber>(
          loop, cache, cfg.cache_scrub_rate,
          m.counter("swarmcache_proxy_cache_scrubbed_bytes_total", "Bytes re-hashed by the background scrub"));
    cache.on_evict([this](const std::string& hex) { stop_seeding(hex); });
    if (swarm) {
      swarm->on_complete([this](const std::string& ih) { on_swarm_complete(ih); });
    }
  }

  ~Impl() { *alive = false; }

  // ---- helpers ---------------------------------------------------------------------------

  static std::vector<std::string> configured_targets(const ProxyConfig& c) {
    std::vector<std::string> out = c.connect_allow;
    for (const auto& u : c.upstreams) out.push_back(u.url);
    for (const auto& r : c.ostree_remotes) out.push_back(r.url);
    return out;
  }

  std::function<Status(std::string_view, uint16_t)> dial_check() {
    return [this](std::string_view ip, uint16_t port) { return policy.check(ip, port); };
  }

  // A refused target: 403, a warning line (rare, and worth an operator's eye) and a counter.
  void refuse(HttpRequest& req, std::string_view kind, std::string_view target, std::string_view why) {
    count(kind, "refused");
    SC_WARN("refused target", {"method", req.method()}, {"target", target}, {"client", req.peer_ip()},
            {"reason", why});
    req.reply(403, "text/plain", std::string(why) + "\n");
  }

  void count(std::string_view kind, std::string_view result) { requests.with({kind, result}).inc(); }

  Counter& source_counter(std::string_view source) {
    if (source == "peer") return served_peer;
    if (source == "upstream") return served_upstream;
    return served_cache;
  }

  void serve_from_cache(HttpRequest& req, const std::string& hex, std::string_view source, bool digest_header) {
    auto opened = cache.open_blob(hex);
    if (!opened) {
      count("blob", "error");
      return reply_oci(req, "BLOB_UNKNOWN", 404, "blob not available");
    }
    auto [fd, size] = *opened;
    const auto* info = cache.info(hex);
    bool verified = !info || info->verified || req.method() == "HEAD";
    if (!verified && !req.header("Range").empty()) {
      ::close(fd);
      return verify_then_serve(req, hex, source, digest_header);
    }
    if (digest_header) req.add_header("Docker-Content-Digest", "sha256:" + hex);
    req.add_header("Accept-Ranges", "bytes");
    req.add_header("ETag", "\"sha256:" + hex + "\"");
    bool head = req.method() == "HEAD";
    auto range = parse_range(req.header("Range"), size);
    if (range.outcome == RangeOutcome::unsatisfiable) {
      ::close(fd);
      req.add_header("Content-Range", "bytes */" + std::to_string(size));
      count("blob", "range_unsatisfiable");
      return reply_oci(req, "SIZE_INVALID", 416, "requested range not satisfiable");
    }
    int64_t first = 0, len = size;
    int status = 200;
    if (range.outcome == RangeOutcome::range) {
      first = range.range.first;
      len = range.range.length();
      status = 206;
      req.add_header("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                                          std::to_string(range.range.last) + "/" + std::to_string(size));
    }
    if (head) {
      ::close(fd);
      req.add_header("Content-Length", std::to_string(len));
      count("blob", "head");
      return req.reply(status, "application/octet-stream", "");
    }
    if (!verified) return serve_unverified(req, hex, fd, size, source);
    source_counter(source).inc(static_cast<uint64_t>(len));
    count("blob", std::string(source));
    req.reply_file(status, "application/octet-stream", fd, first, len);
  }

  // First hit since start of a Range request: the whole file is hashed on the worker first.
  void verify_then_serve(HttpRequest& req, const std::string& hex, std::string_view source, bool digest_header) {
    auto held = req.hold();
    std::weak_ptr<bool> weak_alive = alive;
    std::string path = cache.blob_path(hex), want = cache.info(hex)->sha256, src(source);
    work->post([this, weak_alive, held, hex, path, want, src, digest_header] {
      auto got = sha256_file_hex(path);
      bool ok = got && *got == want;
      loop.defer([this, weak_alive, held, hex, ok, src, digest_header] {
        if (weak_alive.expired()) return;
        if (!ok) {
          cache.mark_corrupt(hex);
          count("blob", "corrupt_cache");
          if (held->alive()) reply_oci(*held, "UNAVAILABLE", 503, "the cached copy was corrupt; retry");
          return;
        }
        cache.mark_verified(hex);
        if (held->alive()) serve_from_cache(*held, hex, src, digest_header);
      });
    });
  }

  // First whole-body GET since start: sent while hashed, aborted on a mismatch.
  void serve_unverified(HttpRequest& req, const std::string& hex, int fd, int64_t size, std::string_view source) {
    std::string want = cache.info(hex)->sha256;
    uint64_t id = next_sender++;
    Counter& served_from = source_counter(source);
    std::weak_ptr<bool> weak_alive = alive;
    senders[id] = std::make_unique<VerifyingSender>(
        loop, req.hold(), fd, size, want,
        [this, weak_alive, id, hex, &served_from](VerifyingSender::Outcome o, int64_t sent) {
          if (weak_alive.expired()) return;
          if (sent > 0) served_from.inc(static_cast<uint64_t>(sent));
          if (o == VerifyingSender::Outcome::matched) {
            cache.mark_verified(hex);
            count("blob", "cache_verified");
          } else if (o == VerifyingSender::Outcome::mismatch) {
            cache.mark_corrupt(hex);
            count("blob", "corrupt_cache");
          }
          loop.defer([this, weak_alive, id] {
            if (!weak_alive.expired()) senders.erase(id);
          });
        });
  }

  // ---- /v2/ ------------------------------------------------------------------------------

  // /v2/ is always the mirror, whatever the Host header says: behind a port mapping (docker
  // -p 5000:8888) clients name a port that is not ours.
  void handle_v2(HttpRequest& req) {
    auto p = parse_oci_path(req.path());
    if (!p) {
      count("v2", "bad_request");
      return reply_oci(req, p.error().code, p.error().status, p.error().message);
    }
    if (req.method() != "GET" && req.method() != "HEAD") {
      count("v2", "method");
      return reply_oci(req, "UNSUPPORTED", 405, "this mirror is read-only");
    }
    req.add_header("Docker-Distribution-API-Version", "registry/2.0");
    if (p->route == OciRoute::base) return req.reply(200, "application/json", "{}");
    if (p->route == OciRoute::unsupported) return reply_oci(req, "UNSUPPORTED", 404, "not served by this mirror");
    // containerd names the registry it mirrors in ?ns= (escaped: "127.0.0.1%3A5000"); dockerd
    // mirrors docker.io only.
    auto ns = percent_decode(query_param(req.query(), "ns"), false);
    if (!ns) {
      count("v2", "bad_request");
      return reply_oci(req, "NAME_INVALID", 400, "malformed ?ns= value");
    }
    std::string_view registry = ns->empty() ? std::string_view(cfg.default_registry) : std::string_view(*ns);
    auto it = registries.find(registry);
    if (it == registries.end()) {
      count("v2", "unknown_registry");
      SC_WARN("refused target", {"method", req.method()}, {"registry", registry}, {"client", req.peer_ip()},
              {"reason", "registry not in upstreams"});
      return reply_oci(req, "NAME_UNKNOWN", 404, "registry " + std::string(registry) + " is not mirrored here");
    }
    Upstream& up = *it->second;
    switch (p->route) {
      case OciRoute::tags_list: return manifests.handle_tags(req, *p, up);
      case OciRoute::manifest: return manifests.handle_manifest(req, *p, up, it->first);
      case OciRoute::blob: return handle_blob(req, *p, up);
      default: return;
    }
  }

  // ---- blobs -----------------------------------------------------------------------------

  void handle_blob(HttpRequest& req, const OciPath& p, Upstream& upstream) {
    std::string hex = p.reference.substr(7);
    if (cache.lookup(hex)) return serve_from_cache(req, hex, "cache", true);
    if (req.method() == "HEAD") return head_upstream_blob(req, p, upstream);
    auto f = inflight_for(hex, "sha256:" + hex);
    if (!f) return reply_oci(req, "TOOMANYREQUESTS", 429, "too many clients waiting for this blob");
    bool fresh = f->name.empty() && f->url.empty();
    if (fresh) {
      f->name = p.name;
      f->up = &upstream;
    }
    f->waiters.push_back(req.hold());
    if (fresh) start_fetch(f);
  }

  void head_upstream_blob(HttpRequest& req, const OciPath& p, Upstream& upstream) {
    auto held = req.hold();
    UpstreamRequest ur{"HEAD", "/v2/" + p.name + "/blobs/" + p.reference, "repository:" + p.name + ":pull", {}};
    std::string digest = p.reference;
    upstream.start(
        std::move(ur),
        [held, digest](const UpstreamHead& h) {
          if (!held->alive()) return false;
          if (h.status == 200) {
            held->add_header("Docker-Content-Digest", digest);
            if (h.content_length >= 0) held->add_header("Content-Length", std::to_string(h.content_length));
            held->reply(200, "application/octet-stream", "");
          } else if (h.status == 404) {
            reply_oci(*held, "BLOB_UNKNOWN", 404, "blob unknown upstream");
          } else {
            reply_fetch_error(*held, error_for_upstream_status(h.status, "blob"), "BLOB_UNKNOWN");
          }
          return false;
        },
        nullptr,
        [held](Status st) {
          if (!st && held->alive() && st.error().code != Errc::cancelled) reply_fetch_error(*held, st.error(), "BLOB_UNKNOWN");
        });
  }

  std::shared_ptr<Inflight> inflight_for(const std::string& hex, const std::string& key) {
    auto it = inflight.find(hex);
    if (it != inflight.end()) {
      if (it->second->waiters.size() >= kMaxWaiters) return nullptr;
      return it->second;
    }
    auto f = std::make_shared<Inflight>();
    f->hex = hex;
    f->key = key;
    inflight[hex] = f;
    return f;
  }

  void start_fetch(std::shared_ptr<Inflight> f) {
    if (!metastore || !swarm) return fetch_upstream(f);
    std::weak_ptr<bool> weak_alive = alive;
    metastore->get_torrent(f->key, [this, weak_alive, f](Result<std::optional<std::string>> r) {
      if (weak_alive.expired()) return;
      if (!r) {
        SC_DEBUG("metastore lookup failed", {"key", f->key}, {"error", r.error().message});
        return fetch_upstream(f);
      }
      if (*r) return fetch_swarm(f, std::move(**r));
      metastore->take_lease(f->key, node_id, cfg.lease_ttl_ms, [this, weak_alive, f](Result<bool> granted) {
        if (weak_alive.expired()) return;
        if (!granted) {
          leases.with({"error"}).inc();
          return fetch_upstream(f);
        }
        if (*granted) {
          leases.with({"granted"}).inc();
          f->leased = true;
          return fetch_upstream(f);
        }
        leases.with({"lost"}).inc();
        f->wait_deadline_ms = loop.clock().mono_ms() + cfg.lease_wait_ms;
        poll_for_torrent(f);
      });
    });
  }

  // The lease winner is fetching upstream; wait (bounded) for its torrent.
  void poll_for_torrent(std::shared_ptr<Inflight> f) {
    std::weak_ptr<bool> weak_alive = alive;
    f->timer = loop.after(kTorrentPollMs, [this, weak_alive, f] {
      if (weak_alive.expired()) return;
      metastore->get_torrent(f->key, [this, weak_alive, f](Result<std::optional<std::string>> r) {
        if (weak_alive.expired()) return;
        if (r && *r) return fetch_swarm(f, std::move(**r));
        if (loop.clock().mono_ms() >= f->wait_deadline_ms) {
          leases.with({"wait_timeout"}).inc();
          return fetch_upstream(f);
        }
        poll_for_torrent(f);
      });
    });
  }

  void fetch_swarm(std::shared_ptr<Inflight> f, std::string torrent) {
    auto info = inspect_torrent(torrent);
    // Only our own shape can be served from the cache path: one file named by the hex.
    if (!info || info->files.size() != 1 || info->name != f->hex || info->total_size <= 0 ||
        info->total_size > cache.budget_bytes()) {
      swarm_downloads.with({"unusable_torrent"}).inc();
      return fetch_upstream(f);
    }
    if (auto st = cache.mark_partial(f->hex); !st) return fetch_upstream(f);
    // In piece order, so the streamed client's next bytes are the ones being fetched.
    if (auto st = write_sequential_resume(cfg.state_dir + "/swarm", torrent); !st)
      SC_DEBUG("no sequential download", {"key", f->key}, {"error", st.error().message});
    AddTorrentOptions ao;
    ao.key = f->key;
    ao.save_path = cache.blobs_dir();
    if (!cfg.tracker.empty()) ao.trackers.push_back(cfg.tracker);
    auto ih = swarm->add(torrent, ao);
    if (!ih) {
      cache.clear_partial(f->hex);
      swarm_downloads.with({"add_failed"}).inc();
      return fetch_upstream(f);
    }
    f->infohash = *ih;
    f->torrent = std::move(torrent);
    swarm_pending[*ih] = f;
    arm_swarm_stall_timer(f, -1);
    // A complete torrent (data already on disk) reports at once through on_complete.
    start_stream(f, info->total_size);
  }

  void start_stream(std::shared_ptr<Inflight> f, int64_t total) {
    auto info = parse_single_file_torrent(f->torrent);
    if (!info || info->total != total) return;
    auto s = std::make_shared<SwarmStream>();
    s->piece_len = info->piece_len;
    s->total = total;
    s->pieces = info->pieces;
    s->hashes = std::move(info->hashes);
    for (auto it = f->waiters.begin(); it != f->waiters.end(); ++it) {
      if ((*it)->alive() && (*it)->method() == "GET" && (*it)->header("Range").empty()) {
        s->req = *it;
        f->waiters.erase(it);
        break;
      }
    }
    if (!s->req) return;
    if (f->verify) s->req->add_header("Docker-Content-Digest", "sha256:" + f->hex);
    f->stream = s;
    std::weak_ptr<bool> weak_alive = alive;
    std::weak_ptr<Inflight> weak_f = f;
    s->timer = loop.every(kStreamPollMs, [this, weak_alive, weak_f] {
      if (weak_alive.expired()) return;
      if (auto fl = weak_f.lock()) stream_tick(*fl);
    });
  }

  void stream_send(SwarmStream& s, int64_t off, int64_t len) {
    if (len <= 0) return;
    int fd = ::dup(s.fd);
    if (fd < 0) return;
    // The head goes out with the first piece that checked out: until then the client can still
    // be handed to the upstream fetch whole.
    if (!s.started) s.req->stream_start(200, "application/octet-stream", s.total);
    s.started = true;
    OwnedBuffer b;
    b.add_file(fd, off, len);
    s.req->stream_write(b.get());
    s.sent += len;
    served_peer.inc(static_cast<uint64_t>(len));
  }

  void stream_tick(Inflight& f) {
    auto& s = f.stream;
    if (!s) return;
    if (!s->req->alive()) {
      // The client left; the download goes on for the cache and other waiters. The stream
      // owns the timer running this callback: free it on the next loop turn.
      loop.defer([gone = std::move(s)] {});
      return;
    }
    if (s->req->pending_output() > kTeeHighWater) return;
    if (s->fd < 0) {
      s->fd = ::open(cache.blob_path(f.hex).c_str(), O_RDONLY | O_CLOEXEC);
      if (s->fd < 0) return;  // libtorrent has not created the file yet
    }
    std::string buf;
    // Every piece but the last goes out as soon as it matches its SHA-1; the last waits for
    // the whole-blob sha256 in stream_finish().
    for (int i = 0; i < kStreamPiecesPerTick && s->next < s->pieces - 1; ++i) {
      int64_t off = s->next * s->piece_len;
      int64_t len = std::min(s->piece_len, s->total - off);
      buf.resize(static_cast<size_t>(len));
      if (::pread(s->fd, buf.data(), static_cast<size_t>(len), off) != len) break;
      auto h = sha1(buf);
      if (std::string_view(reinterpret_cast<const char*>(h.data()), h.size()) !=
          std::string_view(s->hashes).substr(static_cast<size_t>(s->next) * 20, 20))
        break;  // not here yet (or not yet written by libtorrent's disk threads)
      stream_send(*s, off, len);
      ++s->next;
    }
  }

  // The whole file matched: send what the client has not had yet and end the response.
  void stream_finish(Inflight& f) {
    auto s = std::move(f.stream);
    if (!s || !s->req->alive()) return;
    if (s->fd < 0) s->fd = ::open(cache.blob_path(f.hex).c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return s->req->stream_abort();
    stream_send(*s, s->sent, s->total - s->sent);
    s->req->stream_end();
    count("blob", "peer_stream");
  }

  // A swarm download that has not gained a byte for swarm_timeout_ms goes upstream; a slow
  // but moving one (a large blob on a busy LAN) is left alone.
  void arm_swarm_stall_timer(std::shared_ptr<Inflight> f, int64_t last_downloaded) {
    std::weak_ptr<bool> weak_alive = alive;
    f->timer = loop.after(cfg.swarm_timeout_ms, [this, weak_alive, f, last_downloaded] {
      // Re-arming or abandoning replaces f->timer, the timer running this callback: do it from
      // the next loop turn.
      loop.defer([this, weak_alive, f, last_downloaded] {
        if (weak_alive.expired() || f->infohash.empty()) return;
        auto st = swarm->status_of(f->infohash);
        int64_t now = st ? st->downloaded : 0;
        if (now > std::max<int64_t>(last_downloaded, 0)) return arm_swarm_stall_timer(f, now);
        swarm_downloads.with({"timeout"}).inc();
        abandon_swarm(f);
      });
    });
  }

  // Gives the swarm download up; the waiters are served from upstream. A client that already
  // got bytes from the swarm is cut (its response aborted): they passed only the torrent's
  // piece hashes, and a torrent registered under a digest can itself be wrong, so an upstream
  // tail must never complete them. One that got nothing yet rejoins the waiters.
  void abandon_swarm(std::shared_ptr<Inflight> f) {
    if (auto s = std::move(f->stream)) {
      if (!s->started && s->req->alive()) {
        f->waiters.insert(f->waiters.begin(), s->req);
      } else if (s->req->alive()) {
        s->req->stream_abort();
        count("blob", "aborted");
      }
      loop.defer([s] {});  // its timer may be the one running now
    }
    swarm_pending.erase(f->infohash);
    f->timer.reset();
    (void)swarm->remove(f->infohash, false);
    // Unlink ourselves, synchronously: an asynchronous delete could hit the file the upstream
    // fetch is about to rename into the same place.
    ::unlink(cache.blob_path(f->hex).c_str());
    cache.clear_partial(f->hex);
    f->infohash.clear();
    fetch_upstream(f);
  }

  void on_swarm_complete(const std::string& ih) {
    auto it = swarm_pending.find(ih);
    if (it == swarm_pending.end()) return;
    auto f = it->second;
    swarm_pending.erase(it);
    f->timer.reset();
    verify_swarm_file(f, 0);
  }

  // libtorrent reports a torrent finished once every piece passed its hash, which can be
  // before its disk threads wrote the last blocks to the file; so the file itself is checked
  // (sha256 for blobs, the torrent's piece hashes for OSTree files), and re-checked a few
  // times before the download is declared bad.
  void verify_swarm_file(std::shared_ptr<Inflight> f, int attempt) {
    std::string path = cache.blob_path(f->hex);
    std::weak_ptr<bool> weak_alive = alive;
    work->post([this, weak_alive, f, path, attempt] {
      Result<FileCheck> ok = f->verify ? check_sha256_file(path, f->hex) : check_pieces_file(path, f->torrent);
      loop.defer([this, weak_alive, f, ok, attempt] {
        if (weak_alive.expired()) return;
        if (!ok) {
          if (attempt < kVerifyAttempts) {
            f->timer = loop.after(kVerifyRetryMs * (attempt + 1), [this, weak_alive, f, attempt] {
              if (!weak_alive.expired()) verify_swarm_file(f, attempt + 1);
            });
            return;
          }
          digest_mismatch.inc();
          swarm_downloads.with({"digest_mismatch"}).inc();
          SC_WARN("swarm file failed verification; going upstream", {"key", f->key}, {"error", ok.error().message});
          if (f->verify) quarantine(f->key, f->infohash);
          return abandon_swarm(f);
        }
        if (auto st = cache.adopt(f->hex, ok->sha256); !st) {
          swarm_downloads.with({"cache_error"}).inc();
          return abandon_swarm(f);
        }
        swarm_downloads.with({"ok"}).inc();
        torrent_of[f->hex] = f->infohash;
        save_torrent(f->hex, f->torrent);
        bool streamed = f->stream != nullptr;
        stream_finish(*f);
        finish(f, {}, streamed ? "cache" : "peer");
      });
    });
  }

  void fetch_upstream(std::shared_ptr<Inflight> f) {
    upstream_blob_fetches.inc();
    auto tee = std::make_shared<Tee>();
    for (auto it = f->waiters.begin(); !tee->streamer && it != f->waiters.end(); ++it) {
      if ((*it)->alive() && (*it)->method() == "GET" && (*it)->header("Range").empty()) {
        tee->streamer = *it;
        f->waiters.erase(it);
        break;
      }
    }
    auto w = cache.begin(f->hex, -1, f->verify);
    if (w) tee->writer = std::move(*w);
    else if (w.error().code == Errc::conflict) return finish(f, {}, "cache");
    std::weak_ptr<bool> weak_alive = alive;
    std::weak_ptr<Tee> weak_tee = tee;
    auto on_head = [this, tee_w = weak_tee, f](const UpstreamHead& h) {
      auto t = tee_w.lock();
      if (!t) return false;
      t->status = h.status;
      if (h.status != 200) return false;
      if (h.content_length > cache.budget_bytes()) t->writer.reset();
      if (t->streamer && t->streamer->alive() && !t->started) {
        if (f->verify) t->streamer->add_header("Docker-Content-Digest", "sha256:" + f->hex);
        std::string ct(h.header("Content-Type"));
        if (ct.empty()) ct = "application/octet-stream";
        t->streamer->stream_start(200, ct, h.content_length);
        t->started = true;
      }
      return true;
    };
    auto on_data = [this, tee_w = weak_tee](evbuffer* buf) {
      auto t = tee_w.lock();
      if (!t) return;
      if (t->writer) {
        Status ws;
        for_each_segment(buf, [&](std::string_view s) {
          if (ws) ws = t->writer->write(s);
        });
        if (!ws) t->writer.reset();
      }
      if (t->started && t->streamer && t->streamer->alive() && buffer_length(buf) > 0) {
        served_upstream.inc(buffer_length(buf));
        if (t->held.size() > 0) t->streamer->stream_write(t->held.get());
        t->held.move_from(buf);
        if (t->streamer->pending_output() > kTeeHighWater && t->call && !t->bp_timer) {
          t->call->pause();
          std::weak_ptr<Tee> tw = t;
          t->bp_timer = loop.every(kTeePollMs, [tw] {
            auto tt = tw.lock();
            if (!tt) return;
            if (!tt->streamer->alive() || tt->streamer->pending_output() < kTeeLowWater) {
              if (tt->call) tt->call->resume();
              tt->bp_timer.reset();
            }
          });
        }
      }
    };
    auto on_done = [this, weak_alive, tee, f](Status st) mutable {
      if (weak_alive.expired()) return;
      tee->bp_timer.reset();
      bool streaming = tee->started && tee->streamer && tee->streamer->alive();
      Error err;
      bool ok = st && tee->status == 200;
      if (!ok) {
        err = tee->status != 0 && tee->status != 200 ? error_for_upstream_status(tee->status, "blob " + f->key)
                                                     : st.error();
      } else if (tee->writer) {
        auto c = tee->writer->commit();
        if (!c) {
          ok = false;
          err = c.error();
          if (c.error().code == Errc::invalid_argument) {
            digest_mismatch.inc();
            SC_WARN("upstream blob failed its digest; not cached", {"key", f->key}, {"error", c.error().message});
            err = Error{Errc::unavailable, "upstream blob does not match its digest"};
          }
        }
      } else {
        // Too large for the cache (or a write failed): the streamer was served, waiters cannot be.
        if (streaming) {
          if (tee->held.size() > 0) tee->streamer->stream_write(tee->held.get());
          tee->streamer->stream_end();
        }
        tee->streamer.reset();
        return finish(f, fail(Errc::unavailable, "blob could not be cached"), "cache");
      }
      if (tee->streamer && tee->streamer->alive()) {
        if (ok) {
          if (tee->held.size() > 0) tee->streamer->stream_write(tee->held.get());
          tee->streamer->stream_end();
          count("blob", "upstream");
        } else if (tee->started) {
          count("blob", "aborted");
          tee->streamer->stream_abort();
        } else {
          count("blob", "error");
          reply_fetch_error(*tee->streamer, err, "BLOB_UNKNOWN");
        }
      }
      tee->streamer.reset();
      tee->call.reset();
      if (!ok) {
        if (f->leased) metastore->release_lease(f->key, node_id);
        return finish(f, std::unexpected(err), "cache");
      }
      finish(f, {}, "cache");
      register_blob(f);
    };
    if (f->url.empty()) {
      UpstreamRequest ur{"GET", "/v2/" + f->name + "/blobs/sha256:" + f->hex, "repository:" + f->name + ":pull", {}};
      tee->call = f->up->start(std::move(ur), on_head, on_data, on_done);
    } else {
      UrlRequest fr;
      fr.url = f->url;
      fr.timeout_ms = cfg.upstream_timeout_ms;
      fr.check_address = dial_check();
      tee->call = urls.start(std::move(fr), on_head, on_data, on_done);
    }
  }

  // Serves (or fails) every request waiting on f; the first waiter of a swarm download is
  // counted as peer bytes, later ones as cache hits.
  void finish(std::shared_ptr<Inflight> f, Status st, std::string_view first_source) {
    inflight.erase(f->hex);
    f->timer.reset();
    bool first = true;
    for (auto& w : f->waiters) {
      if (!w->alive()) continue;
      if (st) serve_from_cache(*w, f->hex, first ? first_source : "cache", f->verify);
      else reply_fetch_error(*w, st.error(), "BLOB_UNKNOWN");
      first = false;
    }
    f->waiters.clear();
  }

  // ---- torrents --------------------------------------------------------------------------

  void save_torrent(const std::string& hex, const std::string& bytes) {
    std::string path = torrents_dir + "/" + hex + ".torrent";
    std::ofstream out(path + ".tmp", std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (out) std::rename((path + ".tmp").c_str(), path.c_str());
  }

  void register_blob(std::shared_ptr<Inflight> f) {
    if (!swarm) {
      if (f->leased && metastore) metastore->release_lease(f->key, node_id);
      return;
    }
    std::string path = cache.blob_path(f->hex);
    MakeTorrentOptions mo;
    if (!cfg.tracker.empty()) mo.trackers.push_back(cfg.tracker);
    mo.threads = 1;
    std::weak_ptr<bool> weak_alive = alive;
    work->post([this, weak_alive, f, path, mo] {
      auto made = make_torrent(path, mo);
      loop.defer([this, weak_alive, f, made = std::move(made)]() mutable {
        if (weak_alive.expired()) return;
        auto release = [this, f] {
          if (f->leased && metastore) metastore->release_lease(f->key, node_id);
        };
        if (!made) {
          SC_WARN("cannot make torrent for cached blob", {"key", f->key}, {"error", made.error().message});
          return release();
        }
        if (!cache.contains(f->hex)) return release();  // evicted meanwhile
        AddTorrentOptions ao;
        ao.key = f->key;
        ao.save_path = cache.blobs_dir();
        ao.seed_mode = true;
        auto ih = swarm->add(made->bytes, ao);
        if (!ih) {
          SC_WARN("cannot seed blob", {"key", f->key}, {"error", ih.error().message});
          return release();
        }
        torrent_of[f->hex] = *ih;
        save_torrent(f->hex, made->bytes);
        if (!metastore) return;
        metastore->put_torrent(f->key, made->bytes, [this, weak_alive, f](Status st) {
          if (weak_alive.expired()) return;
          if (st) registered.inc();
          else SC_WARN("cannot register torrent", {"key", f->key}, {"error", st.error().message});
          if (f->leased) metastore->release_lease(f->key, node_id);
        });
      });
    });
  }

  // The torrent under `key` gave bytes that are not the digest: tell the metastore, so that no
  // proxy trusts it again (it drops the registration and refuses that infohash for the key).
  void quarantine(const std::string& key, const std::string& infohash) {
    quarantined.inc();
    if (!metastore || infohash.empty()) return;
    metastore->quarantine(key, infohash, "content does not match " + key, [key](Result<bool> r) {
      if (!r) SC_WARN("cannot quarantine torrent", {"key", key}, {"error", r.error().message});
    });
  }

  void stop_seeding(const std::string& hex) {
    auto it = torrent_of.find(hex);
    if (it != torrent_of.end()) {
      // Removing the torrent sends event=stopped to its trackers.
      if (swarm) (void)swarm->remove(it->second, false);
      torrent_of.erase(it);
    }
    ::unlink((torrents_dir + "/" + hex + ".torrent").c_str());
  }

  void sync_torrents() {
    std::error_code ec;
    std::vector<fs::path> files, drop;
    for (auto it = fs::directory_iterator(torrents_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      files.push_back(it->path());
    for (const auto& path : files) {
      std::string name = path.filename().string();
      std::string hex = name.substr(0, name.find('.'));
      if (!swarm && name.ends_with(".torrent")) continue;  // kept for a run with the swarm on
      if (name.ends_with(".torrent") && is_blob_hex(hex) && cache.contains(hex)) {
        std::ifstream in(path, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        AddTorrentOptions ao;
        ao.key = "sha256:" + hex;  // OSTree entries re-register under their key when next fetched
        ao.save_path = cache.blobs_dir();
        ao.seed_mode = true;
        if (auto ih = swarm->add(bytes, ao)) {
          torrent_of[hex] = *ih;
          continue;
        }
      }
      drop.push_back(path);
    }
    if (!swarm) return;
    // Resume data of downloads a crash interrupted (their partial files are gone): left in
    // place it would claim pieces the next download of the same torrent does not have.
    std::unordered_set<std::string> live;
    for (auto& [hex, ih] : torrent_of) live.insert(ih);
    std::string resume_dir = cfg.state_dir + "/swarm/resume";
    for (auto it = fs::directory_iterator(resume_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.ends_with(".resume") && !live.count(name.substr(0, name.size() - 7))) drop.push_back(it->path());
    }
    for (const auto& path : drop) fs::remove(path, ec);
  }

  // ---- forward proxy (OSTree) ------------------------------------------------------------

  // Absolute-form requests (OSTree's http_proxy): only for configured remotes. The request
  // line's authority picks the remote; the Host header plays no part, and what is fetched is
  // the remote's configured origin plus the (checked) path.
  void handle_forward(HttpRequest& req, const std::string& origin) {
    if (!cfg.forward_proxy || cfg.ostree_remotes.empty())
      return refuse(req, "forward", origin, "the forward proxy is off (no ostree.remotes configured)");
    if (!origin.starts_with("http://"))
      return refuse(req, "forward", origin, "only http:// is forwarded; https goes through CONNECT, never downgraded");
    if (req.method() != "GET" && req.method() != "HEAD") {
      count("forward", "method");
      return req.reply(405, "text/plain", "only GET and HEAD are proxied\n");
    }
    std::string path(req.path());
    auto u = parse_absolute_url(origin + path);
    if (!u || !safe_forward_path(path)) {
      count("forward", "bad_request");
      return req.reply(400, "text/plain", "bad proxy request path\n");
    }
    const OstreeRemote* remote = nullptr;
    for (const auto& r : cfg.ostree_remotes) {
      if (r.host == u->host && r.port == u->port &&
          (r.prefix.empty() || path == r.prefix || path.starts_with(r.prefix + "/"))) {
        remote = &r;
        break;
      }
    }
    if (!remote) return refuse(req, "forward", origin + path, "not below a configured ostree remote");
    std::string url = remote->origin + path;
    if (!req.query().empty()) url += "?" + std::string(req.query());
    std::string rest = path.substr(std::min(path.size(), remote->prefix.size() + 1));
    std::string key = "ostree/" + remote->name + "/" + rest;
    if (req.method() == "GET" && req.query().empty() && req.header("Range").empty() &&
        path.find("/deltas/") != std::string::npos && is_valid_content_key(key)) {
      std::string hex = to_hex(sha256(key));
      if (cache.lookup(hex)) return serve_from_cache(req, hex, "cache", false);
      auto f = inflight_for(hex, key);
      if (!f) return req.reply(429, "text/plain", "too many clients waiting\n");
      bool fresh = f->name.empty() && f->url.empty();
      if (fresh) {
        f->url = url;
        f->verify = false;
      }
      f->waiters.push_back(req.hold());
      if (fresh) start_fetch(f);
      return;
    }
    pass_through(req, url);
  }

  void pass_through(HttpRequest& req, const std::string& url) {
    auto held = req.hold();
    UrlRequest fr;
    fr.method = std::string(req.method());
    fr.url = url;
    fr.timeout_ms = cfg.upstream_timeout_ms;
    fr.check_address = dial_check();
    for (const char* h : {"Accept", "Range", "If-None-Match", "If-Modified-Since", "User-Agent"}) {
      std::string_view v = req.header(h);
      if (!v.empty()) fr.headers.emplace_back(h, std::string(v));
    }
    auto started = std::make_shared<bool>(false);
    bool head_only = fr.method == "HEAD";
    urls.start(
        std::move(fr),
        [this, held, started, head_only](const UpstreamHead& h) {
          if (!held->alive()) return false;
          for (const char* name : {"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Cache-Control"}) {
            std::string_view v = h.header(name);
            if (!v.empty()) held->add_header(name, v);
          }
          std::string ct(h.header("Content-Type"));
          if (head_only) {
            if (h.content_length >= 0) held->add_header("Content-Length", std::to_string(h.content_length));
            held->reply(h.status, ct, "");
            count("forward", "pass");
            return false;
          }
          held->stream_start(h.status, ct, h.content_length);
          *started = true;
          return true;
        },
        [this, held](evbuffer* b) {
          if (!held->alive()) return;
          served_upstream.inc(buffer_length(b));
          held->stream_write(b);
        },
        [this, held, started](Status st) {
          if (!held->alive()) return;
          if (*started) {
            if (st) {
              count("forward", "pass");
              held->stream_end();
            } else {
              count("forward", "aborted");
              held->stream_abort();
            }
          } else if (!st && st.error().code != Errc::cancelled) {
            count("forward", "error");
            held->reply(st.error().code == Errc::timeout ? 504 : 502, "text/plain", st.error().message + "\n");
          }
        });
  }
};

Proxy::Proxy(EventLoop& loop, const ProxyConfig& cfg, BlobCache& cache, MetastoreAsync* metastore, SwarmSession* swarm,
             MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(loop, cfg, cache, metastore, swarm, metrics)) {}

Proxy::~Proxy() = default;

void Proxy::sync_torrents() { impl_->sync_torrents(); }

bool Proxy::ready() const { return true; }

void Proxy::add_own_port(uint16_t port) { impl_->policy.add_own_port(port); }

void Proxy::install(HttpServer& server) {
  Impl* p = impl_.get();
  server.route("/v2", [p](HttpRequest& req) { p->handle_v2(req); });
  server.route("/v2/*", [p](HttpRequest& req) { p->handle_v2(req); });
  server.route("*", [p](HttpRequest& req) {  // "*", not "/*": a CONNECT target is "host:port"
    if (req.method() == "CONNECT") return p->connect.handle(req);
    if (std::string origin = absolute_form_origin(req); !origin.empty()) return p->handle_forward(req, origin);
    req.reply(404, "application/json", oci_error_json("UNSUPPORTED", "not a registry API path"));
  });
}

}  // namespace sc
