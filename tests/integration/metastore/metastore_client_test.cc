// The metastore client (async, and the blocking wrapper over it) against the real
// swarmcache-metastore binary on a real redis-server: routes, auth header, and the status →
// Errc mapping (not_found, conflict, unauthorized) every caller relies on.
#include "common/swarm/metastore_client.h"

#include <gtest/gtest.h>

#include <fstream>
#include <optional>

#include "common/io/event_loop.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "client-test-token";

// A valid single-file v1 torrent; the name picks the info hash.
std::string torrent(const std::string& name) {
  return "d8:announce27:http://127.0.0.1:1/announce4:infod6:lengthi40000e4:name" + std::to_string(name.size()) + ":" +
         name + "12:piece lengthi16384e6:pieces60:" + std::string(60, 'h') + "ee";
}

class MetastoreClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.file("tokens")) << kToken << "\n";
    proc_ = std::make_unique<test::Process>(std::vector<std::string>{
        test::build_path("services/metastore/swarmcache-metastore"), "--listen", "127.0.0.1:0", "--redis", redis_.url(),
        "--auth-tokens", dir_.file("tokens"), "--log-level", "warn"});
    auto p = proc_->wait_for_number("http_port", 10s);
    ASSERT_TRUE(p) << proc_->output();
    url_ = "http://127.0.0.1:" + std::to_string(*p);
  }

  // Runs the loop until `got` is set or 10 s passed.
  template <class T>
  bool wait(std::optional<T>& got) {
    bool expired = false;
    auto deadline = loop_.after(10'000, [&] { expired = true; });
    auto poll = loop_.every(5, [&] {
      if (got || expired) loop_.stop();
    });
    if (!got) loop_.run();
    return got.has_value();
  }

  test::RedisServer redis_;
  test::TempDir dir_;
  std::unique_ptr<test::Process> proc_;
  std::string url_;
  EventLoop loop_;
};

TEST_F(MetastoreClientTest, AsyncTorrentsLeasesAndQuarantine) {
  MetastoreAsync ms(loop_, {url_, kToken, 5000});
  const std::string key = "ostree/remote/deltas/a b";  // a slash and a space in the path
  std::optional<Status> put;
  ms.put_torrent(key, torrent("one"), [&](Status st) { put = st; });
  EXPECT_FALSE(put) << "answered inside the call";
  ASSERT_TRUE(wait(put));
  ASSERT_TRUE(*put) << put->error().message;

  std::optional<Result<std::optional<std::string>>> got;
  ms.get_torrent(key, [&](auto r) { got = std::move(r); });
  ASSERT_TRUE(wait(got));
  ASSERT_TRUE(*got) << got->error().message;
  ASSERT_TRUE(**got);
  EXPECT_EQ(***got, torrent("one"));

  std::optional<Result<std::optional<std::string>>> missing;
  ms.get_torrent("files/missing", [&](auto r) { missing = std::move(r); });
  ASSERT_TRUE(wait(missing));
  ASSERT_TRUE(*missing) << missing->error().message;
  EXPECT_FALSE(**missing);

  std::optional<Status> other;
  ms.put_torrent(key, torrent("two"), [&](Status st) { other = st; });
  ASSERT_TRUE(wait(other));
  ASSERT_FALSE(*other);
  EXPECT_EQ(other->error().code, Errc::conflict) << other->error().message;

  std::optional<Result<bool>> mine, theirs, after_release;
  ms.take_lease(key, "node-a", 60'000, [&](auto r) { mine = r; });
  ASSERT_TRUE(wait(mine));
  ASSERT_TRUE(*mine) << mine->error().message;
  EXPECT_TRUE(**mine);
  ms.take_lease(key, "node-b", 60'000, [&](auto r) { theirs = r; });
  ASSERT_TRUE(wait(theirs));
  ASSERT_TRUE(*theirs);
  EXPECT_FALSE(**theirs);
  ms.release_lease(key, "node-a");
  // The release is fire-and-forget: node-b gets the lease once it has landed.
  for (int i = 0; i < 100; ++i) {
    after_release.reset();
    ms.take_lease(key, "node-b", 60'000, [&](auto r) { after_release = r; });
    ASSERT_TRUE(wait(after_release));
    ASSERT_TRUE(*after_release);
    if (**after_release) break;
  }
  EXPECT_TRUE(**after_release);

  auto meta = MetastoreClient::create({url_, kToken, 5000})->get_meta(key);
  ASSERT_TRUE(meta) << meta.error().message;
  std::optional<Result<bool>> removed;
  ms.quarantine(key, meta->infohash, "test", [&](auto r) { removed = r; });
  ASSERT_TRUE(wait(removed));
  ASSERT_TRUE(*removed) << removed->error().message;
  EXPECT_TRUE(**removed);
  std::optional<Result<std::optional<std::string>>> gone;
  ms.get_torrent(key, [&](auto r) { gone = std::move(r); });
  ASSERT_TRUE(wait(gone));
  ASSERT_TRUE(*gone);
  EXPECT_FALSE(**gone);

  MetastoreAsync anonymous(loop_, {url_, "wrong-token", 5000});
  std::optional<Status> refused;
  anonymous.put_torrent("files/x", torrent("three"), [&](Status st) { refused = st; });
  ASSERT_TRUE(wait(refused));
  ASSERT_FALSE(*refused);
  EXPECT_EQ(refused->error().code, Errc::unauthorized) << refused->error().message;
}

TEST_F(MetastoreClientTest, BlockingWrapperMapsStatuses) {
  auto c = MetastoreClient::create({url_, kToken, 5000});
  ASSERT_TRUE(c);
  auto first = c->put_torrent("files/a", torrent("a"));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, 201);
  auto again = c->put_torrent("files/a", torrent("a"));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 200);
  auto bytes = c->get_torrent("files/a");
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, torrent("a"));
  auto page = c->list("files/", 10, "");
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->items.size(), 1u);
  ASSERT_TRUE(c->remove("files/a"));
  auto missing = c->get_torrent("files/a");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("404"), std::string::npos) << missing.error().message;
  auto bad_url = MetastoreClient::create({"ftp://127.0.0.1/", "", 1000});
  ASSERT_FALSE(bad_url);
  EXPECT_EQ(bad_url.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace sc
