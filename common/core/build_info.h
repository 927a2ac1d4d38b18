#pragma once
// What was built: the project version, `git describe` of the tree and the CMake build type,
// all captured when CMake configured the build (common/core/build_info.cc.in). Shown by every
// binary's --version and exported as swarmcache_build_info.
#include <string>
#include <string_view>

namespace sc {

struct BuildInfo {
  std::string_view version;     // e.g. 0.1.0
  std::string_view revision;    // git describe --always --dirty, or "unknown" outside git
  std::string_view build_type;  // e.g. RelWithDebInfo
};

const BuildInfo& build_info();

// "<program> <version> (<revision>, <build type>)" — one line, for --version.
std::string version_line(std::string_view program);

}  // namespace sc
