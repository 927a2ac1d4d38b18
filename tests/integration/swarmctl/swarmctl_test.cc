// swarmctl end to end: create (same info hash as mktorrent for the same file and options,
// and aria2c reads what we make), publish, ls, get (through a real seeder), rm, nodes, and
// clear errors with non-zero exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/swarm/cluster.h"
#include "tests/support/support.h"

namespace sc::swarmtest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
};

Run run(std::vector<std::string> argv, std::chrono::milliseconds timeout = 60s) {
  Run r;
  test::Process p(std::move(argv));
  bool exited = test::wait_until([&] { return !p.running(); }, timeout, 20ms);
  r.out = p.output();
  if (!exited) return r;
  auto st = p.stop(SIGKILL, 1s);
  r.code = st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1;
  return r;
}

std::string swarmctl() { return test::build_path("services/swarmctl/swarmctl"); }

// swarmctl pointed at the cluster's metastore, token and tracker, then `more`.
std::vector<std::string> swarmctl_on(const Cluster& c, std::vector<std::string> more) {
  std::vector<std::string> v = {swarmctl(), "--metastore", c.metastore_url(), "--token-file", c.token_file(),
                                "--tracker", c.tracker_url()};
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

TEST(Swarmctl, CreateMatchesMktorrentAndAria2cReadsIt) {
  test::TempDir d;
  write_random_file(d.file("in/file.bin"), 5'000'000, 1);
  write_random_file(d.file("in/dir/x.bin"), 700'000, 2);
  write_random_file(d.file("in/dir/sub/y.bin"), 300'000, 3);
  for (std::string target : {"in/file.bin", "in/dir"}) {
    auto ours = run({swarmctl(), "create", "-l", "18", "-a", "http://127.0.0.1:1/announce", "-p", "-o",
                     d.file("ours.torrent"), d.file(target)});
    ASSERT_EQ(ours.code, 0) << ours.out;
    auto theirs = run({"mktorrent", "-l", "18", "-a", "http://127.0.0.1:1/announce", "-p", "-o",
                       d.file("theirs.torrent"), d.file(target)});
    ASSERT_EQ(theirs.code, 0) << theirs.out;
    // aria2c --show-files prints the info hash of each torrent it reads.
    auto a = run({"aria2c", "--show-files", d.file("ours.torrent")});
    auto b = run({"aria2c", "--show-files", d.file("theirs.torrent")});
    ASSERT_EQ(a.code, 0) << a.out;
    auto hash_line = [](const std::string& s) {
      auto p = s.find("Info Hash: ");
      return p == std::string::npos ? std::string("none") : s.substr(p + 11, 40);
    };
    EXPECT_EQ(hash_line(a.out), hash_line(b.out)) << target;
    EXPECT_EQ(hash_line(a.out), ours.out.substr(0, 40)) << "aria2c and swarmctl disagree on " << target;
    fs::remove(d.file("ours.torrent"));
    fs::remove(d.file("theirs.torrent"));
  }
  // Same bytes, same options: same file, byte for byte, every time.
  ASSERT_EQ(run({swarmctl(), "create", "-o", d.file("1.torrent"), d.file("in/file.bin")}).code, 0);
  ASSERT_EQ(run({swarmctl(), "create", "-t", "1", "-o", d.file("2.torrent"), d.file("in/file.bin")}).code, 0);
  std::ifstream f1(d.file("1.torrent")), f2(d.file("2.torrent"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f1), {}), std::string(std::istreambuf_iterator<char>(f2), {}));
  // Errors.
  EXPECT_EQ(run({swarmctl(), "create", d.file("missing")}).code, 1);
  EXPECT_EQ(run({swarmctl(), "create", "-o", d.file("1.torrent"), d.file("in/file.bin")}).code, 1);  // exists
  EXPECT_EQ(run({swarmctl(), "create", "-l", "x", d.file("in/file.bin")}).code, 2);
  EXPECT_EQ(run({swarmctl(), "create", "--bogus", d.file("in/file.bin")}).code, 2);
  EXPECT_EQ(run({swarmctl(), "frobnicate"}).code, 2);
  EXPECT_EQ(run({swarmctl()}).code, 2);
}

TEST(Swarmctl, PublishListGetRemoveAndNodes) {
  Cluster c;
  write_random_file(c.path("data/served.bin"), 4'000'000, 5);
  auto seeder = c.seeder("seeder-1", c.path("data"));
  ASSERT_TRUE(test::wait_until(
      [&] { return test::http_request(seeder->control_port, "GET", "/readyz").status == 200; }, 60s));
  auto with = [&](std::vector<std::string> more) { return swarmctl_on(c, std::move(more)); };

  // publish a directory we made; the key defaults to dirs/<name>. No seeder has it: registered,
  // but said plainly, with exit code 3 (unless --no-seed-ok).
  write_random_file(c.path("pub/album/a.bin"), 100'000, 6);
  auto pub = run(with({"publish", c.path("pub/album")}));
  ASSERT_EQ(pub.code, 3) << pub.out;
  EXPECT_NE(pub.out.find("dirs/album created"), std::string::npos) << pub.out;
  EXPECT_NE(pub.out.find("nothing seeds dirs/album"), std::string::npos) << pub.out;
  auto again = run(with({"publish", c.path("pub/album"), "--no-seed-ok"}));
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  // The same key with other content is a conflict.
  write_random_file(c.path("pub2/album/a.bin"), 100'000, 7);
  auto conflict = run(with({"publish", c.path("pub2/album"), "--no-seed-ok"}));
  EXPECT_EQ(conflict.code, 1);
  EXPECT_NE(conflict.out.find("409"), std::string::npos) << conflict.out;
  // Without a token, writes are refused.
  auto anon = run({swarmctl(), "--metastore", c.metastore_url(), "publish", c.path("pub/album"), "--key", "dirs/x"});
  EXPECT_EQ(anon.code, 1);
  EXPECT_NE(anon.out.find("401"), std::string::npos) << anon.out;

  auto ls = run(with({"ls"}));
  ASSERT_EQ(ls.code, 0) << ls.out;
  EXPECT_NE(ls.out.find("files/served.bin"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("dirs/album"), std::string::npos) << ls.out;
  auto ls_prefix = run(with({"ls", "files/"}));
  EXPECT_EQ(ls_prefix.out.find("dirs/album"), std::string::npos) << ls_prefix.out;

  // get through the swarm from the seeder; not a terminal, so plain progress lines.
  auto get = run(with({"get", "files/served.bin", "-o", c.path("got"), "--peer-listen", "127.0.0.1:0", "--timeout", "60s"}),
                 90s);
  ASSERT_EQ(get.code, 0) << get.out;
  EXPECT_EQ(sha256_file(c.path("got/served.bin")), sha256_file(c.path("data/served.bin")));
  EXPECT_NE(get.out.find("progress="), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("total=4000000"), std::string::npos) << get.out;
  EXPECT_EQ(get.out.find('\r'), std::string::npos) << "no progress bar when not on a terminal";

  auto missing = run(with({"get", "files/none", "-o", c.path("got")}));
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("404"), std::string::npos) << missing.out;

  auto nodes = run(with({"nodes"}));
  EXPECT_EQ(nodes.code, 0);
  EXPECT_NE(nodes.out.find("seeder-1"), std::string::npos) << nodes.out;

  auto rm = run(with({"rm", "dirs/album"}));
  EXPECT_EQ(rm.code, 0) << rm.out;
  EXPECT_EQ(run(with({"rm", "dirs/album"})).code, 1);
  EXPECT_EQ(test::http_request(c.metastore_port(), "GET", "/v1/torrents/dirs/album").status, 404);

  // An unreachable metastore is a clear error, not a hang.
  auto down = run({swarmctl(), "--metastore", "http://127.0.0.1:" + std::to_string(test::free_port()), "ls"});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.out.find("connect"), std::string::npos) << down.out;
  EXPECT_EQ(run({swarmctl(), "--metastore", "ftp://x", "ls"}).code, 1);
}

// Every subcommand answers --help with rc 0; every binary answers --version with the version,
// revision and build type; the completion scripts come from the same table and parse.
TEST(Swarmctl, HelpVersionAndCompletion) {
  for (std::string cmd : {"create", "publish", "get", "status", "ls", "rm", "nodes", "completion"}) {
    auto r = run({swarmctl(), cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("usage: swarmctl " + cmd), std::string::npos) << r.out;
  }
  auto top = run({swarmctl(), "--help"});
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("status KEY"), std::string::npos) << top.out;
  EXPECT_EQ(run({swarmctl(), "get", "--bogus"}).code, 2);

  for (std::string bin : {"services/swarmctl/swarmctl", "services/tracker/swarmcache-tracker",
                          "services/metastore/swarmcache-metastore", "services/seeder/swarmcache-seeder",
                          "services/leecher/swarmcache-leecher", "services/proxy/swarmcache-proxy",
                          "services/dashboard/swarmcache-dashboard"}) {
    auto r = run({test::build_path(bin), "--version"});
    EXPECT_EQ(r.code, 0) << bin << ": " << r.out;
    std::string name = fs::path(bin).filename();
    EXPECT_TRUE(r.out.starts_with(name + " 0.")) << r.out;
    EXPECT_NE(r.out.find(", "), std::string::npos) << "revision and build type: " << r.out;
  }

  auto bash = run({swarmctl(), "completion", "bash"});
  ASSERT_EQ(bash.code, 0) << bash.out;
  test::TempDir dir;
  test::write_file(dir.file("swarmctl.bash"), bash.out);
  // Loads in bash, and completes a subcommand's options from the table.
  auto loaded = run({"bash", "-c", "source " + dir.file("swarmctl.bash") +
                                       " && COMP_WORDS=(swarmctl get --st) COMP_CWORD=2 && _swarmctl && "
                                       "echo \"${COMPREPLY[*]}\""});
  EXPECT_EQ(loaded.code, 0) << loaded.out;
  EXPECT_NE(loaded.out.find("--stall-timeout"), std::string::npos) << loaded.out;
  auto zsh = run({swarmctl(), "completion", "zsh"});
  EXPECT_EQ(zsh.code, 0);
  EXPECT_TRUE(zsh.out.starts_with("#compdef swarmctl")) << zsh.out;
  for (std::string opt : {"--stall-timeout", "--no-seed-ok", "--seed", "--peer-listen"}) {
    EXPECT_NE(bash.out.find(opt), std::string::npos) << opt;
    EXPECT_NE(zsh.out.find(opt), std::string::npos) << opt;
  }
}

// publish --seed keeps seeding in the foreground, so get completes from it alone; get says
// plainly when nothing seeds a key; status shows every node's progress and sources.
TEST(Swarmctl, PublishSeedGetStallAndStatus) {
  Cluster c;
  auto with = [&](std::vector<std::string> more) { return swarmctl_on(c, std::move(more)); };
  write_random_file(c.path("mine/blob.bin"), 3'000'000, 8);
  test::Process seed(with({"publish", c.path("mine/blob.bin"), "--seed"}), {{"SWARMCACHE_PEER_LISTEN", "127.0.0.1:0"}});
  ASSERT_TRUE(seed.wait_for_output("seeding files/blob.bin", 60s)) << seed.output();
  auto get = run(with({"get", "files/blob.bin", "-o", c.path("got"), "--peer-listen", "127.0.0.1:0", "--timeout", "90s"}),
                 120s);
  ASSERT_EQ(get.code, 0) << get.out << "\n" << seed.output();
  EXPECT_EQ(sha256_file(c.path("got/blob.bin")), sha256_file(c.path("mine/blob.bin")));
  auto stopped = seed.stop(SIGINT, 20s);
  ASSERT_TRUE(stopped);
  EXPECT_TRUE(WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0) << seed.output();

  // Registered, but the only seed is gone: get gives up with a plain reason.
  auto stall = run(with({"get", "files/blob.bin", "-o", c.path("got2"), "--peer-listen", "127.0.0.1:0",
                         "--stall-timeout", "2s"}),
                   60s);
  EXPECT_EQ(stall.code, 1) << stall.out;
  EXPECT_NE(stall.out.find("nothing seeds this key"), std::string::npos) << stall.out;

  // status: a seeder and a leecher with the key, seen through a dashboard.
  write_random_file(c.path("data/s.bin"), 2'000'000, 9);
  auto seeder = c.seeder("seeder-s", c.path("data"));
  auto leecher = c.leecher("leecher-s");
  ASSERT_TRUE(Cluster::wait_complete({leecher.get()}, {"files/s.bin"}, 120s));
  test::Process dash({test::build_path("services/dashboard/swarmcache-dashboard"), "--listen", "127.0.0.1:0",
                      "--metastore", c.metastore_url(), "--poll-interval", "200ms"});
  auto port = dash.wait_for_number("http_port", 10s);
  ASSERT_TRUE(port) << dash.output();
  std::vector<std::string> status_argv = with({"--dashboard", "http://127.0.0.1:" + std::to_string(*port), "status", "files/s.bin"});
  decltype(run({})) status;
  ASSERT_TRUE(test::wait_until(
      [&] {
        status = run(status_argv);
        return status.code == 0 && status.out.find("2/2 node(s) complete") != std::string::npos;
      },
      30s, 200ms))
      << status.out;
  EXPECT_NE(status.out.find("seeder-s"), std::string::npos) << status.out;
  // The leecher's line names the seeder as its source.
  auto line_at = status.out.find("\nleecher-s");
  ASSERT_NE(line_at, std::string::npos) << status.out;
  std::string line = status.out.substr(line_at + 1, status.out.find('\n', line_at + 1) - line_at - 1);
  EXPECT_NE(line.find("100.0%"), std::string::npos) << line;
  EXPECT_NE(line.find("seeder-s "), std::string::npos) << line;
  auto missing = run(with({"--dashboard", "http://127.0.0.1:" + std::to_string(*port), "status", "files/none"}));
  EXPECT_EQ(missing.code, 1) << missing.out;
}

}  // namespace
}  // namespace sc::swarmtest
