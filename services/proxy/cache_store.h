#pragma once
// BlobStore over the on-disk BlobCache.
#include "services/proxy/blob_ports.h"

namespace sc {

class BlobCache;

class CacheStore : public BlobStore {
 public:
  explicit CacheStore(BlobCache& cache) : cache_(cache) {}
  std::optional<Entry> lookup(const std::string& hex) override;
  Result<int> open(const std::string& hex) override;
  void mark_verified(const std::string& hex) override;
  void evict_corrupt(const std::string& hex) override;
  int64_t budget_bytes() const override;
  Result<std::unique_ptr<Writer>> begin(const std::string& hex, bool verify) override;
  Status adopt(const std::string& hex, const std::string& sha256) override;

 private:
  BlobCache& cache_;
};

}  // namespace sc
