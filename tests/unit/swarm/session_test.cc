// Two swarm sessions on loopback: a seeder (seed_mode) and a leecher that dials it. Checks the
// bytes arrive intact, provenance credits the seeder, port 0 works, fast resume skips the
// re-hash after a restart, a partial download resumes, and a first-copy origin still serves a
// leecher that can reach no one else.
#include "common/swarm/session.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "tests/unit/swarm/swarm_fixture.h"

namespace sc {
namespace {

using namespace swarm_test;

TEST_F(Fixture, LeecherDownloadsFromSeederWithProvenance) {
  auto seeder = start(loop, dir.file("s-state"));
  auto leecher = start(loop, dir.file("l-state"));
  ASSERT_TRUE(seeder && leecher);
  EXPECT_NE(seeder->listen_port(), 0);
  EXPECT_NE(seeder->listen_port(), leecher->listen_port());

  std::vector<std::string> completed;
  leecher->on_complete([&](const std::string& ih) { completed.push_back(ih); });
  auto ih = seeder->add(torrent.bytes, {.key = "files/payload.bin", .save_path = seed_data, .seed_mode = true});
  ASSERT_TRUE(ih) << ih.error().message;
  EXPECT_EQ(*ih, torrent.infohash);
  ASSERT_TRUE(pump(loop, [&] { auto s = seeder->status_of(*ih); return s && s->complete; }, 10s));

  auto lih = leecher->add(torrent.bytes, {.key = "files/payload.bin", .save_path = leech_data});
  ASSERT_TRUE(lih);
  auto before = leecher->status_of(*lih);
  ASSERT_TRUE(before);
  EXPECT_FALSE(before->complete);
  EXPECT_EQ(before->key, "files/payload.bin");
  ASSERT_TRUE(leecher->connect_peer(*lih, "127.0.0.1:" + std::to_string(seeder->listen_port())));
  ASSERT_TRUE(pump(loop, [&] { return !completed.empty(); }, 60s));
  EXPECT_EQ(completed[0], torrent.infohash);
  EXPECT_EQ(file_sha(leech_data + "/payload.bin"), file_sha(seed_data + "/payload.bin"));

  // The last block's alert may come after the completion alert: wait for the accounting.
  std::optional<TorrentStatus> st;
  ASSERT_TRUE(pump(loop, [&] {
    st = leecher->status_of(*lih, true);
    return st && !st->provenance.empty() && st->provenance[0].bytes_given == torrent.total_size;
  }, 10s));
  EXPECT_TRUE(st->complete);
  EXPECT_EQ(st->progress, 1.0);
  EXPECT_EQ(st->state, "seeding");
  EXPECT_EQ(st->size, torrent.total_size);
  // Every byte and every piece came from the one seeder.
  ASSERT_EQ(st->provenance.size(), 1u);
  EXPECT_EQ(st->provenance[0].bytes_given, torrent.total_size);
  EXPECT_EQ(st->provenance[0].client.substr(0, 4), "-SC0");
  EXPECT_EQ(st->provenance[0].pieces_given, st->num_pieces);
  ASSERT_EQ(static_cast<int>(st->piece_source.size()), st->num_pieces);
  for (int src : st->piece_source) EXPECT_EQ(src, 0);
  // And the seeder saw the same bytes leave.
  ASSERT_TRUE(pump(loop, [&] {
    auto s = seeder->status_of(*ih);
    return s && s->provenance.size() == 1 && s->provenance[0].bytes_taken == torrent.total_size;
  }, 10s));
  // Removing and unknown hashes.
  EXPECT_TRUE(leecher->remove(*lih));
  EXPECT_FALSE(leecher->contains(*lih));
  EXPECT_EQ(leecher->remove(*lih).error().code, Errc::not_found);
  EXPECT_TRUE(stop(loop, leecher));
  EXPECT_TRUE(stop(loop, seeder));
}

TEST_F(Fixture, RestartUsesResumeDataInsteadOfRehashing) {
  auto seeder = start(loop, dir.file("s-state"));
  auto leecher = start(loop, dir.file("l-state"));
  ASSERT_TRUE(seeder && leecher);
  ASSERT_TRUE(seeder->add(torrent.bytes, {.save_path = seed_data, .seed_mode = true}));
  ASSERT_TRUE(leecher->add(torrent.bytes, {.save_path = leech_data}));
  ASSERT_TRUE(leecher->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(seeder->listen_port())));
  ASSERT_TRUE(pump(loop, [&] { auto s = leecher->status_of(torrent.infohash); return s && s->complete; }, 60s));
  ASSERT_TRUE(stop(loop, leecher));
  ASSERT_TRUE(std::filesystem::exists(dir.file("l-state/resume/" + torrent.infohash + ".resume")));

