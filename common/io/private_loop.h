#pragma once
// Runs one asynchronous exchange to its end on a private event loop, for blocking callers
// (command-line tools, the blocking metastore client). `body` makes its client on the loop,
// starts the exchange with `done`, and runs the loop; `done` stores the result and stops it.
// The client is destroyed inside `body`, before the loop it was made on.
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.h"
#include "common/io/event_loop.h"

namespace sc {

template <class T>
Result<T> run_on_private_loop(std::string_view what,
                              const std::function<void(EventLoop&, std::function<void(Result<T>)>)>& body) {
  std::unique_ptr<EventLoop> loop;
  try {
    loop = std::make_unique<EventLoop>();
  } catch (const std::exception& e) {
    return fail(Errc::internal, std::string("cannot create an event loop: ") + e.what());
  }
  std::optional<Result<T>> out;
  body(*loop, [&](Result<T> r) {
    out = std::move(r);
    loop->stop();
  });
  if (!out) return fail(Errc::internal, "event loop ended without " + std::string(what));
  return std::move(*out);
}

}  // namespace sc
