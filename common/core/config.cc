// sc::Options: every daemon's configuration from a YAML file, SWARMCACHE_<FLAG> environment
// variables and command-line flags (rising precedence). Errors name the key, where the value
// came from and what was expected, because they are read by an operator at start-up.
#include "common/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <iostream>
#include <set>
#include <sstream>

#include "common/core/build_info.h"

namespace sc {
namespace {

constexpr int64_t kMsPerSecond = 1000;
constexpr int64_t kMsPerMinute = 60 * kMsPerSecond;
constexpr int64_t kMsPerHour = 60 * kMsPerMinute;
constexpr int64_t kMsPerDay = 24 * kMsPerHour;
// A config file larger than this is a mistake (a data file passed by accident), not config.
constexpr std::streamsize kMaxConfigFileBytes = 4 << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string env_name(std::string_view flag) {
  std::string out = "SWARMCACHE_";
  for (char c : flag) out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

Result<bool> parse_bool(std::string_view text) {
  std::string t = lower(trim(text));
  if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return false;
  return fail(Errc::invalid_argument, "not a boolean");
}

Result<int64_t> parse_int(std::string_view text) {
  std::string_view t = trim(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size()) return fail(Errc::invalid_argument, "not an integer");
  return v;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  text = trim(text);
  if (text.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t comma = text.find(',', start);
    std::string_view item = trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string format_duration(int64_t ms) {
  if (ms == 0) return "0s";
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  for (Unit u : {Unit{kMsPerDay, "d"}, Unit{kMsPerHour, "h"}, Unit{kMsPerMinute, "m"}, Unit{kMsPerSecond, "s"}}) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::string format_bytes(int64_t n) {
  if (n == 0) return "0";
  for (auto [shift, suffix] : {std::pair{40, "T"}, std::pair{30, "G"}, std::pair{20, "M"}, std::pair{10, "k"}}) {
    int64_t unit = int64_t{1} << shift;
    if (n % unit == 0) return std::to_string(n / unit) + suffix;
  }
  return std::to_string(n);
}

std::string_view node_kind_name(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a scalar";
}

std::string with_line(std::string_view source, const YAML::Node& n) {
  YAML::Mark m = n.Mark();
  if (m.is_null()) return std::string(source);
  return std::string(source) + ":" + std::to_string(m.line + 1);
}

}  // namespace

Result<int64_t> parse_duration_ms(std::string_view text) {
  std::string_view t = trim(text);
  auto bad = [&] {
    return fail(Errc::invalid_argument,
                "invalid duration " + quoted(text) + " (expected e.g. 250ms, 5s, 15m, 2h, 1d, 1h30m or seconds)");
  };
  if (t.empty()) return bad();
  if (std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto secs = parse_int(t);
    if (!secs || *secs > INT64_MAX / kMsPerSecond) return bad();
    return *secs * kMsPerSecond;
  }
  // Sequence of <number><unit>, as Go's time.ParseDuration (Chihaya's files use it).
  double total = 0;
  size_t i = 0;
  while (i < t.size()) {
    size_t num_start = i;
    while (i < t.size() && ((t[i] >= '0' && t[i] <= '9') || t[i] == '.')) ++i;
    if (i == num_start) return bad();
    double num = 0;
    auto [p, ec] = std::from_chars(t.data() + num_start, t.data() + i, num);
    if (ec != std::errc() || p != t.data() + i) return bad();
    size_t unit_start = i;
    while (i < t.size() && std::isalpha(static_cast<unsigned char>(t[i]))) ++i;
    std::string unit = lower(t.substr(unit_start, i - unit_start));
    int64_t scale = 0;
    if (unit.empty() && num_start == 0 && i == t.size()) {
      scale = kMsPerSecond;  // a bare decimal number of seconds ("1.5")
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = kMsPerSecond;
    } else if (unit == "m") {
      scale = kMsPerMinute;
    } else if (unit == "h") {
      scale = kMsPerHour;
    } else if (unit == "d") {
      scale = kMsPerDay;
    } else {
      return bad();
    }
    total += num * static_cast<double>(scale);
  }
  if (!(total < 9.0e18)) return bad();
  return static_cast<int64_t>(std::llround(total));
}

Result<int64_t> parse_bytes(std::string_view text) {
  std::string_view t = trim(text);
  auto bad = [&] {
    return fail(Errc::invalid_argument, "invalid size " + quoted(text) + " (expected e.g. 1024, 64k, 512M, 10G)");
  };
  size_t i = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == 0) return bad();
  auto n = parse_int(t.substr(0, i));
  if (!n) return bad();
  std::string suffix = lower(trim(t.substr(i)));
  int shift = 0;
  if (suffix.empty() || suffix == "b") {
    shift = 0;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    shift = 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    shift = 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    shift = 30;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    shift = 40;
  } else {
    return bad();
  }
  if (*n > (INT64_MAX >> shift)) return bad();
  return *n << shift;
}

Options::Options(std::string program, std::string summary) : program_(std::move(program)), summary_(std::move(summary)) {}

void Options::add(Kind kind, std::string key, void* dest, std::string help, std::string flag) {
  Decl d{std::move(key), std::move(help), std::move(flag), kind, dest, nullptr, {}};
  switch (kind) {
    case Kind::string: d.default_text = quoted(*static_cast<std::string*>(dest)); break;
    case Kind::integer: d.default_text = std::to_string(*static_cast<int64_t*>(dest)); break;
    case Kind::boolean: d.default_text = *static_cast<bool*>(dest) ? "true" : "false"; break;
    case Kind::duration: d.default_text = format_duration(*static_cast<int64_t*>(dest)); break;
    case Kind::bytes: d.default_text = format_bytes(*static_cast<int64_t*>(dest)); break;
    case Kind::list: {
      std::string joined;
      for (auto& s : *static_cast<std::vector<std::string>*>(dest)) joined += (joined.empty() ? "" : ",") + s;
      d.default_text = quoted(joined);
      break;
    }
    case Kind::node: d.default_text = "none"; break;
  }
  decls_.push_back(std::move(d));
}

void Options::add_string(std::string key, std::string* dest, std::string help, std::string flag) {
  add(Kind::string, std::move(key), dest, std::move(help), std::move(flag));
}
void Options::add_int(std::string key, int64_t* dest, std::string help, std::string flag) {
  add(Kind::integer, std::move(key), dest, std::move(help), std::move(flag));
}
void Options::add_bool(std::string key, bool* dest, std::string help, std::string flag) {
  add(Kind::boolean, std::move(key), dest, std::move(help), std::move(flag));
}
void Options::add_duration(std::string key, int64_t* dest_ms, std::string help, std::string flag) {
  add(Kind::duration, std::move(key), dest_ms, std::move(help), std::move(flag));
}
void Options::add_bytes(std::string key, int64_t* dest, std::string help, std::string flag) {
  add(Kind::bytes, std::move(key), dest, std::move(help), std::move(flag));
}
void Options::add_list(std::string key, std::vector<std::string>* dest, std::string help, std::string flag) {
  add(Kind::list, std::move(key), dest, std::move(help), std::move(flag));
}
void Options::add_node(std::string key, std::function<Status(const YAML::Node&)> fn, std::string help) {
  add(Kind::node, std::move(key), nullptr, std::move(help), "");
  decls_.back().node_fn = std::move(fn);
}

void Options::alias(std::string other_key, std::string key) { aliases_.emplace_back(std::move(other_key), std::move(key)); }

void Options::tolerate(std::string key_prefix, std::string why) {
  tolerated_.emplace_back(std::move(key_prefix), std::move(why));
}

Options::Decl* Options::find(std::string_view key) {
  for (auto& d : decls_) {
    if (d.key == key) return &d;
  }
  for (auto& [other, canonical] : aliases_) {
    if (other == key) {
      for (auto& d : decls_) {
        if (d.key == canonical) return &d;
      }
    }
  }
  return nullptr;
}

static std::string_view kind_name(int kind) {
  static constexpr std::string_view kNames[] = {"string", "integer", "boolean", "duration", "bytes", "list", "structured value"};
  return kNames[kind];
}

Status Options::set_scalar(Decl& d, std::string_view value, std::string_view source) {
  auto type_error = [&](std::string_view expected) {
    return fail(Errc::invalid_argument, std::string(source) + ": " + d.key + ": expected " + std::string(expected) +
                                            ", got " + quoted(value));
  };
  switch (d.kind) {
    case Kind::string: *static_cast<std::string*>(d.dest) = std::string(value); return {};
    case Kind::integer: {
      auto v = parse_int(value);
      if (!v) return type_error("an integer");
      *static_cast<int64_t*>(d.dest) = *v;
      return {};
    }
    case Kind::boolean: {
      auto v = parse_bool(value);
      if (!v) return type_error("a boolean (true/false)");
      *static_cast<bool*>(d.dest) = *v;
      return {};
    }
    case Kind::duration: {
      auto v = parse_duration_ms(value);
      if (!v) return type_error("a duration (e.g. 250ms, 5s, 15m, 2h, 1d)");
      *static_cast<int64_t*>(d.dest) = *v;
      return {};
    }
    case Kind::bytes: {
      auto v = parse_bytes(value);
      if (!v) return type_error("a size in bytes (e.g. 1024, 64k, 512M, 10G)");
      *static_cast<int64_t*>(d.dest) = *v;
      return {};
    }
    case Kind::list: *static_cast<std::vector<std::string>*>(d.dest) = split_list(value); return {};
    case Kind::node: {
      // A structured key given as text (an env var or flag): hand it over as a YAML scalar.
      try {
        YAML::Node n = YAML::Load(std::string(value));
        if (auto st = d.node_fn(n); !st) {
          return fail(st.error().code, std::string(source) + ": " + d.key + ": " + st.error().message);
        }
      } catch (const std::exception& e) {
        return fail(Errc::invalid_argument, std::string(source) + ": " + d.key + ": " + e.what());
      }
      return {};
    }
  }
  return {};
}

Status Options::apply_node(Decl& d, const YAML::Node& node, std::string_view source) {
  if (d.kind == Kind::node) {
    try {
      if (auto st = d.node_fn(node); !st) {
        return fail(st.error().code, std::string(source) + ": " + d.key + ": " + st.error().message);
      }
    } catch (const std::exception& e) {
      return fail(Errc::invalid_argument, std::string(source) + ": " + d.key + ": " + e.what());
    }
    return {};
  }
  if (node.IsNull()) return {};  // `key:` with no value keeps the default
  if (d.kind == Kind::list && node.IsSequence()) {
    std::vector<std::string> items;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return fail(Errc::invalid_argument,
                    std::string(source) + ": " + d.key + ": expected a list of scalars, got " + std::string(node_kind_name(item)) + " in it");
      }
      items.push_back(item.Scalar());
    }
    *static_cast<std::vector<std::string>*>(d.dest) = std::move(items);
    return {};
  }
  if (!node.IsScalar()) {
    return fail(Errc::invalid_argument, std::string(source) + ": " + d.key + ": expected " +
                                            std::string(kind_name(static_cast<int>(d.kind))) + ", got " +
                                            std::string(node_kind_name(node)));
  }
  return set_scalar(d, node.Scalar(), source);
}

bool Options::has_keys_under(std::string_view prefix) const {
  std::string p = std::string(prefix) + ".";
  auto under = [&](const std::string& k) { return k.size() > p.size() && k.compare(0, p.size(), p) == 0; };
  for (auto& d : decls_) {
    if (under(d.key)) return true;
  }
  for (auto& [other, canonical] : aliases_) {
    if (under(other)) return true;
  }
  for (auto& [prefix2, why] : tolerated_) {
    if (under(prefix2)) return true;
  }
  return false;
}

Status Options::walk(const YAML::Node& node, const std::string& prefix, std::string_view source) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      return fail(Errc::invalid_argument, with_line(source, it->first) + ": a key must be a scalar");
    }
    const std::string& name = it->first.Scalar();
    std::string full = prefix.empty() ? name : prefix + "." + name;
    std::string where = with_line(source, it->first);
    if (Decl* d = find(full)) {
      if (auto st = apply_node(*d, it->second, where); !st) return st;
      continue;
    }
    if (it->second.IsMap() && has_keys_under(full)) {
      if (auto st = walk(it->second, full, source); !st) return st;
      continue;
    }
    bool tolerated = false;
    for (auto& [p, why] : tolerated_) {
      if (full == p || (full.size() > p.size() && full.compare(0, p.size(), p) == 0 && full[p.size()] == '.')) {
        warnings_.push_back(where + ": key " + quoted(full) + " ignored: " + why);
        tolerated = true;
        break;
      }
    }
    if (tolerated) continue;
    if (unknown_warn_) {
      warnings_.push_back(where + ": unknown key " + quoted(full) + " ignored");
      continue;
    }
    return fail(Errc::invalid_argument, where + ": unknown key " + quoted(full));
  }
  return {};
}

