#pragma once
// Validation of .torrent files (BEP 3, BEP 52 v2 and hybrid). Pure: bytes in, a summary or
// an error out. The input is untrusted (anyone with a write token uploads it), so decoding is
// bounded and every field that a client will later trust (sizes, piece counts, file paths)
// is checked. Info hashes are taken over the exact bytes of the `info` dict as uploaded.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bencode.h"
#include "common/core/error.h"
#include "common/core/sha.h"

namespace sc {

struct MetainfoLimits {
  BLimits bencode{.max_size = 16 << 20, .max_depth = 48, .max_tokens = 2'000'000};
  int64_t min_piece_length = 16 << 10;   // BEP 52's minimum; smaller pieces only bloat `pieces`
  int64_t max_piece_length = 256 << 20;  // beyond what any maker produces; bounds piece buffers
  size_t max_files = 200'000;
  size_t max_path_depth = 64;
  int64_t max_total_size = int64_t{1} << 50;  // 1 PiB: keeps every sum far from overflow
};

struct MetainfoFile {
  std::string path;  // '/'-joined, relative to the torrent's root (the name, for one file)
  int64_t length = 0;
  bool pad = false;  // BEP 47 padding file (attr "p")
};

struct Metainfo {
  bool has_v1 = false;     // `pieces` present (v1 or hybrid)
  bool has_v2 = false;     // `meta version` 2 with a `file tree` (v2 or hybrid)
  Sha1Digest info_hash_v1{};    // SHA-1 of the raw info dict (set when has_v1)
  Sha256Digest info_hash_v2{};  // SHA-256 of the raw info dict (set when has_v2)
  std::string name;
  int64_t total_size = 0;   // sum of file lengths, padding excluded
  int64_t piece_length = 0;
  int64_t piece_count = 0;
  bool is_private = false;
  std::vector<MetainfoFile> files;

  std::string v1_hex() const;  // "" without v1
  std::string v2_hex() const;  // "" without v2
  // The hash that names this torrent: v1 when present (what v1 and hybrid peers announce),
  // else v2.
  std::string infohash_hex() const { return has_v1 ? v1_hex() : v2_hex(); }
};

// Errors: too_large (input past the bencode limits), invalid_argument (anything malformed;
// the message names the field and is fit for a client).
Result<Metainfo> parse_metainfo(std::string_view bytes, const MetainfoLimits& limits = {});

}  // namespace sc
