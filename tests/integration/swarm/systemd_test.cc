// The leecher under socket activation as systemd runs it: the control socket passed as "http",
// configuration from SWARMCACHE_* variables only, READY=1 then STOPPING=1 on NOTIFY_SOCKET,
// and a clean exit on SIGTERM.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc::swarmtest {
namespace {

using namespace std::chrono_literals;

TEST(SwarmSystemd, LeecherSocketActivationNotifyAndEnvironment) {
  Cluster c;
  std::string notify_path = c.path("notify");
  int ns = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", notify_path.c_str());
  ASSERT_EQ(::bind(ns, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string notes;
  auto read_notes = [&](const std::string& want) {
    return test::wait_until(
        [&] {
          char buf[4096];
          pollfd p{ns, POLLIN, 0};
          while (::poll(&p, 1, 0) == 1) {
            ssize_t n = ::recv(ns, buf, sizeof buf, 0);
            if (n <= 0) break;
            notes.append(buf, static_cast<size_t>(n));
            notes += '\n';
          }
          return notes.find(want) != std::string::npos;
        },
        15s);
  };
  int port = test::free_port();
  test::Process proc({"systemd-socket-activate", "-l", "127.0.0.1:" + std::to_string(port), "--fdname=http",
                      "-E", "NOTIFY_SOCKET=" + notify_path,
                      "-E", "SWARMCACHE_METASTORE=" + c.metastore_url(),
                      "-E", "SWARMCACHE_TRACKER=" + c.tracker_url(),
                      "-E", "SWARMCACHE_TOKEN_FILE=" + c.token_file(),
                      "-E", "SWARMCACHE_DATA=" + c.path("l-data"),
                      "-E", "SWARMCACHE_STATE=" + c.path("l-state"),
                      "-E", "SWARMCACHE_PEER_LISTEN=127.0.0.1:0",
                      "-E", "SWARMCACHE_LISTEN=127.0.0.1:1",  // must be ignored: the socket is passed
                      test::build_path("services/leecher/swarmcache-leecher")});
  ASSERT_TRUE(test::wait_until([&] { return test::http_request(port, "GET", "/healthz", "", {}, 2s).status == 200; }, 20s))
      << proc.output();
  EXPECT_TRUE(read_notes("READY=1")) << notes;
  EXPECT_EQ(test::http_request(port, "GET", "/v1/status").status, 200);
  auto st = proc.stop(SIGTERM, 20s);
  ASSERT_TRUE(st);
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << proc.output();
  EXPECT_TRUE(read_notes("STOPPING=1")) << notes;
  ::close(ns);
}

}  // namespace
}  // namespace sc::swarmtest
