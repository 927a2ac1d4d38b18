#pragma once
// Injectable time, two kinds. Wall time (now_ms) is for what people read and for timestamps
// shared with other hosts; monotonic time (mono_ms) is for every deadline, so that an NTP step
// neither freezes nor fires timeouts. Logic never calls time(): production uses CoarseClock,
// tests use ManualClock and advance() it.
#include <atomic>
#include <cstdint>

namespace sc {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock: timestamps, expiry stored for other hosts).
  virtual int64_t now_ms() const = 0;
  // Milliseconds on a clock that never jumps (deadlines); its epoch means nothing.
  virtual int64_t mono_ms() const = 0;
  int64_t now_s() const { return now_ms() / 1000; }
};

// The kernel's coarse clocks (CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE): read in user
// space without a system call, from any thread, a few ns each, and as fine as one scheduler
// tick (1-4 ms), finer than any timeout we configure. No timer keeps them fresh, so an idle
// process does not wake up for its clock.
class CoarseClock final : public Clock {
 public:
  int64_t now_ms() const override;
  int64_t mono_ms() const override;
};

// Both times move together, and only by advance().
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(std::memory_order_relaxed); }
  int64_t mono_ms() const override { return mono_.load(std::memory_order_relaxed); }
  void advance(int64_t ms) {
    now_.fetch_add(ms, std::memory_order_relaxed);
    mono_.fetch_add(ms, std::memory_order_relaxed);
  }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> mono_{0};
};

// The system clocks at full resolution (start-up code).
int64_t system_now_ms();
int64_t steady_now_ms();

}  // namespace sc
