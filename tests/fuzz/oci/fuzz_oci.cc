// Fuzzer for proto/oci: paths, Range headers, Bearer challenges and absolute URLs. The first
// byte picks the parser; results must be internally consistent (checked with __builtin_trap).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/oci.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto p = sc::parse_oci_path(in);
      if (p && p->route != sc::OciRoute::base) {
        if (!sc::is_valid_oci_name(p->name)) __builtin_trap();
        if (p->name.find("..") != std::string::npos) __builtin_trap();
        if (p->route == sc::OciRoute::blob && !sc::parse_sha256_digest(p->reference)) __builtin_trap();
      }
      break;
    }
    case 1: {
      int64_t sizes[] = {0, 1, 1000, int64_t{1} << 40};
      for (int64_t s : sizes) {
        auto r = sc::parse_range(in, s);
        if (r.outcome == sc::RangeOutcome::range &&
            (r.range.first < 0 || r.range.last >= s || r.range.first > r.range.last))
          __builtin_trap();
      }
      break;
    }
    case 2: {
      auto c = sc::parse_bearer_challenge(in);
      if (c) (void)sc::token_url(*c);
      break;
    }
    case 3: {
      auto u = sc::parse_absolute_url(in);
      if (u && (u->path.empty() || u->path[0] != '/')) __builtin_trap();
      (void)sc::oci_error_json("X", in);
      break;
    }
  }
  return 0;
}
