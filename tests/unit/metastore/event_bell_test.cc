// The in-process event bell: a ring reaches every other member, on its own event_base's
// thread, never the ringer, and never a member that has left.
#include "services/metastore/event_bell.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "tests/support/support.h"

namespace sc::metastore {
namespace {

using namespace std::chrono_literals;

struct Base {
  struct event_base* base;
  Base() {
    evthread_use_pthreads();
    base = event_base_new();
  }
  ~Base() { event_base_free(base); }
  void run_ready() { event_base_loop(base, EVLOOP_NONBLOCK); }
};

TEST(EventBell, RingWakesEveryOtherMemberButNotTheRinger) {
  EventBell bell;
  Base a, b, c;
  int woken_a = 0, woken_b = 0, woken_c = 0;
  EventBell::Member ma(bell, a.base, [&] { ++woken_a; });
  EventBell::Member mb(bell, b.base, [&] { ++woken_b; });
  EventBell::Member mc(bell, c.base, [&] { ++woken_c; });

  ma.ring();
  a.run_ready();
  b.run_ready();
  c.run_ready();
  EXPECT_EQ(woken_a, 0);
  EXPECT_EQ(woken_b, 1);
  EXPECT_EQ(woken_c, 1);

  // Two rings before the loop turns fold into one wake-up: waiters re-read the stream anyway.
  mb.ring();
  mc.ring();
  a.run_ready();
  b.run_ready();
  c.run_ready();
  EXPECT_EQ(woken_a, 1);
  EXPECT_EQ(woken_b, 2);
  EXPECT_EQ(woken_c, 2);
}

TEST(EventBell, MemberThatLeftIsNotRung) {
  EventBell bell;
  Base a, b;
  int woken_b = 0;
  EventBell::Member ma(bell, a.base, [] {});
  {
    EventBell::Member mb(bell, b.base, [&] { ++woken_b; });
    ma.ring();  // pending on b when mb leaves: freeing its event drops the wake-up
  }
  b.run_ready();
  ma.ring();
  b.run_ready();
  EXPECT_EQ(woken_b, 0);
}

TEST(EventBell, RingFromAnotherThreadRunsOnTheMembersThread) {
  EventBell bell;
  Base a, b;
  EventBell::Member ma(bell, a.base, [] {});
  std::atomic<bool> ready{false};
  std::atomic<std::thread::id> ran_on{};
  std::thread loop([&] {
    EventBell::Member mb(bell, b.base, [&] {
      ran_on = std::this_thread::get_id();
      event_base_loopbreak(b.base);
    });
    ready = true;
    event_base_loop(b.base, EVLOOP_NO_EXIT_ON_EMPTY);
  });
  ASSERT_TRUE(sc::test::wait_until([&] { return ready.load(); }, 10s));
  // The loop may not be waiting yet: ring until it has run the wake-up (bounded).
  bool woken = sc::test::wait_until(
      [&] {
        ma.ring();
        return ran_on.load() != std::thread::id{};
      },
      10s);
  if (!woken) event_base_loopbreak(b.base);
  loop.join();
  ASSERT_TRUE(woken);
  EXPECT_NE(ran_on.load(), std::this_thread::get_id());
}

}  // namespace
}  // namespace sc::metastore
