// Rate-limited background re-hashing of cache entries (see cache_scrub.h).
#include "services/proxy/cache_scrub.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "common/core/bytes.h"
#include "common/core/metrics.h"
#include "common/io/event_loop.h"
#include "services/proxy/blob_cache.h"

namespace sc {
namespace {

// Ten slices a second keep the rate smooth; a slice is capped so that one loop turn never
// hashes more than ~8 MiB (~10 ms), whatever rate is configured.
constexpr int64_t kTickMs = 100;
constexpr int64_t kMaxSliceBytes = 8 << 20;
constexpr int64_t kReadChunk = 1 << 20;

}  // namespace

CacheScrubber::CacheScrubber(EventLoop& loop, BlobCache& cache, int64_t rate, Counter& scrubbed)
    : loop_(loop),
      cache_(cache),
      per_tick_(std::clamp<int64_t>(rate * kTickMs / 1000, 1, kMaxSliceBytes)),
      scrubbed_(scrubbed) {
  timer_ = loop_.every(kTickMs, [this] { tick(); });
}

CacheScrubber::~CacheScrubber() { close_current(); }

void CacheScrubber::close_current() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  hex_.clear();
}

void CacheScrubber::next_entry() {
  close_current();
  if (queue_.empty()) {
    auto order = cache_.lru_order();
    queue_.assign(order.begin(), order.end());
  }
  while (!queue_.empty() && hex_.empty()) {
    std::string hex = std::move(queue_.front());
    queue_.pop_front();
    const auto* info = cache_.info(hex);
    if (!info) continue;  // evicted since the round began
    fd_ = ::open(cache_.blob_path(hex).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) continue;
    hex_ = hex;
    size_ = info->size;
    off_ = 0;
    sha_ = Sha256();
  }
}

void CacheScrubber::tick() {
  int64_t budget = per_tick_;
  while (budget > 0) {
    if (hex_.empty()) {
      next_entry();
      if (hex_.empty()) return;  // the cache is empty
    }
    const auto* info = cache_.info(hex_);
    if (!info) {  // evicted while we hashed it
      close_current();
      continue;
    }
    int64_t len = std::min({kReadChunk, budget, size_ - off_});
    buf_.resize(static_cast<size_t>(len));
    ssize_t got = len > 0 ? ::pread(fd_, buf_.data(), static_cast<size_t>(len), off_) : 0;
    if (got != len) {
      cache_.mark_corrupt(hex_);  // shorter than its record
      close_current();
      continue;
    }
    sha_.update(buf_);
    off_ += len;
    budget -= std::max<int64_t>(len, 1);
    scrubbed_.inc(static_cast<uint64_t>(len));
    if (off_ < size_) continue;
    if (to_hex(sha_.finish()) == info->sha256) cache_.mark_verified(hex_);
    else cache_.mark_corrupt(hex_);
    close_current();
  }
}

}  // namespace sc
