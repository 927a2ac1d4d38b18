#pragma once
// Injectable time. Logic never calls time(): production uses CachedClock, refreshed once per
// loop turn (opentracker's g_now_seconds); tests use ManualClock and advance() it.
#include <atomic>
#include <cstdint>

namespace sc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock; used for expiry and timestamps).
  virtual int64_t now_ms() const = 0;
  int64_t now_s() const { return now_ms() / 1000; }
};

// Reads the system clock once per refresh(); cheap to read from any thread.
class CachedClock final : public Clock {
 public:
  CachedClock() { refresh(); }
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void refresh();

 private:
  std::atomic<int64_t> now_{0};
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  void advance(int64_t ms) { now_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// The system clock, uncached (start-up code and CachedClock::refresh only).
int64_t system_now_ms();

}  // namespace sc
