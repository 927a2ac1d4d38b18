// Tests of sc::Options: YAML, environment and flag precedence, type errors, unknown keys,
// aliases, tolerated prefixes, the optional root, structured keys and --help.
#include "common/core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>

namespace sc {
namespace {

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// A config file in a private temp dir, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(std::string_view text) {
    char tmpl[] = "/tmp/sc_config_test_XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    ::close(fd);
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

struct Cfg {
  std::string listen = "127.0.0.1:7070";
  int64_t workers = 2;
  bool tls = false;
  int64_t interval_ms = 30'000;
  int64_t cache_size = 1 << 20;
  std::vector<std::string> peers;
  std::string level = "info";
};

void declare(Options& o, Cfg& c) {
  o.add_string("http.addr", &c.listen, "Main listener.", "listen");
  o.add_int("http.workers", &c.workers, "Worker threads.", "workers");
  o.add_bool("http.tls", &c.tls, "Serve HTTPS.", "tls");
  o.add_duration("announce_interval", &c.interval_ms, "Announce interval.", "announce-interval");
  o.add_bytes("cache.size", &c.cache_size, "Cache budget.", "cache-size");
  o.add_list("peers", &c.peers, "Static peers.", "peer");
  o.add_string("log_level", &c.level, "Log level.");
}

Result<Options::Outcome> parse(Options& o, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return o.parse(static_cast<int>(args.size()), args.data());
}

TEST(Durations, Parse) {
  EXPECT_EQ(parse_duration_ms("250ms").value(), 250);
  EXPECT_EQ(parse_duration_ms("5s").value(), 5000);
  EXPECT_EQ(parse_duration_ms("15m").value(), 900'000);
  EXPECT_EQ(parse_duration_ms("2h").value(), 7'200'000);
  EXPECT_EQ(parse_duration_ms("1d").value(), 86'400'000);
  EXPECT_EQ(parse_duration_ms("30").value(), 30'000);
  EXPECT_EQ(parse_duration_ms("0").value(), 0);
  EXPECT_EQ(parse_duration_ms("1h30m").value(), 5'400'000);
  EXPECT_EQ(parse_duration_ms("1.5s").value(), 1500);
  EXPECT_EQ(parse_duration_ms("0.25").value(), 250);
  for (std::string_view bad : {"", "s", "5x", "-5s", "5 s", "ms", "1e3", "99999999999999999999", "1h30", "."}) {
    auto r = parse_duration_ms(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
  }
}

TEST(ByteSizes, Parse) {
  EXPECT_EQ(parse_bytes("1024").value(), 1024);
  EXPECT_EQ(parse_bytes("64k").value(), 64 << 10);
  EXPECT_EQ(parse_bytes("512M").value(), int64_t{512} << 20);
  EXPECT_EQ(parse_bytes("10G").value(), int64_t{10} << 30);
  EXPECT_EQ(parse_bytes("2TiB").value(), int64_t{2} << 40);
  for (std::string_view bad : {"", "k", "12q", "-1", "1.5G", "99999999999G", "99999999999999999999"}) {
    EXPECT_FALSE(parse_bytes(bad)) << bad;
  }
}

TEST(Options, DefaultsStayWithoutSources) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  ASSERT_EQ(parse(o, {}).value(), Options::Outcome::run);
  EXPECT_EQ(c.listen, "127.0.0.1:7070");
  EXPECT_EQ(c.workers, 2);
}

TEST(Options, YamlFileSetsEveryKind) {
  TempFile f(R"(
http:
  addr: 0.0.0.0:80
  workers: 8
  tls: yes
announce_interval: 15m
cache:
  size: 512M
peers: [a, b]
log_level: debug
)");
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = parse(o, {"--config", f.path().c_str()});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.listen, "0.0.0.0:80");
  EXPECT_EQ(c.workers, 8);
  EXPECT_TRUE(c.tls);
  EXPECT_EQ(c.interval_ms, 900'000);
  EXPECT_EQ(c.cache_size, int64_t{512} << 20);
  EXPECT_EQ(c.peers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.level, "debug");
}

TEST(Options, PrecedenceFlagsOverEnvOverFileOverDefaults) {
  TempFile f("http:\n  addr: file:1\n  workers: 3\nannounce_interval: 1m\n");
  ScopedEnv e1("SWARMCACHE_LISTEN", "env:2");
  ScopedEnv e2("SWARMCACHE_WORKERS", "4");
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = parse(o, {"--config", f.path().c_str(), "--listen=flag:3"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.listen, "flag:3");      // flag beats env and file
  EXPECT_EQ(c.workers, 4);            // env beats file
  EXPECT_EQ(c.interval_ms, 60'000);   // file beats default
  EXPECT_EQ(c.cache_size, 1 << 20);   // default
}

TEST(Options, EnvNameUsesUpperCaseAndUnderscores) {
  ScopedEnv e("SWARMCACHE_ANNOUNCE_INTERVAL", "2h");
  ScopedEnv e2("SWARMCACHE_CACHE_SIZE", "10G");
  ScopedEnv e3("SWARMCACHE_PEER", "x, y,z");
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  ASSERT_TRUE(parse(o, {}));
  EXPECT_EQ(c.interval_ms, 7'200'000);
  EXPECT_EQ(c.cache_size, int64_t{10} << 30);
  EXPECT_EQ(c.peers, (std::vector<std::string>{"x", "y", "z"}));
}

TEST(Options, ConfigPathFromEnvironment) {
  TempFile f("http:\n  workers: 9\n");
  ScopedEnv e("SWARMCACHE_CONFIG", f.path().c_str());
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  ASSERT_TRUE(parse(o, {}));
  EXPECT_EQ(c.workers, 9);
}

TEST(Options, FlagForms) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = parse(o, {"--workers", "5", "--tls", "--announce-interval=250ms", "--peer", "a", "--peer=b,c"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.workers, 5);
  EXPECT_TRUE(c.tls);
  EXPECT_EQ(c.interval_ms, 250);
  EXPECT_EQ(c.peers, (std::vector<std::string>{"a", "b", "c"}));

  Options o2("prog", "test");
  Cfg c2;
  c2.tls = true;
  declare(o2, c2);
  ASSERT_TRUE(parse(o2, {"--tls", "false", "--workers=7"}));
  EXPECT_FALSE(c2.tls);
  EXPECT_EQ(c2.workers, 7);
}

TEST(Options, UnknownFlagAndMissingValueAreErrors) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = parse(o, {"--bogus", "1"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_TRUE(contains(r.error().message, "--bogus")) << r.error().message;
  auto r2 = parse(o, {"--workers"});
  ASSERT_FALSE(r2);
  EXPECT_TRUE(contains(r2.error().message, "--workers")) << r2.error().message;
  auto r3 = parse(o, {"positional"});
  ASSERT_FALSE(r3);
  // A key without a flag cannot be set from the command line.
  EXPECT_FALSE(parse(o, {"--log_level", "debug"}));
}

TEST(Options, IllTypedValueNamesKeySourceAndType) {
  {
    TempFile f("http:\n  workers: many\n");
    Options o("prog", "test");
    Cfg c;
    declare(o, c);
    auto r = parse(o, {"--config", f.path().c_str()});
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, f.path())) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "http.workers")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "integer")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "many")) << r.error().message;
  }
  {
    ScopedEnv e("SWARMCACHE_TLS", "maybe");
    Options o("prog", "test");
    Cfg c;
    declare(o, c);
    auto r = parse(o, {});
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "SWARMCACHE_TLS")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "http.tls")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "boolean")) << r.error().message;
  }
  {
    Options o("prog", "test");
    Cfg c;
    declare(o, c);
    auto r = parse(o, {"--announce-interval", "soon"});
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "--announce-interval")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "duration")) << r.error().message;
  }
  {
    Options o("prog", "test");
    Cfg c;
    declare(o, c);
    auto r = o.load_yaml("http:\n  addr: [1, 2]\n", "inline");
    ASSERT_FALSE(r);
    EXPECT_TRUE(contains(r.error().message, "inline:2")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "http.addr")) << r.error().message;
  }
}

