#pragma once
// Option readers shared by the prehooks: yaml-cpp's exceptions become errors that name the
// hook and the option, and unknown options are logged once at start (Chihaya ignores them).
#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace sc::prehook {

// The option's value, or `fallback` when absent or null. Errors: invalid_argument.
Result<std::string> get_string(const YAML::Node& options, std::string_view hook, const char* key,
                               std::string fallback = "");
Result<double> get_double(const YAML::Node& options, std::string_view hook, const char* key, double fallback);
Result<int64_t> get_int(const YAML::Node& options, std::string_view hook, const char* key, int64_t fallback);
Result<bool> get_bool(const YAML::Node& options, std::string_view hook, const char* key, bool fallback);
// A duration: "5m", "30s", "250ms", or a bare number of seconds.
Result<int64_t> get_duration_ms(const YAML::Node& options, std::string_view hook, const char* key,
                                int64_t fallback_ms);
// A list of scalars (absent or null: empty).
Result<std::vector<std::string>> get_list(const YAML::Node& options, std::string_view hook, const char* key);
// Options must be a map (or absent); logs a warning for each key not in `known`.
Status check_options(const YAML::Node& options, std::string_view hook, std::initializer_list<const char*> known);

std::unexpected<Error> bad(std::string_view hook, const std::string& what);

// Reads a whole local file, refusing anything over max_bytes. Errors: io, too_large.
Result<std::string> read_file_bounded(const std::string& path, size_t max_bytes);

}  // namespace sc::prehook
