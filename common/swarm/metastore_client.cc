// Blocking metastore client over plain HTTP/1.1 (one connection per call, "Connection:
// close"), bounded by a deadline and a response size, plus the worker thread that lets event
// loop services use it without blocking.
#include "common/swarm/metastore_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/core/bytes.h"
#include "common/io/event_loop.h"

namespace sc {
namespace {

// Largest response we accept: a .torrent is bounded at 16 MiB by the metastore, JSON pages at
// kMaxApiJsonBytes; anything bigger is a broken or hostile server.
constexpr size_t kMaxResponseBytes = 32 << 20;
constexpr size_t kMaxHeaderBytes = 64 << 10;

using SteadyClock = std::chrono::steady_clock;

int remaining_ms(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<int> connect_to(const std::string& host, uint16_t port, SteadyClock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return fail(Errc::unavailable, "resolve " + host + ": " + gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    int err = 0;
    socklen_t len = sizeof err;
    if (n == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (n == 1 && err == 0) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      return fd;
    }
    last = n == 0 ? "connect timed out" : std::strerror(err ? err : errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return fail(Errc::unavailable, "connect " + host + ":" + std::to_string(port) + ": " + last);
}

Status send_all(int fd, std::string_view data, SteadyClock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return fail(Errc::unavailable, std::string("send: ") + std::strerror(errno));
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return fail(Errc::timeout, "send timed out");
  }
  return {};
}

// Reads until the peer closes (we asked for Connection: close), bounded.
Result<std::string> read_all(int fd, SteadyClock::time_point deadline) {
  std::string in;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
      if (in.size() > kMaxResponseBytes + kMaxHeaderBytes) return fail(Errc::too_large, "response too large");
      continue;
    }
    if (n == 0) return in;
    if (errno != EAGAIN && errno != EINTR) return fail(Errc::unavailable, std::string("recv: ") + std::strerror(errno));
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) return fail(Errc::timeout, "metastore did not answer in time");
    if (r < 0 && errno != EINTR) return fail(Errc::unavailable, std::string("poll: ") + std::strerror(errno));
  }
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

Result<std::string> dechunk(std::string_view body) {
  std::string out;
  for (;;) {
    auto eol = body.find("\r\n");
    if (eol == std::string_view::npos) return fail(Errc::unavailable, "truncated chunked body");
    size_t size = 0;
    auto line = body.substr(0, eol);
    size_t i = 0;
    for (; i < line.size() && std::isxdigit(static_cast<unsigned char>(line[i])); ++i) {
      size = size * 16 + static_cast<size_t>(std::isdigit(static_cast<unsigned char>(line[i]))
                                                 ? line[i] - '0'
                                                 : (std::tolower(static_cast<unsigned char>(line[i])) - 'a' + 10));
      if (size > kMaxResponseBytes) return fail(Errc::too_large, "chunk too large");
    }
    if (i == 0) return fail(Errc::unavailable, "bad chunk size");
    body.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return fail(Errc::unavailable, "truncated chunk");
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

Errc errc_for_status(int status) {
  switch (status) {
    case 400: return Errc::invalid_argument;
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 409: return Errc::conflict;
    case 413: return Errc::too_large;
    case 503: return Errc::unavailable;
    case 504: return Errc::timeout;
    default: return status >= 500 ? Errc::unavailable : Errc::internal;
  }
}

}  // namespace

std::string key_path(std::string_view key) {
  std::string out;
  size_t start = 0;
  for (;;) {
    auto slash = key.find('/', start);
    out += percent_encode(key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

Result<std::string> read_token_file(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return fail(Errc::io, "cannot read token file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  size_t b = 0;
  while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
  return line.substr(b);
}

Result<MetastoreClient> MetastoreClient::create(MetastoreClientOptions options) {
  std::string_view url = options.base_url;
  if (!url.starts_with("http://"))
    return fail(Errc::invalid_argument, "metastore URL must start with http:// (got '" + options.base_url + "')");
  url.remove_prefix(7);
  auto slash = url.find('/');
  std::string_view hostport = url.substr(0, slash);
  std::string prefix = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  MetastoreClient c;
  uint16_t port = 80;
  std::string host;
  if (hostport.starts_with('[')) {
    auto close = hostport.find(']');
    if (close == std::string_view::npos) return fail(Errc::invalid_argument, "bad metastore URL");
    host = std::string(hostport.substr(1, close - 1));
    hostport.remove_prefix(close + 1);
    if (hostport.starts_with(':')) port = static_cast<uint16_t>(std::atoi(std::string(hostport.substr(1)).c_str()));
  } else {
    auto colon = hostport.rfind(':');
    host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      int p = std::atoi(std::string(hostport.substr(colon + 1)).c_str());
      if (p <= 0 || p > 65535) return fail(Errc::invalid_argument, "bad port in metastore URL " + options.base_url);
      port = static_cast<uint16_t>(p);
    }
  }
  if (host.empty()) return fail(Errc::invalid_argument, "no host in metastore URL " + options.base_url);
  c.opt_ = std::move(options);
  c.host_ = std::move(host);
  c.port_ = port;
  c.path_prefix_ = std::move(prefix);
  return c;
}

Result<MetastoreClient::Reply> MetastoreClient::call(std::string_view method, const std::string& target,
                                                     std::string_view content_type, std::string_view body, bool auth,
                                                     int64_t timeout_ms, std::string_view accept) const {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  auto fd = connect_to(host_, port_, deadline);
  if (!fd) return std::unexpected(fd.error());
  Fd guard{*fd};
  std::string req;
  req.reserve(256 + body.size());
  req.append(method).append(" ").append(path_prefix_).append(target).append(" HTTP/1.1\r\nHost: ");
  req.append(host_).append(":").append(std::to_string(port_)).append("\r\nConnection: close\r\nUser-Agent: swarmcache/0.1\r\n");
  if (!accept.empty()) req.append("Accept: ").append(accept).append("\r\n");
  if (auth && !opt_.token.empty()) req.append("Authorization: Bearer ").append(opt_.token).append("\r\n");
  if (!content_type.empty()) req.append("Content-Type: ").append(content_type).append("\r\n");
  if (method == "PUT" || method == "POST" || !body.empty())
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  req.append("\r\n").append(body);
  if (auto st = send_all(*fd, req, deadline); !st) return std::unexpected(st.error());
  auto raw = read_all(*fd, deadline);
  if (!raw) return std::unexpected(raw.error());
  auto head_end = raw->find("\r\n\r\n");
  if (head_end == std::string::npos || head_end > kMaxHeaderBytes)
    return fail(Errc::unavailable, "malformed HTTP response from metastore");
  std::string_view head(raw->data(), head_end);
  if (!head.starts_with("HTTP/1.") || head.size() < 12) return fail(Errc::unavailable, "not an HTTP response");
  Reply r;
  r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  bool chunked = false;
  int64_t content_length = -1;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    auto line = head.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      auto name = lower(line.substr(0, colon));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos) chunked = true;
      if (name == "content-length") content_length = std::atoll(std::string(value).c_str());
    }
    pos = next;
  }
  std::string_view payload(raw->data() + head_end + 4, raw->size() - head_end - 4);
  if (chunked) {
    auto d = dechunk(payload);
    if (!d) return std::unexpected(d.error());
    r.body = std::move(*d);
  } else {
    if (content_length >= 0 && static_cast<size_t>(content_length) < payload.size())
      payload = payload.substr(0, static_cast<size_t>(content_length));
    if (content_length >= 0 && static_cast<size_t>(content_length) > payload.size())
      return fail(Errc::unavailable, "truncated response from metastore");
    r.body.assign(payload);
  }
  if (r.status < 200 || r.status > 299) {
    std::string msg = "metastore answered " + std::to_string(r.status);
    if (auto e = error_from_json(r.body)) msg += ": " + e->message;
    return fail(errc_for_status(r.status), msg);
  }
  return r;
}

Result<int> MetastoreClient::put_torrent(std::string_view key, std::string_view bytes) const {
  auto r = call("PUT", "/v1/torrents/" + key_path(key), "application/x-bittorrent", bytes, true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return r->status;
}

Result<std::string> MetastoreClient::get_torrent(std::string_view key) const {
  auto r = call("GET", "/v1/torrents/" + key_path(key), "", "", false, opt_.timeout_ms, "application/x-bittorrent");
  if (!r) return std::unexpected(r.error());
  return std::move(r->body);
}

Result<TorrentMeta> MetastoreClient::get_meta(std::string_view key) const {
  auto r = call("GET", "/v1/torrents/" + key_path(key), "", "", false, opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return torrent_meta_from_json(r->body);
}

Result<TorrentPage> MetastoreClient::list(std::string_view prefix, int limit, std::string_view cursor) const {
  std::string target = "/v1/torrents?prefix=" + percent_encode(prefix) + "&limit=" + std::to_string(limit);
  if (!cursor.empty()) target += "&cursor=" + percent_encode(cursor);
  auto r = call("GET", target, "", "", false, opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return torrent_page_from_json(r->body);
}

Status MetastoreClient::remove(std::string_view key) const {
  auto r = call("DELETE", "/v1/torrents/" + key_path(key), "", "", true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<EventsPage> MetastoreClient::events(std::string_view after, int64_t wait_ms) const {
  std::string target = "/v1/events?after=" + percent_encode(after.empty() ? "0" : after) +
                       "&wait=" + std::to_string(wait_ms) + "ms";
  auto r = call("GET", target, "", "", false, wait_ms + opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return events_page_from_json(r->body);
}

Status MetastoreClient::heartbeat(const NodeInfo& node) const {
  auto r = call("PUT", "/v1/nodes/" + percent_encode(node.id), "application/json", to_json(node), true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<NodeList> MetastoreClient::nodes() const {
  auto r = call("GET", "/v1/nodes", "", "", false, opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return node_list_from_json(r->body);
}

// ---- worker -------------------------------------------------------------------------------

struct MetastoreWorker::Impl {
  EventLoop* loop;
  MetastoreClient client;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::function<void(const MetastoreClient&)>, std::function<void()>>> jobs;
  size_t running = 0;
  bool stopping = false;
  std::thread thread;
  // Cleared on the loop thread at stop(): done callbacks still queued on the loop check it.
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);

  void run() {
    for (;;) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stopping || !jobs.empty(); });
      if (stopping) return;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      running = 1;
      lock.unlock();
      try {
        job.first(client);
      } catch (const std::exception&) {
        // A job must not kill the worker; jobs report through their own captures.
      }
      lock.lock();
      running = 0;
      if (job.second && !stopping) {
        auto a = alive;
        loop->defer([a, done = std::move(job.second)] {
          if (a->load()) done();
        });
      }
    }
  }
};

MetastoreWorker::MetastoreWorker(EventLoop& loop, MetastoreClient client) : impl_(std::make_shared<Impl>()) {
  impl_->loop = &loop;
  impl_->client = std::move(client);
  // The thread owns a reference: stop() may detach it while a long-poll is still out.
  impl_->thread = std::thread([im = impl_] { im->run(); });
}

MetastoreWorker::~MetastoreWorker() { stop(); }

void MetastoreWorker::post(std::function<void(const MetastoreClient&)> job, std::function<void()> done) {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping) return;
  impl_->jobs.emplace_back(std::move(job), std::move(done));
  impl_->cv.notify_one();
}

size_t MetastoreWorker::backlog() const {
  std::lock_guard lock(impl_->mu);
  return impl_->jobs.size() + impl_->running;
}

void MetastoreWorker::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->jobs.clear();
    impl_->alive->store(false);
  }
  impl_->cv.notify_all();
  if (!impl_->thread.joinable()) return;
  bool busy;
  {
    std::lock_guard lock(impl_->mu);
    busy = impl_->running > 0;
  }
  // A call in flight (a 30 s long-poll) would hold up shutdown: let it finish on its own; its
  // result is dropped because stopping is set.
  if (busy)
    impl_->thread.detach();
  else
    impl_->thread.join();
}

}  // namespace sc
