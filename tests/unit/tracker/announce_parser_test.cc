// proto/announce: query parsing (every refusal has a precise reason) and response writers
// (checked by decoding them with the real bencode decoder).
#include "proto/announce.h"

#include <gtest/gtest.h>

#include "common/core/bencode.h"

namespace sc {
namespace {

const std::string kIh = "%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13%14";
const std::string kPid = "-AR1360-abcdefghijkl";

std::string base() { return "info_hash=" + kIh + "&peer_id=" + kPid + "&port=6881&left=100"; }

Error parse_err(const std::string& q) {
  AnnounceRequest r;
  auto st = parse_announce(q, r);
  EXPECT_FALSE(st) << q;
  return st ? Error{} : st.error();
}

TEST(AnnounceParser, ParsesAFullAnnounce) {
  AnnounceRequest r;
  auto st = parse_announce(base() + "&uploaded=5&downloaded=7&event=started&numwant=30&compact=1&no_peer_id=1"
                                    "&key=abc&supportcrypto=1&ip=10.1.2.3&jwt=a.b%2Ec",
                           r);
  ASSERT_TRUE(st) << st.error().message;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.info_hash[i], i + 1);
  EXPECT_EQ(std::string(r.peer_id.begin(), r.peer_id.end()), kPid);
  EXPECT_EQ(r.port, 6881);
  EXPECT_EQ(r.left, 100u);
  EXPECT_EQ(r.uploaded, 5u);
  EXPECT_EQ(r.downloaded, 7u);
  EXPECT_EQ(r.event, AnnounceEvent::started);
  EXPECT_EQ(r.numwant, 30);
  EXPECT_TRUE(r.compact);
  EXPECT_TRUE(r.no_peer_id);
  EXPECT_EQ(r.ip, "10.1.2.3");
  EXPECT_EQ(r.jwt, "a.b.c");
}

TEST(AnnounceParser, DefaultsAndReuse) {
  AnnounceRequest r;
  ASSERT_TRUE(parse_announce(base() + "&event=stopped&numwant=3&compact=0&ip=1.2.3.4", r));
  EXPECT_FALSE(r.compact);
  ASSERT_TRUE(parse_announce(base(), r));
  EXPECT_EQ(r.event, AnnounceEvent::none);
  EXPECT_EQ(r.numwant, -1);
  EXPECT_TRUE(r.compact);
  EXPECT_TRUE(r.ip.empty());
  EXPECT_EQ(r.uploaded, 0u);
}

TEST(AnnounceParser, EventsAndPlus) {
  AnnounceRequest r;
  ASSERT_TRUE(parse_announce(base() + "&event=completed", r));
  EXPECT_EQ(r.event, AnnounceEvent::completed);
  ASSERT_TRUE(parse_announce(base() + "&event=", r));
  EXPECT_EQ(r.event, AnnounceEvent::none);
  ASSERT_TRUE(parse_announce(base() + "&event=paused", r));
  EXPECT_EQ(r.event, AnnounceEvent::none);
  EXPECT_EQ(parse_err(base() + "&event=exploded").message, "invalid event: exploded");
  // '+' is a space in form encoding, so a raw '+' changes the peer id.
  ASSERT_TRUE(parse_announce("info_hash=" + kIh + "&peer_id=-AR1360-abcdefghij+l&port=1&left=0", r));
  EXPECT_EQ(r.peer_id[18], ' ');
}

TEST(AnnounceParser, MissingParameters) {
  EXPECT_EQ(parse_err("peer_id=" + kPid + "&port=1&left=0").message, "missing parameter: info_hash");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "&port=1&left=0").message, "missing parameter: peer_id");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "&peer_id=" + kPid + "&left=0").message, "missing parameter: port");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "&peer_id=" + kPid + "&port=1").message, "missing parameter: left");
  EXPECT_EQ(parse_err("").message, "missing parameter: info_hash");
}

TEST(AnnounceParser, DuplicateParameters) {
  EXPECT_EQ(parse_err(base() + "&port=7").message, "duplicate parameter: port");
  EXPECT_EQ(parse_err(base() + "&info_hash=" + kIh).message, "duplicate parameter: info_hash");
  // A percent-encoded name is the same parameter.
  EXPECT_EQ(parse_err(base() + "&%70ort=7").message, "duplicate parameter: port");
  // Unknown parameters may repeat.
  AnnounceRequest r;
  EXPECT_TRUE(parse_announce(base() + "&x=1&x=2", r));
}

