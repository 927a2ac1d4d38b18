// RedisClient against a real redis-server started on a free port: binary safety, pipelining
// order, error mapping, EVALSHA fallback, fail-fast while down, recovery after a restart,
// per-command timeouts on a stopped server, AUTH and SELECT.
#include "common/io/redis_client.h"

#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sc {
namespace {

using namespace std::chrono_literals;

uint16_t pick_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// A redis-server child process on 127.0.0.1:port.
class Redis {
 public:
  explicit Redis(uint16_t port, std::vector<std::string> extra = {}) : port_(port), extra_(std::move(extra)) {
    dir_ = std::filesystem::temp_directory_path() / ("sc-redis-test-" + std::to_string(getpid()) + "-" + std::to_string(port));
    std::filesystem::create_directories(dir_);
    start();
  }
  ~Redis() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void start() {
    std::vector<std::string> args = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", dir_.string()};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    if (pid_ == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      timeval tv{0, 200'000};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
      bool ok = false;
      if (c && !c->err) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        // With requirepass, an unauthenticated PING is refused, which still proves liveness.
        ok = r != nullptr;
        if (r) freeReplyObject(r);
      }
      if (c) redisFree(c);
      if (ok) return;
      std::this_thread::sleep_for(5ms);
    }
    ADD_FAILURE() << "redis-server did not start on port " << port_;
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void pause() { kill(pid_, SIGSTOP); }
  void resume() { kill(pid_, SIGCONT); }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  std::vector<std::string> extra_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

class Loop {
 public:
  Loop() : base_(event_base_new()) {
    // Keeps EVLOOP_ONCE from returning at once when nothing else is pending.
    tick_ = event_new(base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
    timeval tv{0, 10'000};
    event_add(tick_, &tv);
  }
  ~Loop() {
    event_free(tick_);
    event_base_free(base_);
  }
  event_base* base() { return base_; }
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      event_base_loop(base_, EVLOOP_ONCE);
    }
    return true;
  }

 private:
  event_base* base_;
  event* tick_;
};

RedisOptions opts_for(uint16_t port) {
  RedisOptions o;
  o.port = port;
  o.command_timeout_ms = 500;
  o.reconnect_min_ms = 20;
  o.reconnect_max_ms = 200;
  return o;
}

// Runs one command to completion.
std::optional<Result<RedisReply>> run(Loop& loop, RedisClient& c, std::vector<std::string> argv) {
  std::optional<Result<RedisReply>> out;
  c.command(argv, [&](Result<RedisReply> r) { out = std::move(r); });
  loop.run_until([&] { return out.has_value(); });
  return out;
}

TEST(RedisUrl, Parses) {
  auto o = parse_redis_url("redis://:s%40cret@10.0.0.5:6380/3");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->host, "10.0.0.5");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->password, "s@cret");
  EXPECT_EQ(o->db, 3);
  auto d = parse_redis_url("redis://redis");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "redis");
  EXPECT_EQ(d->port, 6379);
  EXPECT_EQ(d->db, 0);
  auto v6 = parse_redis_url("redis://[::1]:7000/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  for (auto bad : {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h:12x", "redis://h/abc",
                   "redis://[::1", "sentinel://h1:26379", "sentinel://h1:26379/", "sentinel://h1,,h2/m",
                   "sentinel://h1:0/m", "sentinel:///m", "sentinel://h1/m/x",
                   // The hand-written parser read "h/0" as credentials and x as the host here.
                   "redis://h/0@x", "redis://h1,h2/0", "redis://h/0?db=1", "redis://h :1"}) {
    EXPECT_FALSE(parse_redis_url(bad)) << bad;
  }
}

TEST(RedisUrl, ParsesSentinel) {
  auto s = parse_redis_url("sentinel://h1:26380,h2,[::1]:5000/mymaster/2");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->sentinels.size(), 3u);
  EXPECT_EQ(s->sentinels[0], (std::pair<std::string, uint16_t>{"h1", 26380}));
  EXPECT_EQ(s->sentinels[1], (std::pair<std::string, uint16_t>{"h2", 26379}));
  EXPECT_EQ(s->sentinels[2], (std::pair<std::string, uint16_t>{"::1", 5000}));
  EXPECT_EQ(s->sentinel_master, "mymaster");
  EXPECT_EQ(s->db, 2);
  auto pw = parse_redis_url("sentinel://:p%2Fw@127.0.0.1:26379/m");
  ASSERT_TRUE(pw);
  EXPECT_EQ(pw->password, "p/w");
  EXPECT_EQ(pw->sentinel_master, "m");
  EXPECT_EQ(pw->db, 0);
  EXPECT_TRUE(parse_redis_url("redis://h:1")->sentinels.empty());
}

