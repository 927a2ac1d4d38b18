// EventLoop: libevent event_base ownership, timers (real or manual time), signals and a
// cross-thread defer queue.
#include "common/io/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>

#include <algorithm>
#include <csignal>
#include <mutex>
#include <stdexcept>

namespace sc {
namespace {

void ensure_threads() {
  static std::once_flag once;
  std::call_once(once, [] { evthread_use_pthreads(); });
}

timeval to_tv(int64_t ms) { return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)}; }

}  // namespace

// What the libevent callback (or EventLoop::advance) reaches. It outlives its Timer while the
// callback runs: a Timer destroyed from its own callback only marks it orphaned, and fire()
// frees it once the callback has returned.
struct Timer::State {
  event* ev = nullptr;          // real time
  EventLoop* manual = nullptr;  // manual time: fired by manual->advance()
  std::function<void()> fn;
  int64_t period_ms = 0;
  bool repeat = false;
  int64_t due_ms = -1;  // manual time: when it fires next, -1 when not armed
  bool firing = false;
  bool orphaned = false;

  void fire() {
    firing = true;
    fn();
    firing = false;
    if (orphaned) destroy();
  }
  void stop() {
    if (ev) event_del(ev);
    due_ms = -1;
  }
  void start(int64_t ms) {
    period_ms = std::max<int64_t>(ms, 0);
    if (manual) {
      // A repeating timer needs a positive period, or advance() would never get past it.
      if (repeat) period_ms = std::max<int64_t>(period_ms, 1);
      due_ms = manual->clock().mono_ms() + period_ms;
    } else {
      timeval tv = to_tv(period_ms);
      event_add(ev, &tv);
    }
  }
  void destroy() {
    if (ev) event_free(ev);
    if (manual) manual->manual_timers_.erase(this);
    delete this;
  }
};

Timer::~Timer() {
  s_->stop();
  if (s_->firing) s_->orphaned = true;
  else s_->destroy();
}

void Timer::cancel() { s_->stop(); }

void Timer::arm(int64_t ms) {
  s_->stop();
  s_->start(ms);
}

EventLoop::EventLoop(TimeSource time) {
  ensure_threads();
  base_ = event_base_new();
  if (!base_) throw std::runtime_error("event_base_new failed");
  wake_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* arg) { static_cast<EventLoop*>(arg)->drain_deferred(); }, this);
  if (time == TimeSource::manual) manual_ = std::make_unique<ManualClock>();
}

EventLoop::~EventLoop() {
  for (auto& [ev, fn] : signals_) event_free(ev);
  signals_.clear();
  if (wake_ev_) event_free(wake_ev_);
  event_base_free(base_);
}

const Clock& EventLoop::clock() const {
  if (manual_) return *manual_;
  return clock_;
}

bool EventLoop::run() {
  return event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY) >= 0;
}

void EventLoop::run_once() {
  event_base_loop(base_, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}

void EventLoop::stop() { event_base_loopbreak(base_); }

void EventLoop::advance(int64_t ms) {
  if (!manual_) throw std::logic_error("EventLoop::advance needs TimeSource::manual");
  const int64_t target = manual_->mono_ms() + std::max<int64_t>(ms, 0);
  // Bounded: each turn fires one timer at a deadline <= target, and repeating periods are >= 1.
  for (;;) {
    Timer::State* next = nullptr;
    for (Timer::State* t : manual_timers_) {
      if (t->due_ms >= 0 && t->due_ms <= target && (!next || t->due_ms < next->due_ms)) next = t;
    }
    if (!next) break;
    manual_->advance(next->due_ms - manual_->mono_ms());
    next->due_ms = next->repeat ? next->due_ms + next->period_ms : -1;
    next->fire();
  }
  manual_->advance(target - manual_->mono_ms());
}

std::unique_ptr<Timer> EventLoop::after(int64_t ms, std::function<void()> fn) { return arm(ms, false, std::move(fn)); }

std::unique_ptr<Timer> EventLoop::every(int64_t ms, std::function<void()> fn) { return arm(ms, true, std::move(fn)); }

std::unique_ptr<Timer> EventLoop::arm(int64_t ms, bool repeat, std::function<void()> fn) {
  if (!manual_) return timer_on(base_, ms, repeat, std::move(fn));
  auto* s = new Timer::State();
  s->manual = this;
  s->fn = std::move(fn);
  s->repeat = repeat;
  manual_timers_.insert(s);
  s->start(ms);
  return std::unique_ptr<Timer>(new Timer(s));
}

std::unique_ptr<Timer> EventLoop::timer_on(struct event_base* base, int64_t ms, bool repeat, std::function<void()> fn) {
  auto* s = new Timer::State();
  s->fn = std::move(fn);
  s->repeat = repeat;
  s->ev = event_new(base, -1, repeat ? EV_PERSIST : 0,
                    [](evutil_socket_t, short, void* arg) { static_cast<Timer::State*>(arg)->fire(); }, s);
  s->start(ms);
  return std::unique_ptr<Timer>(new Timer(s));
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
