// EventLoop: timers, defer from another thread, stop.
#include "common/io/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/support/loop_thread.h"

namespace sc {
namespace {

TEST(EventLoop, TimersFireAndCancel) {
  EventLoop loop;
  int once = 0, repeat = 0, cancelled = 0;
  auto t1 = loop.after(5, [&] { once++; });
  auto t2 = loop.every(2, [&] {
    if (++repeat == 5) loop.stop();
  });
  auto t3 = loop.after(1, [&] { cancelled++; });
  t3->cancel();
  loop.run();
  EXPECT_EQ(repeat, 5);
  EXPECT_LE(once, 1);
  EXPECT_EQ(cancelled, 0);
}

TEST(EventLoop, DeferFromAnotherThreadRunsOnLoop) {
  EventLoop loop;
  std::thread::id loop_thread;
  std::atomic<int> ran{0};
  std::thread runner([&] {
    loop_thread = std::this_thread::get_id();
    loop.run();
  });
  for (int i = 0; i < 100; ++i) loop.defer([&] { ran++; });
  std::thread::id seen;
  loop.defer([&] {
    seen = std::this_thread::get_id();
    loop.stop();
  });
  runner.join();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(seen, loop_thread);
}

TEST(EventLoop, ClockAdvancesWhileRunning) {
  EventLoop loop;
  int64_t start = loop.clock().now_ms();
  auto t = loop.after(50, [&] { loop.stop(); });
  loop.run();
  // The cached clock lags the system clock by up to its refresh period (10 ms) plus scheduling.
  EXPECT_GE(loop.clock().now_ms() - start, 25);
}

TEST(LoopThread, CallRunsOnLoopAndReturns) {
  test::LoopThread lt;
  std::thread::id here = std::this_thread::get_id();
  auto [id, value] = lt.call([&] { return std::make_pair(std::this_thread::get_id(), 42); });
  EXPECT_NE(id, here);
  EXPECT_EQ(value, 42);
}

}  // namespace
}  // namespace sc
