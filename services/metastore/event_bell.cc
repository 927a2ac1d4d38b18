// Implementation of the in-process event bell (see event_bell.h).
#include "services/metastore/event_bell.h"

#include <algorithm>
#include <utility>

namespace sc::metastore {

EventBell::Member::Member(EventBell& bell, struct event_base* base, std::function<void()> fn)
    : bell_(bell), fn_(std::move(fn)), ev_(event_new(base, -1, 0, &Member::on_ring, this)) {
  std::lock_guard lock(bell_.mu_);
  bell_.members_.push_back(ev_);
}

EventBell::Member::~Member() {
  {
    std::lock_guard lock(bell_.mu_);
    std::erase(bell_.members_, ev_);
  }
  // No ring can reach ev_ now: rings activate events only under the lock.
  event_free(ev_);
}

void EventBell::Member::ring() {
  std::lock_guard lock(bell_.mu_);
  for (struct event* ev : bell_.members_)
    if (ev != ev_) event_active(ev, 0, 0);
}

void EventBell::Member::on_ring(evutil_socket_t, short, void* self) { static_cast<Member*>(self)->fn_(); }

}  // namespace sc::metastore