Status Options::load_yaml(std::string_view text, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where(source);
    if (!e.mark.is_null()) where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    return fail(Errc::invalid_argument, where + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) return {};  // an empty file configures nothing
  if (!root.IsMap()) {
    return fail(Errc::invalid_argument, std::string(source) + ": top level must be a map of keys, got " +
                                            std::string(node_kind_name(root)));
  }
  try {
    if (!optional_root_.empty() && root.size() == 1 && root[optional_root_] && root[optional_root_].IsMap()) {
      return walk(root[optional_root_], "", source);
    }
    return walk(root, "", source);
  } catch (const YAML::Exception& e) {
    return fail(Errc::invalid_argument, std::string(source) + ": " + e.msg);
  }
}

Result<Options::Outcome> Options::parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << help_text();
      std::cout.flush();
      return Outcome::exit_ok;
    }
    if (a == "--version") {
      std::cout << version_line(program_) << "\n";
      std::cout.flush();
      return Outcome::exit_ok;
    }
  }

  std::string config_path;
  std::vector<std::pair<Decl*, std::string>> flag_values;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.size() < 3 || a.substr(0, 2) != "--") {
      return fail(Errc::invalid_argument, "unexpected argument " + quoted(a) + " (see --help)");
    }
    std::string_view name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    Decl* d = nullptr;
    if (name != "config") {
      for (auto& decl : decls_) {
        if (!decl.flag.empty() && decl.flag == name) d = &decl;
      }
      if (d == nullptr) return fail(Errc::invalid_argument, "unknown flag --" + std::string(name) + " (see --help)");
    }
    if (!value) {
      if (d != nullptr && d->kind == Kind::boolean) {
        // `--flag` alone means true; `--flag false` is also accepted.
        if (i + 1 < argc && parse_bool(argv[i + 1])) {
          value = argv[++i];
        } else {
          value = "true";
        }
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return fail(Errc::invalid_argument, "flag --" + std::string(name) + " needs a value");
      }
    }
    if (d == nullptr) {
      config_path = *value;
    } else {
      flag_values.emplace_back(d, std::move(*value));
    }
  }

  if (config_path.empty()) {
    if (const char* env = std::getenv("SWARMCACHE_CONFIG"); env != nullptr) config_path = env;
  }
  if (!config_path.empty()) {
    std::ifstream f(config_path, std::ios::binary);
    if (!f) {
      return fail(Errc::io, "cannot read config file " + config_path + ": " + std::strerror(errno));
    }
    std::string text;
    char buf[65536];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      text.append(buf, static_cast<size_t>(f.gcount()));
      if (static_cast<std::streamsize>(text.size()) > kMaxConfigFileBytes) {
        return fail(Errc::too_large, "config file " + config_path + " is larger than " +
                                         std::to_string(kMaxConfigFileBytes) + " bytes");
      }
    }
    if (auto st = load_yaml(text, config_path); !st) return std::unexpected(st.error());
  }

  for (auto& d : decls_) {
    if (d.flag.empty()) continue;
    std::string var = env_name(d.flag);
    if (const char* env = std::getenv(var.c_str()); env != nullptr) {
      if (auto st = set_scalar(d, env, "environment " + var); !st) return std::unexpected(st.error());
    }
  }

  // A repeated list flag accumulates; any other repeated flag takes the last value.
  std::set<Decl*> lists_seen;
  for (auto& [d, value] : flag_values) {
    std::string source = "flag --" + d->flag;
    if (d->kind == Kind::list && !lists_seen.insert(d).second) {
      auto* dest = static_cast<std::vector<std::string>*>(d->dest);
      for (auto& item : split_list(value)) dest->push_back(std::move(item));
      continue;
    }
    if (auto st = set_scalar(*d, value, source); !st) return std::unexpected(st.error());
  }
  return Outcome::run;
}

