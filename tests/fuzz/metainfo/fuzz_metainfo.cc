// Fuzzer for proto/metainfo (and proto/content_key): any bytes in, a summary or an error
// out, never a crash. An accepted torrent must satisfy what the metastore and its clients
// rely on (checked with __builtin_trap).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/content_key.h"
#include "proto/metainfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto m = sc::parse_metainfo(in);
  if (m) {
    if (!m->has_v1 && !m->has_v2) __builtin_trap();
    if (m->piece_length <= 0 || (m->piece_length & (m->piece_length - 1)) != 0) __builtin_trap();
    if (m->total_size < 0 || m->files.empty() || m->name.empty()) __builtin_trap();
    size_t hex = m->infohash_hex().size();
    if (hex != 40 && hex != 64) __builtin_trap();
    int64_t sum = 0;
    for (const auto& f : m->files) {
      if (f.length < 0 || !sc::check_relative_path(f.path)) __builtin_trap();
      if (!f.pad) sum += f.length;
    }
    if (sum != m->total_size) __builtin_trap();
  }
  auto k = sc::parse_content_key(in);
  if (k) {
    if (in.size() > sc::kMaxKeyBytes || !sc::is_valid_utf8(in)) __builtin_trap();
    if (in.find("/../") != std::string_view::npos || in.ends_with("/..") || in.find("//") != std::string_view::npos)
      __builtin_trap();
  }
  return 0;
}
