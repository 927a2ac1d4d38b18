// RedisTorrentStore: the metastore's data on Redis (layout in torrent_store_redis.h). Writes
// that touch several keys are Lua scripts so a torrent, its indexes and its event appear or
// vanish together; reads are single commands, pipelined on the shared connection.
#include "services/metastore/torrent_store_redis.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include "services/metastore/tunables.h"

namespace sc::metastore {
namespace {

const RedisScript& put_script() {
  static const RedisScript s(R"lua(
local q = redis.call('ZSCORE', KEYS[5], ARGV[2])
if q and tonumber(q) > tonumber(ARGV[8]) then return {3, ARGV[2], '0'} end
local cur = redis.call('HMGET', KEYS[1], 'infohash', 'created')
if cur[1] then
  if cur[1] == ARGV[2] then return {1, cur[1], cur[2] or '0'} end
  return {2, cur[1], cur[2] or '0'}
end
redis.call('HSET', KEYS[1], 'torrent', ARGV[3], 'infohash', ARGV[2], 'meta', ARGV[4], 'created', ARGV[5], 'size', ARGV[7])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'type', 'put', 'key', ARGV[1], 'infohash', ARGV[2])
return {0, ARGV[2], ARGV[5]}
)lua");
  return s;
}

const RedisScript& delete_script() {
  static const RedisScript s(R"lua(
local ih = redis.call('HGET', KEYS[1], 'infohash')
if not ih then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'type', 'delete', 'key', ARGV[1], 'infohash', ih)
return ih
)lua");
  return s;
}

const RedisScript& quarantine_script() {
  static const RedisScript s(R"lua(
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. (tonumber(ARGV[4]) - tonumber(ARGV[5])))
redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[6]) + 1))
redis.call('PEXPIRE', KEYS[5], ARGV[5])
local ih = redis.call('HGET', KEYS[1], 'infohash')
if ih ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', 'type', 'delete', 'key', ARGV[1], 'infohash', ih)
return 1
)lua");
  return s;
}

const RedisScript& list_script() {
  static const RedisScript s(R"lua(
local ks = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, k in ipairs(ks) do
  local v = redis.call('HMGET', ARGV[4] .. k, 'infohash', 'size')
  out[#out + 1] = k
  out[#out + 1] = v[1] or ''
  out[#out + 1] = v[2] or '0'
end
return out
)lua");
  return s;
}

const RedisScript& lease_script() {
  static const RedisScript s(R"lua(
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {0, ARGV[1], tonumber(ARGV[2])}
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, cur, tonumber(ARGV[2])}
end
return {2, cur, redis.call('PTTL', KEYS[1])}
)lua");
  return s;
}

const RedisScript& release_script() {
  static const RedisScript s(R"lua(
local cur = redis.call('GET', KEYS[1])
if not cur then return 1 end
if cur == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
return 2
)lua");
  return s;
}

const RedisScript& node_put_script() {
  static const RedisScript s(R"lua(
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
)lua");
  return s;
}

const RedisScript& nodes_script() {
  static const RedisScript s(R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local ids = redis.call('ZRANGE', KEYS[1], 0, 9999)
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', ARGV[2] .. id)
  if v then out[#out + 1] = v end
end
return out
)lua");
  return s;
}

const RedisScript& gc_script() {
  static const RedisScript s(R"lua(
local batch = tonumber(ARGV[3])
local victims = {}
if tonumber(ARGV[1]) >= 0 then
  victims = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, batch)
end
if #victims == 0 and tonumber(ARGV[2]) >= 0 then
  local extra = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[2])
  if extra > 0 then victims = redis.call('ZRANGE', KEYS[1], 0, math.min(extra, batch) - 1) end
end
for _, k in ipairs(victims) do
  local tkey = ARGV[5] .. k
  local ih = redis.call('HGET', tkey, 'infohash') or ''
  redis.call('DEL', tkey)
  redis.call('ZREM', KEYS[2], k)
  redis.call('ZREM', KEYS[1], k)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'type', 'delete', 'key', k, 'infohash', ih)
end
return #victims
)lua");
  return s;
}

// Backend trouble is one thing to a client: 503. A Redis error reply is our bug: 500.
Error backend(const Error& e) {
  if (e.code == Errc::unavailable || e.code == Errc::timeout) return Error{Errc::unavailable, "storage unavailable: " + e.message};
  return Error{Errc::internal, "storage error: " + e.message};
}

