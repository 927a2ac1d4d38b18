// The Redis peer store: Lua scripts that make each announce, scrape and GC batch one atomic
// step in Redis, a connection per serving thread, and a store thread that answers threads
// without a loop, sweeps expired peers, and tracks readiness and the totals for /metrics.
#include "services/tracker/peer_store_redis.h"

#include <algorithm>
#include <charconv>

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"

namespace sc {
namespace {

// How often the store thread pings Redis (readiness) and reads the totals (/metrics): a down
// Redis shows in /readyz within about this long, and the gauges lag by as much.
constexpr int64_t kTickMs = 500;
// While not ready it checks this often, so recovery is seen soon after Redis answers again.
constexpr int64_t kNotReadyTickMs = 50;
// Swarms swept per GC script: bounds how long one script holds Redis (each swarm costs four
// ZREMRANGEBYSCOREs), while keeping round trips few.
constexpr int64_t kGcBatch = 100;

std::atomic<uint64_t> g_next_store_id{1};

// One entry per store this thread has attached to.
struct ThreadClient {
  uint64_t store_id;
  RedisClient* client;
};
thread_local std::vector<ThreadClient> t_clients;

// KEYS: s4 l4 s6 l6 meta swarms stats. ARGV: hex-ih member v6 seeder event numwant now
// max-swarms. Returns {seeders, leechers, downloaded, {peers…}} with counts over both
// families, or {-1} when the announce would create a swarm beyond max-swarms.
const RedisScript kAnnounceScript(R"lua(
local fam = (ARGV[3] == '1') and 3 or 1
local seeders, leechers = KEYS[fam], KEYS[fam + 1]
local member, ev, numwant = ARGV[2], ARGV[5], tonumber(ARGV[6])
local seeder = ARGV[4] == '1'
local peers = {}
if ev ~= 'stopped' and redis.call('SISMEMBER', KEYS[6], ARGV[1]) == 0
   and redis.call('SCARD', KEYS[6]) >= tonumber(ARGV[8]) then
  return {-1}
end
if ev == 'stopped' then
  if redis.call('ZREM', seeders, member) == 1 then redis.call('HINCRBY', KEYS[7], 'seeders', -1) end
  if redis.call('ZREM', leechers, member) == 1 then redis.call('HINCRBY', KEYS[7], 'leechers', -1) end
else
  local mine, other, mine_f, other_f = leechers, seeders, 'leechers', 'seeders'
  if seeder then mine, other, mine_f, other_f = seeders, leechers, 'seeders', 'leechers' end
  if redis.call('ZADD', mine, ARGV[7], member) == 1 then redis.call('HINCRBY', KEYS[7], mine_f, 1) end
  if redis.call('ZREM', other, member) == 1 then redis.call('HINCRBY', KEYS[7], other_f, -1) end
  if ev == 'completed' then redis.call('HINCRBY', KEYS[5], 'downloaded', 1) end
  redis.call('SADD', KEYS[6], ARGV[1])
  if numwant > 0 then
    if seeder then
      peers = redis.call('ZRANDMEMBER', leechers, numwant)
    else
      peers = redis.call('ZRANDMEMBER', seeders, numwant)
      if #peers < numwant then
        local more = redis.call('ZRANDMEMBER', leechers, numwant - #peers + 1)
        for _, p in ipairs(more) do
          if #peers >= numwant then break end
          if p ~= member then peers[#peers + 1] = p end
        end
      end
    end
  end
end
local s = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[3])
local l = redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[4])
local d = tonumber(redis.call('HGET', KEYS[5], 'downloaded') or '0')
if s + l == 0 then
  redis.call('SREM', KEYS[6], ARGV[1])
  redis.call('DEL', KEYS[5])
end
return {s, l, d, peers}
)lua");

// KEYS: five per swarm (s4 l4 s6 l6 meta). Returns {seeders, leechers, downloaded} per swarm.
const RedisScript kScrapeScript(R"lua(
local out = {}
for b = 1, #KEYS, 5 do
  out[#out + 1] = redis.call('ZCARD', KEYS[b]) + redis.call('ZCARD', KEYS[b + 2])
  out[#out + 1] = redis.call('ZCARD', KEYS[b + 1]) + redis.call('ZCARD', KEYS[b + 3])
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[b + 4], 'downloaded') or '0')
end
return out
)lua");

// KEYS: swarms stats, then five per swarm. ARGV: cutoff second, then one hex ih per swarm.
// Drops peers last seen before the cutoff and forgets swarms left empty; returns the count.
const RedisScript kGcScript(R"lua(
local cutoff = '(' .. ARGV[1]
local ds, dl = 0, 0
for i = 2, #ARGV do
  local b = 3 + (i - 2) * 5
  ds = ds + redis.call('ZREMRANGEBYSCORE', KEYS[b], '-inf', cutoff)
          + redis.call('ZREMRANGEBYSCORE', KEYS[b + 2], '-inf', cutoff)
  dl = dl + redis.call('ZREMRANGEBYSCORE', KEYS[b + 1], '-inf', cutoff)
          + redis.call('ZREMRANGEBYSCORE', KEYS[b + 3], '-inf', cutoff)
  if redis.call('EXISTS', KEYS[b], KEYS[b + 1], KEYS[b + 2], KEYS[b + 3]) == 0 then
    redis.call('SREM', KEYS[1], ARGV[i])
    redis.call('DEL', KEYS[b + 4])
  end
end
if ds > 0 then redis.call('HINCRBY', KEYS[2], 'seeders', -ds) end
if dl > 0 then redis.call('HINCRBY', KEYS[2], 'leechers', -dl) end
return ds + dl
)lua");

const char* event_name(AnnounceEvent e) {
  switch (e) {
    case AnnounceEvent::started: return "started";
    case AnnounceEvent::completed: return "completed";
    case AnnounceEvent::stopped: return "stopped";
    case AnnounceEvent::none: break;
  }
  return "none";
}

uint32_t as_u32(const RedisReply& r) {
  if (!r.is_integer() || r.integer < 0) return 0;
  return static_cast<uint32_t>(std::min<int64_t>(r.integer, UINT32_MAX));
}

Error bad_reply(const char* what) { return Error{Errc::internal, std::string("unexpected Redis reply to ") + what}; }

}  // namespace

// One sweep, owned by the store thread's callbacks from start to `done`.
struct RedisPeerStore::GcRun {
  int64_t cutoff_s = 0;
  std::string cursor = "0";
  uint64_t dropped = 0;
  GcDone done;
};

RedisPeerStore::RedisPeerStore(const Clock& clock, RedisStoreOptions options)
    : clock_(clock), options_(std::move(options)), id_(g_next_store_id.fetch_add(1)) {}

RedisPeerStore::~RedisPeerStore() {
  if (started_) {
    // Through the loop's queue: a loopbreak sent before the thread enters its loop is lost.
    loop_->defer([this] { loop_->stop(); });
    thread_.join();
  }
  // The loop no longer runs: its timer and connection can be freed from here.
  tick_.reset();
  home_.reset();
  auto& tc = t_clients;
  std::erase_if(tc, [&](const ThreadClient& c) { return c.store_id == id_; });
  std::lock_guard lock(attached_mu_);
  // Connections of other threads live on bases this store does not own, maybe freed already:
  // never touch them here (a process ends with them; tests detach first).
  for (auto& c : attached_) (void)c.release();
}

Status RedisPeerStore::start() {
  if (started_) return {};
  loop_ = std::make_unique<EventLoop>();
  home_ = std::make_unique<RedisClient>(loop_->base(), options_.redis);
  if (auto st = home_->start(); !st) return st;
  tick_ = loop_->every(kNotReadyTickMs, [this] {
    if (ready() && ++quiet_ticks_ < kTickMs / kNotReadyTickMs) return;
    quiet_ticks_ = 0;
    on_tick();
  });
  thread_ = std::thread([this] { loop_->run(); });
  started_ = true;
  loop_->defer([this] { on_tick(); });
  return {};
}

void RedisPeerStore::attach_thread(struct event_base* base) {
  if (local_client()) return;
  auto c = std::make_unique<RedisClient>(base, options_.redis);
  if (auto st = c->start(); !st) {
    SC_ERROR("redis peer store: cannot start a worker connection", {"error", st.error().message});
    return;
  }
  t_clients.push_back({id_, c.get()});
  std::lock_guard lock(attached_mu_);
  attached_.push_back(std::move(c));
}

void RedisPeerStore::detach_thread() {
  RedisClient* c = local_client();
  if (!c) return;
  std::erase_if(t_clients, [&](const ThreadClient& tc) { return tc.store_id == id_; });
  std::unique_ptr<RedisClient> owned;
  {
    std::lock_guard lock(attached_mu_);
    auto it = std::find_if(attached_.begin(), attached_.end(), [&](const auto& p) { return p.get() == c; });
    if (it == attached_.end()) return;
    owned = std::move(*it);
    attached_.erase(it);
  }
  owned.reset();  // on its own thread, outside its callbacks
}

RedisClient* RedisPeerStore::local_client() const {
  for (const auto& c : t_clients)
    if (c.store_id == id_) return c.client;
  return nullptr;
}

void RedisPeerStore::note_failure(const Error& e) {
  if (e.code == Errc::unavailable || e.code == Errc::timeout) ready_.store(false, std::memory_order_relaxed);
}

void RedisPeerStore::submit(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args,
                            Callback cb) {
  if (RedisClient* c = local_client()) {
    c->eval(script, keys, args, std::move(cb));
    return;
  }
  if (!started_) {
    cb(fail(Errc::unavailable, "redis peer store not started"));
    return;
  }
  loop_->defer([this, &script, keys = std::move(keys), args = std::move(args), cb = std::move(cb)]() mutable {
    home_->eval(script, keys, args, std::move(cb));
  });
}

void RedisPeerStore::swarm_keys(const InfoHash& ih, std::vector<std::string>& keys) const {
  std::string base = options_.key_prefix + "swarm:" + to_hex(std::span<const uint8_t>(ih)) + ":";
  for (const char* suffix : {"s4", "l4", "s6", "l6", "meta"}) keys.push_back(base + suffix);
}

void RedisPeerStore::announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) {
  out.peers.clear();
  out.counts = {};
  std::vector<std::string> keys;
  keys.reserve(7);
  swarm_keys(req.info_hash, keys);
  keys.push_back(options_.key_prefix + "swarms");
  keys.push_back(options_.key_prefix + "stats");
  std::string member;
  req.peer.append_compact(member);
  std::vector<std::string> args{to_hex(std::span<const uint8_t>(req.info_hash)),
                                std::move(member),
                                req.peer.ipv6 ? "1" : "0",
                                req.seeder ? "1" : "0",
                                event_name(req.event),
                                std::to_string(req.numwant),
                                std::to_string(clock_.now_s()),
                                std::to_string(options_.max_swarms)};
  const size_t entry = req.peer.ipv6 ? 18 : 6;
  submit(kAnnounceScript, std::move(keys), std::move(args),
         [this, &out, entry, numwant = req.numwant, done = std::move(done)](Result<RedisReply> r) {
           if (!r) {
             note_failure(r.error());
             return done(std::unexpected(r.error()));
           }
           const auto& e = r->elements;
           if (r->is_array() && e.size() == 1 && e[0].is_integer() && e[0].integer == -1) {
             swarm_limit_refusals_.fetch_add(1, std::memory_order_relaxed);
             return done(fail(Errc::too_large, kSwarmLimitReason));
           }
           if (!r->is_array() || e.size() != 4 || !e[3].is_array()) return done(std::unexpected(bad_reply("announce")));
           out.counts.seeders = as_u32(e[0]);
           out.counts.leechers = as_u32(e[1]);
           out.counts.downloaded = as_u32(e[2]);
           size_t taken = 0;
           for (const auto& p : e[3].elements) {
             // Only well-formed entries of the announcer's family: the keys are shared, so
             // never trust them blindly.
             if (taken >= numwant || !p.is_string() || p.str.size() != entry) continue;
             out.peers.append(p.str);
             ++taken;
           }
           done({});
         });
}

