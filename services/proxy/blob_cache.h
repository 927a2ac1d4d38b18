#pragma once
// The proxy's blob cache on disk: <dir>/blobs/<64 hex> files under a byte budget with LRU
// eviction. A blob enters only through a Writer that hashes what it writes and renames the
// temp file into place after the sha256 matches (or, for content without a digest, after the
// caller vouches for it), or through adopt() of a file a swarm download verified. Files being
// filled by the swarm carry a "<hex>.partial" marker. At open, temp files and marked files are
// deleted (a crash's leftovers are never served) and what remains is indexed.
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

struct BlobCacheOptions {
  std::string dir;
  int64_t budget_bytes = 10LL << 30;
};

struct ReconcileReport {
  int kept = 0;
  int removed_partial = 0;  // temp files and swarm downloads interrupted by a crash
  int removed_unknown = 0;  // names that are not a blob
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
  Status adopt(std::string_view hex);
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
  void insert(const std::string& hex, int64_t size);
  void evict_to_budget(const std::string& keep);

  struct Entry {
    int64_t size = 0;
    std::list<std::string>::iterator pos;
  };
  std::string dir_, blobs_dir_, tmp_dir_;
  int64_t budget_ = 0;
  int64_t used_ = 0;
  int64_t evictions_ = 0;
  uint64_t tmp_seq_ = 0;
  std::list<std::string> lru_;  // front = least recently used
  std::unordered_map<std::string, Entry> index_;
  std::function<void(const std::string&)> on_evict_;
  ReconcileReport report_;
};

// True for 64 lower-case hex digits (a blob's file name).
bool is_blob_hex(std::string_view s);

}  // namespace sc