  // Flip one byte in the middle of the file: a re-hash would notice, resume data does not
  // look. So "complete" right after restart proves the data was not hashed again.
  {
    std::fstream f(leech_data + "/payload.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3'000'000);
    char c = 0;
    f.read(&c, 1);
    f.seekp(3'000'000);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  leecher = start(loop, dir.file("l-state"));
  ASSERT_TRUE(leecher);
  ASSERT_TRUE(leecher->add(torrent.bytes, {.save_path = leech_data}));
  ASSERT_TRUE(pump(loop, [&] { auto s = leecher->status_of(torrent.infohash); return s && s->complete; }, 10s));
  EXPECT_TRUE(stop(loop, leecher));
  EXPECT_TRUE(stop(loop, seeder));
}

// Stopped half way and started again; `disk_io` and `piece_cache` are the leecher's.
void resume_partial_download(Fixture& f, DiskIo disk_io, int64_t piece_cache) {
  auto& loop = f.loop;
  auto& dir = f.dir;
  auto& torrent = f.torrent;
  const auto& seed_data = f.seed_data;
  const auto& leech_data = f.leech_data;
  // A slow seeder (rate capped) so the leecher is stopped half way.
  auto seeder = start(loop, dir.file("s-state"), 2'000'000);
  auto leecher = start(loop, dir.file("l-state"), 0, disk_io, piece_cache);
  ASSERT_TRUE(seeder && leecher);
  ASSERT_TRUE(seeder->add(torrent.bytes, {.save_path = seed_data, .seed_mode = true}));
  ASSERT_TRUE(leecher->add(torrent.bytes, {.save_path = leech_data}));
  ASSERT_TRUE(leecher->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(seeder->listen_port())));
  ASSERT_TRUE(pump(loop, [&] {
    auto s = leecher->status_of(torrent.infohash);
    return s && s->progress > 0.2;
  }, 30s));
  auto mid = leecher->status_of(torrent.infohash);
  ASSERT_TRUE(mid);
  EXPECT_FALSE(mid->complete) << "rate cap did not hold";
  ASSERT_TRUE(stop(loop, leecher));

  leecher = start(loop, dir.file("l-state"), 0, disk_io, piece_cache);
  ASSERT_TRUE(leecher);
  ASSERT_TRUE(leecher->add(torrent.bytes, {.save_path = leech_data}));
  // Right after the resume check, the pieces from before are still there.
  ASSERT_TRUE(pump(loop, [&] {
    auto s = leecher->status_of(torrent.infohash);
    return s && s->state != "checking" && s->progress >= mid->progress * 0.9;
  }, 10s));
  ASSERT_TRUE(leecher->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(seeder->listen_port())));
  ASSERT_TRUE(pump(loop, [&] { auto s = leecher->status_of(torrent.infohash); return s && s->complete; }, 60s));
  auto done = leecher->status_of(torrent.infohash);
  // It fetched only what was missing.
  EXPECT_LT(done->downloaded, torrent.total_size * 0.95);
  EXPECT_EQ(file_sha(leech_data + "/payload.bin"), file_sha(seed_data + "/payload.bin"));
  EXPECT_TRUE(stop(loop, leecher));
  EXPECT_TRUE(stop(loop, seeder));
}

TEST_F(Fixture, PartialDownloadResumesAfterRestart) { resume_partial_download(*this, DiskIo::mmap, 0); }

// The piece cache holds blocks of pieces still arriving in memory only; stopping writes them
// out, and the resumed download ends with the exact bytes without fetching everything again.
TEST_F(Fixture, PartialDownloadResumesAfterRestartBehindThePieceCache) {
  resume_partial_download(*this, DiskIo::posix, 16 << 20);
}

// A leecher behind a piece cache too small for its pieces in flight (a budget of 3 pieces):
// pieces that do not fit go to the file block by block, pieces in the cache are written whole,
// and a second leecher that can only reach the first gets the same bytes from its cache or
// its file.
TEST_F(Fixture, TinyPieceCacheStillWritesAndForwardsExactBytes) {
  auto seeder = start(loop, dir.file("s-state"));
  auto first = start(loop, dir.file("a-state"), 0, DiskIo::posix, 3 * torrent.piece_length);
  auto second = start(loop, dir.file("b-state"));
  ASSERT_TRUE(seeder && first && second);
  const std::string second_data = dir.file("second");
  std::filesystem::create_directories(second_data);
  ASSERT_TRUE(seeder->add(torrent.bytes, {.save_path = seed_data, .seed_mode = true}));
  ASSERT_TRUE(first->add(torrent.bytes, {.save_path = leech_data}));
  ASSERT_TRUE(second->add(torrent.bytes, {.save_path = second_data}));
  ASSERT_TRUE(first->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(seeder->listen_port())));
  ASSERT_TRUE(second->connect_peer(torrent.infohash, "127.0.0.1:" + std::to_string(first->listen_port())));
  ASSERT_TRUE(pump(loop, [&] {
    auto a = first->status_of(torrent.infohash);
    auto b = second->status_of(torrent.infohash);
    return a && a->complete && b && b->complete;
  }, 60s));
  const std::string want = file_sha(seed_data + "/payload.bin");
  EXPECT_EQ(file_sha(leech_data + "/payload.bin"), want);
  EXPECT_EQ(file_sha(second_data + "/payload.bin"), want);
  EXPECT_TRUE(stop(loop, second));
  EXPECT_TRUE(stop(loop, first));
  EXPECT_TRUE(stop(loop, seeder));
}

