// OwnedBuffer and the two evbuffer helpers the proxy's streaming paths use.
#include "common/io/byte_buffer.h"

#include <event2/buffer.h>

#include <vector>

namespace sc {

OwnedBuffer::OwnedBuffer() : buf_(evbuffer_new()) {}
OwnedBuffer::~OwnedBuffer() { evbuffer_free(buf_); }
size_t OwnedBuffer::size() const { return evbuffer_get_length(buf_); }
void OwnedBuffer::move_from(evbuffer* src) { evbuffer_add_buffer(buf_, src); }
bool OwnedBuffer::add_file(int fd, int64_t offset, int64_t length) {
  // Kept as a sendfile segment (not mmapped) when it reaches a socket's output buffer.
  evbuffer_set_flags(buf_, EVBUFFER_FLAG_DRAINS_TO_FD);
  return evbuffer_add_file(buf_, fd, offset, length) == 0;
}
void OwnedBuffer::clear() { evbuffer_drain(buf_, evbuffer_get_length(buf_)); }

size_t buffer_length(evbuffer* b) { return evbuffer_get_length(b); }

void for_each_segment(evbuffer* b, const std::function<void(std::string_view)>& fn) {
  int n = evbuffer_peek(b, -1, nullptr, nullptr, 0);
  if (n <= 0) return;
  std::vector<evbuffer_iovec> v(static_cast<size_t>(n));
  evbuffer_peek(b, -1, nullptr, v.data(), n);
  for (auto& seg : v) fn(std::string_view(static_cast<const char*>(seg.iov_base), seg.iov_len));
}

}  // namespace sc
