// Memory for the piece cache (piece_cache.h): one reservation of the cache's whole budget,
// handed out in ranges (first fit, freed ranges merged with their neighbours).
//
// Why hold the whole budget: memory a process touches for the first time is dear on a
// paravirtualised host (~15 us per 4 KiB, bench/swarm/README.md session 7), so the cache used to
// start at 16 pieces and grow only for pieces still arriving. With 64 KiB pieces that held
// ~80 ms of download, and nearly every block a leecher forwarded was read back from its file
// (open, seek, read and close per 16 KiB; README session 9). Touching the budget once (16 MiB
// by default) costs less than those reads. One reservation rather than malloc'd buffers: it
// can ask for transparent huge pages (MADV_HUGEPAGE, one fault per 2 MiB where the kernel
// gives them), glibc never hands it back to the kernel to be faulted in again, and its size is
// the bound. Ranges are taken lowest address first, so a cache that never fills never
// touches its whole budget.
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
