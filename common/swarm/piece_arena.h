// Memory for the piece cache (piece_cache.h): one reservation of the cache's whole budget,
// handed out in ranges (first fit, freed ranges merged with their neighbours).
//
// Why not malloc: memory a process touches for the first time costs a page fault per 4 KiB,
// and on a paravirtualised host each fault costs ~15 us, far more than copying the page. A
// cache that held its whole budget (16 MiB) that way cost every leecher ~4k faults in its first
// seconds, so the cache used to start at 16 pieces and grow; with 64 KiB pieces that held ~80 ms
// of download, and nearly every block a leecher forwarded was read back from its file (open,
// seek, read and close per 16 KiB). The reservation asks for transparent huge pages
// (MADV_HUGEPAGE), so touching it costs one fault per 2 MiB; where the kernel gives none, it
// costs what malloc'd memory would. Pages are touched only as ranges are first used, lowest
// addresses first, so a cache that never fills never commits its whole budget.
#pragma once

#include <cstddef>
#include <map>

namespace sc {

class PieceArena {
 public:
  explicit PieceArena(std::size_t bytes);  // bytes == 0 or a failed reservation: take() fails
  ~PieceArena();
  PieceArena(const PieceArena&) = delete;
  PieceArena& operator=(const PieceArena&) = delete;

  // `bytes` (> 0) contiguous bytes, 64-byte aligned; nullptr when no free range is that large.
  char* take(std::size_t bytes);
  // Hands back a range take() returned, with the size it was asked for.
  void give(char* at, std::size_t bytes);

  std::size_t capacity() const { return size_; }

 private:
  static std::size_t round(std::size_t bytes) { return (bytes + 63) & ~std::size_t{63}; }

  char* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_ = 0;                   // the reservation, with its alignment slack
  char* mapping_ = nullptr;
  std::map<std::size_t, std::size_t> free_;  // offset -> length, never adjacent
};

}  // namespace sc
