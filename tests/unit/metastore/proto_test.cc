// Unit tests for the metastore's pure parts: content key rules, .torrent validation (v1, v2,
// hybrid, malformed and oversized input, real mktorrent output) and the API JSON shapes.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "common/core/bencode.h"
#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "proto/content_key.h"
#include "proto/metainfo.h"
#include "proto/metastore_api.h"
#include "tests/support/support.h"

namespace sc {
namespace {

// --- content keys -------------------------------------------------------------------------

TEST(ContentKey, AcceptsTheFourKinds) {
  std::string hex(64, 'a');
  auto b = parse_content_key("sha256:" + hex);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->kind, KeyKind::blob);
  EXPECT_EQ(parse_content_key("ostree/repo.example.com/deltas/ab/cdef/superblock")->kind, KeyKind::ostree);
  EXPECT_EQ(parse_content_key("files/a/b c/d.iso")->kind, KeyKind::file);
  EXPECT_EQ(parse_content_key("dirs/datasets")->kind, KeyKind::dir);
  EXPECT_TRUE(is_valid_content_key("files/caf\xc3\xa9.txt"));
  EXPECT_EQ(key_kind_name(KeyKind::dir), "dir");
}

TEST(ContentKey, RefusesEverythingElse) {
  std::string hex(64, 'a');
  const std::string bad[] = {
      "",
      "sha256:" + hex.substr(1),             // 63 digits
      "sha256:" + std::string(64, 'A'),      // upper case
      "sha256:" + std::string(63, 'a') + "g",
      "sha512:" + hex,
      "files/",
      "files",
      "files/a//b",
      "files/a/",
      "files/../etc/passwd",
      "files/a/../../b",
      "files/./a",
      "dirs/..",
      "ostree/hostonly",
      "ostree//x",
      std::string("files/a\0b", 9),
      "files/a\nb",
      "files/a\x7f",
      "files/a\\b",
      "files/\xff\xfe",                        // invalid UTF-8
      "files/\xc0\xaf",                        // overlong '/'
      "files/" + std::string(kMaxKeySegmentBytes + 1, 'x'),
      "files/" + std::string(kMaxKeyBytes, 'x'),
      "other/thing",
      "/files/a",
  };
  for (auto& k : bad) EXPECT_FALSE(is_valid_content_key(k)) << k;
}

// --- metainfo -----------------------------------------------------------------------------

BValue str(std::string s) { return BValue{std::move(s)}; }
BValue num(int64_t n) { return BValue{n}; }
BValue dict(BDict d) {
  std::sort(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return BValue{std::move(d)};
}
BValue list(BList l) { return BValue{std::move(l)}; }

constexpr int64_t kPiece = 16384;

BValue v1_single_info(int64_t length, std::string name = "file.bin") {
  int64_t pieces = (length + kPiece - 1) / kPiece;
  return dict({{"name", str(name)}, {"piece length", num(kPiece)}, {"length", num(length)},
               {"pieces", str(std::string(20 * pieces, 'x'))}});
}

std::string torrent(BValue info) { return bencode(dict({{"announce", str("http://t/announce")}, {"info", std::move(info)}})); }

TEST(Metainfo, SingleFileV1) {
  BValue info = v1_single_info(40000);
  std::string raw_info = bencode(info);
  auto m = parse_metainfo(torrent(info));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->has_v1);
  EXPECT_FALSE(m->has_v2);
  EXPECT_EQ(m->name, "file.bin");
  EXPECT_EQ(m->total_size, 40000);
  EXPECT_EQ(m->piece_length, kPiece);
  EXPECT_EQ(m->piece_count, 3);
  ASSERT_EQ(m->files.size(), 1u);
  EXPECT_EQ(m->files[0].path, "file.bin");
  EXPECT_EQ(m->v1_hex(), to_hex(sha1(raw_info)));
  EXPECT_EQ(m->infohash_hex(), m->v1_hex());
  EXPECT_EQ(m->v2_hex(), "");
}

TEST(Metainfo, MultiFileV1WithPadding) {
  BList files;
  files.push_back(dict({{"length", num(1000)}, {"path", list({str("a"), str("x.txt")})}}));
  files.push_back(dict({{"length", num(kPiece - 1000)}, {"attr", str("p")}, {"path", list({str(".pad"), str("15384")})}}));
  files.push_back(dict({{"length", num(5)}, {"path", list({str("b")})}}));
  BValue info = dict({{"name", str("dir")}, {"piece length", num(kPiece)}, {"files", list(files)},
                      {"pieces", str(std::string(40, 'x'))}});
  auto m = parse_metainfo(torrent(info));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->total_size, 1005);
  ASSERT_EQ(m->files.size(), 3u);
  EXPECT_EQ(m->files[0].path, "a/x.txt");
  EXPECT_TRUE(m->files[1].pad);
  EXPECT_EQ(m->piece_count, 2);
}

