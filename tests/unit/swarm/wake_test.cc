// The wake plugin (wake_plugin.h), seen from the wire: a bare BitTorrent peer that is
// interested in a leecher and never asks it for anything gets, once unchoked, an UNCHOKE right
// after a HAVE now and then (at most one per kQuietBeforeWake), and never an UNCHOKE that does
// not follow a HAVE.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "tests/support/support.h"
#include "tests/unit/swarm/swarm_fixture.h"

namespace sc {
namespace {

using namespace swarm_test;

constexpr int kMsgUnchoke = 1;
constexpr int kMsgInterested = 2;
constexpr int kMsgHave = 4;
constexpr int kMsgHaveNone = 15;

// A peer speaking just enough of the protocol: a handshake with the fast extension, HAVE_NONE,
// INTERESTED, and then reading messages.
class BarePeer {
 public:
  ~BarePeer() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connect(int port, const std::string& infohash_hex) {
    fd_ = test::connect_to("127.0.0.1", port, 10s);  // non-blocking: reads below poll first
    if (fd_ < 0) return false;
    auto ih = from_hex(infohash_hex);
    if (!ih) return false;
    std::string hs = "\x13" "BitTorrent protocol";
    hs += std::string(7, '\0') + '\x04';  // reserved bytes: the fast extension (BEP 6)
    hs += *ih + "-XX0001-bare-peer-01";
    if (!send(hs)) return false;
    std::string reply;
    if (!read_exactly(68, reply, 10s) || reply.substr(28, 20) != *ih) return false;
    return send(message(kMsgHaveNone)) && send(message(kMsgInterested));
  }

  // The next message (id, payload), keep-alives skipped; nullopt when none came in time.
  std::optional<std::pair<int, std::string>> next(std::chrono::milliseconds timeout) {
    for (;;) {
      std::string len;
      if (!read_exactly(4, len, timeout)) return std::nullopt;
      uint32_t n = (uint32_t(uint8_t(len[0])) << 24) | (uint32_t(uint8_t(len[1])) << 16) |
                   (uint32_t(uint8_t(len[2])) << 8) | uint32_t(uint8_t(len[3]));
      if (n == 0) continue;
      std::string body;
      if (n > (1u << 20) || !read_exactly(n, body, 10s)) return std::nullopt;
      return std::make_pair(int(uint8_t(body[0])), body.substr(1));
    }
  }

 private:
  static std::string message(int id) { return std::string("\0\0\0\1", 4) + char(id); }

  bool send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size()); }

  bool read_exactly(size_t n, std::string& out, std::chrono::milliseconds timeout) {
    while (buf_.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, int(timeout.count())) <= 0) return false;
      char chunk[65536];
      ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buf_.append(chunk, size_t(got));
    }
    out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

TEST_F(Fixture, LeecherRepeatsUnchokeAfterHaveToAnIdleInterestedPeer) {
  // The seeder trickles pieces, so the leecher announces them one by one.
  auto seeder = start(loop, dir.file("s-state"), 200'000);
  auto leecher = start(loop, dir.file("l-state"));
  ASSERT_TRUE(seeder && leecher);
  ASSERT_TRUE(seeder->add(torrent.bytes, {.save_path = seed_data, .seed_mode = true}));
  ASSERT_TRUE(leecher->add(torrent.bytes, {.save_path = leech_data}));
  // Incoming peers are turned away while the torrent checks its files.
  ASSERT_TRUE(pump(loop, [&] { return leecher->status_of(torrent.infohash)->state == "downloading"; }, 20s));
  BarePeer bare;
  ASSERT_TRUE(bare.connect(leecher->listen_port(), torrent.infohash));
  ASSERT_TRUE(leecher->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(seeder->listen_port())));

  bool unchoked = false;
  int haves = 0, woken = 0, stray = 0;  // after the first UNCHOKE: HAVEs, UNCHOKEs after one, others
  std::optional<int> last;              // the message before this one, once unchoked
  ASSERT_TRUE(pump(loop, [&] {
    auto m = bare.next(5ms);
    if (!m) return false;
    if (unchoked && m->first == kMsgUnchoke) (last == kMsgHave ? woken : stray) += 1;
    haves += unchoked && m->first == kMsgHave;
    unchoked = unchoked || m->first == kMsgUnchoke;
    if (unchoked) last = m->first;
    return woken >= 3;
  }, 60s)) << "unchoked " << unchoked << ", HAVEs " << haves << ", UNCHOKEs after one " << woken;
  EXPECT_EQ(stray, 0);
  EXPECT_TRUE(stop(loop, leecher));
  EXPECT_TRUE(stop(loop, seeder));
}

}  // namespace
}  // namespace sc