TEST(Options, UnknownKeyIsErrorOrWarning) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = o.load_yaml("http:\n  adr: x\n", "my.yaml");
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message, "http.adr")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "my.yaml")) << r.error().message;
  EXPECT_FALSE(o.load_yaml("nothing_here: 1\n"));

  Options w("prog", "test");
  Cfg c2;
  declare(w, c2);
  w.set_unknown_keys_are_warnings(true);
  ASSERT_TRUE(w.load_yaml("http:\n  adr: x\n  workers: 6\n", "my.yaml"));
  EXPECT_EQ(c2.workers, 6);
  ASSERT_EQ(w.warnings().size(), 1u);
  EXPECT_TRUE(contains(w.warnings()[0], "http.adr")) << w.warnings()[0];
}

TEST(Options, MalformedYamlIsAnError) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  auto r = o.load_yaml("http: [unclosed\n", "bad.yaml");
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message, "bad.yaml")) << r.error().message;
  EXPECT_FALSE(o.load_yaml("- a\n- b\n"));
  EXPECT_TRUE(o.load_yaml(""));
  auto missing = parse(o, {"--config", "/nonexistent/sc.yaml"});
  ASSERT_FALSE(missing);
  EXPECT_TRUE(contains(missing.error().message, "/nonexistent/sc.yaml"));
}

