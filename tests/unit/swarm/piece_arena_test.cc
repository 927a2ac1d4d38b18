// PieceArena: ranges are disjoint, aligned and writable; freed neighbours merge, so the whole
// reservation can be taken again in one range; it never hands out more than it reserved.
#include "common/swarm/piece_arena.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace sc {
namespace {

constexpr std::size_t kPiece = 64 << 10;

TEST(PieceArena, RangesAreDisjointAlignedAndWritable) {
  PieceArena arena(4 * kPiece);
  ASSERT_EQ(arena.capacity(), 4 * kPiece);
  char* r[4];
  for (int i = 0; i < 4; ++i) {
    r[i] = arena.take(kPiece);
    ASSERT_NE(r[i], nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(r[i]) % 64, 0u);
    std::memset(r[i], 'a' + i, kPiece);
  }
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) EXPECT_TRUE(r[i] + kPiece <= r[j] || r[j] + kPiece <= r[i]);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(r[i][0], 'a' + i);
    EXPECT_EQ(r[i][kPiece - 1], 'a' + i);
  }
  EXPECT_EQ(arena.take(1), nullptr);  // full
}

TEST(PieceArena, FreedNeighboursMergeIntoOneRange) {
  PieceArena arena(3 * kPiece);
  char* a = arena.take(kPiece);
  char* b = arena.take(kPiece);
  char* c = arena.take(kPiece);
  ASSERT_NE(c, nullptr);
  arena.give(b, kPiece);
  EXPECT_EQ(arena.take(2 * kPiece), nullptr);  // b alone is too small
  arena.give(a, kPiece);
  char* ab = arena.take(2 * kPiece);  // a and b merged
  EXPECT_EQ(ab, a);
  arena.give(ab, 2 * kPiece);
  arena.give(c, kPiece);
  EXPECT_EQ(arena.take(3 * kPiece), a);  // all of it, from the lowest address
}

TEST(PieceArena, OddSizesAreRoundedAndFirstFitReusesLowAddresses) {
  PieceArena arena(kPiece);
  char* x = arena.take(100);
  char* y = arena.take(100);
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y - x, 128);  // 100 bytes take 128, keeping the next range aligned
  arena.give(x, 100);
  EXPECT_EQ(arena.take(64), x);  // the lowest free range that fits
  EXPECT_EQ(arena.take(kPiece), nullptr);
}

TEST(PieceArena, EmptyArenaTakesNothing) {
  PieceArena arena(0);
  EXPECT_EQ(arena.capacity(), 0u);
  EXPECT_EQ(arena.take(1), nullptr);
}

}  // namespace
}  // namespace sc
