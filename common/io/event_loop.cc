// EventLoop: libevent event_base ownership, timers, signals and a cross-thread defer queue.
#include "common/io/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <csignal>
#include <mutex>
#include <stdexcept>

namespace sc {
namespace {

// Refresh interval of the loop's cached clock: finer than any timeout we configure.
constexpr int64_t kClockRefreshMs = 10;

void ensure_threads() {
  static std::once_flag once;
  std::call_once(once, [] { evthread_use_pthreads(); });
}

timeval to_tv(int64_t ms) { return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)}; }

}  // namespace

Timer::~Timer() { cancel(); }

void Timer::cancel() {
  if (ev_) {
    event_free(ev_);
    ev_ = nullptr;
  }
}

EventLoop::EventLoop() {
  ensure_threads();
  base_ = event_base_new();
  if (!base_) throw std::runtime_error("event_base_new failed");
  wake_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<EventLoop*>(arg)->drain_deferred(); }, this);
  clock_timer_ = every(kClockRefreshMs, [this] { clock_.refresh(); });
}

EventLoop::~EventLoop() {
  clock_timer_.reset();
  for (auto& [ev, fn] : signals_) event_free(ev);
  signals_.clear();
  if (wake_ev_) event_free(wake_ev_);
  event_base_free(base_);
}

bool EventLoop::run() {
  clock_.refresh();
  return event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY) >= 0;
}

void EventLoop::run_once() {
  clock_.refresh();
  event_base_loop(base_, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}

void EventLoop::stop() { event_base_loopbreak(base_); }

std::unique_ptr<Timer> EventLoop::after(int64_t ms, std::function<void()> fn) { return arm(ms, false, std::move(fn)); }

std::unique_ptr<Timer> EventLoop::every(int64_t ms, std::function<void()> fn) { return arm(ms, true, std::move(fn)); }

std::unique_ptr<Timer> EventLoop::arm(int64_t ms, bool repeat, std::function<void()> fn) {
  return timer_on(base_, ms, repeat, std::move(fn));
}

std::unique_ptr<Timer> EventLoop::timer_on(struct event_base* base, int64_t ms, bool repeat, std::function<void()> fn) {
  auto t = std::unique_ptr<Timer>(new Timer());
  t->fn_ = std::move(fn);
  t->repeat_ = repeat;
  t->ev_ = event_new(base, -1, repeat ? EV_PERSIST : 0,
                     [](evutil_socket_t, short, void* arg) { static_cast<Timer*>(arg)->fn_(); }, t.get());
  timeval tv = to_tv(ms);
  event_add(t->ev_, &tv);
  return t;
}

void EventLoop::defer(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    deferred_.push_back(std::move(fn));
  }
  event_active(wake_ev_, 0, 0);
}

void EventLoop::drain_deferred() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(deferred_);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::on_signal(int signo, std::function<void()> fn) {
  auto holder = std::make_unique<std::function<void()>>(std::move(fn));
  event* ev = evsignal_new(base_, signo, [](evutil_socket_t, short, void* arg) { (*static_cast<std::function<void()>*>(arg))(); }, holder.get());
  event_add(ev, nullptr);
  signals_.emplace_back(ev, std::move(holder));
}

}  // namespace sc
