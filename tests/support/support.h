#pragma once
// Test helpers: free ports, waiting on a predicate with a deadline, child processes, a real
// redis-server on a free port, and a blocking HTTP/1.1 client. No fixed sleeps anywhere.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sc::test {

// A port free for both TCP and UDP, on every address, a moment ago (bind, read, close).
int free_port();

// Polls pred every few milliseconds until it holds (true) or the timeout passes (false).
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

// Path of a built binary: $SC_BUILD_DIR/<relative>, e.g. "services/tracker/swarmcache-tracker".
std::string build_path(const std::string& relative);
// Path in the source tree: $SC_SOURCE_DIR/<relative>.
std::string source_path(const std::string& relative);
// Whole-file helpers for fixtures (binary-safe; write_file truncates).
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);

// The value of one Prometheus sample in a /metrics page, by its exact series text
// (`name{labels}`), or -1 when the page has no such line.
double metric(const std::string& page, const std::string& series);

// A fresh temporary directory, removed with its contents when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process. stdout+stderr go to a log file (readable with output()); killed with
// SIGKILL on destruction if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig and waits up to timeout for exit; returns the exit status (as from waitpid),
  // or nullopt if it did not exit in time.
  std::optional<int> stop(int sig = 15, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string output() const;
  // Waits until the output contains `needle`; returns false on timeout or exit.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits for "<key>=<number>" in the output (e.g. "port=41234" from a service's start line).
  std::optional<int> wait_for_number(const std::string& key, std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> status_;
};

// redis-server on a free port with its own temp dir; stopped on destruction.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  void stop();     // SIGTERM and wait (data persists in the temp dir)
  void restart();  // start again on the same port and dir
  bool running() const { return proc_ != nullptr; }
  const std::string& dir() const { return dir_.path(); }

 private:
  void start();
  TempDir dir_;
  int port_;
  std::vector<std::string> extra_;
  std::unique_ptr<Process> proc_;
};

struct HttpResult {
  int status = 0;  // 0: no response (connect failed, closed, timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
};

// One HTTP/1.1 request over a fresh connection ("Connection: close"). `target` is the path
// and query. Bounded by timeout.
HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        const std::string& host = "127.0.0.1");
// A TCP connection to host:port, made within timeout: a non-blocking fd, or -1.
int connect_to(const std::string& host, int port, std::chrono::milliseconds timeout);
// Sends raw bytes and returns everything read until close or timeout.
std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout,
                         const std::string& host = "127.0.0.1");

}  // namespace sc::test
