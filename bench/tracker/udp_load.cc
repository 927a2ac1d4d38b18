// Bounded UDP tracker (BEP 15) load generator for bench/tracker/run.sh: keeps a window of
// requests in flight on one socket (recvmmsg/sendmmsg, so the generator costs little beside
// the server) and reports announces/s and latency percentiles. Two modes:
//   mix:  random torrents, peer ids and ports, a started/none/completed/stopped mix, numwant 50;
//   load: N distinct peers (torrent, port) announced once each with numwant 0, to fill a tracker.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sc {
namespace {

constexpr uint64_t kProtocolId = 0x41727101980ULL;
constexpr size_t kBatch = 64;               // datagrams per recvmmsg/sendmmsg
constexpr size_t kMaxWindow = 4096;         // in-flight cap: more only fills socket buffers
constexpr uint64_t kMaxRequests = 50'000'000;  // hard bound whatever the flags say
constexpr double kMaxSeconds = 600;         // hard bound whatever the flags say
constexpr int kSocketBufferBytes = 4 << 20; // replies of a full window never overflow it

using Clock = std::chrono::steady_clock;

struct Args {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string mode = "mix";
  double seconds = 10;        // mix: run time; load: give-up time
  uint64_t max_requests = 10'000'000;
  uint32_t torrents = 1000;
  uint64_t peers = 1'000'000; // load mode
  size_t window = 64;         // requests in flight (as wrk's connections)
  uint32_t connect_every = 10;  // a fresh connect before every Nth announce of a slot
  double timeout_s = 1.0;     // a request unanswered this long is counted lost and re-sent
};

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: udp_load --port P [--host 127.0.0.1] [--mode mix|load] [--seconds S]\n"
               "  [--max-requests N] [--torrents T] [--peers N] [--window W] [--connect-every K]\n"
               "  [--timeout S]\n");
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (k == "--host") a.host = v;
    else if (k == "--port") a.port = std::atoi(v);
    else if (k == "--mode") a.mode = v;
    else if (k == "--seconds") a.seconds = std::atof(v);
    else if (k == "--max-requests") a.max_requests = std::strtoull(v, nullptr, 10);
    else if (k == "--torrents") a.torrents = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    else if (k == "--peers") a.peers = std::strtoull(v, nullptr, 10);
    else if (k == "--window") a.window = std::strtoul(v, nullptr, 10);
    else if (k == "--connect-every") a.connect_every = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    else if (k == "--timeout") a.timeout_s = std::atof(v);
    else usage();
  }
  if (a.port <= 0 || a.port > 65535 || (a.mode != "mix" && a.mode != "load")) usage();
  a.seconds = std::clamp(a.seconds, 0.1, kMaxSeconds);
  a.max_requests = std::min(a.max_requests, kMaxRequests);
  a.window = std::clamp<size_t>(a.window, 1, kMaxWindow);
  a.torrents = std::max<uint32_t>(a.torrents, 1);
  a.connect_every = std::max<uint32_t>(a.connect_every, 1);
  // Load mode: peer i is (torrent i % T, port 1024 + i / T), so every peer is distinct by address
  // and port within its swarm (how both trackers identify peers) from one source address.
  if (a.mode == "load" && a.peers > static_cast<uint64_t>(a.torrents) * (65536 - 1024)) {
    std::fprintf(stderr, "--peers too large for --torrents (ports per swarm run out)\n");
    std::exit(2);
  }
  a.peers = std::min<uint64_t>(a.peers, kMaxRequests);
  return a;
}

void put32(uint8_t* p, uint32_t v) { v = htonl(v); std::memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { put32(p, static_cast<uint32_t>(v >> 32)); put32(p + 4, static_cast<uint32_t>(v)); }
uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return ntohl(v); }
uint64_t get64(const uint8_t* p) { return (static_cast<uint64_t>(get32(p)) << 32) | get32(p + 4); }

// The benchmark's torrents: info hash = the 20 ASCII digits of the index (as announce.lua), so
// run.sh can whitelist them for opentracker.
void info_hash(uint8_t* out, uint32_t index) {
  char buf[21];
  std::snprintf(buf, sizeof buf, "%020u", index);
  std::memcpy(out, buf, 20);
}

struct Slot {
  bool busy = false;
  bool is_connect = false;
  uint32_t txid = 0;
  uint32_t since_connect = 0;  // announces sent with the current connection id
  uint64_t peer = 0;           // load mode: the peer this slot is announcing (re-sent if lost)
  bool has_peer = false;
  Clock::time_point sent;
};

class Generator {
 public:
  explicit Generator(const Args& a) : a_(a), rng_(std::random_device{}()), slots_(a.window) {}