BValue v2_tree() {
  BValue leaf_a = dict({{"", dict({{"length", num(20000)}, {"pieces root", str(std::string(32, 'r'))}})}});
  BValue leaf_b = dict({{"", dict({{"length", num(0)}})}});
  return dict({{"a.bin", leaf_a}, {"sub", dict({{"b.bin", leaf_b}})}});
}

TEST(Metainfo, PureV2AndHybrid) {
  BValue info = dict({{"name", str("v2")}, {"piece length", num(kPiece)}, {"meta version", num(2)}, {"file tree", v2_tree()}});
  std::string raw = bencode(info);
  auto m = parse_metainfo(torrent(info));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_FALSE(m->has_v1);
  EXPECT_TRUE(m->has_v2);
  EXPECT_EQ(m->total_size, 20000);
  EXPECT_EQ(m->v2_hex(), to_hex(sha256(raw)));
  EXPECT_EQ(m->infohash_hex(), m->v2_hex());
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[1].path, "sub/b.bin");

  BList files;
  files.push_back(dict({{"length", num(20000)}, {"path", list({str("a.bin")})}}));
  files.push_back(dict({{"length", num(0)}, {"path", list({str("sub"), str("b.bin")})}}));
  BValue hybrid = dict({{"name", str("v2")}, {"piece length", num(kPiece)}, {"meta version", num(2)}, {"file tree", v2_tree()},
                        {"files", list(files)}, {"pieces", str(std::string(40, 'x'))}});
  auto h = parse_metainfo(torrent(hybrid));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->has_v1);
  EXPECT_TRUE(h->has_v2);
  EXPECT_EQ(h->v1_hex().size(), 40u);
  EXPECT_EQ(h->v2_hex().size(), 64u);
  EXPECT_EQ(h->infohash_hex(), h->v1_hex());

  // A hybrid whose two halves disagree is refused.
  files[0] = dict({{"length", num(20001)}, {"path", list({str("a.bin")})}});
  BValue liar = dict({{"name", str("v2")}, {"piece length", num(kPiece)}, {"meta version", num(2)}, {"file tree", v2_tree()},
                      {"files", list(files)}, {"pieces", str(std::string(40, 'x'))}});
  EXPECT_FALSE(parse_metainfo(torrent(liar)));
}

