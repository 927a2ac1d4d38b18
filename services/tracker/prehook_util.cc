// Shared option parsing for the tracker prehooks (prehook_*.cc): typed reads of a hook's YAML
// options with errors naming the hook and key, and a bounded whole-file read for key and list
// files.
#include "services/tracker/prehook_util.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/core/config.h"
#include "common/core/log.h"

namespace sc::prehook {

std::unexpected<Error> bad(std::string_view hook, const std::string& what) {
  return fail(Errc::invalid_argument, "prehook '" + std::string(hook) + "': " + what);
}

namespace {

bool absent(const YAML::Node& options, const char* key) {
  return !options || !options.IsMap() || !options[key] || options[key].IsNull();
}

template <class T>
Result<T> get(const YAML::Node& options, std::string_view hook, const char* key, T fallback, const char* type) {
  if (absent(options, key)) return fallback;
  try {
    if (!options[key].IsScalar()) return bad(hook, std::string("option ") + key + " must be " + type);
    return options[key].as<T>();
  } catch (const std::exception&) {
    return bad(hook, std::string("option ") + key + " must be " + type);
  }
}

}  // namespace

Result<std::string> get_string(const YAML::Node& o, std::string_view hook, const char* key, std::string fallback) {
  return get<std::string>(o, hook, key, std::move(fallback), "a string");
}
Result<double> get_double(const YAML::Node& o, std::string_view hook, const char* key, double fallback) {
  return get<double>(o, hook, key, fallback, "a number");
}
Result<int64_t> get_int(const YAML::Node& o, std::string_view hook, const char* key, int64_t fallback) {
  return get<int64_t>(o, hook, key, fallback, "an integer");
}
Result<bool> get_bool(const YAML::Node& o, std::string_view hook, const char* key, bool fallback) {
  return get<bool>(o, hook, key, fallback, "true or false");
}

Result<int64_t> get_duration_ms(const YAML::Node& o, std::string_view hook, const char* key, int64_t fallback_ms) {
  auto text = get_string(o, hook, key, "");
  if (!text) return std::unexpected(text.error());
  if (text->empty()) return fallback_ms;
  auto ms = parse_duration_ms(*text);
  if (!ms) return bad(hook, std::string("option ") + key + ": " + ms.error().message);
  return *ms;
}

Result<std::vector<std::string>> get_list(const YAML::Node& o, std::string_view hook, const char* key) {
  std::vector<std::string> out;
  if (absent(o, key)) return out;
  if (!o[key].IsSequence()) return bad(hook, std::string("option ") + key + " must be a list");
  for (const auto& item : o[key]) {
    if (!item.IsScalar()) return bad(hook, std::string("option ") + key + " must be a list of strings");
    out.push_back(item.Scalar());
  }
  return out;
}

Status check_options(const YAML::Node& o, std::string_view hook, std::initializer_list<const char*> known) {
  if (!o || o.IsNull()) return {};
  if (!o.IsMap()) return bad(hook, "options must be a map");
  for (const auto& kv : o) {
    std::string k = kv.first.Scalar();
    if (std::find_if(known.begin(), known.end(), [&](const char* n) { return k == n; }) == known.end()) {
      SC_WARN("prehook option not supported, ignored", {"prehook", std::string(hook)}, {"option", k});
    }
  }
  return {};
}

Result<std::string> read_file_bounded(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(Errc::io, "cannot read " + path);
  std::string out;
  char buf[64 << 10];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    out.append(buf, static_cast<size_t>(f.gcount()));
    if (out.size() > max_bytes) return fail(Errc::too_large, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  }
  if (f.bad()) return fail(Errc::io, "error reading " + path);
  return out;
}

}  // namespace sc::prehook
