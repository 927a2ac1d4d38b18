#pragma once
// Background scrub of the blob cache (`cache.scrub_rate`, bytes/s): every entry is re-hashed in
// turn, at most that many bytes a second, and an entry whose bytes no longer match its record
// is deleted (BlobCache::mark_corrupt). Runs on the loop in small slices.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "common/core/sha.h"

namespace sc {

class BlobCache;
class Counter;
class EventLoop;
class Timer;

class CacheScrubber {
 public:
  // rate_bytes_per_s > 0. `scrubbed` counts bytes hashed.
  CacheScrubber(EventLoop& loop, BlobCache& cache, int64_t rate_bytes_per_s, Counter& scrubbed);
  ~CacheScrubber();

 private:
  void tick();
  void next_entry();
  void close_current();
  EventLoop& loop_;
  BlobCache& cache_;
  int64_t per_tick_;
  Counter& scrubbed_;
  std::deque<std::string> queue_;  // entries still to visit this round
  std::string hex_;                // the entry being hashed ("" = none)
  int fd_ = -1;
  int64_t off_ = 0, size_ = 0;
  Sha256 sha_;
  std::string buf_;
  std::unique_ptr<Timer> timer_;
};

}  // namespace sc