TEST(AnnounceParser, Lengths) {
  EXPECT_EQ(parse_err("info_hash=abc&peer_id=" + kPid + "&port=1&left=0").message, "invalid info_hash: 3 bytes, want 20");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "%15&peer_id=" + kPid + "&port=1&left=0").message,
            "invalid info_hash: longer than 20 bytes");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "&peer_id=short&port=1&left=0").message, "invalid peer_id: 5 bytes, want 20");
  EXPECT_EQ(parse_err("info_hash&peer_id=" + kPid + "&port=1&left=0").message, "invalid info_hash: 0 bytes, want 20");
}

TEST(AnnounceParser, Numbers) {
  auto q = [](std::string extra) { return "info_hash=" + kIh + "&peer_id=" + kPid + "&left=0&" + extra; };
  EXPECT_EQ(parse_err(q("port=0")).message, "invalid port: 0");
  EXPECT_EQ(parse_err(q("port=65536")).message, "invalid port: 65536");
  EXPECT_EQ(parse_err(q("port=12a")).message, "invalid port: 12a");
  EXPECT_EQ(parse_err(q("port=-1")).message, "invalid port: -1");
  EXPECT_EQ(parse_err(q("port=")).message, "invalid port: ");
  EXPECT_EQ(parse_err(base() + "&uploaded=1e5").message, "invalid uploaded: 1e5");
  EXPECT_EQ(parse_err(base() + "&downloaded=99999999999999999999999").message.substr(0, 19), "invalid downloaded:");
  EXPECT_EQ(parse_err("info_hash=" + kIh + "&peer_id=" + kPid + "&port=1&left=x").message, "invalid left: x");
  EXPECT_EQ(parse_err(base() + "&numwant=abc").message, "invalid numwant: abc");
  EXPECT_EQ(parse_err(base() + "&numwant=5000000").message, "invalid numwant: 5000000 (max 1000000)");
  EXPECT_EQ(parse_err(base() + "&numwant=18446744073709551616").code, Errc::invalid_argument);
  AnnounceRequest r;
  ASSERT_TRUE(parse_announce(base() + "&numwant=-1", r));
  EXPECT_EQ(r.numwant, -1);
  ASSERT_TRUE(parse_announce(base() + "&uploaded=18446744073709551615", r));
  EXPECT_EQ(r.uploaded, UINT64_MAX);
}

TEST(AnnounceParser, MalformedEscapes) {
  EXPECT_EQ(parse_err("info_hash=%0&peer_id=" + kPid + "&port=1&left=0").message,
            "malformed percent-escape in parameter info_hash");
  EXPECT_EQ(parse_err(base() + "&port%=1").message, "malformed percent-escape in a parameter name");
  EXPECT_EQ(parse_err(base() + "&other=%zz").message, "malformed percent-escape in a parameter value");
  EXPECT_EQ(parse_err(base() + "&numwant=%3").message, "malformed percent-escape in parameter numwant");
  EXPECT_EQ(parse_err(base() + "&ip=%").message, "malformed percent-escape in parameter ip");
}

TEST(AnnounceParser, Bounds) {
  std::string q = base();
  for (int i = 0; i < 70; ++i) q += "&p" + std::to_string(i) + "=1";
  auto e = parse_err(q);
  EXPECT_EQ(e.code, Errc::too_large);
  EXPECT_EQ(e.message, "too many parameters (max 64)");
  e = parse_err(base() + "&pad=" + std::string(5000, 'a'));
  EXPECT_EQ(e.code, Errc::too_large);
  EXPECT_EQ(e.message, "query string too long (max 4096 bytes)");
  e = parse_err(base() + "&ip=" + std::string(100, '1'));
  EXPECT_EQ(e.message, "parameter ip too long");
  // Echoed values are cut and made printable.
  e = parse_err(base() + "&event=%00%01" + std::string(50, 'x'));
  EXPECT_EQ(e.message.find('\0'), std::string::npos);
  EXPECT_LT(e.message.size(), 60u);
}

TEST(ScrapeParser, SortsDedupesAndCaps) {
  ScrapeRequest s;
  std::string a(20, 'a'), b(20, 'b'), c(20, 'c');
  ASSERT_TRUE(parse_scrape("info_hash=" + c + "&info_hash=" + a + "&info_hash=" + c + "&x=1", s, 50));
  ASSERT_EQ(s.info_hashes.size(), 2u);
  EXPECT_EQ(s.info_hashes[0][0], 'a');
  EXPECT_EQ(s.info_hashes[1][0], 'c');
  ASSERT_TRUE(parse_scrape("info_hash=" + c + "&info_hash=" + b + "&info_hash=" + a, s, 2));
  ASSERT_EQ(s.info_hashes.size(), 2u);  // the first two, sorted
  EXPECT_EQ(s.info_hashes[0][0], 'b');
  EXPECT_EQ(s.info_hashes[1][0], 'c');
}

