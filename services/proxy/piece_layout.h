#pragma once
// The piece layout of a single-file v1 torrent (the shape this proxy makes and accepts): what
// a swarm download's pieces are checked against before their bytes go to a client.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

struct PieceLayout {
  int64_t piece_len = 0, total = 0, pieces = 0;
  std::string hashes;  // 20 bytes of SHA-1 per piece
  // Whether `piece` (bytes of piece index i) matches its hash.
  bool matches(int64_t i, std::string_view piece) const;
};

// Errors: invalid_argument (not a single-file v1 torrent, or hashes that do not cover it).
Result<PieceLayout> parse_piece_layout(std::string_view torrent);

}  // namespace sc
