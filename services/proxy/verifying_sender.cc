// Hash-as-you-send for cache entries not yet verified in this run (see verifying_sender.h).
#include "services/proxy/verifying_sender.h"

#include <unistd.h>

#include <algorithm>

#include "common/core/bytes.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/byte_buffer.h"

namespace sc {
namespace {

// Hashed and queued per look; 8 × 1 MiB keeps one loop turn under ~10 ms of hashing.
constexpr int64_t kChunk = 1 << 20;
constexpr int kChunksPerTick = 8;
constexpr int64_t kPollMs = 5;
// Stop reading while this much waits for a slow client (bounds memory and page-cache churn).
constexpr size_t kHighWater = 8 << 20;

}  // namespace

VerifyingSender::VerifyingSender(EventLoop& loop, std::shared_ptr<HttpRequest> req, int fd, int64_t size,
                                 std::string sha256_hex, std::function<void(Outcome, int64_t)> done)
    : loop_(loop), req_(std::move(req)), fd_(fd), size_(size), want_(std::move(sha256_hex)), done_(std::move(done)) {
  req_->stream_start(200, "application/octet-stream", size_);
  timer_ = loop_.every(kPollMs, [this] { tick(); });
}

VerifyingSender::~VerifyingSender() {
  if (fd_ >= 0) ::close(fd_);
}

void VerifyingSender::tick() {
  if (!done_) return;
  if (!req_->alive()) return end(Outcome::gone);
  if (req_->pending_output() > kHighWater) return;
  for (int i = 0; i < kChunksPerTick; ++i) {
    int64_t len = std::min(kChunk, size_ - off_);
    buf_.resize(static_cast<size_t>(len));
    if (len > 0 && ::pread(fd_, buf_.data(), static_cast<size_t>(len), off_) != len) return end(Outcome::mismatch);
    sha_.update(buf_);
    bool last = off_ + len == size_;
    if (last && to_hex(sha_.finish()) != want_) return end(Outcome::mismatch);
    if (len > 0) {
      // The bytes just hashed go out as a sendfile segment of the same file.
      int dup_fd = ::dup(fd_);
      if (dup_fd < 0) return end(Outcome::gone);
      OwnedBuffer b;
      b.add_file(dup_fd, off_, len);
      req_->stream_write(b.get());
      off_ += len;
    }
    if (last) return end(Outcome::matched);
  }
}

void VerifyingSender::end(Outcome o) {
  auto done = std::move(done_);
  done_ = nullptr;
  if (req_->alive()) {
    if (o == Outcome::matched) req_->stream_end();
    else req_->stream_abort();
  }
  // The timer is running this very callback: stop it from the next loop turn.
  loop_.defer([t = std::shared_ptr<Timer>(std::move(timer_))] {});
  done(o, off_);
}

}  // namespace sc
