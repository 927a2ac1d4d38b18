// The UDP tracker: connect / announce / scrape datagrams on one socket. Connection ids are
// stateless MACs. Before the id is checked only a valid connect is answered, and an error
// for a stale or forged id only when it is no larger than the request (no amplification). Replies go back to the source address (and so in
// its family). Threads batch reads with recvmmsg and replies with sendmmsg, and wake on an
// eventfd to stop.
#include "services/tracker/udp_frontend.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "common/core/log.h"
#include "common/io/http_server.h"

namespace sc {
namespace {

constexpr size_t kBatch = 32;           // datagrams per recvmmsg: amortises the syscall
constexpr size_t kMaxDatagram = 2048;   // BEP 15 requests are < 1.5 KB; larger ones are cut
constexpr int kSocketBufferBytes = 4 << 20;  // absorb bursts of announces without drops

enum PacketKind { kConnect, kAnnounce, kScrape, kMalformed, kBadConnectionId, kDropped };

std::string key_or_random(const std::string& key) {
  if (!key.empty()) return key;
  std::random_device rd;
  std::string k(32, '\0');
  for (auto& c : k) c = static_cast<char>(rd());
  return k;
}

std::span<const uint8_t> addr_bytes(const PeerAddr& a) { return {a.ip.data(), a.ip_len()}; }

// Replies to one recvmmsg batch, sent with one sendmmsg: one system call per batch instead
// of one per datagram. Only the serving thread's own replies go here; an answer completed
// later on the store's thread is sent on its own.
class ReplyBatch {
 public:
  void add(std::string_view data, const sockaddr* to, socklen_t to_len) {
    if (n_ == kBatch) return;  // one reply per received datagram: cannot happen
    bufs_[n_].assign(data);
    std::memcpy(&to_[n_], to, to_len);
    msgs_[n_] = {};
    iovs_[n_] = {bufs_[n_].data(), bufs_[n_].size()};
    msgs_[n_].msg_hdr.msg_iov = &iovs_[n_];
    msgs_[n_].msg_hdr.msg_iovlen = 1;
    msgs_[n_].msg_hdr.msg_name = &to_[n_];
    msgs_[n_].msg_hdr.msg_namelen = to_len;
    ++n_;
  }
  // Sends what was added; a full socket buffer drops the rest (UDP clients retry).
  void flush(int fd) {
    for (size_t sent = 0; sent < n_;) {
      int k = sendmmsg(fd, msgs_.data() + sent, static_cast<unsigned>(n_ - sent), MSG_DONTWAIT);
      if (k <= 0) break;
      sent += static_cast<size_t>(k);
    }
    n_ = 0;
  }

 private:
  std::array<std::string, kBatch> bufs_;
  std::array<sockaddr_storage, kBatch> to_{};
  std::array<iovec, kBatch> iovs_{};
  std::array<mmsghdr, kBatch> msgs_{};
  size_t n_ = 0;
};
// Set on serving threads only: there, replies are batched.
thread_local ReplyBatch* t_batch = nullptr;

// One request; reused by its thread while requests complete synchronously, detached (and
// self-deleting) when the store answers later on another thread.
struct UdpExchange final : TrackerExchange {
  enum State { kIdle, kDetached, kFinished };
  std::atomic<int> state{kIdle};
  int fd = -1;
  sockaddr_storage to{};
  socklen_t to_len = 0;
  uint32_t txid = 0;
  Action action = Action::announce;
  TrackerMetrics* metrics = nullptr;
  std::chrono::steady_clock::time_point start;
  std::string out;