TEST(RedisClient, BinarySafeAndPipelinedInOrder) {
  Redis redis(pick_port());
  Loop loop;
  RedisClient c(loop.base(), opts_for(redis.port()));
  ASSERT_TRUE(c.start());
  std::string value("a\0b\r\n\xff", 6);
  auto set = run(loop, c, {"SET", std::string("k\0ey", 4), value});
  ASSERT_TRUE(set && *set);
  EXPECT_TRUE((*set)->is_status("OK"));
  auto get = run(loop, c, {"GET", std::string("k\0ey", 4)});
  ASSERT_TRUE(get && *get);
  ASSERT_TRUE((*get)->is_string());
  EXPECT_EQ((*get)->str, value);

  // 2000 commands issued without waiting: replies arrive in issue order.
  constexpr int kN = 2000;
  std::vector<int64_t> seen;
  for (int i = 0; i < kN; ++i) {
    c.command({"INCR", "counter"}, [&](Result<RedisReply> r) {
      ASSERT_TRUE(r);
      seen.push_back(r->integer);
    });
  }
  EXPECT_GT(c.pending(), 0u);
  ASSERT_TRUE(loop.run_until([&] { return seen.size() == kN; }));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(seen[i], i + 1);

  auto arr = run(loop, c, {"MGET", "counter", "missing"});
  ASSERT_TRUE(arr && *arr);
  ASSERT_TRUE((*arr)->is_array());
  ASSERT_EQ((*arr)->elements.size(), 2u);
  EXPECT_EQ((*arr)->elements[0].str, "2000");
  EXPECT_TRUE((*arr)->elements[1].is_nil());
}

TEST(RedisClient, ErrorRepliesAndScripts) {
  Redis redis(pick_port());
  Loop loop;
  RedisClient c(loop.base(), opts_for(redis.port()));
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(*run(loop, c, {"SET", "s", "text"}));
  auto err = run(loop, c, {"INCR", "s"});
  ASSERT_TRUE(err);
  ASSERT_FALSE(*err);
  EXPECT_EQ(err->error().code, Errc::internal);
  EXPECT_NE(err->error().message.find("not an integer"), std::string::npos);

  // Errors nested in EXEC stay reply elements.
  std::vector<Result<RedisReply>> tx;
  for (auto argv : {std::vector<std::string>{"MULTI"}, {"INCR", "s"}, {"SET", "t", "1"}, {"EXEC"}}) {
    c.command(argv, [&](Result<RedisReply> r) { tx.push_back(std::move(r)); });
  }
  ASSERT_TRUE(loop.run_until([&] { return tx.size() == 4; }));
  ASSERT_TRUE(tx[3]);
  ASSERT_EQ(tx[3]->elements.size(), 2u);
  EXPECT_TRUE(tx[3]->elements[0].is_error());
  EXPECT_TRUE(tx[3]->elements[1].is_status("OK"));

  RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  ASSERT_TRUE(*run(loop, c, {"SCRIPT", "FLUSH"}));
  std::vector<int64_t> got;
  std::vector<std::string> keys{"n"}, args{"5"};
  for (int i = 0; i < 2; ++i) {  // the first goes through NOSCRIPT → EVAL, the second hits the cache
    c.eval(script, keys, args, [&](Result<RedisReply> r) {
      ASSERT_TRUE(r) << r.error().message;
      got.push_back(r->integer);
    });
    ASSERT_TRUE(loop.run_until([&] { return got.size() == size_t(i + 1); }));
  }
  EXPECT_EQ(got, (std::vector<int64_t>{5, 10}));
}