int64_t to_i64(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<std::pair<uint64_t, uint64_t>> split_stream_id(std::string_view s) {
  size_t dash = s.find('-');
  std::string_view a = s.substr(0, dash), b = dash == std::string_view::npos ? "0" : s.substr(dash + 1);
  uint64_t x = 0, y = 0;
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), x);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), y);
  if (a.empty() || r1.ec != std::errc() || r1.ptr != a.data() + a.size() || r2.ec != std::errc() ||
      r2.ptr != b.data() + b.size()) {
    return std::nullopt;
  }
  return std::pair{x, y};
}

int64_t int_of(const RedisReply& r) { return r.is_integer() ? r.integer : to_i64(r.str); }

}  // namespace

RedisTorrentStore::RedisTorrentStore(RedisClient& redis, std::string prefix, int64_t events_max_len, int64_t wait_replicas)
    : redis_(redis), prefix_(std::move(prefix)), max_len_(std::to_string(events_max_len)), wait_replicas_(wait_replicas) {}

void RedisTorrentStore::write(const RedisScript& script, std::span<const std::string> keys, std::span<const std::string> args,
                              RedisClient::Callback cb) {
  if (wait_replicas_ <= 0) return redis_.eval(script, keys, args, std::move(cb));
  // WAIT covers every earlier write of this connection, so it is sent once the script has
  // answered (after a possible NOSCRIPT retry), never pipelined ahead of it.
  redis_.eval(script, keys, args, [this, cb = std::move(cb)](Result<RedisReply> r) mutable {
    if (!r) return cb(std::move(r));
    auto done = [cb = std::move(cb), reply = std::move(*r), want = wait_replicas_](Result<RedisReply> w) mutable {
      if (!w) return cb(std::unexpected(w.error()));
      if (!w->is_integer() || w->integer < want) {
        return cb(fail(Errc::unavailable, "written on the master but acknowledged by " +
                                               std::to_string(w->is_integer() ? w->integer : 0) + " of " +
                                               std::to_string(want) + " replicas in time"));
      }
      cb(std::move(reply));
    };
    redis_.command({"WAIT", std::to_string(wait_replicas_), std::to_string(kWaitReplicasMs)}, std::move(done),
                   kWaitReplicasMs + kRedisCommandTimeoutMs);
  });
}

void RedisTorrentStore::put(NewTorrent t, StoreCb<PutResult> cb) {
  std::vector<std::string> keys{k("t:" + t.key), k("keys"), k("atime"), k("events"), k("q:" + t.key)};
  std::vector<std::string> args{t.key, t.infohash, std::move(t.bytes), std::move(t.meta_json), std::to_string(t.now_ms),
                                max_len_, std::to_string(t.size), std::to_string(t.now_ms - kQuarantineTtlMs)};
  write(put_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array() || r->elements.size() != 3) return cb(fail(Errc::internal, "storage: bad put reply"));
    PutResult out;
    int64_t code = int_of(r->elements[0]);
    out.outcome = code == 0   ? PutOutcome::created
                  : code == 1 ? PutOutcome::unchanged
                  : code == 2 ? PutOutcome::conflict
                              : PutOutcome::quarantined;
    out.infohash = r->elements[1].str;
    out.created_ms = int_of(r->elements[2]);
    cb(std::move(out));
  });
}

void RedisTorrentStore::get_bytes(const std::string& key, StoreCb<TorrentBytes> cb) {
  redis_.command({"HMGET", k("t:" + key), "infohash", "torrent"}, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array() || r->elements.size() != 2) return cb(fail(Errc::internal, "storage: bad get reply"));
    if (r->elements[0].is_nil() || r->elements[1].is_nil()) return cb(fail(Errc::not_found, "no torrent under this key"));
    cb(TorrentBytes{std::move(r->elements[0].str), std::move(r->elements[1].str)});
  });
}

void RedisTorrentStore::get_meta(const std::string& key, StoreCb<TorrentMeta> cb) {
  // Two pipelined reads joined here: the hash and the access time.
  struct Join {
    StoreCb<TorrentMeta> cb;
    std::optional<Result<RedisReply>> hash, atime;
    int64_t pending_touch = 0;
  };
  auto j = std::make_shared<Join>();
  j->cb = std::move(cb);
  if (auto it = touches_.find(key); it != touches_.end()) j->pending_touch = it->second;
  auto done = [j] {
    if (!j->hash || !j->atime) return;
    auto& h = *j->hash;
    if (!h) return j->cb(std::unexpected(backend(h.error())));
    if (!*j->atime) return j->cb(std::unexpected(backend(j->atime->error())));
    if (!h->is_array() || h->elements.size() != 2) return j->cb(fail(Errc::internal, "storage: bad meta reply"));
    if (h->elements[0].is_nil()) return j->cb(fail(Errc::not_found, "no torrent under this key"));
    auto meta = torrent_meta_from_json(h->elements[0].str);
    if (!meta) return j->cb(fail(Errc::internal, "storage: stored metadata unreadable: " + meta.error().message));
    meta->created = to_i64(h->elements[1].str);
    const RedisReply& a = **j->atime;
    meta->last_access = std::max({meta->created, a.is_nil() ? int64_t{0} : to_i64(a.str), j->pending_touch});
    j->cb(std::move(*meta));
  };
  redis_.command({"HMGET", k("t:" + key), "meta", "created"}, [j, done](Result<RedisReply> r) {
    j->hash = std::move(r);
    done();
  });
  redis_.command({"ZSCORE", k("atime"), key}, [j, done](Result<RedisReply> r) {
    j->atime = std::move(r);
    done();
  });
}

