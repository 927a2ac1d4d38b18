// The blob cache as the state machine's BlobStore (see cache_store.h).
#include "services/proxy/cache_store.h"

#include <unistd.h>

#include "services/proxy/blob_cache.h"

namespace sc {
namespace {

class CacheWriter : public BlobStore::Writer {
 public:
  explicit CacheWriter(std::unique_ptr<BlobCache::Writer> w) : w_(std::move(w)) {}
  Status write(std::string_view data) override { return w_->write(data); }
  Status commit() override { return w_->commit(); }

 private:
  std::unique_ptr<BlobCache::Writer> w_;
};

}  // namespace

std::optional<BlobStore::Entry> CacheStore::lookup(const std::string& hex) {
  auto size = cache_.lookup(hex);
  if (!size) return std::nullopt;
  const auto* info = cache_.info(hex);
  if (!info) return Entry{*size, hex, true};
  return Entry{*size, info->sha256, info->verified};
}

Result<int> CacheStore::open(const std::string& hex) {
  auto opened = cache_.open_blob(hex);
  if (!opened) return std::unexpected(opened.error());
  return opened->first;
}

void CacheStore::mark_verified(const std::string& hex) { cache_.mark_verified(hex); }
void CacheStore::evict_corrupt(const std::string& hex) { cache_.mark_corrupt(hex); }
int64_t CacheStore::budget_bytes() const { return cache_.budget_bytes(); }

Result<std::unique_ptr<BlobStore::Writer>> CacheStore::begin(const std::string& hex, bool verify) {
  auto w = cache_.begin(hex, -1, verify);
  if (!w) return std::unexpected(w.error());
  return std::unique_ptr<Writer>(std::make_unique<CacheWriter>(std::move(*w)));
}

Status CacheStore::adopt(const std::string& hex, const std::string& sha256) { return cache_.adopt(hex, sha256); }

}  // namespace sc
