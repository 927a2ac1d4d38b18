#pragma once
// Serves a cache file that has not been hashed since this process started: its bytes go out
// in order as they are hashed, the last chunk only once the whole file matched its sha256, so
// a file that rotted on disk reaches the client truncated (the response is aborted), never
// complete. Later hits of a verified entry use plain sendfile.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/error.h"
#include "common/core/sha.h"

namespace sc {

class EventLoop;
class HttpRequest;
class Timer;

class VerifyingSender {
 public:
  // How it ended: matched (response complete), mismatch (aborted: the file is bad), or
  // gone (the client left first: nothing learned).
  enum class Outcome { matched, mismatch, gone };
  // Takes fd. Headers the caller added stay; the response starts here (200, length size).
  // `done` runs once on the loop; the sender may be destroyed from a later loop turn.
  VerifyingSender(EventLoop& loop, std::shared_ptr<HttpRequest> req, int fd, int64_t size, std::string sha256_hex,
                  std::function<void(Outcome, int64_t sent)> done);
  ~VerifyingSender();
  VerifyingSender(const VerifyingSender&) = delete;
  VerifyingSender& operator=(const VerifyingSender&) = delete;

 private:
  void tick();
  void end(Outcome o);
  EventLoop& loop_;
  std::shared_ptr<HttpRequest> req_;
  int fd_;
  int64_t size_, off_ = 0;
  std::string want_;
  Sha256 sha_;
  std::string buf_;
  std::function<void(Outcome, int64_t)> done_;
  std::unique_ptr<Timer> timer_;
};

}  // namespace sc
