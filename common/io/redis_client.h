#pragma once
// Asynchronous Redis client on a libevent loop (hiredis 0.14 underneath, never visible here).
//
// One RedisClient is one TCP connection owned by one event_base (one thread). Commands are
// binary-safe argv vectors; issuing several without waiting pipelines them. Every command
// has a deadline (hiredis 0.14 has none): when a reply is late the connection is considered
// stuck, is dropped, and every command still in flight fails. The client reconnects by
// itself with exponential back-off; while Redis is unreachable new commands fail fast with
// Errc::unavailable instead of queueing. Callbacks always run on the loop, never from inside
// command() itself, and get Result<RedisReply>:
//   - Errc::unavailable  not connected, connection lost, or Redis busy/loading;
//   - Errc::timeout      this command's deadline passed;
//   - Errc::internal     Redis answered with an error reply (message = the error text);
//   - a RedisReply       anything else (nested error replies, e.g. inside EXEC, stay
//                        RedisReply::Type::error elements).
// Sentinel (RedisOptions::sentinels): before each connection the client asks the sentinels in
// turn for the master's address (SENTINEL get-master-addr-by-name), connects there, and accepts
// commands only once ROLE says "master". A lost connection, or a READONLY reply (the master was
// demoted), makes it ask again, so it follows a failover without a restart; commands issued
// meanwhile fail fast with Errc::unavailable.
// Outages are logged once per RedisOptions (shared by every client copied from it): "redis
// down" with the reason when the first connection is lost, "redis back up" when all are back.
// Not for SUBSCRIBE/MONITOR. Blocking commands (XREAD BLOCK, BLPOP) stall every command
// behind them on the same connection: give them their own client and a longer timeout.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

struct event_base;
struct event;
struct redisAsyncContext;

namespace sc {

class Histogram;

struct RedisReply {
  enum class Type { string, array, integer, nil, status, error };
  Type type = Type::nil;
  std::string str;                  // string, status and error text
  int64_t integer = 0;
  std::vector<RedisReply> elements; // array

  bool is_nil() const { return type == Type::nil; }
  bool is_string() const { return type == Type::string; }
  bool is_array() const { return type == Type::array; }
  bool is_integer() const { return type == Type::integer; }
  bool is_error() const { return type == Type::error; }
  bool is_status(std::string_view s) const { return type == Type::status && str == s; }
};

// Connections of one service that are down; shared through RedisOptions::health.
struct RedisHealth {
  std::atomic<int> down{0};
  std::atomic<bool> announced{false};  // "redis connected" logged once
};

struct RedisOptions {
  std::string host = "127.0.0.1";   // a name is resolved before each connection attempt
  uint16_t port = 6379;
  // Sentinel mode when not empty: host/port are ignored and the master of `sentinel_master`
  // is looked up through these (host, port) pairs, in order, before each connection.
  std::vector<std::pair<std::string, uint16_t>> sentinels;
  std::string sentinel_master;
  std::string username;             // Redis 6 ACL user ("" = the default user)
  std::string password;             // AUTH when not empty
  int db = 0;                       // SELECT when not 0
  int64_t command_timeout_ms = 2'000;   // a healthy Redis answers in well under a millisecond
  int64_t connect_timeout_ms = 1'000;
  int64_t reconnect_min_ms = 50;        // first retry soon: a restart is the common case
  int64_t reconnect_max_ms = 2'000;     // bounded so recovery is seen within ~2 s
  size_t max_pending = 100'000;         // beyond this, commands fail fast (memory bound)
  Histogram* rtt_seconds = nullptr;     // optional: observes each reply's round-trip time
  // Copies share it, so the connections of one service log an outage once; nullptr: silent.
  std::shared_ptr<RedisHealth> health = std::make_shared<RedisHealth>();
};

// Parses redis://[[user]:password@]host[:port][/db] and
// sentinel://[[user]:password@]host[:port],host[:port].../master_name[/db] (sentinel port
// 26379 by default; the credentials are the master's). User and password percent-decoded.
// Errors: invalid_argument.
Result<RedisOptions> parse_redis_url(std::string_view url);

// A Lua script sent with EVALSHA, falling back to EVAL (which loads it) on NOSCRIPT.
struct RedisScript {
  explicit RedisScript(std::string source);
  std::string source;
  std::string sha1_hex;
};

class RedisClient {
 public:
  using Callback = std::function<void(Result<RedisReply>)>;

