#pragma once
// systemd integration: sockets passed by socket activation (matched by FileDescriptorName=),
// sd_notify READY/STOPPING/STATUS, the watchdog, and a journal log sink. Every call is a no-op
// when the process is not under systemd.
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace sc {

class EventLoop;
class Timer;

// Listening sockets passed by systemd, by name (unnamed ones as "unknown", or "fdN" when
// several). Consumes LISTEN_FDS; the first call takes them, later calls return the same map.
const std::map<std::string, int>& systemd_sockets();
// The fd passed under this name, or -1.
int systemd_socket(std::string_view name);

void notify_ready();
void notify_stopping();
void notify_status(std::string_view status);
// If WatchdogSec= is set, pings the watchdog at half its interval from the loop.
std::unique_ptr<Timer> start_watchdog(EventLoop& loop);
// Under systemd (JOURNAL_STREAM set), logs go to the journal with their fields.
void install_journal_log_sink_if_systemd();

}  // namespace sc
