// Real and cached clocks.
#include "common/core/clock.h"

#include <chrono>

namespace sc {

int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void CachedClock::refresh() { now_.store(system_now_ms(), std::memory_order_relaxed); }

}  // namespace sc