// A first-copy origin refuses a piece another peer is fetching, so that the other forwards it.
// Here C can reach only the origin, as behind a network policy; A and B reach each other and
// the origin. C starts first, alone, on an origin capped at 2 MB/s, and owns a quarter of the
// pieces before A and B join; then A and B own most of the rest. C downloads at most 500 kB/s:
// unlimited, it got every piece first whenever A and B were slow to start (a loaded CI host
// under ASan), finished alone and left, and A and B were then granted its pieces afresh. Only a
// few tail copies exist (1/16 of the pieces), so A and B cannot finish without more of C's
// pieces from the origin, nor C without theirs: the origin must serve a piece to a peer that
// asks for it again after a refusal, or nobody finishes. Each leecher listens on its own
// loopback address but dials from 127.0.0.1, so the addresses the origin passes on by PEX lead
// nowhere.
TEST_F(Fixture, FirstCopyOriginServesAPeerThatHasNoOtherSource) {
  auto origin = start(loop, dir.file("o-state"), 2'000'000);
  ASSERT_TRUE(origin);
  ASSERT_TRUE(origin->add(torrent.bytes, {.save_path = seed_data, .seed_mode = true, .first_copy = true}));
  const std::string origin_addr = "127.0.0.1:" + std::to_string(origin->listen_port());
  std::vector<std::unique_ptr<SwarmSession>> peers;  // A, B, C
  std::vector<std::string> data;
  for (int k = 0; k < 3; ++k) {
    const std::string name(1, static_cast<char>('a' + k));
    peers.push_back(start(loop, dir.file(name + "-state"), 0, DiskIo::mmap, 16 << 20,
                          "127.0.0." + std::to_string(k + 2) + ":0", k == 2 ? 500'000 : 0));
    data.push_back(dir.file(name + "-data"));
    std::filesystem::create_directories(data.back());
    ASSERT_TRUE(peers.back());
    ASSERT_TRUE(peers.back()->add(torrent.bytes, {.save_path = data.back()}));
  }
  auto progress = [&](int k) { return peers[static_cast<size_t>(k)]->status_of(torrent.infohash)->progress; };
  ASSERT_TRUE(peers[2]->connect_peer(torrent.infohash, origin_addr));
  ASSERT_TRUE(pump(loop, [&] { return progress(2) >= 0.25; }, 20s)) << progress(2);
  ASSERT_LT(progress(2), 0.6);
  ASSERT_TRUE(peers[0]->connect_peer(torrent.infohash, origin_addr));
  ASSERT_TRUE(peers[1]->connect_peer(torrent.infohash, origin_addr));
  ASSERT_TRUE(peers[0]->connect_peer(torrent.infohash, "127.0.0.3:" + std::to_string(peers[1]->listen_port())));
  ASSERT_TRUE(pump(loop, [&] { return progress(0) == 1.0 && progress(1) == 1.0 && progress(2) == 1.0; }, 60s))
      << "origin repeat copies " << origin->first_copy_repeat_copies() << ", progress " << progress(0) << " "
      << progress(1) << " " << progress(2);
  const std::string want = file_sha(seed_data + "/payload.bin");
  for (auto& d : data) EXPECT_EQ(file_sha(d + "/payload.bin"), want);
  EXPECT_GT(origin->first_copy_rejects(), 0);
  EXPECT_GT(origin->first_copy_repeat_copies(), 0);
  auto c = peers[2]->status_of(torrent.infohash, true);
  ASSERT_EQ(c->provenance.size(), 1u) << "C reached another leecher";
  for (auto& p : peers) EXPECT_TRUE(stop(loop, p));
  EXPECT_TRUE(stop(loop, origin));
}

TEST(SwarmSessionStart, PortRangeSkipsBusyPorts) {
  // Hold a port, then ask for a range starting at it.
  int busy = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(busy, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(busy, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  EventLoop loop;
  SwarmOptions o;
  o.peer_listen = "127.0.0.1:" + std::to_string(port) + "-" + std::to_string(port + 20);
  auto s = SwarmSession::start(loop, o);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_GT((*s)->listen_port(), port);
  EXPECT_LE((*s)->listen_port(), port + 20);
  ::close(busy);
}

TEST(SwarmSessionStart, TrackerlessModeStarts) {
  EventLoop loop;
  SwarmOptions o;
  o.peer_listen = "127.0.0.1:0";
  o.dht = true;
  auto s = SwarmSession::start(loop, o);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_NE((*s)->listen_port(), 0);
}

TEST(SwarmSessionStart, BadListenAddressIsAnError) {
  EventLoop loop;
  SwarmOptions o;
  o.peer_listen = "203.0.113.7:0";  // not a local address
  auto s = SwarmSession::start(loop, o);
  EXPECT_FALSE(s);
}

}  // namespace
}  // namespace sc
