#pragma once
// An owned libevent buffer, so that code outside common/io can hold and forward bytes without
// copying them and without libevent headers: body bytes move from the HTTP client's buffer
// consumer into it, and from it into HttpRequest::stream_write; a file range added to it
// leaves as a sendfile segment.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

struct evbuffer;

namespace sc {

class OwnedBuffer {
 public:
  OwnedBuffer();
  ~OwnedBuffer();
  OwnedBuffer(const OwnedBuffer&) = delete;
  OwnedBuffer& operator=(const OwnedBuffer&) = delete;
  struct evbuffer* get() const { return buf_; }
  size_t size() const;
  void move_from(struct evbuffer* src);  // appends src's bytes, leaving src empty
  // Appends [offset, offset+length) of fd as a sendfile segment; takes ownership of fd.
  bool add_file(int fd, int64_t offset, int64_t length);
  void clear();

 private:
  struct evbuffer* buf_;
};

size_t buffer_length(struct evbuffer* b);
// Calls fn on each contiguous segment of b, without copying or draining.
void for_each_segment(struct evbuffer* b, const std::function<void(std::string_view)>& fn);

}  // namespace sc
