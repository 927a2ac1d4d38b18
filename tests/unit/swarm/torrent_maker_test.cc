// Torrent creation: determinism, the piece size rule, mktorrent-identical info hashes for the
// same file and options, directory layout, hybrid and errors.
#include "common/swarm/torrent_maker.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using test::read_file;

void write_random(const std::string& path, size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Runs mktorrent and returns the v1 info hash of what it wrote ("" if mktorrent is missing).
std::string mktorrent_hash(const std::string& args, const std::string& out) {
  std::string cmd = "mktorrent " + args + " -o " + out + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return "";
  auto s = inspect_torrent(read_file(out));
  return s ? s->infohash : "";
}

TEST(AutoPieceLength, FollowsTheDocumentedRule) {
  EXPECT_EQ(auto_piece_length(1), kMinPieceLength);
  EXPECT_EQ(auto_piece_length(16 << 20), 64 << 10);
  EXPECT_EQ(auto_piece_length(64 << 20), 64 << 10);
  EXPECT_EQ(auto_piece_length(128 << 20), 64 << 10);  // kTargetPieces pieces exactly
  EXPECT_EQ(auto_piece_length((128 << 20) + 1), 128 << 10);
  EXPECT_EQ(auto_piece_length(256 << 20), 128 << 10);
  EXPECT_EQ(auto_piece_length(int64_t{1} << 30), 512 << 10);
  EXPECT_EQ(auto_piece_length(int64_t{4} << 30), 2 << 20);
  EXPECT_EQ(auto_piece_length(int64_t{1} << 40), kMaxPieceLength);
  // Never more than kTargetPieces pieces until the cap.
  for (int64_t size : {int64_t{3} << 20, int64_t{700} << 20, int64_t{5} << 30})
    EXPECT_LE((size + auto_piece_length(size) - 1) / auto_piece_length(size), kTargetPieces);
}

TEST(MakeTorrent, SameBytesSameInfohashAnywhere) {
  test::TempDir a, b;
  write_random(a.file("x/blob.bin"), 3'000'000, 1);
  write_random(b.file("elsewhere/deeper/blob.bin"), 3'000'000, 1);
  auto t1 = make_torrent(a.file("x/blob.bin"));
  auto t2 = make_torrent(b.file("elsewhere/deeper/blob.bin"), MakeTorrentOptions{.threads = 1});
  ASSERT_TRUE(t1) << t1.error().message;
  ASSERT_TRUE(t2) << t2.error().message;
  EXPECT_EQ(t1->infohash, t2->infohash);
  EXPECT_EQ(t1->bytes, t2->bytes);  // no creation date, no creator
  EXPECT_EQ(t1->bytes.find("creation date"), std::string::npos);
  EXPECT_EQ(t1->total_size, 3'000'000);
  EXPECT_EQ(t1->piece_length, kMinPieceLength);
  // Different bytes, different hash.
  write_random(b.file("other/blob.bin"), 3'000'000, 2);
  auto t3 = make_torrent(b.file("other/blob.bin"));
  ASSERT_TRUE(t3);
  EXPECT_NE(t1->infohash, t3->infohash);
}

TEST(MakeTorrent, SingleFileMatchesMktorrent) {
  test::TempDir d;
  write_random(d.file("data.bin"), 5'000'001, 3);  // odd size: short last piece
  for (int exp : {16, 18, 20}) {
    MakeTorrentOptions o;
    o.piece_length_exp = exp;
    o.trackers = {"http://127.0.0.1:6969/announce"};
    auto ours = make_torrent(d.file("data.bin"), o);
    ASSERT_TRUE(ours) << ours.error().message;
    std::string theirs = mktorrent_hash("-l " + std::to_string(exp) + " -a http://127.0.0.1:6969/announce " +
                                            d.file("data.bin"),
                                        d.file("m" + std::to_string(exp) + ".torrent"));
    ASSERT_FALSE(theirs.empty()) << "mktorrent failed";
    EXPECT_EQ(ours->infohash, theirs) << "piece exponent " << exp;
  }
  // Private flag and a name override are in the info dict for both tools.
  MakeTorrentOptions o;
  o.piece_length_exp = 18;
  o.priv = true;
  o.name = "renamed.bin";
  auto ours = make_torrent(d.file("data.bin"), o);
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->infohash, mktorrent_hash("-p -n renamed.bin -l 18 " + d.file("data.bin"), d.file("p.torrent")));
  auto s = inspect_torrent(ours->bytes);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->priv);
  EXPECT_EQ(s->name, "renamed.bin");
}

