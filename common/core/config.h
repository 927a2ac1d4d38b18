#pragma once
// Configuration: a YAML file (--config), then SWARMCACHE_<FLAG> environment variables, then
// command-line flags, in rising precedence. Each key is declared once with its destination,
// its help and, optionally, the flag that overrides it; an unknown or ill-typed key is an
// error (or a warning, for dialects we read but do not fully support).
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace YAML {
class Node;
}

namespace sc {

// Parses "250ms", "5s", "15m", "2h", "1d", or a bare integer of seconds, into milliseconds.
Result<int64_t> parse_duration_ms(std::string_view text);
// Parses "1024", "64k", "512M", "10G" (powers of 1024) into bytes.
Result<int64_t> parse_bytes(std::string_view text);

class Options {
 public:
  Options(std::string program, std::string summary);

  // Declares a scalar key (dotted YAML path, e.g. "http.addr"). `flag` is the command-line
  // flag without dashes ("" for none); its environment variable is SWARMCACHE_<FLAG>.
  void add_string(std::string key, std::string* dest, std::string help, std::string flag = "");
  void add_int(std::string key, int64_t* dest, std::string help, std::string flag = "");
  void add_bool(std::string key, bool* dest, std::string help, std::string flag = "");
  void add_duration(std::string key, int64_t* dest_ms, std::string help, std::string flag = "");
  void add_bytes(std::string key, int64_t* dest, std::string help, std::string flag = "");
  void add_list(std::string key, std::vector<std::string>* dest, std::string help, std::string flag = "");
  // A key whose value is structured (a list of hook dicts, say); `fn` validates and stores it.
  void add_node(std::string key, std::function<Status(const YAML::Node&)> fn, std::string help);
  // Another spelling of a declared key (config dialects).
  void alias(std::string other_key, std::string key);
  // Keys under this prefix are accepted with a warning naming them (known but unsupported).
  void tolerate(std::string key_prefix, std::string why);
  // When true, unknown keys are warnings instead of errors.
  void set_unknown_keys_are_warnings(bool on) { unknown_warn_ = on; }
  // When the file's top level is a single map under this key (e.g. "chihaya"), descend into it.
  void set_optional_root(std::string key) { optional_root_ = std::move(key); }

  enum class Outcome { run, exit_ok };
  // Parses argv (--config FILE, --help, --flag VALUE, --flag=VALUE) and the environment.
  // exit_ok means --help was printed. Errors name the key, the source and the problem.
  Result<Outcome> parse(int argc, const char* const* argv);
  // Applies YAML text as if it were the config file (tests, and parse()).
  Status load_yaml(std::string_view text, std::string_view source = "config");
  std::string help_text() const;
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  enum class Kind { string, integer, boolean, duration, bytes, list, node };
  struct Decl {
    std::string key, help, flag;
    Kind kind;
    void* dest;
    std::function<Status(const YAML::Node&)> node_fn;
    std::string default_text;  // the destination's value at declaration, for help_text()
  };
  Decl* find(std::string_view key);
  Status set_scalar(Decl& d, std::string_view value, std::string_view source);
  Status walk(const YAML::Node& node, const std::string& prefix, std::string_view source);
  Status apply_node(Decl& d, const YAML::Node& node, std::string_view source);
  bool has_keys_under(std::string_view prefix) const;
  void add(Kind kind, std::string key, void* dest, std::string help, std::string flag);

  std::string program_, summary_;
  std::vector<Decl> decls_;
  std::vector<std::pair<std::string, std::string>> aliases_;
  std::vector<std::pair<std::string, std::string>> tolerated_;
  std::vector<std::string> warnings_;
  std::string optional_root_;
  bool unknown_warn_ = false;
};

}  // namespace sc
