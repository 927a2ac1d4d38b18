// Tests of sc::Json: bounded parsing, typed reads, building, dumping and reference handling.
#include "common/core/json.h"

#include <gtest/gtest.h>
#include <jansson.h>

namespace sc {
namespace {

TEST(Json, ParsesAndReadsTypedMembers) {
  auto r = json_parse(R"({"key":"files/a","size":123,"ok":true,"ratio":0.5,"list":[1,"two",null],"obj":{}})");
  ASSERT_TRUE(r) << r.error().message;
  const Json& j = *r;
  EXPECT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 6u);
  EXPECT_EQ(j.string_at("key").value(), "files/a");
  EXPECT_EQ(j.int_at("size").value(), 123);
  EXPECT_TRUE(j.bool_at("ok").value());
  EXPECT_DOUBLE_EQ(j.get("ratio").as_number(), 0.5);
  EXPECT_TRUE(j.get("ratio").is_real());
  Json list = j.get("list");
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(list.at(0).as_int(), 1);
  EXPECT_EQ(list.at(1).as_string(), "two");
  EXPECT_TRUE(list.at(2).is_null());
  EXPECT_FALSE(list.at(3));
  EXPECT_FALSE(j.get("missing"));
  EXPECT_EQ(j.keys(), (std::vector<std::string>{"key", "size", "ok", "ratio", "list", "obj"}));
  EXPECT_EQ(j.string_or("missing", "dflt"), "dflt");
  EXPECT_EQ(j.int_or("key", 7), 7);
  EXPECT_TRUE(j.bool_or("missing", true));
}

TEST(Json, TypedReadErrorsNameTheField) {
  auto j = json_parse(R"({"size":"big"})").value();
  auto r = j.int_at("size");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("size"), std::string::npos);
  EXPECT_FALSE(j.string_at("absent"));
  EXPECT_FALSE(j.bool_at("size"));
  EXPECT_EQ(j.get("size").as_int(), 0);
}

TEST(Json, RejectsMalformedInput) {
  for (std::string_view bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1,\"a\":2}", "nul", "\"\\u0000\"", "{} x",
                               "\"\xff\""}) {
    auto r = json_parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << bad;
    EXPECT_NE(r.error().message.find("line"), std::string::npos);
  }
  EXPECT_TRUE(json_parse("42"));  // any top-level value
  EXPECT_TRUE(json_parse("\"s\""));
}

TEST(Json, EnforcesLimits) {
  JsonLimits small;
  small.max_size = 10;
  auto big = json_parse(R"({"a":"0123456789"})", small);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);

  JsonLimits shallow;
  shallow.max_depth = 3;
  EXPECT_TRUE(json_parse("[[[1]]]", shallow));
  auto deep = json_parse(R"([[{"a":[1]}]])", shallow);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, Errc::too_large);
  // Brackets inside strings do not count.
  EXPECT_TRUE(json_parse(R"(["[[[[[[\"]]]]"])", shallow));
  std::string very_deep(100000, '[');
  auto r = json_parse(very_deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::too_large);
}

TEST(Json, BuildsAndDumpsCompact) {
  Json j = Json::object();
  j.set("name", "blob").set("size", int64_t{5}).set("u", uint64_t{18446744073709551615ull}).set("ok", false);
  j.set("n", 3).set("pi", 2.5).set("s", std::string("x\"y")).set("empty", std::string_view());
  Json files = Json::array();
  files.push(Json::string("a")).push(Json::integer(-1)).push(Json::null());
  j.set("files", files);
  j.set("nested", Json::object().set("k", "v"));
  EXPECT_EQ(j.dump(),
            R"({"name":"blob","size":5,"u":1.8446744073709552e19,"ok":false,"n":3,"pi":2.5,"s":"x\"y","empty":"","files":["a",-1,null],"nested":{"k":"v"}})");
  j.erase("u").erase("nested");
  EXPECT_EQ(j.get("u").dump(), "null");
  EXPECT_EQ(json_parse(j.dump()).value().dump(), j.dump());
  EXPECT_EQ(Json().dump(), "null");
  // Setting on a non-object is ignored rather than crashing.
  Json arr = Json::array();
  arr.set("k", 1);
  EXPECT_EQ(arr.dump(), "[]");
}

TEST(Json, InvalidUtf8IsReplaced) {
  Json s = Json::string(std::string_view("a\xff" "b\xc0\x80" "c", 6));
  ASSERT_TRUE(s.is_string());
  EXPECT_EQ(s.as_string(), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c");
  Json o = Json::object();
  o.set(std::string_view("k\xfe", 2), 1);
  EXPECT_EQ(o.get("k\xEF\xBF\xBD").as_int(), 1);
  EXPECT_EQ(Json::string("h\xc3\xa9").as_string(), "h\xc3\xa9");  // valid UTF-8 kept
}

TEST(Json, CopiesShareAndHandlesReleaseReferences) {
  Json a = Json::object();
  json_t* raw = a.get();
  EXPECT_EQ(raw->refcount, 1u);
  {
    Json b = a;
    EXPECT_EQ(raw->refcount, 2u);
    b.set("k", 1);
    Json c = std::move(b);
    EXPECT_EQ(raw->refcount, 2u);
    EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): moved-from handles are empty
  }
  EXPECT_EQ(raw->refcount, 1u);
  EXPECT_EQ(a.get("k").as_int(), 1);  // copies share the value
  Json member = a.get("k");
  EXPECT_EQ(member.get()->refcount, 2u);  // borrowed: held by the object and by us
  json_t* released = a.release();
  EXPECT_FALSE(a);
  Json again = Json::adopt(released);
  EXPECT_EQ(again.size(), 1u);
}

}  // namespace
}  // namespace sc
