#include "common/swarm/piece_arena.h"

#include <sys/mman.h>

#include <cstdint>
#include <iterator>

namespace sc {
namespace {
constexpr std::size_t kHugePage = std::size_t{2} << 20;
}

PieceArena::PieceArena(std::size_t bytes) {
  if (bytes == 0) return;
  // Reserved, not committed: pages are backed as they are first touched. The slack lets the
  // usable part start on a huge-page boundary, so that all of it can be backed by huge pages.
  const std::size_t want = round(bytes);
  void* m = ::mmap(nullptr, want + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return;
  mapping_ = static_cast<char*>(m);
  mapped_ = want + kHugePage;
  const auto addr = reinterpret_cast<std::uintptr_t>(mapping_);
  base_ = mapping_ + ((kHugePage - addr % kHugePage) % kHugePage);
  size_ = want;
#ifdef MADV_HUGEPAGE
  ::madvise(base_, size_, MADV_HUGEPAGE);  // advice only: without huge pages, plain pages
#endif
  free_.emplace(0, size_);
}

PieceArena::~PieceArena() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapped_);
}

char* PieceArena::take(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  const std::size_t need = round(bytes);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < need) continue;
    const auto [offset, length] = *it;
    free_.erase(it);
    if (length > need) free_.emplace(offset + need, length - need);
    return base_ + offset;
  }
  return nullptr;
}

void PieceArena::give(char* at, std::size_t bytes) {
  std::size_t offset = static_cast<std::size_t>(at - base_);
  std::size_t length = round(bytes);
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + length == next->first) {
    length += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += length;
      return;
    }
  }
  free_.emplace_hint(next, offset, length);
}

}  // namespace sc