  RedisClient(struct event_base* base, RedisOptions options);
  // Drops pending callbacks without calling them. Never destroy the client from inside one
  // of its callbacks: defer it to the next loop turn.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting (in the background: an unreachable or unresolvable Redis is retried
  // with back-off, and commands fail fast meanwhile). Errors: invalid_argument (no host/port).
  Status start();

  // timeout_ms < 0 uses options.command_timeout_ms.
  void command(std::span<const std::string_view> argv, Callback cb, int64_t timeout_ms = -1);
  void command(std::initializer_list<std::string_view> argv, Callback cb, int64_t timeout_ms = -1);
  void command(const std::vector<std::string>& argv, Callback cb, int64_t timeout_ms = -1);
  // EVALSHA script numkeys keys... args..., with EVAL on NOSCRIPT.
  void eval(const RedisScript& script, std::span<const std::string> keys,
            std::span<const std::string> args, Callback cb, int64_t timeout_ms = -1);

  bool connected() const { return state_ == State::connected; }
  size_t pending() const { return pending_.size(); }

  struct Stats {
    uint64_t commands = 0, replies = 0, failed_fast = 0, timeouts = 0, connects = 0,
             disconnects = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  // Sentinel mode adds: discovering (asking the sentinels) and verifying (connected, ROLE
  // not yet answered).
  enum class State { idle, discovering, connecting, verifying, connected, backoff };
  struct Pending {
    Callback cb;
    int64_t sent_ns;
    int64_t deadline_ns;
  };

  void connect_now();
  void ask_sentinel(size_t index, std::string last_error);
  void connect_to(const std::string& host, uint16_t port);
  void on_role(Result<RedisReply> r);
  void mark_down(const std::string& why);
  void mark_up();
  void on_connected(int status);
  void on_disconnected();
  void on_reply(void* reply);
  void drop_connection(const Error& why, bool timed_out);
  void fail_all(std::deque<Pending> pending, const Error& why, int64_t now_ns, bool timeouts);
  void schedule_reconnect();
  void arm_tick();
  void on_tick();
  void fail_soon(Callback cb, Error err);
  void run_soon();
  void send_argv(int argc, const char** argv, const size_t* lens, Callback cb, int64_t timeout_ms);

  static void hiredis_reply_cb(struct redisAsyncContext* ac, void* reply, void* priv);
  static void hiredis_connect_cb(const struct redisAsyncContext* ac, int status);
  static void hiredis_disconnect_cb(const struct redisAsyncContext* ac, int status);

  struct event_base* base_;
  RedisOptions opts_;
  std::string ip_;
  uint16_t port_ = 0;
  State state_ = State::idle;
  bool setting_up_ = false;  // session set-up commands go out ahead of the caller's
  bool down_ = false;        // counted in opts_.health->down
  std::unique_ptr<RedisClient> probe_;                 // the sentinel being asked
  std::vector<std::unique_ptr<RedisClient>> retired_;  // probes freed on the next loop turn
  struct event* retire_ev_ = nullptr;
  struct redisAsyncContext* ac_ = nullptr;
  std::deque<Pending> pending_;
  int64_t backoff_ms_ = 0;
  int64_t connect_deadline_ns_ = 0;
  struct event* tick_ev_ = nullptr;       // deadlines and connect timeout
  struct event* reconnect_ev_ = nullptr;
  struct event* soon_ev_ = nullptr;       // runs fail-fast callbacks outside command()
  std::vector<std::pair<Callback, Error>> soon_;
  bool tick_armed_ = false;
  int64_t tick_due_ns_ = 0;
  bool resolve_failed_ = false;
  Stats stats_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sc
