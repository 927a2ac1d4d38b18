#pragma once
// Bencoding (BEP 3). The decoder is bounded (depth, token count, input size) because its input
// is untrusted, and records each value's raw byte span so an info hash can be taken over the
// exact bytes of the `info` dict. The encoder appends to a std::string (hot paths reuse one).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/core/error.h"

namespace sc {

struct BValue;
using BList = std::vector<BValue>;
using BDict = std::vector<std::pair<std::string, BValue>>;  // keys in input order

struct BValue {
  std::variant<int64_t, std::string, BList, BDict> v;
  // Offsets of this value in the decoded input [begin, end); 0,0 for built values.
  size_t begin = 0, end = 0;

  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_str() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<BList>(v); }
  bool is_dict() const { return std::holds_alternative<BDict>(v); }
  int64_t as_int() const { return std::get<int64_t>(v); }
  const std::string& as_str() const { return std::get<std::string>(v); }
  const BList& as_list() const { return std::get<BList>(v); }
  const BDict& as_dict() const { return std::get<BDict>(v); }
  // Dict lookup; nullptr when this is not a dict or the key is absent.
  const BValue* find(std::string_view key) const;
};

struct BLimits {
  size_t max_size = 16 << 20;      // input bytes
  size_t max_depth = 32;           // nesting of lists/dicts
  size_t max_tokens = 1'000'000;   // values of any kind
};

// Decodes exactly one value spanning the whole input. Errors: invalid_argument (malformed,
// truncated, trailing bytes, integers with leading zeros or "-0" or outside int64, string
// lengths with leading zeros or past the end, non-string dict keys, duplicate dict keys;
// unsorted keys are accepted and kept in input order), too_large (max_size/depth/tokens
// exceeded; dict keys count as tokens). Iterative: deep input cannot exhaust the stack.
Result<BValue> bdecode(std::string_view in, const BLimits& limits = {});

// Dict keys are written in sorted order (BEP 3), whatever the order in the BDict, so a decoded
// canonical input re-encodes to the same bytes.
std::string bencode(const BValue& value);

// Appending writers for hand-rolled hot-path encoders.
void bput_int(std::string& out, int64_t v);
void bput_str(std::string& out, std::string_view s);

}  // namespace sc
