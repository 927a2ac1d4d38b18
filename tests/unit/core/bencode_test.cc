// Tests of the bounded, strict bencode decoder and the encoder.
#include "common/core/bencode.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

void expect_error(std::string_view in, Errc code, const BLimits& limits = {}) {
  auto r = bdecode(in, limits);
  ASSERT_FALSE(r) << "accepted: " << in;
  EXPECT_EQ(r.error().code, code) << in << " → " << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
}

TEST(Bencode, DecodesScalars) {
  EXPECT_EQ(bdecode("i42e")->as_int(), 42);
  EXPECT_EQ(bdecode("i0e")->as_int(), 0);
  EXPECT_EQ(bdecode("i-7e")->as_int(), -7);
  EXPECT_EQ(bdecode("i9223372036854775807e")->as_int(), INT64_MAX);
  EXPECT_EQ(bdecode("i-9223372036854775808e")->as_int(), INT64_MIN);
  EXPECT_EQ(bdecode("4:spam")->as_str(), "spam");
  EXPECT_EQ(bdecode("0:")->as_str(), "");
  EXPECT_EQ(bdecode(std::string_view("3:\0\xff:", 5))->as_str(), std::string("\0\xff:", 3));
}

TEST(Bencode, DecodesNestedValuesWithOffsets) {
  std::string in = "d8:announce3:url4:infod6:lengthi5e4:name1:xe5:listsl1:ai2eleee";
  auto r = bdecode(in);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->begin, 0u);
  EXPECT_EQ(r->end, in.size());
  ASSERT_TRUE(r->is_dict());
  ASSERT_EQ(r->as_dict().size(), 3u);
  EXPECT_EQ(r->find("announce")->as_str(), "url");
  const BValue* info = r->find("info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(in.substr(info->begin, info->end - info->begin), "d6:lengthi5e4:name1:xe");
  EXPECT_EQ(info->find("length")->as_int(), 5);
  const BValue* length = info->find("length");
  EXPECT_EQ(in.substr(length->begin, length->end - length->begin), "i5e");
  const BValue* list = r->find("lists");
  ASSERT_TRUE(list->is_list());
  ASSERT_EQ(list->as_list().size(), 3u);
  EXPECT_EQ(list->as_list()[0].as_str(), "a");
  EXPECT_EQ(list->as_list()[1].as_int(), 2);
  EXPECT_TRUE(list->as_list()[2].is_list());
  EXPECT_EQ(in.substr(list->as_list()[2].begin, 2), "le");
  EXPECT_EQ(r->find("missing"), nullptr);
  EXPECT_EQ(list->find("a"), nullptr);
}

TEST(Bencode, CanonicalInputRoundTrips) {
  for (std::string_view in : {"i-3e", "5:hello", "le", "de", "d1:ai1e1:bl1:x1:yee", "lli1eei2ed1:k0:ee"}) {
    auto r = bdecode(in);
    ASSERT_TRUE(r) << in;
    EXPECT_EQ(bencode(*r), in);
  }
}

TEST(Bencode, UnsortedKeysAreToleratedAndEncodedSorted) {
  auto r = bdecode("d1:bi2e1:ai1ee");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->as_dict()[0].first, "b");  // input order kept
  EXPECT_EQ(bencode(*r), "d1:ai1e1:bi2ee");
}

TEST(Bencode, RefusesDuplicateKeys) {
  expect_error("d1:ai1e1:ai2ee", Errc::invalid_argument);
  expect_error("d1:bi1e1:ai2e1:bi3ee", Errc::invalid_argument);  // after unsorted input
  expect_error("d1:ai1e1:ci1e1:bi1e1:ci1ee", Errc::invalid_argument);
  EXPECT_TRUE(bdecode("d1:ai1e1:ci1e1:bi1ee"));
}

TEST(Bencode, RefusesMalformedIntegers) {
  for (std::string_view in : {"i-0e", "i03e", "i-03e", "i00e", "ie", "i-e", "i1", "i", "i12", "i1xe", "i+1e",
                              "i9223372036854775808e", "i-9223372036854775809e", "i99999999999999999999999e"}) {
    expect_error(in, Errc::invalid_argument);
  }
}

TEST(Bencode, RefusesMalformedStrings) {
  for (std::string_view in : {"03:abc", "4:abc", "3abc", "3", ":abc", "99999999999999999999999999:x",
                              "18446744073709551617:x", "-1:x"}) {
    expect_error(in, Errc::invalid_argument);
  }
}

TEST(Bencode, RefusesStructuralErrors) {
  for (std::string_view in : {"", "l", "d", "li1e", "d1:a", "d1:ai1e", "di1ei2ee", "dle", "d1:ae", "e", "x",
                              "i1ei2e", "4:spamx", "lee", "de ", " de"}) {
    expect_error(in, Errc::invalid_argument);
  }
}

TEST(Bencode, EnforcesLimits) {
  BLimits size_limit;
  size_limit.max_size = 5;
  expect_error("6:abcdef", Errc::too_large, size_limit);
  EXPECT_TRUE(bdecode("3:abc", size_limit));

  BLimits depth;
  depth.max_depth = 3;
  EXPECT_TRUE(bdecode("llleee", depth));
  expect_error("lllleeee", Errc::too_large, depth);
  expect_error("ld1:ald1:xleeeee", Errc::too_large, depth);

  BLimits tokens;
  tokens.max_tokens = 4;
  EXPECT_TRUE(bdecode("li1ei2ei3ee", tokens));
  expect_error("li1ei2ei3ei4ee", Errc::too_large, tokens);

  // Default depth limit holds against deep nesting without exhausting the stack.
  std::string deep(100000, 'l');
  deep += std::string(100000, 'e');
  expect_error(deep, Errc::too_large);
}

TEST(Bencode, EncodesBuiltValues) {
  BValue v;
  BDict d;
  d.emplace_back("z", BValue{int64_t{-1}});
  d.emplace_back("a", BValue{std::string("x y")});
  BList l;
  l.push_back(BValue{int64_t{0}});
  l.push_back(BValue{std::string()});
  d.emplace_back("m", BValue{std::move(l)});
  v.v = std::move(d);
  EXPECT_EQ(bencode(v), "d1:a3:x y1:mli0e0:e1:zi-1ee");
  std::string out;
  bput_int(out, INT64_MIN);
  bput_str(out, "ab");
  EXPECT_EQ(out, "i-9223372036854775808e2:ab");
}

}  // namespace
}  // namespace sc