TEST(ScrapeParser, Errors) {
  ScrapeRequest s;
  auto st = parse_scrape("x=1", s, 50);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "missing parameter: info_hash");
  st = parse_scrape("info_hash=abc", s, 50);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "invalid info_hash: 3 bytes, want 20");
  st = parse_scrape("info_hash=%2", s, 50);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "malformed percent-escape in parameter info_hash");
  std::string q;
  for (int i = 0; i < 200; ++i) q += "info_hash=" + std::string(20, 'a') + "&";
  st = parse_scrape(q, s, 50);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::too_large);
}

const BValue& get(const BValue& d, std::string_view key) {
  const BValue* v = d.find(key);
  EXPECT_NE(v, nullptr) << key;
  static BValue empty;
  return v ? *v : empty;
}

TEST(AnnounceWriter, CompactIPv4) {
  std::string peers = std::string("\x0a\x00\x00\x01\x1a\xe1", 6) + std::string("\x0a\x00\x00\x02\x00\x50", 6);
  AnnounceReply r;
  r.counts = {3, 4, 5};
  r.interval_s = 60;
  r.min_interval_s = 30;
  r.peers = peers;
  r.external_ip = std::string_view("\x7f\x00\x00\x01", 4);
  std::string out;
  write_announce_reply(out, r);
  auto v = bdecode(out);
  ASSERT_TRUE(v) << v.error().message << " " << out;
  EXPECT_EQ(get(*v, "complete").as_int(), 3);
  EXPECT_EQ(get(*v, "incomplete").as_int(), 4);
  EXPECT_EQ(get(*v, "downloaded").as_int(), 5);
  EXPECT_EQ(get(*v, "interval").as_int(), 60);
  EXPECT_EQ(get(*v, "min interval").as_int(), 30);
  EXPECT_EQ(get(*v, "peers").as_str(), peers);
  EXPECT_EQ(get(*v, "external ip").as_str(), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(v->find("peers6"), nullptr);
}

TEST(AnnounceWriter, CompactIPv6GoesToPeers6) {
  std::string peers(18, '\0');
  peers[15] = 1;
  peers[16] = 0x1a;
  peers[17] = (char)0xe1;
  AnnounceReply r;
  r.ipv6 = true;
  r.peers = peers;
  std::string out;
  write_announce_reply(out, r);
  auto v = bdecode(out);
  ASSERT_TRUE(v) << out;
  EXPECT_EQ(get(*v, "peers").as_str(), "");
  EXPECT_EQ(get(*v, "peers6").as_str(), peers);
  EXPECT_EQ(v->find("external ip"), nullptr);
}

TEST(AnnounceWriter, NonCompact) {
  std::string peers = std::string("\x0a\x00\x00\x01\x1a\xe1", 6);
  std::string peers6(18, '\0');
  peers6[15] = 1;
  peers6[17] = 80;
  for (bool v6 : {false, true}) {
    AnnounceReply r;
    r.compact = false;
    r.ipv6 = v6;
    r.peers = v6 ? peers6 : peers;
    std::string out;
    write_announce_reply(out, r);
    auto v = bdecode(out);
    ASSERT_TRUE(v) << out;
    const auto& list = get(*v, "peers").as_list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(get(list[0], "ip").as_str(), v6 ? "::1" : "10.0.0.1");
    EXPECT_EQ(get(list[0], "port").as_int(), v6 ? 80 : 6881);
  }
}

TEST(AnnounceWriter, FailureAndScrape) {
  std::string out;
  write_failure(out, "nope");
  EXPECT_EQ(out, "d14:failure reason4:nopee");
  InfoHash a{}, b{};
  a.fill('a');
  b.fill('b');
  std::vector<InfoHash> hs{a, b};
  std::vector<SwarmCounts> cs{{1, 2, 3}, {0, 0, 0}};
  out.clear();
  write_scrape_reply(out, hs, cs);
  auto v = bdecode(out);
  ASSERT_TRUE(v) << out;
  const auto& files = get(*v, "files");
  const auto& fa = get(files, std::string(20, 'a'));
  EXPECT_EQ(get(fa, "complete").as_int(), 1);
  EXPECT_EQ(get(fa, "incomplete").as_int(), 2);
  EXPECT_EQ(get(fa, "downloaded").as_int(), 3);
  EXPECT_EQ(get(get(files, std::string(20, 'b')), "complete").as_int(), 0);
}

}  // namespace
}  // namespace sc
