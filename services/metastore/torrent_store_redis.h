#pragma once
// TorrentStore on Redis. Layout under a prefix P (default "mt:"):
//   P t:<key>        hash: torrent (bytes), infohash, size, meta (JSON), created (ms)
//   P keys           zset, all scores 0: every key, for lexicographic paging
//   P atime          zset: key → last access (ms), for metadata and GC
//   P events         stream: type put|delete, key, infohash (MAXLEN ~ events_max_len)
//   P lease:<key>    string: holder, with PX expiry
//   P q:<key>        zset: quarantined infohash → when (ms); PEXPIRE kQuarantineTtlMs
//   P node:<id>      string: NodeInfo JSON, with PX expiry;  P nodes  zset: id → expiry (ms)
// Multi-key writes are Lua scripts, hence atomic (and one MULTI/EXEC in the AOF). Standalone
// or Sentinel Redis only: the scripts touch keys outside KEYS, which Cluster forbids.
#include <memory>
#include <string>
#include <unordered_map>

#include "common/io/redis_client.h"
#include "services/metastore/torrent_store.h"
#include "services/metastore/tunables.h"

namespace sc::metastore {

class RedisTorrentStore final : public TorrentStore {
 public:
  // wait_replicas > 0: every write is followed by WAIT on the same connection, and is reported
  // (Errc::unavailable) unless that many replicas acknowledged it within kWaitReplicasMs.
  RedisTorrentStore(RedisClient& redis, std::string prefix = "mt:", int64_t events_max_len = kEventsMaxLen,
                    int64_t wait_replicas = 0);

  void put(NewTorrent t, StoreCb<PutResult> cb) override;
  void get_bytes(const std::string& key, StoreCb<TorrentBytes> cb) override;
  void get_meta(const std::string& key, StoreCb<TorrentMeta> cb) override;
  void touch(const std::string& key, int64_t now_ms) override;
  void flush_touches() override;
  void remove(const std::string& key, StoreCb<std::string> cb) override;
  void quarantine(const std::string& key, const std::string& infohash, int64_t now_ms, StoreCb<bool> cb) override;
  void list(const std::string& prefix, const std::string& after_key, int64_t limit, StoreCb<ListResult> cb) override;
  void events_after(const std::string& after, int64_t limit, StoreCb<std::vector<MetaEvent>> cb) override;
  void events_lost_after(const std::string& after, StoreCb<bool> cb) override;
  void last_event_id(StoreCb<std::string> cb) override;
  void lease_acquire(const std::string& key, const std::string& holder, int64_t ttl_ms, StoreCb<LeaseResult> cb) override;
  void lease_release(const std::string& key, const std::string& holder, StoreCb<ReleaseOutcome> cb) override;
  void node_put(const NodeInfo& node, int64_t ttl_ms, int64_t now_ms, StoreCb<bool> cb) override;
  void nodes(int64_t now_ms, StoreCb<NodeList> cb) override;
  void count(StoreCb<int64_t> cb) override;
  void gc(int64_t cutoff_ms, int64_t max_count, int64_t batch, StoreCb<int64_t> cb) override;
  void ping(StoreCb<bool> cb) override;

 private:
  std::string k(std::string_view suffix) const { return prefix_ + std::string(suffix); }
  // A multi-key write script, then WAIT when wait_replicas_ asks for it.
  void write(const RedisScript& script, std::span<const std::string> keys, std::span<const std::string> args,
             RedisClient::Callback cb);
  RedisClient& redis_;
  std::string prefix_;
  std::string max_len_;
  int64_t wait_replicas_ = 0;
  std::unordered_map<std::string, int64_t> touches_;
};

}  // namespace sc::metastore
