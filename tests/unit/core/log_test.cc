// Tests of the logfmt formatting, level gating and sink replacement.
#include "common/core/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace sc {
namespace {

struct Captured {
  LogLevel level;
  std::string msg;
  std::vector<std::pair<std::string, std::string>> fields;
};
std::vector<Captured> g_captured;

void capture_sink(LogLevel level, std::string_view msg, std::span<const LogField> fields) {
  Captured c{level, std::string(msg), {}};
  for (auto& f : fields) c.fields.emplace_back(std::string(f.key), f.value);
  g_captured.push_back(std::move(c));
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_captured.clear();
    set_log_sink(&capture_sink);
  }
  void TearDown() override {
    set_log_sink(nullptr);
    set_log_level(LogLevel::info);
  }
};

TEST_F(LogTest, FormatHasTimestampLevelAndQuotedMessage) {
  std::vector<LogField> fields{{"port", 6969}, {"path", "/announce"}, {"tls", false}, {"ratio", 0.5}};
  std::string line = format_logfmt(LogLevel::info, "listening", fields);
  std::regex re(R"(^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=info msg="listening" port=6969 path=/announce tls=false ratio=0.5$)");
  EXPECT_TRUE(std::regex_match(line, re)) << line;
}

TEST_F(LogTest, ValuesWithSpacesQuotesAndEqualsAreQuotedAndEscaped) {
  std::vector<LogField> fields{{"a", "two words"}, {"b", "say \"hi\""}, {"c", "k=v"}, {"d", ""},
                               {"e", "back\\slash"}, {"f", "line\nbreak"}, {"g", "plain"}};
  std::string line = format_logfmt(LogLevel::warn, "m \"q\"", fields);
  EXPECT_NE(line.find(" level=warn msg=\"m \\\"q\\\"\""), std::string::npos) << line;
  EXPECT_NE(line.find(" a=\"two words\""), std::string::npos) << line;
  EXPECT_NE(line.find(" b=\"say \\\"hi\\\"\""), std::string::npos) << line;
  EXPECT_NE(line.find(" c=\"k=v\""), std::string::npos) << line;
  EXPECT_NE(line.find(" d=\"\""), std::string::npos) << line;
  EXPECT_NE(line.find(" e=\"back\\\\slash\""), std::string::npos) << line;
  EXPECT_NE(line.find(" f=\"line\\nbreak\""), std::string::npos) << line;
  EXPECT_NE(line.find(" g=plain"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST_F(LogTest, LevelGatesMacrosBeforeFormatting) {
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return std::string("x");
  };
  set_log_level(LogLevel::warn);
  EXPECT_FALSE(log_enabled(LogLevel::info));
  EXPECT_TRUE(log_enabled(LogLevel::error));
  SC_INFO("hidden", {"k", expensive()});
  SC_DEBUG("hidden");
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(g_captured.empty());
  SC_WARN("shown", {"k", expensive()}, {"n", 3});
  SC_ERROR("also");
  EXPECT_EQ(evaluated, 1);
  ASSERT_EQ(g_captured.size(), 2u);
  EXPECT_EQ(g_captured[0].level, LogLevel::warn);
  EXPECT_EQ(g_captured[0].msg, "shown");
  ASSERT_EQ(g_captured[0].fields.size(), 2u);
  EXPECT_EQ(g_captured[0].fields[1].first, "n");
  EXPECT_EQ(g_captured[0].fields[1].second, "3");
  EXPECT_EQ(g_captured[1].level, LogLevel::error);
}

TEST_F(LogTest, ParseLevelNames) {
  EXPECT_EQ(parse_log_level("debug").value(), LogLevel::debug);
  EXPECT_EQ(parse_log_level("info").value(), LogLevel::info);
  EXPECT_EQ(parse_log_level("warn").value(), LogLevel::warn);
  EXPECT_EQ(parse_log_level("error").value(), LogLevel::error);
  auto bad = parse_log_level("loud");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_EQ(log_level_name(LogLevel::warn), "warn");
}

TEST_F(LogTest, NullSinkRestoresStderr) {
  set_log_sink(nullptr);
  testing::internal::CaptureStderr();
  SC_ERROR("to stderr", {"key", "v v"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("level=error msg=\"to stderr\" key=\"v v\"\n"), std::string::npos) << err;
  EXPECT_TRUE(g_captured.empty());
}

}  // namespace
}  // namespace sc
