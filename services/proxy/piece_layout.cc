// Single-file v1 torrent piece layout (see piece_layout.h).
#include "services/proxy/piece_layout.h"

#include "common/core/bencode.h"
#include "common/core/sha.h"

namespace sc {

Result<PieceLayout> parse_piece_layout(std::string_view torrent) {
  auto root = bdecode(torrent);
  const BValue* info = root && root->is_dict() ? root->find("info") : nullptr;
  const BValue* plen = info && info->is_dict() ? info->find("piece length") : nullptr;
  const BValue* pieces = info && info->is_dict() ? info->find("pieces") : nullptr;
  const BValue* length = info && info->is_dict() ? info->find("length") : nullptr;
  if (!plen || !plen->is_int() || plen->as_int() <= 0 || !pieces || !pieces->is_str() || !length ||
      !length->is_int() || length->as_int() < 0)
    return fail(Errc::invalid_argument, "not a single-file v1 torrent");
  PieceLayout p{plen->as_int(), length->as_int(), 0, pieces->as_str()};
  p.pieces = (p.total + p.piece_len - 1) / p.piece_len;
  if (static_cast<int64_t>(p.hashes.size()) != p.pieces * 20) return fail(Errc::invalid_argument, "piece count mismatch");
  return p;
}

bool PieceLayout::matches(int64_t i, std::string_view piece) const {
  auto h = sha1(piece);
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size()) ==
         std::string_view(hashes).substr(static_cast<size_t>(i) * 20, 20);
}

}  // namespace sc
