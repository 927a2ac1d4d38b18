#pragma once
// Runs an sc::EventLoop on its own thread so a test can start a service in-process on
// 127.0.0.1:0, talk to it over real sockets from the test thread, and stop it cleanly.
//
//   LoopThread lt;
//   std::unique_ptr<TrackerApp> app;
//   lt.call([&] { app = std::make_unique<TrackerApp>(lt.loop(), cfg); return app->start(); });
//   ... http_request(app->port(), ...) ...
//   lt.call([&] { app.reset(); });   // destroy on the loop thread
#include <functional>
#include <future>
#include <thread>

#include "common/io/event_loop.h"

namespace sc::test {

class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run(); }) {}
  ~LoopThread() {
    loop_.defer([this] { loop_.stop(); });
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  EventLoop& loop() { return loop_; }

  // Runs fn on the loop thread and waits for its result.
  template <class F>
  auto call(F&& fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto result = task.get_future();
    loop_.defer([&task] { task(); });
    return result.get();
  }

 private:
  EventLoop loop_;
  std::thread thread_;
};

}  // namespace sc::test
