// Tests of write_file_atomically: content replaced whole, errors with errno text, the old content
// kept and no temporary file left when a write fails, concurrent writers never mixed.
#include "common/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

namespace sc {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sc_atomic_file_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

TEST_F(AtomicFile, CreatesThenReplacesWholeContent) {
  std::string bin("a\0b\xff", 4);
  ASSERT_TRUE(write_file_atomically(file("state.json"), bin));
  EXPECT_EQ(read(file("state.json")), bin);
  ASSERT_TRUE(write_file_atomically(file("state.json"), "second"));
  EXPECT_EQ(read(file("state.json")), "second");
  ASSERT_TRUE(write_file_atomically(file("state.json"), ""));
  EXPECT_EQ(read(file("state.json")), "");
  EXPECT_EQ(names(), std::vector<std::string>{"state.json"});
}

TEST_F(AtomicFile, HonoursTheUmaskLikeFopen) {
  mode_t old = ::umask(022);
  auto st = write_file_atomically(file("f"), "x");
  ::umask(old);
  ASSERT_TRUE(st);
  EXPECT_EQ(fs::status(file("f")).permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
}

TEST_F(AtomicFile, MissingDirectoryIsAnIoErrorWithErrnoText) {
  auto st = write_file_atomically(file("no/such/dir/f"), "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("No such file or directory"), std::string::npos) << st.error().message;
  EXPECT_TRUE(names().empty());
}

TEST_F(AtomicFile, ReadOnlyDirectoryKeepsTheOldContent) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions (the size-limit test covers this)";
  ASSERT_TRUE(write_file_atomically(file("f"), "old"));
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  auto st = write_file_atomically(file("f"), "new");
  fs::permissions(dir_, fs::perms::owner_all);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("Permission denied"), std::string::npos) << st.error().message;
  EXPECT_EQ(read(file("f")), "old");
  EXPECT_EQ(names(), std::vector<std::string>{"f"});
}

// A write that fails half-way (the file size limit, which binds root too): the target keeps its
// old content and the partly written temporary file is gone.
TEST_F(AtomicFile, FailedWriteKeepsTheOldContentAndLeavesNoTempFile) {
  ASSERT_TRUE(write_file_atomically(file("f"), "old"));
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto st = write_file_atomically(file("f"), std::string(100'000, 'n'));
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("File too large"), std::string::npos) << st.error().message;
  EXPECT_EQ(read(file("f")), "old");
  EXPECT_EQ(names(), std::vector<std::string>{"f"});
}

TEST_F(AtomicFile, RenameOntoADirectoryFailsAndCleansUp) {
  fs::create_directories(file("taken/inner"));
  auto st = write_file_atomically(file("taken"), "x");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::io);
  EXPECT_NE(st.error().message.find("rename"), std::string::npos) << st.error().message;
  EXPECT_EQ(names(), std::vector<std::string>{"taken"});
  EXPECT_TRUE(fs::is_directory(file("taken/inner")));
}

TEST_F(AtomicFile, ConcurrentWritersNeverMix) {
  constexpr int kThreads = 4, kWrites = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string body(8192, static_cast<char>('a' + t));
      for (int i = 0; i < kWrites; ++i) ASSERT_TRUE(write_file_atomically(file("shared"), body));
    });
  }
  for (auto& th : threads) th.join();
  std::string got = read(file("shared"));
  ASSERT_EQ(got.size(), 8192u);
  EXPECT_EQ(got.find_first_not_of(got[0]), std::string::npos);
  EXPECT_EQ(names(), std::vector<std::string>{"shared"});
}

}  // namespace
}  // namespace sc
