// proto/udp_tracker: BEP 15 packets, BEP 41 options, and stateless connection ids.
#include "proto/udp_tracker.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

struct Packet {
  std::vector<uint8_t> b;
  Packet& u64(uint64_t v) {
    for (int i = 7; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Packet& u32(uint32_t v) {
    for (int i = 3; i >= 0; --i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Packet& u16(uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Packet& bytes(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Packet& byte(uint8_t v) {
    b.push_back(v);
    return *this;
  }
};

Packet announce_packet(uint32_t event = 2, int32_t numwant = -1, uint16_t port = 6881) {
  Packet p;
  p.u64(0x1122334455667788ULL).u32(1).u32(0xabcd).bytes(std::string(20, 'i')).bytes(std::string(20, 'p'));
  p.u64(10).u64(20).u64(30).u32(event).u32(0x0a000001).u32(77).u32(static_cast<uint32_t>(numwant)).u16(port);
  return p;
}

TEST(UdpParse, Connect) {
  Packet p;
  p.u64(kUdpProtocolId).u32(0).u32(42);
  UdpRequest r;
  ASSERT_TRUE(parse_udp_request(p.b, r));
  EXPECT_EQ(r.action, UdpAction::connect);
  EXPECT_EQ(r.transaction_id, 42u);
  Packet bad;
  bad.u64(123).u32(0).u32(42);
  uint32_t txid = 0;
  auto st = parse_udp_request(bad.b, r, {}, &txid);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "bad protocol id");
  EXPECT_EQ(txid, 42u);
}

TEST(UdpParse, Announce) {
  auto p = announce_packet(2, 30);
  UdpRequest r;
  ASSERT_TRUE(parse_udp_request(p.b, r));
  EXPECT_EQ(r.action, UdpAction::announce);
  EXPECT_EQ(r.connection_id, 0x1122334455667788ULL);
  EXPECT_EQ(r.transaction_id, 0xabcdu);
  EXPECT_EQ(r.announce.info_hash[0], 'i');
  EXPECT_EQ(r.announce.peer_id[19], 'p');
  EXPECT_EQ(r.announce.downloaded, 10u);
  EXPECT_EQ(r.announce.left, 20u);
  EXPECT_EQ(r.announce.uploaded, 30u);
  EXPECT_EQ(r.announce.event, AnnounceEvent::started);
  EXPECT_EQ(r.ipv4, 0x0a000001u);
  EXPECT_EQ(r.key, 77u);
  EXPECT_EQ(r.announce.numwant, 30);
  EXPECT_EQ(r.announce.port, 6881);
  EXPECT_TRUE(r.url_data.empty());
  p = announce_packet(3, -1);
  ASSERT_TRUE(parse_udp_request(p.b, r));
  EXPECT_EQ(r.announce.event, AnnounceEvent::stopped);
  EXPECT_EQ(r.announce.numwant, -1);
}

TEST(UdpParse, Bep41Options) {
  auto p = announce_packet();
  // NOP, URLData split over two options, an unknown option skipped by its length, then end.
  p.byte(1).byte(2).byte(9).bytes("/announce").byte(2).byte(8).bytes("?jwt=a.b").byte(0x77).byte(3).bytes("xyz");
  p.byte(0).bytes("trailing garbage after end is ignored");
  UdpRequest r;
  auto st = parse_udp_request(p.b, r);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(r.url_data, "/announce?jwt=a.b");
  std::string jwt;
  ASSERT_TRUE(find_query_param(std::string_view(r.url_data).substr(10), "jwt", jwt));
  EXPECT_EQ(jwt, "a.b");

  auto t = announce_packet();
  t.byte(2).byte(10).bytes("short");
  st = parse_udp_request(t.b, r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "truncated option");
  t = announce_packet();
  t.byte(2);
  EXPECT_FALSE(parse_udp_request(t.b, r));
  t = announce_packet();
  for (int i = 0; i < 10; ++i) t.byte(2).byte(200).bytes(std::string(200, 'x'));
  st = parse_udp_request(t.b, r);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::too_large);
}

TEST(UdpParse, Malformed) {
  UdpRequest r;
  uint32_t txid = 99;
  std::vector<uint8_t> tiny(10, 0);
  EXPECT_FALSE(parse_udp_request(tiny, r, {}, &txid));
  EXPECT_EQ(txid, 99u) << "no transaction id in a 10-byte packet";
  auto p = announce_packet();
  p.b.resize(97);
  auto st = parse_udp_request(p.b, r, {}, &txid);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "announce packet too short");
  EXPECT_EQ(txid, 0xabcdu);
  EXPECT_EQ(parse_udp_request(announce_packet(9).b, r).error().message, "invalid event");
  EXPECT_EQ(parse_udp_request(announce_packet(0, -1, 0).b, r).error().message, "invalid port: 0");
  Packet unknown;
  unknown.u64(1).u32(7).u32(1);
  EXPECT_EQ(parse_udp_request(unknown.b, r).error().message, "unknown action");
}

TEST(UdpParse, Scrape) {
  Packet p;
  p.u64(5).u32(2).u32(3).bytes(std::string(20, 'b')).bytes(std::string(20, 'a'));
  UdpRequest r;
  ASSERT_TRUE(parse_udp_request(p.b, r));
  ASSERT_EQ(r.info_hashes.size(), 2u);
  EXPECT_EQ(r.info_hashes[0][0], 'b');  // the client's order is kept
  p.bytes("xyz");
  EXPECT_FALSE(parse_udp_request(p.b, r));
  Packet empty;
  empty.u64(5).u32(2).u32(3);
  EXPECT_FALSE(parse_udp_request(empty.b, r));
  Packet many;
  many.u64(5).u32(2).u32(3);
  for (int i = 0; i < 75; ++i) many.bytes(std::string(20, 'c'));
  EXPECT_EQ(parse_udp_request(many.b, r).error().code, Errc::too_large);
}

TEST(UdpConnectionId, ValidForTwoMinutesPlusSkewFromTheSameAddress) {
  ConnectionIdIssuer ids("secret", 10);
  std::vector<uint8_t> a = {10, 0, 0, 1}, b = {10, 0, 0, 2};
  const int64_t t = 1'700'000'000;
  uint64_t id = ids.issue(a, t);
  EXPECT_TRUE(ids.valid(id, a, t));
  EXPECT_TRUE(ids.valid(id, a, t + 130));
  EXPECT_FALSE(ids.valid(id, a, t + 131));
  EXPECT_TRUE(ids.valid(id, a, t - 10));
  EXPECT_FALSE(ids.valid(id, a, t - 11));
  EXPECT_FALSE(ids.valid(id, b, t)) << "another address";
  EXPECT_FALSE(ids.valid(id ^ 1, a, t)) << "forged MAC";
  EXPECT_FALSE(ConnectionIdIssuer("other", 10).valid(id, a, t)) << "another key";
}

// The reference vectors of the SipHash paper (key 00..0f, message 00 01 02 …).
TEST(UdpConnectionId, SipHashMatchesReferenceVectors) {
  const uint64_t key[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::vector<uint8_t> msg(16);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<uint8_t>(i);
  auto of = [&](size_t n) { return siphash24(key, std::span<const uint8_t>(msg.data(), n)); };
  EXPECT_EQ(of(0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(of(8), 0x93f5f5799a932462ULL);
  EXPECT_EQ(of(15), 0xa129ca6149be45e5ULL);
}

TEST(UdpWrite, Layouts) {
  std::string out;
  write_udp_connect(out, 7, 0x0102030405060708ULL);
  EXPECT_EQ(out, std::string("\0\0\0\0\0\0\0\x07\x01\x02\x03\x04\x05\x06\x07\x08", 16));
  out.clear();
  write_udp_announce(out, 7, 60, SwarmCounts{3, 4, 0}, std::string("\x0a\x00\x00\x01\x1a\xe1", 6));
  EXPECT_EQ(out, std::string("\0\0\0\x01\0\0\0\x07\0\0\0\x3c\0\0\0\x04\0\0\0\x03\x0a\x00\x00\x01\x1a\xe1", 26));
  out.clear();
  std::vector<SwarmCounts> c{{1, 2, 3}};
  write_udp_scrape(out, 7, c);
  EXPECT_EQ(out, std::string("\0\0\0\x02\0\0\0\x07\0\0\0\x01\0\0\0\x03\0\0\0\x02", 20));
  out.clear();
  write_udp_error(out, 7, "no");
  EXPECT_EQ(out, std::string("\0\0\0\x03\0\0\0\x07no", 10));
}

}  // namespace
}  // namespace sc
