// Shared daemon lifecycle: systemd readiness, watchdog, signals and graceful stop.
#include "common/io/daemon.h"

#include <csignal>
#include <string>

#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/systemd.h"

namespace sc {

void daemon_init() {
  signal(SIGPIPE, SIG_IGN);
  install_journal_log_sink_if_systemd();
}

void adopt_systemd_socket(HttpServerOptions& options, std::string_view fd_name) {
  int fd = systemd_socket(fd_name);
  if (fd >= 0) options.adopted_fd = fd;
}

void log_listener(std::string_view name, uint16_t port) {
  std::string key = std::string(name) + "_port";
  // Logged at warn so it shows even at --log-level warn: a test or an operator needs it.
  SC_LOG(LogLevel::warn, "listening", {"name", name}, {key, port});
}

int run_daemon(EventLoop& loop, std::function<void(std::function<void()> done)> graceful_stop) {
  auto watchdog = start_watchdog(loop);
  bool stopping = false;
  auto on_stop = [&] {
    if (stopping) return;
    stopping = true;
    notify_stopping();
    SC_INFO("stopping");
    graceful_stop([&loop] { loop.stop(); });
  };
  loop.on_signal(SIGTERM, on_stop);
  loop.on_signal(SIGINT, on_stop);
  notify_ready();
  return loop.run() ? 0 : 1;
}

}  // namespace sc
