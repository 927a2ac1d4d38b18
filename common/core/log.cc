// Level-gated logging: the level lives in an atomic read by every SC_* macro, and the default
// sink writes one logfmt line per event to stderr with a single write(2) so that lines from
// several threads do not interleave.
#include "common/core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "common/core/clock.h"

namespace sc {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

void stderr_sink(LogLevel level, std::string_view msg, std::span<const LogField> fields) {
  std::string line = format_logfmt(level, msg, fields);
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report a failing stderr
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::atomic<LogSink> g_sink{&stderr_sink};

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void append_quoted(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void append_value(std::string& out, std::string_view v) {
  if (needs_quotes(v)) {
    append_quoted(out, v);
  } else {
    out += v;
  }
}

// Keys come from code, but a stray space or '=' would break parsing of the whole line.
void append_key(std::string& out, std::string_view k) {
  if (k.empty()) {
    out += "_";
    return;
  }
  for (unsigned char c : k) {
    out.push_back((c <= ' ' || c == '=' || c == '"' || c == 0x7f) ? '_' : static_cast<char>(c));
  }
}

void append_timestamp(std::string& out, int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        static_cast<int>(ms % 1000));
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Result<LogLevel> parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::debug;
  if (name == "info") return LogLevel::info;
  if (name == "warn" || name == "warning") return LogLevel::warn;
  if (name == "error") return LogLevel::error;
  return fail(Errc::invalid_argument,
              "unknown log level '" + std::string(name) + "' (expected debug, info, warn or error)");
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

void set_log_sink(LogSink sink) { g_sink.store(sink ? sink : &stderr_sink, std::memory_order_release); }

void log_write(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  LogSink sink = g_sink.load(std::memory_order_acquire);
  sink(level, msg, std::span<const LogField>(fields.begin(), fields.size()));
}

std::string format_logfmt(LogLevel level, std::string_view msg, std::span<const LogField> fields) {
  std::string out;
  out.reserve(64 + msg.size() + fields.size() * 24);
  out += "ts=";
  append_timestamp(out, system_now_ms());
  out += " level=";
  out += log_level_name(level);
  out += " msg=";
  append_quoted(out, msg);
  for (const LogField& f : fields) {
    out.push_back(' ');
    append_key(out, f.key);
    out.push_back('=');
    append_value(out, f.value);
  }
  return out;
}

}  // namespace sc
