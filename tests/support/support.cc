// Implementation of the shared test helpers (see support.h).
#include "tests/support/support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sc::test {

using namespace std::chrono;

namespace {

// Binds a socket of `type` to 0.0.0.0:port (0: any); returns the port bound, or 0.
// The wildcard address also collides with anything bound to 127.0.0.1 on that port.
int bind_any(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  int bound = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0
                  ? ntohs(a.sin_port)
                  : 0;
  close(fd);
  return bound;
}

}  // namespace

int free_port() {
  // Free for TCP and UDP alike: callers hand the port to clients that bind both (uTP,
  // aria2's DHT), and a TCP-only check once gave aria2c the tracker's UDP port.
  for (int tries = 0; tries < 64; ++tries) {
    int port = bind_any(SOCK_STREAM, 0);
    if (port > 0 && bind_any(SOCK_DGRAM, port) == port) return port;
  }
  throw std::runtime_error("no port free for both TCP and UDP");
}

bool wait_until(const std::function<bool()>& pred, milliseconds timeout, milliseconds poll) {
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

static std::string env_or(const char* name, const char* fallback) {
  const char* v = getenv(name);
  return v ? v : fallback;
}

std::string build_path(const std::string& relative) { return env_or("SC_BUILD_DIR", ".") + "/" + relative; }
std::string source_path(const std::string& relative) { return env_or("SC_SOURCE_DIR", ".") + "/" + relative; }

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
}

double metric(const std::string& page, const std::string& series) {
  for (size_t pos = page.find(series); pos != std::string::npos; pos = page.find(series, pos + 1)) {
    size_t after = pos + series.size();
    bool line_start = pos == 0 || page[pos - 1] == '\n';
    if (line_start && after < page.size() && page[after] == ' ') return std::stod(page.substr(after + 1));
  }
  return -1;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sctest-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env) {
  char tmpl[] = "/tmp/sctest-proc-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    for (auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  close(log_fd);
}

Process::~Process() {
  if (running()) {
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  unlink(log_path_.c_str());
}

bool Process::running() {
  if (status_) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return r == 0;
}

std::optional<int> Process::stop(int sig, milliseconds timeout) {
  if (!running()) return status_;
  kill(pid_, sig);
  if (!wait_until([&] { return !running(); }, timeout)) return std::nullopt;
  return status_;
}

std::string Process::output() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Process::wait_for_output(const std::string& needle, milliseconds timeout) {
  return wait_until([&] { return output().find(needle) != std::string::npos || !running(); }, timeout) &&
         output().find(needle) != std::string::npos;
}

std::optional<int> Process::wait_for_number(const std::string& key, milliseconds timeout) {
  std::optional<int> found;
  wait_until(
      [&] {
        std::string out = output();
        std::string pat = key + "=";
        for (size_t pos = out.find(pat); pos != std::string::npos; pos = out.find(pat, pos + 1)) {
          if (pos > 0 && (isalnum(static_cast<unsigned char>(out[pos - 1])) || out[pos - 1] == '_')) continue;
          size_t i = pos + pat.size();
          if (i < out.size() && out[i] == '"') ++i;
          if (i < out.size() && isdigit(static_cast<unsigned char>(out[i]))) {
            found = std::atoi(out.c_str() + i);
            return true;
          }
        }
        return !running();
      },
      timeout);
  return found;
}

RedisServer::RedisServer(std::vector<std::string> extra_args) : port_(free_port()), extra_(std::move(extra_args)) { start(); }

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--dir", dir_.path(), "--save", "", "--daemonize", "no"};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = std::make_unique<Process>(argv);
  bool up = wait_until(
      [&] { return raw_exchange(port_, "PING\r\n", milliseconds(200)).find("+PONG") != std::string::npos || !proc_->running(); },
      seconds(10));
  if (!up || !proc_->running()) throw std::runtime_error("redis-server did not start: " + proc_->output());
}

void RedisServer::stop() {
  if (proc_) {
    proc_->stop(SIGTERM);
    proc_.reset();
  }
}

void RedisServer::restart() {
  stop();
  start();
}

int connect_to(const std::string& host, int port, milliseconds timeout) {
  sockaddr_storage ss{};
  socklen_t len;
  int family;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr);
    len = sizeof *a6;
    family = AF_INET6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a4->sin_addr);
    len = sizeof *a4;
    family = AF_INET;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  if (rc != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t el = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string raw_exchange(int port, const std::string& bytes, milliseconds timeout, const std::string& host) {
  auto deadline = steady_clock::now() + timeout;
  int fd = connect_to(host, port, timeout);
  if (fd < 0) return "";
  size_t sent = 0;
  std::string out;
  char buf[65536];
  while (true) {
    int left = static_cast<int>(duration_cast<milliseconds>(deadline - steady_clock::now()).count());
    if (left <= 0) break;
    pollfd p{fd, static_cast<short>(POLLIN | (sent < bytes.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, left) <= 0) break;
    if ((p.revents & POLLOUT) && sent < bytes.size()) {
      ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0) break;
      sent += n;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, n);
      // redis one-line replies: enough for PING
      if (out.starts_with("+") && out.ends_with("\r\n")) break;
    }
  }
  close(fd);
  return out;
}

static std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

HttpResult http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                        const std::map<std::string, std::string>& headers, milliseconds timeout, const std::string& host) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  bool has_len = false;
  for (auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (lower(k) == "content-length") has_len = true;
  }
  if (!body.empty() && !has_len) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  std::string raw = raw_exchange(port, req, timeout, host);
  HttpResult r;
  size_t hdr_end = raw.find("\r\n\r\n");
  if (raw.empty() || hdr_end == std::string::npos) {
    r.error = raw.empty() ? "no response" : "incomplete response";
    return r;
  }
  std::istringstream hs(raw.substr(0, hdr_end));
  std::string line;
  std::getline(hs, line);
  if (line.size() > 12) r.status = std::atoi(line.c_str() + 9);
  while (std::getline(hs, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t c = line.find(':');
    if (c == std::string::npos) continue;
    std::string v = line.substr(c + 1);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    r.headers[lower(line.substr(0, c))] = v;
  }
  std::string rest = raw.substr(hdr_end + 4);
  if (lower(r.headers["transfer-encoding"]) == "chunked") {
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t n = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (n == 0) break;
      r.body += rest.substr(eol + 2, n);
      pos = eol + 2 + n + 2;
    }
  } else {
    r.body = rest;
  }
  return r;
}

}  // namespace sc::test
