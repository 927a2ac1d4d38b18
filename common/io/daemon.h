#pragma once
// The lifecycle every swarmcache daemon shares, so each main.cc stays a composition root:
// journal logging under systemd, READY=1 and watchdog pings once serving, SIGTERM/SIGINT →
// STOPPING=1 → the service's own graceful stop → return from run_daemon().
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sc {

class EventLoop;
class Options;
struct HttpServerOptions;

// Parses the command line into `opts` (flags, SWARMCACHE_* environment, --config), then calls
// daemon_init() and applies the level that `log_level` (one of opts' destinations) now holds;
// config warnings are logged. Returns nullopt to go on, or the exit code to leave with: 0 after
// --help, 2 for a bad command line (printed as "<program>: <problem>").
std::optional<int> parse_command_line(Options& opts, std::string_view program, int argc, char** argv,
                                      const std::string& log_level);
// Runs a main body; an exception that escapes it (start-up faults only: the data path returns
// errors) is printed as "<program>: fatal: …" and gives exit code 1.
int guarded_main(std::string_view program, const std::function<int()>& body);

// Call first in main(): installs the journal sink under systemd, ignores SIGPIPE and keeps
// freed heap memory in the process (daemon.cc).
void daemon_init();
// Uses the socket systemd passed under `fd_name` (FileDescriptorName=) if there is one.
void adopt_systemd_socket(HttpServerOptions& options, std::string_view fd_name);
// Logs a bound listener as `msg=listening name=<name> <name>_port=<port>`: operators read it,
// and tests started with port 0 find the port there.
void log_listener(std::string_view name, uint16_t port);
// Sends READY=1, runs the loop until SIGTERM/SIGINT, then STOPPING=1 and graceful_stop(done);
// the loop ends when done() is called. Returns the process exit code.
int run_daemon(EventLoop& loop, std::function<void(std::function<void()> done)> graceful_stop);

}  // namespace sc