TEST(Options, AliasesToleratedPrefixesAndOptionalRoot) {
  Options o("prog", "test");
  Cfg c;
  declare(o, c);
  o.alias("frontends.http.addr", "http.addr");
  o.alias("announce", "announce_interval");
  o.tolerate("frontends.udp", "the UDP frontend is configured with --udp-listen");
  o.set_optional_root("chihaya");
  auto r = o.load_yaml(R"(
chihaya:
  announce: 5m
  frontends:
    http:
      addr: 0.0.0.0:6969
    udp:
      addr: 0.0.0.0:6969
      private_key: abc
)",
                       "chihaya.yaml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(c.listen, "0.0.0.0:6969");
  EXPECT_EQ(c.interval_ms, 300'000);
  ASSERT_EQ(o.warnings().size(), 1u);
  EXPECT_TRUE(contains(o.warnings()[0], "frontends.udp")) << o.warnings()[0];
  EXPECT_TRUE(contains(o.warnings()[0], "--udp-listen")) << o.warnings()[0];

  // Without the root, the same keys apply at the top level.
  ASSERT_TRUE(o.load_yaml("announce: 1m\n"));
  EXPECT_EQ(c.interval_ms, 60'000);
}

TEST(Options, NodeKeysReceiveTheYamlNode) {
  Options o("prog", "test");
  std::vector<std::string> hooks;
  o.add_node("prehooks", [&](const YAML::Node& n) -> Status {
    if (!n.IsSequence()) return fail(Errc::invalid_argument, "expected a list of hooks");
    for (const auto& h : n) hooks.push_back(h["name"].as<std::string>());
    return {};
  }, "Hook chain.");
  ASSERT_TRUE(o.load_yaml("prehooks:\n  - name: jwt\n    config: {iss: x}\n  - name: interval\n"));
  EXPECT_EQ(hooks, (std::vector<std::string>{"jwt", "interval"}));
  auto r = o.load_yaml("prehooks: 3\n", "hooks.yaml");
  ASSERT_FALSE(r);
  EXPECT_TRUE(contains(r.error().message, "prehooks")) << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "hooks.yaml")) << r.error().message;
  // yaml-cpp exceptions thrown by the callback become errors, not crashes.
  EXPECT_FALSE(o.load_yaml("prehooks:\n  - name: [x]\n"));
}

TEST(Options, HelpListsEveryKeyAndExitsOk) {
  Options o("swarmcache-test", "a test program");
  Cfg c;
  declare(o, c);
  testing::internal::CaptureStdout();
  auto r = parse(o, {"--workers", "x", "--help"});
  std::string out = testing::internal::GetCapturedStdout();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Options::Outcome::exit_ok);
  EXPECT_EQ(out, o.help_text());
  EXPECT_TRUE(contains(out, "swarmcache-test")) << out;
  EXPECT_TRUE(contains(out, "a test program")) << out;
  EXPECT_TRUE(contains(out, "http.addr  (--listen, env SWARMCACHE_LISTEN)")) << out;
  EXPECT_TRUE(contains(out, "string, default \"127.0.0.1:7070\". Main listener.")) << out;
  EXPECT_TRUE(contains(out, "duration, default 30s")) << out;
  EXPECT_TRUE(contains(out, "bytes, default 1M")) << out;
  EXPECT_TRUE(contains(out, "boolean, default false")) << out;
  EXPECT_TRUE(contains(out, "integer, default 2")) << out;
  EXPECT_TRUE(contains(out, "log_level\n")) << out;
  EXPECT_TRUE(contains(out, "--config FILE")) << out;
}

}  // namespace
}  // namespace sc