  void done() override {
    out.clear();
    if (!failure.empty()) {
      write_udp_error(out, txid, failure);
    } else if (action == Action::announce) {
      write_udp_announce(out, txid, reply.interval_s, reply.counts, reply.peers);
    } else {
      write_udp_scrape(out, txid, counts);
    }
    if (t_batch) {
      t_batch->add(out, reinterpret_cast<sockaddr*>(&to), to_len);
    } else {
      sendto(fd, out.data(), out.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), to_len);
    }
    metrics->record(action, ipv6, outcome, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (state.exchange(kFinished) == kDetached) delete this;
  }
};

Result<int> bind_udp(const std::string& listen) {
  auto hp = split_host_port(listen);
  if (!hp) return std::unexpected(hp.error());
  std::string host = hp->first.empty() ? "0.0.0.0" : hp->first;
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port = std::to_string(hp->second);
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return fail(Errc::invalid_argument, "cannot resolve " + listen + ": " + gai_strerror(rc));
  }
  int fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    return fail(Errc::io, std::string("socket: ") + std::strerror(errno));
  }
  if (res->ai_family == AF_INET6) {
    int off = 0;  // "[::]" also serves IPv4 (as mapped addresses)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  }
  int rc = bind(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0) {
    int e = errno;
    close(fd);
    return fail(Errc::io, "cannot bind UDP " + listen + ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace

UdpFrontend::UdpFrontend(TrackerLogic& logic, TrackerMetrics& metrics, const Clock& clock, UdpFrontendOptions options)
    : logic_(logic),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      ids_(key_or_random(options_.private_key), options_.max_clock_skew_s) {
  auto& fam = metrics.registry().counter_family("swarmcache_tracker_udp_packets_total",
                                                "UDP datagrams by kind (connect, announce, scrape, malformed, "
                                                "bad_connection_id, dropped).",
                                                {"kind"});
  static constexpr const char* kKinds[] = {"connect", "announce", "scrape", "malformed", "bad_connection_id", "dropped"};
  for (int i = 0; i < 6; ++i) packets_[i] = &fam.with({kKinds[i]});
}

UdpFrontend::~UdpFrontend() { stop(); }

Status UdpFrontend::start() {
  if (options_.adopted_fd >= 0) {
    fd_ = options_.adopted_fd;
  } else {
    auto fd = bind_udp(options_.listen);
    if (!fd) return std::unexpected(fd.error());
    fd_ = *fd;
  }
  int buf = kSocketBufferBytes;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
    port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return fail(Errc::io, "eventfd failed");
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { serve(); });
  return {};
}

void UdpFrontend::stop() {
  if (stopping_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    [[maybe_unused]] auto n = write(stop_fd_, &one, sizeof one);
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (fd_ >= 0) close(fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  fd_ = stop_fd_ = -1;
}

void UdpFrontend::serve() {
  std::vector<std::array<uint8_t, kMaxDatagram>> bufs(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iovs(kBatch);
  std::vector<sockaddr_storage> from(kBatch);
  UdpRequest req;
  std::string out;
  auto ex = std::make_unique<UdpExchange>();
  ex->bencode = false;
  auto batch = std::make_unique<ReplyBatch>();
  t_batch = batch.get();
  struct Unset {
    ~Unset() { t_batch = nullptr; }
  } unset;

  while (!stopping_.load(std::memory_order_relaxed)) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      SC_ERROR("udp poll failed", {"error", std::strerror(errno)});
      return;
    }
    if (fds[1].revents) return;
    for (size_t i = 0; i < kBatch; ++i) {
      iovs[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int n = recvmmsg(fd_, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    const int64_t now_s = clock_.now_s();
    for (int i = 0; i < n; ++i) {
      std::span<const uint8_t> pkt(bufs[i].data(), msgs[i].msg_len);
      const auto* src = reinterpret_cast<const sockaddr*>(&from[i]);
      const socklen_t src_len = msgs[i].msg_hdr.msg_namelen;
      PeerAddr peer = peer_addr_from_sockaddr(src);
      auto reply_now = [&] { batch->add(out, src, src_len); };

      // Until the connection id proves the source address, a forged source could turn our
      // replies on a victim: answer only a well-formed connect (16 bytes for 16), and never
      // with more bytes than the datagram carried.
      UdpHeader head;
      if (!read_udp_header(pkt, head)) {
        packets_[kDropped]->inc();
        continue;
      }
      const uint32_t txid = head.transaction_id;
      if (head.action == static_cast<uint32_t>(UdpAction::connect)) {
        if (head.connection_id != kUdpProtocolId) {
          packets_[kDropped]->inc();
          continue;
        }
        packets_[kConnect]->inc();
        out.clear();
        write_udp_connect(out, txid, ids_.issue(addr_bytes(peer), now_s));
        reply_now();
        continue;
      }
      if (!ids_.valid(head.connection_id, addr_bytes(peer), now_s)) {
        packets_[kBadConnectionId]->inc();
        out.clear();
        write_udp_error(out, txid, "invalid or expired connection id");
        if (out.size() <= pkt.size()) reply_now();
        continue;
      }
      if (auto st = parse_udp_request(pkt, req); !st) {
        packets_[kMalformed]->inc();
        out.clear();
        write_udp_error(out, txid, st.error().message);
        reply_now();
        continue;
      }

      UdpExchange& x = *ex;
      x.state.store(UdpExchange::kIdle, std::memory_order_relaxed);
      x.fd = fd_;
      std::memcpy(&x.to, src, src_len);
      x.to_len = src_len;
      x.txid = txid;
      x.metrics = &metrics_;
      x.start = std::chrono::steady_clock::now();
      x.conn = peer;
      x.real_ip_value = {};
      x.query = {};
      if (req.action == UdpAction::announce) {
        packets_[kAnnounce]->inc();
        x.action = Action::announce;
        std::swap(x.announce, req.announce);
        if (req.ipv4 != 0) {
          char text[INET_ADDRSTRLEN];
          uint32_t be = htonl(req.ipv4);
          inet_ntop(AF_INET, &be, text, sizeof text);
          x.announce.ip = text;
        }
        std::string_view url = req.url_data;
        size_t q = url.find('?');
        if (q != std::string_view::npos) {
          if (auto s = find_query_param(url.substr(q + 1), "jwt", x.announce.jwt); !s) {
            packets_[kMalformed]->inc();
            out.clear();
            write_udp_error(out, txid, s.error().message);
            reply_now();
            continue;
          }
        }
        logic_.announce_parsed(x);
      } else {
        packets_[kScrape]->inc();
        x.action = Action::scrape;
        std::swap(x.scrape.info_hashes, req.info_hashes);
        logic_.scrape_parsed(x);
      }
      if (x.state.exchange(UdpExchange::kDetached) != UdpExchange::kFinished) {
        ex.release();  // finishes later on the store's thread and deletes itself
        ex = std::make_unique<UdpExchange>();
        ex->bencode = false;
      }
    }
    batch->flush(fd_);
  }
}

}  // namespace sc
