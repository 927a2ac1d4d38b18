// EventLoop: timers (real and manual time, destroyed from their own callbacks), defer from
// another thread, stop.
#include "common/io/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>
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
  // The coarse clock lags the system clock by up to one scheduler tick.
  EXPECT_GE(loop.clock().now_ms() - start, 25);
}

// An owner freed by its own timer's callback: what the callback captured must stay valid
// until it returns (ASan reports a use after free otherwise).
TEST(EventLoop, TimerMayDestroyItselfInItsCallback) {
  for (bool repeat : {false, true}) {
    EventLoop loop;
    struct Owner {
      std::unique_ptr<Timer> timer;
    };
    auto owner = std::make_unique<Owner>();
    std::string seen;
    auto fn = [&owner, &seen, &loop, word = std::string(64, 'w')] {
      owner.reset();  // frees the Timer running this very callback
      seen = word;    // a capture, read after its Timer is gone
      loop.stop();
    };
    owner->timer = repeat ? loop.every(1, fn) : loop.after(1, fn);
    loop.run();
    EXPECT_EQ(seen, std::string(64, 'w')) << repeat;
  }
}

TEST(EventLoop, ManualTimeFiresTimersInOrderWithoutSleeping) {
  EventLoop loop(TimeSource::manual);
  const int64_t wall0 = loop.clock().now_ms(), mono0 = loop.clock().mono_ms();
  std::vector<std::pair<std::string, int64_t>> fired;
  auto at = [&](const char* name) { return [&, name] { fired.emplace_back(name, loop.clock().mono_ms() - mono0); }; };
  auto late = loop.after(300, at("late"));
  auto early = loop.after(100, at("early"));
  auto tick = loop.every(150, at("tick"));
  auto never = loop.after(50, at("never"));
  never->cancel();
  loop.advance(99);
  EXPECT_TRUE(fired.empty());
  loop.advance(251);  // to 350
  std::vector<std::pair<std::string, int64_t>> want = {{"early", 100}, {"tick", 150}, {"late", 300}, {"tick", 300}};
  // late and the second tick share a deadline; either order is fine, both see time 300.
  ASSERT_EQ(fired.size(), 4u);
  EXPECT_EQ(fired[0], want[0]);
  EXPECT_EQ(fired[1], want[1]);
  EXPECT_EQ(fired[2].second, 300);
  EXPECT_EQ(fired[3].second, 300);
  EXPECT_EQ(loop.clock().mono_ms() - mono0, 350);
  EXPECT_EQ(loop.clock().now_ms() - wall0, 350);
  early->arm(10);  // re-armed after firing
  loop.advance(10);
  EXPECT_EQ(fired.back(), (std::pair<std::string, int64_t>{"early", 360}));
  // A timer destroyed by its own callback in manual time too.
  std::unique_ptr<Timer> self_owned;
  int ran = 0;
  self_owned = loop.every(5, [&] {
    ran++;
    self_owned.reset();
  });
  loop.advance(100);
  EXPECT_EQ(ran, 1);
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
