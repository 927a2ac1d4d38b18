// Real and cached clocks: system_clock for wall time, steady_clock for deadlines.
#include "common/core/clock.h"

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

void CachedClock::refresh() {
  now_.store(system_now_ms(), std::memory_order_relaxed);
  mono_.store(steady_now_ms(), std::memory_order_relaxed);
}

}  // namespace sc