  int run() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(a_.port));
    if (fd_ < 0 || inet_pton(AF_INET, a_.host.c_str(), &sa.sin_addr) != 1 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::fprintf(stderr, "cannot reach %s:%d: %s\n", a_.host.c_str(), a_.port, std::strerror(errno));
      return 1;
    }
    int buf = kSocketBufferBytes;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    latencies_us_.reserve(std::min<uint64_t>(a_.mode == "load" ? a_.peers : a_.max_requests, 4'000'000));

    start_ = Clock::now();
    const auto deadline = start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a_.seconds));
    for (size_t i = 0; i < slots_.size(); ++i) queue(i);
    flush();
    std::vector<uint8_t> bufs(kBatch * 2048);
    std::vector<mmsghdr> msgs(kBatch);
    std::vector<iovec> iovs(kBatch);
    auto last_scan = Clock::now();
    while (!finished()) {
      auto now = Clock::now();
      if (now >= deadline) break;
      pollfd p{fd_, POLLIN, 0};
      poll(&p, 1, 10);
      for (size_t i = 0; i < kBatch; ++i) {
        iovs[i] = {bufs.data() + i * 2048, 2048};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd_, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      now = Clock::now();
      for (int i = 0; i < n; ++i) on_reply(bufs.data() + i * 2048, msgs[i].msg_len, now);
      if (now - last_scan > std::chrono::milliseconds(20)) {
        scan_timeouts(now);
        last_scan = now;
      }
      flush();
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    report(secs);
    if (a_.mode == "load" && acked_ < a_.peers) {
      std::fprintf(stderr, "load: only %llu of %llu peers acknowledged in time\n",
                   static_cast<unsigned long long>(acked_), static_cast<unsigned long long>(a_.peers));
      return 1;
    }
    return announces_done_ == 0 ? 1 : 0;
  }

 private:
  bool finished() const {
    if (a_.mode == "load") return acked_ >= a_.peers;
    return sent_total_ >= a_.max_requests && inflight_ == 0;
  }

  // Prepares the next request of slot i (a connect when its id is missing or due).
  void queue(size_t i) {
    Slot& s = slots_[i];
    if (a_.mode == "load" && !s.has_peer) {
      if (next_peer_ >= a_.peers) return;  // nothing left to load: the slot idles
      s.peer = next_peer_++;
      s.has_peer = true;
    }
    if (a_.mode == "mix" && sent_total_ >= a_.max_requests) return;
    uint8_t* p = out_.emplace_back().data();
    size_t len;
    s.txid = (static_cast<uint32_t>(rng_()) & ~0xfffU) | static_cast<uint32_t>(i & 0xfff);
    if (conn_id_valid_ == false || s.since_connect >= a_.connect_every) {
      s.is_connect = true;
      s.since_connect = 0;
      put64(p, kProtocolId);
      put32(p + 8, 0);
      put32(p + 12, s.txid);
      len = 16;
      ++connects_sent_;
    } else {
      s.is_connect = false;
      ++s.since_connect;
      len = write_announce(p, s);
      ++announces_sent_;
    }
    out_len_.push_back(len);
    s.busy = true;
    ++inflight_;
    ++sent_total_;
  }

  size_t write_announce(uint8_t* p, const Slot& s) {
    put64(p, conn_id_);
    put32(p + 8, 1);
    put32(p + 12, s.txid);
    uint32_t torrent;
    uint16_t port;
    uint32_t event;  // 0 none, 1 completed, 2 started, 3 stopped (BEP 15)
    uint64_t left;
    int32_t numwant;
    uint8_t peer_id[20];
    std::memcpy(peer_id, "-SC0001-", 8);
    if (a_.mode == "load") {
      torrent = static_cast<uint32_t>(s.peer % a_.torrents) + 1;
      port = static_cast<uint16_t>(1024 + s.peer / a_.torrents);
      char digits[13];
      std::snprintf(digits, sizeof digits, "%012llu", static_cast<unsigned long long>(s.peer));
      std::memcpy(peer_id + 8, digits, 12);
      event = 2;
      left = (s.peer % 4 == 0) ? 0 : 1000;  // one in four a seeder, as the mix
      numwant = 0;
    } else {
      torrent = static_cast<uint32_t>(rng_() % a_.torrents) + 1;
      port = static_cast<uint16_t>(1024 + rng_() % (65536 - 1024));
      for (int k = 8; k < 20; ++k) peer_id[k] = static_cast<uint8_t>(rng_());
      // As announce.lua: 70 % periodic, 10 % each of started, completed, stopped.
      static constexpr uint32_t kEvents[10] = {0, 0, 0, 0, 0, 0, 0, 2, 1, 3};
      event = kEvents[rng_() % 10];
      left = (rng_() % 4 == 0) ? 0 : 1000;
      numwant = 50;
    }
    info_hash(p + 16, torrent);
    std::memcpy(p + 36, peer_id, 20);
    put64(p + 56, 0);     // downloaded
    put64(p + 64, left);
    put64(p + 72, 0);     // uploaded
    put32(p + 80, event);
    put32(p + 84, 0);     // ip: the source address
    put32(p + 88, static_cast<uint32_t>(rng_()));  // key
    put32(p + 92, static_cast<uint32_t>(numwant));
    p[96] = static_cast<uint8_t>(port >> 8);
    p[97] = static_cast<uint8_t>(port);
    return 98;
  }

  void flush() {
    size_t done = 0;
    const auto now = Clock::now();
    while (done < out_.size()) {
      size_t n = std::min(kBatch, out_.size() - done);
      mmsghdr msgs[kBatch];
      iovec iovs[kBatch];
      for (size_t i = 0; i < n; ++i) {
        iovs[i] = {out_[done + i].data(), out_len_[done + i]};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int sent = sendmmsg(fd_, msgs, static_cast<unsigned>(n), 0);
      if (sent <= 0) {
        // Socket buffer full (or the server is gone): the unsent requests time out and are
        // re-sent, which the timeout counter shows.
        break;
      }
      done += static_cast<size_t>(sent);
    }
    for (auto& s : slots_)
      if (s.busy && s.sent == Clock::time_point{}) s.sent = now;
    out_.clear();
    out_len_.clear();
  }

  void on_reply(const uint8_t* p, size_t len, Clock::time_point now) {
    if (len < 8) return;
    const uint32_t action = get32(p);
    const uint32_t txid = get32(p + 4);
    const size_t idx = txid & 0xfff;
    if (idx >= slots_.size()) return;
    Slot& s = slots_[idx];
    if (!s.busy || s.txid != txid) return;  // a late reply to a request already given up
    s.busy = false;
    --inflight_;
    if (action == 3) {
      ++errors_;
      if (first_error_.empty()) first_error_.assign(reinterpret_cast<const char*>(p + 8), len - 8);
      if (s.is_connect) conn_id_valid_ = false;
      s.since_connect = a_.connect_every;  // reconnect: the error may be a stale id
      // load mode: the peer is re-sent (after a fresh connect); --seconds bounds a tracker that
      // refuses every announce.
    } else if (s.is_connect && action == 0 && len >= 16) {
      conn_id_ = get64(p + 8);
      conn_id_valid_ = true;
      ++connects_done_;
    } else if (!s.is_connect && action == 1 && len >= 20) {
      ++announces_done_;
      if (latencies_us_.size() < latencies_us_.capacity()) {
        latencies_us_.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - s.sent).count()));
      }
      peers_returned_ += (len - 20) / 6;
      if (a_.mode == "load") {
        s.has_peer = false;
        ++acked_;
      }
    } else {
      ++errors_;
    }
    s.sent = {};
    queue(static_cast<size_t>(&s - slots_.data()));
  }

  void scan_timeouts(Clock::time_point now) {
    const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a_.timeout_s));
    for (size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (!s.busy || s.sent == Clock::time_point{} || now - s.sent < limit) continue;  // unsent yet
      ++timeouts_;
      s.busy = false;
      s.sent = {};
      --inflight_;
      s.since_connect = a_.connect_every;  // start again with a connect, as a client would
      queue(i);
    }
  }

  void report(double secs) {
    auto pct = [&](double q) -> double {
      if (latencies_us_.empty()) return 0;
      size_t k = std::min(latencies_us_.size() - 1, static_cast<size_t>(q * static_cast<double>(latencies_us_.size())));
      std::nth_element(latencies_us_.begin(), latencies_us_.begin() + static_cast<ptrdiff_t>(k), latencies_us_.end());
      return latencies_us_[k] / 1000.0;
    };
    const double p50 = pct(0.50), p99 = pct(0.99);
    std::printf(
        "mode=%s seconds=%.2f announces=%llu connects=%llu announces_per_s=%.0f p50_ms=%.3f p99_ms=%.3f "
        "timeouts=%llu errors=%llu peers_per_reply=%.1f window=%zu connect_every=%u\n",
        a_.mode.c_str(), secs, static_cast<unsigned long long>(announces_done_),
        static_cast<unsigned long long>(connects_done_), static_cast<double>(announces_done_) / secs, p50, p99,
        static_cast<unsigned long long>(timeouts_), static_cast<unsigned long long>(errors_),
        announces_done_ ? static_cast<double>(peers_returned_) / static_cast<double>(announces_done_) : 0.0,
        a_.window, a_.connect_every);
    if (!first_error_.empty()) std::printf("first_error=\"%s\"\n", first_error_.c_str());
    std::fflush(stdout);
  }

  Args a_;
  std::mt19937_64 rng_;
  std::vector<Slot> slots_;
  std::vector<std::array<uint8_t, 128>> out_;
  std::vector<size_t> out_len_;
  int fd_ = -1;
  Clock::time_point start_;
  uint64_t conn_id_ = 0;
  bool conn_id_valid_ = false;
  uint64_t next_peer_ = 0, acked_ = 0;
  uint64_t inflight_ = 0, sent_total_ = 0;
  uint64_t connects_sent_ = 0, announces_sent_ = 0, connects_done_ = 0, announces_done_ = 0;
  uint64_t timeouts_ = 0, errors_ = 0, peers_returned_ = 0;
  std::string first_error_;
  std::vector<uint32_t> latencies_us_;
};

}  // namespace
}  // namespace sc

int main(int argc, char** argv) {
  sc::Args a = sc::parse_args(argc, argv);
  return sc::Generator(a).run();
}
