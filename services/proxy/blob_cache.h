#pragma once
// The proxy's blob cache on disk: <dir>/blobs/<64 hex> files under a byte budget with LRU
// eviction. A blob enters only through a Writer that hashes what it writes and renames the
// temp file into place after the sha256 matches (or, for content without a digest, after the
// caller vouches for it), or through adopt() of a file a swarm download verified. Files being
// filled by the swarm carry a "<hex>.partial" marker. Each entry has a record <dir>/meta/<hex>
// ("<size> <sha256 of the content>"). At open, temp files and marked files are deleted (a
// crash's leftovers are never served), entries without a record or whose size differs from it
// are deleted, and what remains is indexed as unverified: its bytes are hashed again the first
// time it is served (or scrubbed) before it counts as verified.
// Not thread-safe: the proxy touches it from its loop thread only.
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/core/error.h"
#include "common/core/sha.h"

namespace sc {

class Counter;

struct BlobCacheOptions {
  std::string dir;
  int64_t budget_bytes = 10LL << 30;
};

struct ReconcileReport {
  int kept = 0;
  int removed_partial = 0;  // temp files and swarm downloads interrupted by a crash
  int removed_unknown = 0;  // names that are not a blob
  int removed_corrupt = 0;  // size differs from the record, or no record
  int64_t bytes = 0;
};

class BlobCache {
 public:
  // Creates the directories, reconciles with what is on disk and evicts down to the budget.
  // Errors: io.
  static Result<std::unique_ptr<BlobCache>> open(const BlobCacheOptions& options);
  ~BlobCache();

  // Called before an entry's file is deleted by eviction (stop seeding it).
  void on_evict(std::function<void(const std::string& hex)> fn) { on_evict_ = std::move(fn); }

  // What the cache knows of an entry; nullptr when absent.
  struct EntryInfo {
    int64_t size = 0;
    std::string sha256;     // hex digest of the content (the name, for registry blobs)
    bool verified = false;  // hashed (written, adopted or checked) since this process started
  };
  const EntryInfo* info(std::string_view hex) const;
  void mark_verified(std::string_view hex);
  // The entry's bytes do not match its record: delete it and count it.
  void mark_corrupt(std::string_view hex);
  int64_t corrupt_found() const { return corrupt_; }
  // Counters to bump on each eviction and each corrupt entry found (those found by open()
  // are added at once). Either may be null.
  void set_counters(Counter* evictions, Counter* corrupt);

  // Size of a cached blob, marking it most recently used; nullopt when absent.
  std::optional<int64_t> lookup(std::string_view hex);
  bool contains(std::string_view hex) const { return index_.count(std::string(hex)) != 0; }
  // An O_RDONLY descriptor of a cached blob (the caller owns it), and its size. Errors:
  // not_found, io.
  Result<std::pair<int, int64_t>> open_blob(std::string_view hex);

  std::string blob_path(std::string_view hex) const { return blobs_dir_ + "/" + std::string(hex); }
  const std::string& blobs_dir() const { return blobs_dir_; }

  class Writer {
   public:
    ~Writer();  // aborts unless committed
    Status write(std::string_view data);
    int64_t written() const { return written_; }
    // Checks the sha256 against the name (when verify was asked) and the expected size,
    // flushes, renames into place and indexes it. Errors: invalid_argument (digest or size
    // mismatch: the file is deleted), too_large (over the whole budget), io.
    Status commit();
    void abort();

   private:
    friend class BlobCache;
    Writer() = default;
    BlobCache* cache_ = nullptr;
    std::string hex_, tmp_path_;
    int fd_ = -1;
    int64_t expected_ = -1;
    int64_t written_ = 0;
    bool verify_ = true;
    bool done_ = false;
    Sha256 sha_;
  };
  // Starts writing blob `hex`. expected_size -1 when unknown; verify=false only for content
  // addressed by something other than its own digest (OSTree URLs). Errors: conflict (already
  // cached), too_large (expected size over the budget), io.
  Result<std::unique_ptr<Writer>> begin(std::string_view hex, int64_t expected_size, bool verify = true);

  // Swarm downloads: the marker makes a crash mid-download discard the file at the next open.
  Status mark_partial(std::string_view hex);
  void clear_partial(std::string_view hex);
  // Indexes a file already at blob_path(hex) that the caller verified; clears its marker.
  // `sha256` is the content's digest ("" = the name is the digest).
  Status adopt(std::string_view hex, std::string_view sha256 = "");
  // Deletes an entry (and calls on_evict). No-op when absent.
  void remove(std::string_view hex);

  int64_t used_bytes() const { return used_; }
  int64_t budget_bytes() const { return budget_; }
  size_t count() const { return index_.size(); }
  int64_t evictions() const { return evictions_; }
  const ReconcileReport& reconcile_report() const { return report_; }
  // Hex names from least to most recently used.
  std::vector<std::string> lru_order() const;

 private:
  BlobCache() = default;
  Status reconcile();
  void insert(const std::string& hex, int64_t size, std::string sha256, bool verified);
  Status write_record(const std::string& hex, int64_t size, const std::string& sha256);
  std::string record_path(std::string_view hex) const { return meta_dir_ + "/" + std::string(hex); }
  void evict_to_budget(const std::string& keep);

  struct Entry : EntryInfo {
    std::list<std::string>::iterator pos;
  };
  std::string dir_, blobs_dir_, tmp_dir_, meta_dir_;
  int64_t budget_ = 0;
  int64_t used_ = 0;
  int64_t evictions_ = 0;
  int64_t corrupt_ = 0;
  Counter* evictions_counter_ = nullptr;
  Counter* corrupt_counter_ = nullptr;
  uint64_t tmp_seq_ = 0;
  std::list<std::string> lru_;  // front = least recently used
  std::unordered_map<std::string, Entry> index_;
  std::function<void(const std::string&)> on_evict_;
  ReconcileReport report_;
};

// True for 64 lower-case hex digits (a blob's file name).
bool is_blob_hex(std::string_view s);

}  // namespace sc
