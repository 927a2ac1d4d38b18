// Shared daemon lifecycle: systemd readiness, watchdog, signals and graceful stop.
#include "common/io/daemon.h"

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "common/io/systemd.h"

namespace sc {
namespace {

// glibc hands freed memory back to the kernel as soon as 128 KiB are free at the top of a heap,
// and serves blocks from 128 KiB up (adapting to 32 MiB) with their own mappings. A daemon
// that frees and allocates the same buffers over and over (libtorrent's receive and disk
// buffers) then touches fresh pages again and again: each costs a page fault, ~15 us on a
// paravirtualised host (bench/swarm/README.md). Freed memory stays in the process instead, up
// to these bounds; the price is a resident size that does not shrink after a peak. An
// operator's own GLIBC_TUNABLES for malloc win.
constexpr int kTrimThreshold = 64 << 20;
constexpr int kMmapThreshold = 8 << 20;

void keep_freed_memory() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::string_view(tunables).find("glibc.malloc.") != std::string_view::npos) return;
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
}

}  // namespace

void daemon_init() {
  signal(SIGPIPE, SIG_IGN);
  keep_freed_memory();
  install_journal_log_sink_if_systemd();
}

std::optional<int> parse_command_line(Options& opts, std::string_view program, int argc, char** argv,
                                      const std::string& log_level) {
  auto parsed = opts.parse(argc, argv);
  if (!parsed) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), parsed.error().message.c_str());
    return 2;
  }
  if (*parsed == Options::Outcome::exit_ok) return 0;
  daemon_init();
  auto level = parse_log_level(log_level);
  if (!level) {
    std::fprintf(stderr, "%.*s: log_level: %s\n", static_cast<int>(program.size()), program.data(),
                 level.error().message.c_str());
    return 2;
  }
  set_log_level(*level);
  for (const auto& w : opts.warnings()) SC_WARN("config key not supported", {"detail", w});
  return std::nullopt;
}

int guarded_main(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: fatal: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return 1;
  }
}

void adopt_systemd_socket(HttpServerOptions& options, std::string_view fd_name) {
  int fd = systemd_socket(fd_name);
  if (fd >= 0) options.adopted_fd = fd;
}

void log_listener(std::string_view name, uint16_t port) {
  std::string key = std::string(name) + "_port";
  // Written whatever the log level (no SC_LOG gate): a test or an operator needs it.
  log_write(LogLevel::info, "listening", {{"name", name}, {key, port}});
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
