#pragma once
// A single worker thread for CPU/disk-heavy jobs (torrent creation) so the loop keeps serving;
// jobs report back through EventLoop::defer.
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace sc {

class WorkQueue {
 public:
  WorkQueue();
  ~WorkQueue();  // drops jobs not started, waits for the running one
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  void post(std::function<void()> fn);

 private:
  void run();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sc
