#pragma once
// Level-gated structured logging. The macros test the level before formatting anything, so a
// disabled debug line costs one relaxed load. Default sink: one logfmt line on stderr; common/io
// installs a journal sink under systemd (fields become journal fields).
#include <charconv>
#include <concepts>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/core/error.h"

namespace sc {

enum class LogLevel : int { debug = 0, info = 1, warn = 2, error = 3 };

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <class T>
    requires std::is_arithmetic_v<T>
  LogField(std::string_view k, T v) : key(k) {
    if constexpr (std::is_floating_point_v<T>) {
      char buf[32];  // shortest round-trip form: 0.5, not 0.500000
      value.assign(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    } else {
      value = std::to_string(v);
    }
  }
};

using LogSink = void (*)(LogLevel level, std::string_view msg, std::span<const LogField> fields);

bool log_enabled(LogLevel level);
void set_log_level(LogLevel level);
Result<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);
void set_log_sink(LogSink sink);  // nullptr restores the stderr logfmt sink
void log_write(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields);
// The logfmt rendering used by the default sink (exposed for tests and other sinks).
std::string format_logfmt(LogLevel level, std::string_view msg, std::span<const LogField> fields);

}  // namespace sc

#define SC_LOG(level, msg, ...)                                                     \
  do {                                                                              \
    if (::sc::log_enabled(level)) ::sc::log_write(level, msg, {__VA_ARGS__});       \
  } while (0)
#define SC_DEBUG(msg, ...) SC_LOG(::sc::LogLevel::debug, msg __VA_OPT__(, ) __VA_ARGS__)
#define SC_INFO(msg, ...) SC_LOG(::sc::LogLevel::info, msg __VA_OPT__(, ) __VA_ARGS__)
#define SC_WARN(msg, ...) SC_LOG(::sc::LogLevel::warn, msg __VA_OPT__(, ) __VA_ARGS__)
#define SC_ERROR(msg, ...) SC_LOG(::sc::LogLevel::error, msg __VA_OPT__(, ) __VA_ARGS__)