TEST(Metainfo, RefusesMalformed) {
  auto with = [](std::string_view key, BValue v) {
    BValue info = v1_single_info(40000);
    auto& d = std::get<BDict>(info.v);
    bool found = false;
    for (auto& [k, val] : d) {
      if (k == key) {
        val = v;
        found = true;
      }
    }
    if (!found) d.emplace_back(std::string(key), v);
    return torrent(dict(d));
  };
  const std::pair<std::string, std::string> cases[] = {
      {"not bencode", "hello"},
      {"not a dict", "i42e"},
      {"no info", bencode(dict({{"announce", str("x")}}))},
      {"info not dict", bencode(dict({{"info", str("x")}}))},
      {"trailing", torrent(v1_single_info(10)) + "x"},
      {"piece length 0", with("piece length", num(0))},
      {"piece length not pow2", with("piece length", num(20000))},
      {"piece length tiny", with("piece length", num(1024))},
      {"piece length huge", with("piece length", num(int64_t{1} << 30))},
      {"pieces not multiple of 20", with("pieces", str(std::string(59, 'x')))},
      {"pieces count mismatch", with("pieces", str(std::string(40, 'x')))},
      {"negative length", with("length", num(-1))},
      {"name empty", with("name", str(""))},
      {"name dotdot", with("name", str(".."))},
      {"name with slash", with("name", str("a/b"))},
      {"name control", with("name", str("a\x01"))},
      {"length and files", with("files", list({}))},
      {"meta version 3", with("meta version", num(3))},
      {"v2 without tree", with("meta version", num(2))},
  };
  for (auto& [what, bytes] : cases) {
    auto m = parse_metainfo(bytes);
    EXPECT_FALSE(m) << what;
    if (!m) {
      EXPECT_EQ(m.error().code, Errc::invalid_argument) << what;
    }
  }
  BList files;
  files.push_back(dict({{"length", num(10)}, {"path", list({str(".."), str("etc")})}}));
  BValue escape = dict({{"name", str("d")}, {"piece length", num(kPiece)}, {"files", list(files)}, {"pieces", str(std::string(20, 'x'))}});
  EXPECT_FALSE(parse_metainfo(torrent(escape)));
}

TEST(Metainfo, LimitsGiveTooLarge) {
  MetainfoLimits small;
  small.bencode.max_size = 100;
  auto big = parse_metainfo(torrent(v1_single_info(16384 * 10)), small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);
  std::string deep(100, 'l');
  deep += std::string(100, 'e');
  // Nesting past the depth limit in a small document is malformed (400), not too large (413).
  auto d = parse_metainfo("d4:info" + deep + "e");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::invalid_argument);
}

TEST(Metainfo, RefusesAPathListedTwice) {
  auto multi = [](std::vector<std::vector<std::string>> paths) {
    BList files;
    for (auto& p : paths) {
      BList segs;
      for (auto& s : p) segs.push_back(str(s));
      files.push_back(dict({{"length", num(10)}, {"path", list(segs)}}));
    }
    int64_t pieces = (10 * static_cast<int64_t>(paths.size()) + kPiece - 1) / kPiece;
    return torrent(dict({{"name", str("d")}, {"piece length", num(kPiece)}, {"files", list(files)},
                         {"pieces", str(std::string(20 * pieces, 'x'))}}));
  };
  ASSERT_TRUE(parse_metainfo(multi({{"a"}, {"b"}, {"c", "a"}})));
  auto twice = parse_metainfo(multi({{"a", "x"}, {"b"}, {"a", "x"}}));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Errc::invalid_argument);
  EXPECT_NE(twice.error().message.find("twice"), std::string::npos);
  auto file_and_dir = parse_metainfo(multi({{"a"}, {"a", "b"}}));
  ASSERT_FALSE(file_and_dir);
  EXPECT_EQ(file_and_dir.error().code, Errc::invalid_argument);
}

TEST(Metainfo, RealMktorrentOutput) {
  test::TempDir dir;
  {
    std::ofstream f(dir.file("data.bin"), std::ios::binary);
    for (int i = 0; i < 100000; ++i) f.put(static_cast<char>(i * 7));
  }
  std::string cmd = "mktorrent -a http://127.0.0.1:1/announce -l 15 -o " + dir.file("t.torrent") + " " + dir.file("data.bin") +
                    " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(dir.file("t.torrent"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto m = parse_metainfo(ss.str());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->name, "data.bin");
  EXPECT_EQ(m->total_size, 100000);
  EXPECT_EQ(m->piece_length, 32768);
  EXPECT_EQ(m->piece_count, 4);
  // The hash covers exactly the uploaded info bytes.
  std::string bytes = ss.str();
  size_t at = bytes.find("4:infod");
  ASSERT_NE(at, std::string::npos);
  std::string raw_info = bytes.substr(at + 6, bytes.size() - 1 - (at + 6));
  EXPECT_EQ(m->v1_hex(), to_hex(sha1(raw_info)));
}

