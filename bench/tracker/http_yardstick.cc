// The least an HTTP server on this kernel can do per connection, as a yardstick for run.sh:
// one thread, one epoll, non-blocking accept4, read until the blank line, one write of a fixed
// announce-sized reply, then close (Connection: close) or wait for the next request
// (keep-alive). No parsing, no allocation per request: what it reaches is the ceiling the
// kernel's TCP accept/read/write/close path puts on one core.
// Usage: http_yardstick [--port N] [--seconds S]   (prints port=N, serves until S seconds pass)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int kMaxEvents = 256;
constexpr size_t kReadBuf = 4096;   // a wrk announce request is ~400 bytes
constexpr int kMaxFd = 1 << 16;     // per-fd state indexed by fd
constexpr int kBodyBytes = 330;     // ~ a compact reply with 50 peers (6 bytes each) + keys

std::string make_reply(bool close) {
  std::string body = "d8:completei1e10:incompletei1e8:intervali1800e5:peers" + std::to_string(kBodyBytes - 70) + ":";
  body.resize(kBodyBytes - 1, 'x');
  body += 'e';
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         (close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n") + body;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  int seconds = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view a = argv[i];
    if (a == "--port") port = atoi(argv[i + 1]);
    else if (a == "--seconds") seconds = atoi(argv[i + 1]);
  }
  const std::string reply_close = make_reply(true), reply_ka = make_reply(false);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof sa;
  if (bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(lfd, 1024) != 0 ||
      getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    perror("listen");
    return 1;
  }
  printf("port=%d\n", ntohs(sa.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = lfd}};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::vector<std::string> pending(kMaxFd);  // bytes of the request head read so far, per fd
  char buf[kReadBuf];
  epoll_event evs[kMaxEvents];
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int n = epoll_wait(ep, evs, kMaxEvents, 1000);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (int c; (c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          if (c >= kMaxFd) { close(c); continue; }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        pending[fd].clear();
        close(fd);
        continue;
      }
      std::string& head = pending[fd];
      head.append(buf, static_cast<size_t>(r));
      size_t e = head.find("\r\n\r\n");
      if (e == std::string::npos) continue;
      bool close_it = head.find("Connection: close") < e;
      head.clear();
      const std::string& reply = close_it ? reply_close : reply_ka;
      if (write(fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size()) || close_it) close(fd);
    }
  }
  return 0;
}
