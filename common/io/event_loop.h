#pragma once
// RAII owner of a libevent event_base with the few things every service needs: timers, signal
// handlers, a thread-safe "run this on the loop" queue, and a clock the loop keeps fresh. A loop
// made with TimeSource::manual has a ManualClock instead: its timers fire only when advance()
// moves time, so that timer tests need no sleeps.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "common/core/clock.h"

struct event_base;
struct event;

namespace sc {

class EventLoop;

// A one-shot or repeating timer on a monotonic clock; destroying it cancels it. It may be
// destroyed from inside its own callback (the usual case: the callback frees the object that
// owns the timer): what the callback captured stays alive until the callback returns.
class Timer {
 public:
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  // Stops it; arm() starts it again.
  void cancel();
  // (Re)starts it: fires ms from now, then every ms if it repeats.
  void arm(int64_t ms);

  struct State;  // shared with the callback that fires it (opaque; defined in the .cc)

 private:
  friend class EventLoop;
  explicit Timer(State* s) : s_(s) {}
  State* s_;
};

enum class TimeSource { real, manual };

class EventLoop {
 public:
  explicit EventLoop(TimeSource time = TimeSource::real);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  struct event_base* base() const { return base_; }
  // The loop's clock: a CoarseClock (real time, readable from any thread), or, for
  // TimeSource::manual, a ManualClock.
  const Clock& clock() const;

  // Runs until stop(). Returns false if the loop failed.
  bool run();
  // Runs one non-blocking turn (tests that drive the loop by hand).
  void run_once();
  // Thread-safe: make run() return after the current turn.
  void stop();
  // TimeSource::manual only, on the loop's thread: moves the clock by ms and fires the timers
  // that fall due on the way, in deadline order, each seeing the clock at its own deadline.
  void advance(int64_t ms);

  std::unique_ptr<Timer> after(int64_t ms, std::function<void()> fn);
  std::unique_ptr<Timer> every(int64_t ms, std::function<void()> fn);
  // A real-time timer on another event_base, e.g. an HttpServer worker thread's (from
  // thread_init). It must be created, run and destroyed on the thread that runs that base.
  static std::unique_ptr<Timer> timer_on(struct event_base* base, int64_t ms, bool repeat, std::function<void()> fn);
  // Thread-safe: run fn on the loop's thread on its next turn (also used to free an object
  // outside its own callback).
  void defer(std::function<void()> fn);
  // Handles a signal on the loop (SIGTERM, SIGINT, SIGHUP…). Only one loop per process should
  // own a given signal.
  void on_signal(int signo, std::function<void()> fn);

 private:
  friend struct Timer::State;
  void drain_deferred();
  std::unique_ptr<Timer> arm(int64_t ms, bool repeat, std::function<void()> fn);
  struct event_base* base_;
  CoarseClock clock_;
  std::unique_ptr<ManualClock> manual_;
  std::set<Timer::State*> manual_timers_;  // armed or not, for advance()
  struct event* wake_ev_ = nullptr;
  std::mutex mu_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::pair<struct event*, std::unique_ptr<std::function<void()>>>> signals_;
};

}  // namespace sc