// --- API JSON -----------------------------------------------------------------------------

TEST(MetastoreApi, RoundTrips) {
  TorrentMeta m{"files/a", "file", std::string(40, 'a'), std::string(40, 'a'), "", "a", 10, 16384, {{"a", 10}}, 1, 2};
  auto m2 = torrent_meta_from_json(to_json(m));
  ASSERT_TRUE(m2) << m2.error().message;
  EXPECT_EQ(m2->key, "files/a");
  EXPECT_EQ(m2->files.size(), 1u);
  EXPECT_EQ(m2->last_access, 2);

  TorrentPage p{{{"files/a", "ab", 3}, {"files/b", "cd", 4}}, "c1"};
  auto p2 = torrent_page_from_json(to_json(p));
  ASSERT_TRUE(p2);
  EXPECT_EQ(p2->items.size(), 2u);
  EXPECT_EQ(p2->cursor, "c1");

  EventsPage e{{{"1-0", "put", "files/a", "ab"}, {"2-0", "delete", "files/a", "ab"}}, "2-0"};
  auto e2 = events_page_from_json(to_json(e));
  ASSERT_TRUE(e2);
  ASSERT_EQ(e2->events.size(), 2u);
  EXPECT_EQ(e2->events[1].type, "delete");
  EXPECT_EQ(e2->last_id, "2-0");

  NodeInfo n{"n1", "seeder", "http://h:7880", {"ab", "cd"}, R"({"up":5})", 30000, 9};
  auto n2 = node_info_from_json(to_json(n));
  ASSERT_TRUE(n2) << n2.error().message;
  EXPECT_EQ(n2->swarms.size(), 2u);
  EXPECT_EQ(n2->info_json, R"({"up":5})");
  auto nl = node_list_from_json(to_json(NodeList{{n, n}}));
  ASSERT_TRUE(nl);
  EXPECT_EQ(nl->nodes.size(), 2u);

  auto lr = lease_request_from_json(to_json(LeaseRequest{"proxy-1", 5000}));
  ASSERT_TRUE(lr);
  EXPECT_EQ(lr->holder, "proxy-1");
  auto l = lease_from_json(to_json(Lease{"sha256:x", "proxy-1", 10}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->ttl_ms, 10);

  auto err = error_from_json(error_json("conflict", "key holds another torrent"));
  ASSERT_TRUE(err);
  EXPECT_EQ(err->message, "conflict: key holds another torrent");
}

TEST(MetastoreApi, RefusesBadInput) {
  EXPECT_FALSE(lease_request_from_json("{"));
  EXPECT_FALSE(lease_request_from_json("[]"));
  EXPECT_FALSE(lease_request_from_json(R"({"holder":"a"})"));
  EXPECT_FALSE(lease_request_from_json(R"({"holder":"","ttl_ms":5})"));
  EXPECT_FALSE(lease_request_from_json(R"({"holder":"a","ttl_ms":0})"));
  EXPECT_FALSE(lease_request_from_json(R"({"holder":1,"ttl_ms":5})"));
  EXPECT_FALSE(lease_request_from_json(R"({"holder":"a","holder":"b","ttl_ms":5})"));
  EXPECT_FALSE(node_info_from_json(R"({"swarms":"x"})"));
  EXPECT_FALSE(node_info_from_json(R"({"info":[1]})"));
  std::string deep(5000, '[');
  EXPECT_FALSE(node_info_from_json(deep));
  auto huge = node_info_from_json(std::string(kMaxApiJsonBytes + 1, ' '));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Errc::too_large);
}

}  // namespace
}  // namespace sc