TEST(MakeTorrent, DirectoryMatchesMktorrentAndIsSorted) {
  test::TempDir d;
  write_random(d.file("tree/b.bin"), 300'000, 4);
  write_random(d.file("tree/a/z.bin"), 700'000, 5);
  write_random(d.file("tree/a/y.bin"), 1, 6);
  write_random(d.file("tree/c/d/e.bin"), 1'234'567, 7);
  MakeTorrentOptions o;
  o.piece_length_exp = 18;
  auto ours = make_torrent(d.file("tree"), o);
  ASSERT_TRUE(ours) << ours.error().message;
  EXPECT_EQ(ours->num_files, 4);
  auto s = inspect_torrent(ours->bytes);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->files.size(), 4u);
  EXPECT_EQ(s->files[0].path, "tree/a/y.bin");
  EXPECT_EQ(s->files[1].path, "tree/a/z.bin");
  EXPECT_EQ(s->files[2].path, "tree/b.bin");
  EXPECT_EQ(s->files[3].path, "tree/c/d/e.bin");
  EXPECT_EQ(ours->infohash, mktorrent_hash("-l 18 " + d.file("tree"), d.file("dir.torrent")));
  // A trailing slash names the same directory.
  auto again = make_torrent(d.file("tree/"), o);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->infohash, ours->infohash);
}

TEST(MakeTorrent, WebSeedAndTrackersStayOutsideTheInfoDict) {
  test::TempDir d;
  write_random(d.file("f.bin"), 100'000, 8);
  auto plain = make_torrent(d.file("f.bin"));
  MakeTorrentOptions o;
  o.trackers = {"http://a/announce", "http://b/announce"};
  o.web_seeds = {"http://127.0.0.1:1/f.bin"};
  auto decorated = make_torrent(d.file("f.bin"), o);
  ASSERT_TRUE(plain && decorated);
  EXPECT_EQ(plain->infohash, decorated->infohash);
  auto s = inspect_torrent(decorated->bytes);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trackers.size(), 2u);
  EXPECT_NE(decorated->bytes.find("url-list"), std::string::npos);
}

TEST(MakeTorrent, HybridIsAnOption) {
  test::TempDir d;
  write_random(d.file("f.bin"), 1'000'000, 9);
  auto v1 = make_torrent(d.file("f.bin"));
  auto hy = make_torrent(d.file("f.bin"), MakeTorrentOptions{.hybrid = true});
  ASSERT_TRUE(v1 && hy) << (hy ? "" : hy.error().message);
  EXPECT_FALSE(inspect_torrent(v1->bytes)->hybrid);
  EXPECT_TRUE(inspect_torrent(hy->bytes)->hybrid);
  EXPECT_NE(v1->infohash, hy->infohash);
  auto hy2 = make_torrent(d.file("f.bin"), MakeTorrentOptions{.hybrid = true});
  ASSERT_TRUE(hy2);
  EXPECT_EQ(hy->infohash, hy2->infohash);
}

// Files this process has open now.
int open_fds() {
  int n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// 1,500 files under `ulimit -n 1024` failed with "Too many open files", because every
// hashing thread kept every file it had read open until the end.
TEST(MakeTorrent, ManyFilesHashWithFewOpenFiles) {
  test::TempDir d;
  constexpr int kFiles = 1500;
  for (int i = 0; i < kFiles; ++i) write_random(d.file("many/f" + std::to_string(i) + ".bin"), 700 + i, i);
  auto unlimited = make_torrent(d.file("many"), MakeTorrentOptions{.threads = 1});
  ASSERT_TRUE(unlimited) << unlimited.error().message;

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Room for what is open now plus a few per thread: far fewer than the files.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(open_fds() + 32);
  ASSERT_LT(tight.rlim_cur, static_cast<rlim_t>(kFiles));
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  auto limited = make_torrent(d.file("many"), MakeTorrentOptions{.threads = 4});
  setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_TRUE(limited) << limited.error().message;
  EXPECT_EQ(limited->num_files, kFiles);
  EXPECT_EQ(limited->infohash, unlimited->infohash);
}

TEST(MakeTorrent, Errors) {
  test::TempDir d;
  EXPECT_EQ(make_torrent(d.file("missing")).error().code, Errc::not_found);
  std::ofstream(d.file("empty"));
  EXPECT_EQ(make_torrent(d.file("empty")).error().code, Errc::invalid_argument);
  write_random(d.file("f.bin"), 10, 1);
  EXPECT_EQ(make_torrent(d.file("f.bin"), MakeTorrentOptions{.piece_length_exp = 40}).error().code,
            Errc::invalid_argument);
  EXPECT_FALSE(inspect_torrent("d4:infoi1ee"));
  EXPECT_FALSE(inspect_torrent("garbage"));
  EXPECT_FALSE(inspect_torrent(std::string(17 << 20, 'x')));
}

}  // namespace
}  // namespace sc