void RedisTorrentStore::touch(const std::string& key, int64_t now_ms) {
  if (touches_.size() >= kMaxPendingTouches && !touches_.contains(key)) return;
  int64_t& v = touches_[key];
  v = std::max(v, now_ms);
}

void RedisTorrentStore::flush_touches() {
  if (touches_.empty()) return;
  // XX: never resurrect a key deleted since; GT: never move an access time backwards.
  constexpr size_t kChunk = 500;
  std::vector<std::string> argv;
  auto send = [&] {
    if (argv.size() > 4) redis_.command(argv, [](Result<RedisReply>) {});
    argv = {"ZADD", k("atime"), "XX", "GT"};
  };
  argv = {"ZADD", k("atime"), "XX", "GT"};
  for (auto& [key, ms] : touches_) {
    argv.push_back(std::to_string(ms));
    argv.push_back(key);
    if (argv.size() >= 4 + 2 * kChunk) send();
  }
  send();
  touches_.clear();
}

void RedisTorrentStore::remove(const std::string& key, StoreCb<std::string> cb) {
  touches_.erase(key);
  std::vector<std::string> keys{k("t:" + key), k("keys"), k("atime"), k("events")};
  std::vector<std::string> args{key, max_len_};
  write(delete_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (r->is_nil()) return cb(fail(Errc::not_found, "no torrent under this key"));
    cb(std::move(r->str));
  });
}

void RedisTorrentStore::quarantine(const std::string& key, const std::string& infohash, int64_t now_ms, StoreCb<bool> cb) {
  touches_.erase(key);
  std::vector<std::string> keys{k("t:" + key), k("keys"), k("atime"), k("events"), k("q:" + key)};
  std::vector<std::string> args{key, infohash, max_len_, std::to_string(now_ms), std::to_string(kQuarantineTtlMs),
                                std::to_string(kMaxQuarantinedPerKey)};
  write(quarantine_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    cb(int_of(*r) == 1);
  });
}

void RedisTorrentStore::list(const std::string& prefix, const std::string& after_key, int64_t limit, StoreCb<ListResult> cb) {
  std::string min = prefix.empty() ? "-" : "[" + prefix;
  if (!after_key.empty() && after_key >= prefix) min = "(" + after_key;
  // Keys are UTF-8, which never contains 0xff: "[prefix\xff" bounds every key with the prefix.
  std::string max = prefix.empty() ? "+" : "[" + prefix + "\xff";
  std::vector<std::string> keys{k("keys")};
  std::vector<std::string> args{min, max, std::to_string(limit + 1), k("t:")};
  redis_.eval(list_script(), keys, args, [cb = std::move(cb), limit](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array() || r->elements.size() % 3 != 0) return cb(fail(Errc::internal, "storage: bad list reply"));
    ListResult out;
    for (size_t i = 0; i + 2 < r->elements.size(); i += 3) {
      if (static_cast<int64_t>(out.items.size()) == limit) {
        out.more = true;
        break;
      }
      out.items.push_back(TorrentListItem{std::move(r->elements[i].str), std::move(r->elements[i + 1].str),
                                          to_i64(r->elements[i + 2].str)});
    }
    cb(std::move(out));
  });
}

void RedisTorrentStore::events_after(const std::string& after, int64_t limit, StoreCb<std::vector<MetaEvent>> cb) {
  std::string start = after == "0" || after == "0-0" ? "-" : "(" + after;
  redis_.command({"XRANGE", k("events"), start, "+", "COUNT", std::to_string(limit)}, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array()) return cb(fail(Errc::internal, "storage: bad XRANGE reply"));
    std::vector<MetaEvent> out;
    out.reserve(r->elements.size());
    for (auto& e : r->elements) {
      if (!e.is_array() || e.elements.size() != 2 || !e.elements[1].is_array()) continue;
      MetaEvent ev;
      ev.id = std::move(e.elements[0].str);
      auto& f = e.elements[1].elements;
      for (size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "type") ev.type = std::move(f[i + 1].str);
        else if (f[i].str == "key") ev.key = std::move(f[i + 1].str);
        else if (f[i].str == "infohash") ev.infohash = std::move(f[i + 1].str);
      }
      out.push_back(std::move(ev));
    }
    cb(std::move(out));
  });
}

