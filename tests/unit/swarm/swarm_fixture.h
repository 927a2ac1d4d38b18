// Helpers for tests of SwarmSession on loopback: a random payload, its sha256, an event loop
// pumped until a predicate holds, sessions started and stopped, and a fixture holding a 6 MB
// torrent seeded from a temporary directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"
#include "common/swarm/session.h"
#include "common/swarm/torrent_maker.h"
#include "tests/support/support.h"

namespace sc::swarm_test {

using namespace std::chrono_literals;

inline void write_random(const std::string& path, size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string file_sha(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string s(std::istreambuf_iterator<char>(in), {});
  return to_hex(sha256(s));
}

inline bool pump(EventLoop& loop, const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  return test::wait_until([&] {
    loop.run_once();
    return pred();
  }, timeout, 5ms);
}

inline std::unique_ptr<SwarmSession> start(EventLoop& loop, const std::string& state, int64_t up_limit = 0,
                                    DiskIo disk_io = DiskIo::mmap, int64_t piece_cache = 16 << 20,
                                    const std::string& listen = "127.0.0.1:0", int64_t down_limit = 0) {
  SwarmOptions o;
  o.peer_listen = listen;
  o.state_dir = state;
  o.upload_rate_limit = up_limit;
  o.download_rate_limit = down_limit;
  o.disk_io = disk_io;
  o.piece_cache_bytes = piece_cache;
  auto s = SwarmSession::start(loop, o);
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

inline bool stop(EventLoop& loop, std::unique_ptr<SwarmSession>& s) {
  bool done = false;
  s->shutdown([&] { done = true; });
  bool ok = pump(loop, [&] { return done; }, 20s);
  s.reset();
  return ok;
}

struct Fixture : ::testing::Test {
  test::TempDir dir;
  EventLoop loop;
  std::string seed_data = dir.file("seed"), leech_data = dir.file("leech");
  MadeTorrent torrent;

  void SetUp() override {
    write_random(seed_data + "/payload.bin", 6'000'000 + 123, 42);
    auto t = make_torrent(seed_data + "/payload.bin");
    ASSERT_TRUE(t) << t.error().message;
    torrent = *t;
    std::filesystem::create_directories(leech_data);
  }
};

}  // namespace sc::swarm_test
