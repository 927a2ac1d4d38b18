// libFuzzer target for sc::bdecode: any input must decode or fail cleanly within the limits,
// and every accepted value must re-encode to something that decodes to the same encoding,
// with offsets that delimit a valid value of the input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/core/bencode.h"

namespace {

// Small limits so that the depth and token checks are reached by short inputs.
constexpr sc::BLimits kLimits{.max_size = 1 << 16, .max_depth = 16, .max_tokens = 4096};

void check_offsets(std::string_view in, const sc::BValue& v) {
  if (v.begin >= v.end || v.end > in.size()) std::abort();
  auto slice = sc::bdecode(in.substr(v.begin, v.end - v.begin), kLimits);
  if (!slice || sc::bencode(*slice) != sc::bencode(v)) std::abort();
  if (v.is_list()) {
    for (const auto& e : v.as_list()) check_offsets(in, e);
  } else if (v.is_dict()) {
    for (const auto& [k, e] : v.as_dict()) check_offsets(in, e);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = sc::bdecode(in, kLimits);
  if (!r) {
    if (r.error().message.empty()) std::abort();
    return 0;
  }
  if (r->begin != 0 || r->end != size) std::abort();
  std::string once = sc::bencode(*r);
  auto again = sc::bdecode(once, kLimits);
  if (!again || sc::bencode(*again) != once) std::abort();
  check_offsets(in, *r);
  return 0;
}
