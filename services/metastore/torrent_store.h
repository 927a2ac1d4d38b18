#pragma once
// The metastore's storage interface. Asynchronous (every call answers through a callback on
// the caller's loop) because the real store is Redis; an implementation must make a put or a
// delete atomic with its index entries and its event, so a crash leaves all or nothing.
// Errors: not_found where stated, unavailable when the backend is down or slow, internal for
// anything unexpected.
#include <cstdint>
#include <functional>
#include <string>

#include "common/core/error.h"
#include "proto/metastore_api.h"

namespace sc::metastore {

template <class T>
using StoreCb = std::function<void(Result<T>)>;

struct NewTorrent {
  std::string key;
  std::string infohash;
  int64_t size = 0;
  std::string bytes;      // the .torrent as uploaded
  std::string meta_json;  // TorrentMeta without created/last_access
  int64_t now_ms = 0;
};

// quarantined: this infohash was quarantined under this key (see quarantine()).
enum class PutOutcome { created, unchanged, conflict, quarantined };
struct PutResult {
  PutOutcome outcome;
  std::string infohash;  // the stored one (differs from ours on conflict)
  int64_t created_ms = 0;
};

struct TorrentBytes {
  std::string infohash;
  std::string bytes;
};

struct ListResult {
  std::vector<TorrentListItem> items;
  bool more = false;  // another page may follow after items.back().key
};

enum class LeaseOutcome { granted, renewed, held };
struct LeaseResult {
  LeaseOutcome outcome;
  Lease lease;  // the holder and remaining ttl after the call
};

enum class ReleaseOutcome { released, not_held, held_by_other };

class TorrentStore {
 public:
  virtual ~TorrentStore() = default;

  virtual void put(NewTorrent t, StoreCb<PutResult> cb) = 0;
  // not_found when absent.
  virtual void get_bytes(const std::string& key, StoreCb<TorrentBytes> cb) = 0;
  // not_found when absent; created/last_access filled in.
  virtual void get_meta(const std::string& key, StoreCb<TorrentMeta> cb) = 0;
  // Records an access; best effort and batched (flush_touches writes them).
  virtual void touch(const std::string& key, int64_t now_ms) = 0;
  virtual void flush_touches() = 0;
  // The deleted torrent's infohash; not_found when absent.
  virtual void remove(const std::string& key, StoreCb<std::string> cb) = 0;
  // Refuses `infohash` under `key` from now on (for kQuarantineTtlMs, at most
  // kMaxQuarantinedPerKey per key, oldest dropped first) and, if the key holds it, deletes the
  // registration with a delete event, atomically. True when a registration was deleted.
  virtual void quarantine(const std::string& key, const std::string& infohash, int64_t now_ms, StoreCb<bool> cb) = 0;
  // Keys in byte order, > after_key, starting with prefix.
  virtual void list(const std::string& prefix, const std::string& after_key, int64_t limit, StoreCb<ListResult> cb) = 0;
  // Events with id > after ("0" for all), oldest first.
  virtual void events_after(const std::string& after, int64_t limit, StoreCb<std::vector<MetaEvent>> cb) = 0;
  // True when the event `after` (one the client saw) has been trimmed from the history, so
  // events after it may have been too: resuming from it could miss some.
  virtual void events_lost_after(const std::string& after, StoreCb<bool> cb) = 0;
  // Id of the newest event, "0-0" when there is none.
  virtual void last_event_id(StoreCb<std::string> cb) = 0;
  virtual void lease_acquire(const std::string& key, const std::string& holder, int64_t ttl_ms, StoreCb<LeaseResult> cb) = 0;
  virtual void lease_release(const std::string& key, const std::string& holder, StoreCb<ReleaseOutcome> cb) = 0;
  virtual void node_put(const NodeInfo& node, int64_t ttl_ms, int64_t now_ms, StoreCb<bool> cb) = 0;
  virtual void nodes(int64_t now_ms, StoreCb<NodeList> cb) = 0;
  virtual void count(StoreCb<int64_t> cb) = 0;
  // Deletes up to `batch` torrents last accessed before cutoff_ms (if >= 0), else beyond the
  // newest max_count (if >= 0), oldest first, each with a delete event. Returns how many.
  virtual void gc(int64_t cutoff_ms, int64_t max_count, int64_t batch, StoreCb<int64_t> cb) = 0;
  virtual void ping(StoreCb<bool> cb) = 0;
};

}  // namespace sc::metastore