void RedisPeerStore::scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) {
  out.assign(hashes.size(), SwarmCounts{});
  if (hashes.empty()) return done({});
  std::vector<std::string> keys;
  keys.reserve(hashes.size() * 5);
  for (const auto& ih : hashes) swarm_keys(ih, keys);
  submit(kScrapeScript, std::move(keys), {}, [this, &out, done = std::move(done)](Result<RedisReply> r) {
    if (!r) {
      note_failure(r.error());
      return done(std::unexpected(r.error()));
    }
    if (!r->is_array() || r->elements.size() != out.size() * 3) return done(std::unexpected(bad_reply("scrape")));
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].seeders = as_u32(r->elements[i * 3]);
      out[i].leechers = as_u32(r->elements[i * 3 + 1]);
      out[i].downloaded = as_u32(r->elements[i * 3 + 2]);
    }
    done({});
  });
}

void RedisPeerStore::collect_garbage(GcDone done) {
  if (!started_ || gc_running_.exchange(true)) return done(0);
  auto run = std::make_shared<GcRun>();
  run->cutoff_s = clock_.now_s() - options_.peer_lifetime_ms / 1000;
  run->done = std::move(done);
  loop_->defer([this, run] { gc_step(run); });
}

// On the store thread: SSCAN a batch of swarms, sweep it with one script, repeat until the
// cursor comes back to 0. A failure ends this run; the next timer tick starts over.
void RedisPeerStore::gc_step(const std::shared_ptr<GcRun>& run) {
  const std::string swarms = options_.key_prefix + "swarms";
  home_->command(
      {"SSCAN", swarms, run->cursor, "COUNT", std::to_string(kGcBatch)},
      [this, run, swarms](Result<RedisReply> r) {
        auto end = [this, run] {
          gc_running_.store(false);
          run->done(run->dropped);
        };
        if (!r || !r->is_array() || r->elements.size() != 2 || !r->elements[1].is_array()) {
          if (!r) note_failure(r.error());
          return end();
        }
        run->cursor = r->elements[0].str;
        std::vector<std::string> keys{swarms, options_.key_prefix + "stats"};
        std::vector<std::string> args{std::to_string(run->cutoff_s)};
        for (const auto& m : r->elements[1].elements) {
          auto raw = from_hex(m.str);
          if (!m.is_string() || !raw || raw->size() != 20) continue;  // not ours: leave it
          InfoHash ih;
          std::copy(raw->begin(), raw->end(), ih.begin());
          swarm_keys(ih, keys);
          args.push_back(m.str);
        }
        auto next = [this, run, end] {
          if (run->cursor == "0") return end();
          gc_step(run);
        };
        if (args.size() == 1) return next();
        home_->eval(kGcScript, keys, args, [this, run, next, end](Result<RedisReply> g) {
          if (!g || !g->is_integer()) {
            if (!g) note_failure(g.error());
            return end();
          }
          run->dropped += static_cast<uint64_t>(std::max<int64_t>(0, g->integer));
          next();
        });
      });
}

