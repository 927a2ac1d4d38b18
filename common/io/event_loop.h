#pragma once
// RAII owner of a libevent event_base with the few things every service needs: timers, signal
// handlers, a thread-safe "run this on the loop" queue, and a cached clock refreshed by the loop.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/core/clock.h"

struct event_base;
struct event;

namespace sc {

class EventLoop;

// A one-shot or repeating timer; destroying it cancels it.
class Timer {
 public:
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void cancel();

 private:
  friend class EventLoop;
  Timer() = default;
  struct event* ev_ = nullptr;
  std::function<void()> fn_;
  bool repeat_ = false;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  struct event_base* base() const { return base_; }
  // The loop's clock, refreshed every kClockRefreshMs while the loop runs.
  const CachedClock& clock() const { return clock_; }
  CachedClock& clock() { return clock_; }

  // Runs until stop(). Returns false if the loop failed.
  bool run();
  // Runs one non-blocking turn (tests that drive the loop by hand).
  void run_once();
  // Thread-safe: make run() return after the current turn.
  void stop();

  std::unique_ptr<Timer> after(int64_t ms, std::function<void()> fn);
  std::unique_ptr<Timer> every(int64_t ms, std::function<void()> fn);
  // A timer on another event_base, e.g. an HttpServer worker thread's (from thread_init). It
  // must be created, run and destroyed on the thread that runs that base.
  static std::unique_ptr<Timer> timer_on(struct event_base* base, int64_t ms, bool repeat, std::function<void()> fn);
  // Thread-safe: run fn on the loop's thread on its next turn (also used to free an object
  // outside its own callback).
  void defer(std::function<void()> fn);
  // Handles a signal on the loop (SIGTERM, SIGINT, SIGHUP…). Only one loop per process should
  // own a given signal.
  void on_signal(int signo, std::function<void()> fn);

 private:
  void drain_deferred();
  std::unique_ptr<Timer> arm(int64_t ms, bool repeat, std::function<void()> fn);
  struct event_base* base_;
  CachedClock clock_;
  std::unique_ptr<Timer> clock_timer_;
  struct event* wake_ev_ = nullptr;
  std::mutex mu_;
  std::vector<std::function<void()>> deferred_;
  std::vector<std::pair<struct event*, std::unique_ptr<std::function<void()>>>> signals_;
};

}  // namespace sc