void RedisTorrentStore::events_lost_after(const std::string& after, StoreCb<bool> cb) {
  // `after` names an event the client saw. If it is older than the oldest event kept, it was
  // trimmed, and so possibly were events after it (the stream is only ever trimmed at its head).
  redis_.command({"XINFO", "STREAM", k("events")}, [cb = std::move(cb), after](Result<RedisReply> r) {
    if (!r) {
      if (r.error().code == Errc::internal) return cb(false);  // no stream yet: nothing was lost
      return cb(std::unexpected(backend(r.error())));
    }
    auto& f = r->elements;
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i].str != "first-entry") continue;
      if (!f[i + 1].is_array() || f[i + 1].elements.empty()) return cb(false);
      auto first = split_stream_id(f[i + 1].elements[0].str);
      auto mine = split_stream_id(after);
      return cb(first && mine && *mine < *first);
    }
    cb(false);
  });
}

void RedisTorrentStore::last_event_id(StoreCb<std::string> cb) {
  redis_.command({"XREVRANGE", k("events"), "+", "-", "COUNT", "1"}, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array() || r->elements.empty() || !r->elements[0].is_array() || r->elements[0].elements.empty()) {
      return cb(std::string("0-0"));
    }
    cb(std::move(r->elements[0].elements[0].str));
  });
}

void RedisTorrentStore::lease_acquire(const std::string& key, const std::string& holder, int64_t ttl_ms, StoreCb<LeaseResult> cb) {
  std::vector<std::string> keys{k("lease:" + key)};
  std::vector<std::string> args{holder, std::to_string(ttl_ms)};
  redis_.eval(lease_script(), keys, args, [cb = std::move(cb), key](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    if (!r->is_array() || r->elements.size() != 3) return cb(fail(Errc::internal, "storage: bad lease reply"));
    int64_t code = int_of(r->elements[0]);
    LeaseResult out{code == 0 ? LeaseOutcome::granted : code == 1 ? LeaseOutcome::renewed : LeaseOutcome::held,
                    Lease{key, std::move(r->elements[1].str), std::max<int64_t>(0, int_of(r->elements[2]))}};
    cb(std::move(out));
  });
}

void RedisTorrentStore::lease_release(const std::string& key, const std::string& holder, StoreCb<ReleaseOutcome> cb) {
  std::vector<std::string> keys{k("lease:" + key)};
  std::vector<std::string> args{holder};
  redis_.eval(release_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    int64_t code = int_of(*r);
    cb(code == 0 ? ReleaseOutcome::released : code == 1 ? ReleaseOutcome::not_held : ReleaseOutcome::held_by_other);
  });
}

void RedisTorrentStore::node_put(const NodeInfo& node, int64_t ttl_ms, int64_t now_ms, StoreCb<bool> cb) {
  std::vector<std::string> keys{k("node:" + node.id), k("nodes")};
  std::vector<std::string> args{to_json(node), std::to_string(ttl_ms), std::to_string(now_ms + ttl_ms), node.id};
  redis_.eval(node_put_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    cb(true);
  });
}

void RedisTorrentStore::nodes(int64_t now_ms, StoreCb<NodeList> cb) {
  std::vector<std::string> keys{k("nodes")};
  std::vector<std::string> args{std::to_string(now_ms), k("node:")};
  redis_.eval(nodes_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    NodeList out;
    for (auto& e : r->elements) {
      auto n = node_info_from_json(e.str);
      if (n) out.nodes.push_back(std::move(*n));
    }
    cb(std::move(out));
  });
}

void RedisTorrentStore::count(StoreCb<int64_t> cb) {
  redis_.command({"ZCARD", k("keys")}, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    cb(r->integer);
  });
}

void RedisTorrentStore::gc(int64_t cutoff_ms, int64_t max_count, int64_t batch, StoreCb<int64_t> cb) {
  flush_touches();  // queued ahead of the script on the same connection
  std::vector<std::string> keys{k("atime"), k("keys"), k("events")};
  std::vector<std::string> args{std::to_string(cutoff_ms), std::to_string(max_count), std::to_string(batch),
                                max_len_, k("t:")};
  redis_.eval(gc_script(), keys, args, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    cb(r->integer);
  });
}

void RedisTorrentStore::ping(StoreCb<bool> cb) {
  redis_.command({"PING"}, [cb = std::move(cb)](Result<RedisReply> r) {
    if (!r) return cb(std::unexpected(backend(r.error())));
    cb(true);
  }, kReadyzTimeoutMs);
}

}  // namespace sc::metastore
