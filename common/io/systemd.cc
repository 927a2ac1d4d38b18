// systemd integration through libsystemd: socket activation, sd_notify, the watchdog and a
// journal log sink. Without systemd every call quietly does nothing.
#include "common/io/systemd.h"

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "common/core/log.h"
#include "common/io/event_loop.h"

namespace sc {

const std::map<std::string, int>& systemd_sockets() {
  static std::map<std::string, int> sockets;
  static std::once_flag once;
  std::call_once(once, [] {
    char** names = nullptr;
    int n = sd_listen_fds_with_names(1, &names);
    for (int i = 0; i < n; ++i) {
      std::string name = names && names[i] ? names[i] : "unknown";
      if (sockets.contains(name)) name = "fd" + std::to_string(SD_LISTEN_FDS_START + i);
      sockets[name] = SD_LISTEN_FDS_START + i;
    }
    if (names) {
      for (int i = 0; i < n; ++i) free(names[i]);
      free(names);
    }
  });
  return sockets;
}

int systemd_socket(std::string_view name) {
  const auto& s = systemd_sockets();
  auto it = s.find(std::string(name));
  return it == s.end() ? -1 : it->second;
}

void notify_ready() { sd_notify(0, "READY=1"); }
void notify_stopping() { sd_notify(0, "STOPPING=1"); }
void notify_status(std::string_view status) { sd_notify(0, ("STATUS=" + std::string(status)).c_str()); }

std::unique_ptr<Timer> start_watchdog(EventLoop& loop) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return nullptr;
  int64_t half_ms = static_cast<int64_t>(usec / 2000);
  if (half_ms < 1) half_ms = 1;
  return loop.every(half_ms, [] { sd_notify(0, "WATCHDOG=1"); });
}

namespace {

int journal_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::warn: return 4;
    case LogLevel::error: return 3;
  }
  return 6;
}

// Journal field names are upper case letters, digits and '_'.
std::string journal_key(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'a' && c <= 'z') out += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') out += c;
    else out += '_';
  }
  if (out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9')) out = "F" + out;
  return out;
}

void journal_sink(LogLevel level, std::string_view msg, std::span<const LogField> fields) {
  std::vector<std::string> items;
  items.reserve(fields.size() + 2);
  items.push_back("MESSAGE=" + std::string(msg));
  items.push_back("PRIORITY=" + std::to_string(journal_priority(level)));
  for (const auto& f : fields) items.push_back(journal_key(f.key) + "=" + f.value);
  std::vector<iovec> iov(items.size());
  for (size_t i = 0; i < items.size(); ++i) iov[i] = iovec{items[i].data(), items[i].size()};
  sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

}  // namespace

void install_journal_log_sink_if_systemd() {
  if (getenv("JOURNAL_STREAM") != nullptr) set_log_sink(journal_sink);
}

}  // namespace sc