std::string Options::help_text() const {
  std::ostringstream out;
  out << program_ << " - " << summary_ << "\n\n";
  out << "Usage: " << program_ << " [--config FILE] [--FLAG VALUE | --FLAG=VALUE]...\n\n";
  out << "Each flag can also be set in the environment as SWARMCACHE_<FLAG> (upper case, '-' as '_').\n";
  out << "Precedence: flags, then environment, then the config file, then defaults.\n\n";
  out << "  --config FILE  (env SWARMCACHE_CONFIG)\n      YAML configuration file.\n";
  out << "  --help\n      Print this help and exit.\n";
  out << "  --version\n      Print the version, git revision and build type, and exit.\n\n";
  out << "Keys:\n";
  for (const auto& d : decls_) {
    out << "  " << d.key;
    if (!d.flag.empty()) out << "  (--" << d.flag << ", env " << env_name(d.flag) << ")";
    out << "\n      " << kind_name(static_cast<int>(d.kind));
    if (d.kind != Kind::node) out << ", default " << d.default_text;
    out << ". " << d.help << "\n";
  }
  bool header = false;
  for (const auto& [other, canonical] : aliases_) {
    if (!header) out << "\nAliases:\n";
    header = true;
    out << "  " << other << " = " << canonical << "\n";
  }
  header = false;
  for (const auto& [prefix, why] : tolerated_) {
    if (!header) out << "\nAccepted but ignored:\n";
    header = true;
    out << "  " << prefix << ": " << why << "\n";
  }
  return out.str();
}

}  // namespace sc
