#pragma once
// Tells every MetastoreService of this process at once that one of them appended to the event
// stream. Each instance serves its own worker thread's long-polls and SSE streams; without the
// bell, those held by the other threads heard of a put only on their next waiter tick (100 ms),
// and a leecher that hears late fetches its torrent late, when the origin's link may already be
// full. Other metastore processes still learn of it on that tick, from Redis.
#include <event2/event.h>

#include <functional>
#include <mutex>
#include <vector>

namespace sc::metastore {

class EventBell {
 public:
  // A registration: `fn` runs on its event_base's thread whenever another member rings.
  // Destroy it on that thread (it removes itself before freeing its event).
  class Member {
   public:
    Member(EventBell& bell, struct event_base* base, std::function<void()> fn);
    ~Member();
    Member(const Member&) = delete;
    Member& operator=(const Member&) = delete;
    // Wakes every other member; thread-safe.
    void ring();

   private:
    static void on_ring(evutil_socket_t, short, void* self);
    EventBell& bell_;
    std::function<void()> fn_;
    struct event* ev_;
  };

 private:
  std::mutex mu_;
  // Every member's event. event_active from any thread needs evthread, which EventLoop turns on.
  std::vector<struct event*> members_;
};

}  // namespace sc::metastore