TEST(RedisClient, DownFailsFastThenRecoversAfterRestart) {
  uint16_t port = pick_port();
  Loop loop;
  RedisClient c(loop.base(), opts_for(port));
  ASSERT_TRUE(c.start());
  // Nothing listens yet: unavailable, well before the command timeout.
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(loop, c, {"PING"});
  ASSERT_TRUE(r);
  ASSERT_FALSE(*r);
  EXPECT_EQ(r->error().code, Errc::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);  // command_timeout_ms is 500

  {
    Redis redis(port);
    ASSERT_TRUE(loop.run_until([&] { return c.connected(); }));
    auto ok = run(loop, c, {"SET", "a", "1"});
    ASSERT_TRUE(ok && *ok);
  }  // killed
  ASSERT_TRUE(loop.run_until([&] { return !c.connected(); }));
  auto down = run(loop, c, {"GET", "a"});
  ASSERT_TRUE(down);
  ASSERT_FALSE(*down);
  EXPECT_EQ(down->error().code, Errc::unavailable);

  Redis again(port);
  ASSERT_TRUE(loop.run_until([&] { return c.connected(); }));
  auto back = run(loop, c, {"PING"});
  ASSERT_TRUE(back && *back);
  EXPECT_TRUE((*back)->is_status("PONG"));
  EXPECT_GE(c.stats().connects, 2u);
}

TEST(RedisClient, StuckServerTimesOutAndReconnects) {
  Redis redis(pick_port());
  Loop loop;
  RedisClient c(loop.base(), opts_for(redis.port()));
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(*run(loop, c, {"PING"}));
  redis.pause();
  auto r = run(loop, c, {"PING"});
  ASSERT_TRUE(r);
  ASSERT_FALSE(*r);
  EXPECT_EQ(r->error().code, Errc::timeout);
  EXPECT_EQ(c.stats().timeouts, 1u);
  redis.resume();
  // Commands issued while reconnecting may fail fast; one eventually succeeds.
  bool ok = loop.run_until([&] {
    auto p = run(loop, c, {"PING"});
    return p && *p;
  });
  EXPECT_TRUE(ok);
}

TEST(RedisClient, ConnectsByNameResolvedPerAttempt) {
  Redis redis(pick_port());
  Loop loop;
  auto o = opts_for(redis.port());
  o.host = "localhost";  // /etc/hosts: no DNS server involved
  RedisClient c(loop.base(), o);
  ASSERT_TRUE(c.start());
  auto r = run(loop, c, {"PING"});
  ASSERT_TRUE(r && *r) << (r && !*r ? r->error().message : "");
  RedisOptions bad;
  bad.port = 0;
  RedisClient z(loop.base(), bad);
  EXPECT_FALSE(z.start());
}

TEST(RedisClient, AuthAndSelect) {
  Redis redis(pick_port(), {"--requirepass", "pw"});
  Loop loop;
  auto o = parse_redis_url("redis://:pw@127.0.0.1:" + std::to_string(redis.port()) + "/2");
  ASSERT_TRUE(o);
  RedisClient c(loop.base(), *o);
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(*run(loop, c, {"SET", "x", "in-db-2"}));
  auto cl = run(loop, c, {"CLIENT", "INFO"});
  ASSERT_TRUE(cl && *cl);
  EXPECT_NE((*cl)->str.find("db=2"), std::string::npos);

  // Redis 6 ACL users: AUTH <user> <password>.
  ASSERT_TRUE(*run(loop, c, {"ACL", "SETUSER", "svc", "on", ">svc-pw", "~*", "+@all"}));
  auto acl = parse_redis_url("redis://svc:svc-pw@127.0.0.1:" + std::to_string(redis.port()));
  ASSERT_TRUE(acl);
  EXPECT_EQ(acl->username, "svc");
  RedisClient u(loop.base(), *acl);
  ASSERT_TRUE(u.start());
  auto who = run(loop, u, {"ACL", "WHOAMI"});
  ASSERT_TRUE(who && *who) << (who && !*who ? who->error().message : "");
  EXPECT_EQ((*who)->str, "svc");

  auto bad = parse_redis_url("redis://:wrong@127.0.0.1:" + std::to_string(redis.port()));
  RedisClient w(loop.base(), *bad);
  ASSERT_TRUE(w.start());
  auto r = run(loop, w, {"GET", "x"});
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

}  // namespace
}  // namespace sc
