// Pure parts of the swarm nodes: the status document is valid JSON whatever the names hold,
// metastore URL and key handling, token files, the leecher's selector and its state file.
#include <gtest/gtest.h>

#include <fstream>

#include "common/swarm/metastore_client.h"
#include "common/swarm/node.h"
#include "services/leecher/leecher.h"
#include "services/leecher/leecher_state.h"
#include "tests/support/support.h"

namespace sc {
namespace {

TEST(StatusJson, IsValidJsonWithHostileNames) {
  TorrentStatus t;
  t.key = "files/we\"ird\\name\n\x01.bin";
  t.infohash = std::string(40, 'a');
  t.name = "we\"ird";
  t.size = 123;
  t.progress = 0.5;
  t.state = "downloading";
  t.provenance.push_back({"127.0.0.1:1", "-SC0100-", "-SC0100-\\x01node", 10, 20, 1, true});
  t.piece_source = {0, -1};
  Json extra = Json::array();
  extra.push(Json::integer(1)).push(Json::integer(2));
  std::string doc = render_status_json({{"id", Json::string("n\"1")}}, {t}, {{"extra", extra}});
  auto root = json_parse(doc);
  ASSERT_TRUE(root) << root.error().message << "\n" << doc;
  Json t0 = root->get("torrents").at(0);
  EXPECT_EQ(t0.get("key").as_string(), t.key);
  EXPECT_EQ(t0.get("size").as_int(), 123);
  EXPECT_DOUBLE_EQ(t0.get("progress").as_number(), 0.5);
  ASSERT_TRUE(t0.get("complete").is_bool());
  EXPECT_FALSE(t0.get("complete").as_bool());
  EXPECT_EQ(t0.get("provenance").at(0).get("bytes_taken").as_int(), 20);
  EXPECT_EQ(t0.get("piece_source").size(), 2u);
  EXPECT_EQ(root->get("node").get("id").as_string(), "n\"1");
  EXPECT_EQ(root->get("extra").size(), 2u);
}

TEST(MetastoreClient, UrlKeysAndTokens) {
  EXPECT_FALSE(MetastoreClient::create({.base_url = "ftp://x"}));
  EXPECT_FALSE(MetastoreClient::create({.base_url = "http://:80"}));
  EXPECT_FALSE(MetastoreClient::create({.base_url = "http://h:99999"}));
  EXPECT_TRUE(MetastoreClient::create({.base_url = "http://metastore:7070/"}));
  EXPECT_TRUE(MetastoreClient::create({.base_url = "http://[::1]:7070/prefix"}));
  EXPECT_EQ(key_path("files/a b/c.bin"), "files/a%20b/c.bin");
  EXPECT_EQ(key_path("sha256:ab"), "sha256%3Aab");
  test::TempDir d;
  std::ofstream(d.file("t")) << "  secret-token \n second line\n";
  EXPECT_EQ(*read_token_file(d.file("t")), "secret-token");
  EXPECT_EQ(*read_token_file(""), "");
  EXPECT_FALSE(read_token_file(d.file("missing")));
  // A dead metastore fails fast with a message naming what failed.
  auto c = MetastoreClient::create({.base_url = "http://127.0.0.1:" + std::to_string(test::free_port()), .timeout_ms = 2000});
  ASSERT_TRUE(c);
  auto r = c->list("", 10, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unavailable);
}

TEST(Leecher, SelectorGlobs) {
  EXPECT_TRUE(key_selected("*", "files/a/b.bin"));
  EXPECT_TRUE(key_selected("", "dirs/x"));
  EXPECT_TRUE(key_selected("files/*", "files/a/b.bin"));
  EXPECT_FALSE(key_selected("files/*", "dirs/a"));
  EXPECT_TRUE(key_selected("files/*.iso", "files/os/debian.iso"));
  EXPECT_FALSE(key_selected("files/*.iso", "files/os/debian.img"));
  EXPECT_TRUE(key_selected("sha256:*", "sha256:abcd"));
}

TEST(Leecher, StateRoundTripsAndRejectsGarbage) {
  test::TempDir d;
  auto empty = load_leecher_state(d.path());
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->last_event_id.empty());
  LeecherState s;
  s.last_event_id = "1700000000000-3";
  s.items["files/a \"b\".bin"] = {std::string(40, 'c'), true, false, 42};
  s.items["dirs/x"] = {std::string(40, 'd'), false, true, 0};
  ASSERT_TRUE(save_leecher_state(d.path(), s));
  auto back = load_leecher_state(d.path());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->last_event_id, s.last_event_id);
  ASSERT_EQ(back->items.size(), 2u);
  EXPECT_TRUE(back->items["files/a \"b\".bin"].complete);
  EXPECT_EQ(back->items["files/a \"b\".bin"].completed_at_ms, 42);
  EXPECT_TRUE(back->items["dirs/x"].retired);
  std::ofstream(d.file("leecher.json")) << "{not json";
  EXPECT_FALSE(load_leecher_state(d.path()));
}

}  // namespace
}  // namespace sc