void RedisPeerStore::on_tick() {
  if (!home_->connected()) {
    ready_.store(false, std::memory_order_relaxed);
    return;
  }
  home_->command({"PING"}, [this](Result<RedisReply> r) {
    ready_.store(r.has_value() && r->is_status("PONG"), std::memory_order_relaxed);
  });
  home_->command({"HMGET", options_.key_prefix + "stats", "seeders", "leechers"}, [this](Result<RedisReply> r) {
    if (!r || !r->is_array() || r->elements.size() != 2) return;
    auto num = [](const RedisReply& e) -> uint64_t {
      if (!e.is_string()) return 0;
      int64_t v = 0;
      auto [p, ec] = std::from_chars(e.str.data(), e.str.data() + e.str.size(), v);
      return ec == std::errc() && v > 0 ? static_cast<uint64_t>(v) : 0;
    };
    seeders_.store(num(r->elements[0]), std::memory_order_relaxed);
    leechers_.store(num(r->elements[1]), std::memory_order_relaxed);
  });
  home_->command({"SCARD", options_.key_prefix + "swarms"}, [this](Result<RedisReply> r) {
    if (r && r->is_integer() && r->integer >= 0) torrents_.store(static_cast<uint64_t>(r->integer), std::memory_order_relaxed);
  });
}

StoreStats RedisPeerStore::stats() const {
  return {torrents_.load(std::memory_order_relaxed), seeders_.load(std::memory_order_relaxed),
          leechers_.load(std::memory_order_relaxed), swarm_limit_refusals_.load(std::memory_order_relaxed)};
}

}  // namespace sc
