// Real clocks: system_clock for wall time, steady_clock for deadlines; and the coarse ones.
#include "common/core/clock.h"

#include <time.h>

#include <chrono>

namespace sc {

int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t steady_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

namespace {
int64_t coarse_ms(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
}  // namespace

int64_t CoarseClock::now_ms() const { return coarse_ms(CLOCK_REALTIME_COARSE); }
int64_t CoarseClock::mono_ms() const { return coarse_ms(CLOCK_MONOTONIC_COARSE); }

}  // namespace sc
