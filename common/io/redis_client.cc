// RedisClient: hiredis 0.14 async on libevent, with what 0.14 lacks added around it —
// per-command deadlines, reconnection with back-off, fail-fast while Redis is down, and
// EVALSHA with EVAL fallback. See redis_client.h for the contract.
#include "common/io/redis_client.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/core/url.h"

namespace sc {
namespace {

// Deadlines are checked on this period while commands are in flight: fine enough for
// second-scale timeouts, coarse enough to cost nothing under load.
constexpr int64_t kTickMs = 20;
// A tick this late means this process was not scheduled (a busy host): replies may be waiting
// unread, so deadlines are judged on the next tick instead, after the loop has done its I/O.
constexpr int64_t kStalledTickNs = 250'000'000;

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::nil;
  }
  return out;
}

// Errors that mean "not now" rather than "wrong command": the caller answers 503.
bool transient_error(std::string_view msg) {
  for (std::string_view p : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (msg.starts_with(p)) return true;
  }
  return false;
}

Result<std::string> resolve(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1) return host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res) return fail(Errc::invalid_argument, "redis: cannot resolve " + host + ": " + gai_strerror(rc));
  std::string best;
  for (addrinfo* p = res; p; p = p->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (p->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, buf, sizeof buf);
      best = buf;
      break;  // prefer IPv4: Redis often binds 127.0.0.1 only
    }
    if (p->ai_family == AF_INET6 && best.empty()) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, buf, sizeof buf);
      best = buf;
    }
  }
  freeaddrinfo(res);
  if (best.empty()) return fail(Errc::invalid_argument, "redis: no address for " + host);
  return best;
}

}  // namespace

namespace {

Status parse_db(std::string_view db, int& out) {
  if (db.empty()) return {};
  int v = -1;
  auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), v);
  if (ec != std::errc() || p != db.data() + db.size() || v < 0 || v > 1000)
    return fail(Errc::invalid_argument, "redis url: bad db number");
  out = v;
  return {};
}

// Sentinels listen on 26379 unless told otherwise.
constexpr uint16_t kSentinelPort = 26379;
// A service names a handful of sentinels (3 or 5 in practice); more is a typo or an attack on
// start-up time (each is asked in turn).
constexpr size_t kMaxSentinels = 16;

}  // namespace

Result<RedisOptions> parse_redis_url(std::string_view url) {
  RedisOptions o;
  auto u = parse_url(url, {.host_list = true});
  if (!u) return fail(Errc::invalid_argument, "redis url: " + u.error().message);
  bool sentinel = u->scheme == "sentinel";
  if (!sentinel && u->scheme != "redis") {
    return fail(Errc::invalid_argument, "redis url must start with redis:// or sentinel://");
  }
  if (u->has_query || u->has_fragment) return fail(Errc::invalid_argument, "redis url: no query or fragment is understood");
  if (u->has_userinfo) {
    std::string_view cred = u->userinfo;
    auto colon = cred.find(':');
    std::string_view user = colon == std::string_view::npos ? std::string_view() : cred.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? cred : cred.substr(colon + 1);
    auto dec = percent_decode(pass, false);
    auto udec = percent_decode(user, false);
    if (!dec || !udec) return fail(Errc::invalid_argument, "redis url: bad escape in credentials");
    o.password = *dec;
    o.username = *udec;
  }
  std::string_view path = u->path;
  if (path.starts_with('/')) path.remove_prefix(1);
  if (!sentinel) {
    if (u->hosts.size() != 1) return fail(Errc::invalid_argument, "redis url: one host only (a list is for sentinel://)");
    o.host = u->host;
    if (u->port != 0) o.port = u->port;
    if (auto st = parse_db(path, o.db); !st) return std::unexpected(st.error());
    return o;
  }
  if (u->hosts.size() > kMaxSentinels) return fail(Errc::invalid_argument, "redis url: more than 16 sentinels");
  for (auto& h : u->hosts) o.sentinels.emplace_back(std::move(h.host), h.port != 0 ? h.port : kSentinelPort);
  size_t slash = path.find('/');
  o.sentinel_master = std::string(path.substr(0, slash));
  if (o.sentinel_master.empty()) return fail(Errc::invalid_argument, "sentinel url: the master name is missing (sentinel://h:26379/mymaster/0)");
  if (slash == std::string_view::npos) return o;
  if (auto st = parse_db(path.substr(slash + 1), o.db); !st) return std::unexpected(st.error());
  return o;
}

RedisScript::RedisScript(std::string src) : source(std::move(src)), sha1_hex(to_hex(sha1(source))) {}

RedisClient::RedisClient(struct event_base* base, RedisOptions options) : base_(base), opts_(std::move(options)) {
  tick_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* p) { static_cast<RedisClient*>(p)->on_tick(); }, this);
  reconnect_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* p) { static_cast<RedisClient*>(p)->connect_now(); }, this);
  soon_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* p) { static_cast<RedisClient*>(p)->run_soon(); }, this);
  retire_ev_ = event_new(base_, -1, 0, [](evutil_socket_t, short, void* p) { static_cast<RedisClient*>(p)->retired_.clear(); }, this);
}

RedisClient::~RedisClient() {
  *alive_ = false;
  if (down_ && opts_.health) opts_.health->down.fetch_sub(1);
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  probe_.reset();
  retired_.clear();
  event_free(tick_ev_);
  event_free(reconnect_ev_);
  event_free(soon_ev_);
  event_free(retire_ev_);
}

Status RedisClient::start() {
  if (opts_.sentinels.empty() && (opts_.host.empty() || opts_.port == 0)) {
    return fail(Errc::invalid_argument, "redis: empty host or port 0");
  }
  if (!opts_.sentinels.empty() && opts_.sentinel_master.empty()) return fail(Errc::invalid_argument, "redis: no sentinel master name");
  backoff_ms_ = 0;
  connect_now();
  return {};
}

void RedisClient::mark_down(const std::string& why) {
  SC_DEBUG("redis connection down", {"addr", ip_}, {"port", port_}, {"error", why});
  if (down_ || !opts_.health) return;
  down_ = true;
  // One line per outage for the whole service, not one per connection or retry.
  if (opts_.health->down.fetch_add(1) == 0) SC_WARN("redis down", {"addr", ip_}, {"port", port_}, {"error", why});
}

void RedisClient::mark_up() {
  state_ = State::connected;
  ++stats_.connects;
  SC_DEBUG("redis connected", {"addr", ip_}, {"port", port_});
  if (!opts_.health) return;
  if (!opts_.health->announced.exchange(true)) SC_INFO("redis connected", {"addr", ip_}, {"port", port_});
  if (!down_) return;
  down_ = false;
  // Logged at the level of "redis down", so that whoever sees the outage sees its end.
  if (opts_.health->down.fetch_sub(1) == 1) SC_WARN("redis back up", {"addr", ip_}, {"port", port_});
}

void RedisClient::connect_now() {
  if (ac_ || state_ == State::discovering) return;
  if (opts_.sentinels.empty()) return connect_to(opts_.host, opts_.port);
  ask_sentinel(0, "");
}

// Asks sentinel `index` for the master, then the next one on failure; each probe is a
// short-lived RedisClient of its own, so it has the same deadlines and never blocks the loop.
void RedisClient::ask_sentinel(size_t index, std::string last_error) {
  if (index == opts_.sentinels.size()) {
    state_ = State::backoff;
    mark_down("no sentinel gave the address of master " + opts_.sentinel_master + ": " + last_error);
    schedule_reconnect();
    return;
  }
  state_ = State::discovering;
  RedisOptions po;
  po.host = opts_.sentinels[index].first;
  po.port = opts_.sentinels[index].second;
  po.command_timeout_ms = opts_.connect_timeout_ms;
  po.connect_timeout_ms = opts_.connect_timeout_ms;
  po.health = nullptr;
  probe_ = std::make_unique<RedisClient>(base_, std::move(po));
  probe_->start();
  probe_->command({"SENTINEL", "get-master-addr-by-name", opts_.sentinel_master}, [this, alive = alive_, index](Result<RedisReply> r) {
    if (!*alive) return;
    // Inside the probe's own callback: it is freed on the next loop turn, not here.
    retired_.push_back(std::move(probe_));
    event_active(retire_ev_, EV_TIMEOUT, 0);
    uint16_t port = 0;
    if (r && r->is_array() && r->elements.size() == 2 && r->elements[0].is_string()) {
      auto& p = r->elements[1].str;
      auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
      if (ec == std::errc() && end == p.data() + p.size() && port != 0) return connect_to(r->elements[0].str, port);
    }
    const auto& s = opts_.sentinels[index];
    std::string why = !r ? r.error().message : r->is_nil() ? "unknown master name" : "unexpected reply";
    ask_sentinel(index + 1, "sentinel " + s.first + ":" + std::to_string(s.second) + ": " + why);
  });
}

void RedisClient::connect_to(const std::string& host, uint16_t port) {
  port_ = port;
  // hiredis 0.14 resolves names synchronously inside redisAsyncConnect; resolving here once per
  // connection attempt (never per command) keeps that off the hot path, and still follows a
  // Redis that comes back under a new address (a restarted container).
  auto ip = resolve(host);
  if (!ip) {
    if (!resolve_failed_ && opts_.health) SC_WARN("redis host does not resolve; retrying", {"host", host}, {"error", ip.error().message});
    resolve_failed_ = true;
    state_ = State::backoff;
    mark_down(ip.error().message);
    schedule_reconnect();
    return;
  }
  resolve_failed_ = false;
  ip_ = *ip;
  redisAsyncContext* ac = redisAsyncConnect(ip_.c_str(), port_);
  if (!ac || ac->err) {
    std::string why = ac ? ac->errstr : "out of memory";
    if (ac) redisAsyncFree(ac);
    state_ = State::backoff;
    mark_down("connect failed: " + why);
    schedule_reconnect();
    return;
  }
  ac->data = this;
  redisLibeventAttach(ac, base_);
  redisAsyncSetConnectCallback(ac, &RedisClient::hiredis_connect_cb);
  redisAsyncSetDisconnectCallback(ac, &RedisClient::hiredis_disconnect_cb);
  ac_ = ac;
  state_ = State::connecting;
  connect_deadline_ns_ = mono_ns() + opts_.connect_timeout_ms * 1'000'000;
  arm_tick();

  // Session set-up goes first in the pipeline, ahead of anything the caller queues.
  auto setup_cb = [this, alive = alive_](Result<RedisReply> r) {
    if (!*alive || r) return;
    if (r.error().code == Errc::internal) {
      SC_ERROR("redis session set-up refused", {"error", r.error().message});
      drop_connection(Error{Errc::unavailable, "redis: " + r.error().message}, false);
    }
  };
  setting_up_ = true;
  if (!opts_.password.empty() && !opts_.username.empty()) {
    command({"AUTH", opts_.username, opts_.password}, setup_cb);
  } else if (!opts_.password.empty()) {
    command({"AUTH", opts_.password}, setup_cb);
  }
  if (opts_.db != 0) command({"SELECT", std::to_string(opts_.db)}, setup_cb);
  // A sentinel's answer may be stale (a failover under way): trust only the server itself.
  if (!opts_.sentinels.empty()) {
    command({"ROLE"}, [this, alive = alive_](Result<RedisReply> r) {
      if (*alive) on_role(std::move(r));
    });
  }
  setting_up_ = false;
}

void RedisClient::on_role(Result<RedisReply> r) {
  if (!r) return;  // the connection failed: its own path handles that
  if (state_ != State::verifying) return;
  bool master = r->is_array() && !r->elements.empty() && r->elements[0].str == "master";
  if (master) return mark_up();
  std::string role = r->is_array() && !r->elements.empty() ? r->elements[0].str : "?";
  drop_connection(Error{Errc::unavailable, "redis at " + ip_ + ":" + std::to_string(port_) + " is a " + role +
                                               ", not the master; asking the sentinels again"},
                  false);
}

void RedisClient::hiredis_connect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self || ac != self->ac_) return;
  self->on_connected(status);
}

void RedisClient::hiredis_disconnect_cb(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisClient*>(ac->data);
  if (!self || ac != self->ac_) return;
  self->on_disconnected();
}

void RedisClient::hiredis_reply_cb(redisAsyncContext* ac, void* reply, void* priv) {
  // A NULL reply means the context is going away; the connect/disconnect path (or whoever
  // freed it) fails our own queue, so there is nothing to do here.
  if (!reply || !priv || ac->data != priv) return;
  static_cast<RedisClient*>(priv)->on_reply(reply);
}

void RedisClient::on_connected(int status) {
  if (status != REDIS_OK) {
    // hiredis frees the context right after this callback returns.
    std::string why = ac_->errstr ? ac_->errstr : "connect failed";
    ac_->data = nullptr;
    ac_ = nullptr;
    state_ = State::backoff;
    mark_down("connect failed: " + why);
    schedule_reconnect();
    fail_all(std::exchange(pending_, {}), Error{Errc::unavailable, "redis unavailable: " + why}, mono_ns(), false);
    return;
  }
  // Sentinel mode: connected, but not in service until ROLE confirms the master (on_role).
  if (!opts_.sentinels.empty()) {
    state_ = State::verifying;
    return;
  }
  mark_up();
}

void RedisClient::on_disconnected() {
  std::string why = ac_->errstr && *ac_->errstr ? ac_->errstr : "connection closed";
  ac_->data = nullptr;
  ac_ = nullptr;
  ++stats_.disconnects;
  state_ = State::backoff;
  mark_down("connection lost: " + why);
  schedule_reconnect();
  fail_all(std::exchange(pending_, {}), Error{Errc::unavailable, "redis connection lost: " + why}, mono_ns(), false);
}

void RedisClient::on_reply(void* raw) {
  if (pending_.empty()) return;  // cannot happen: hiredis and we queue in the same order
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  ++stats_.replies;
  backoff_ms_ = 0;
  int64_t now = mono_ns();
  if (opts_.rtt_seconds) opts_.rtt_seconds->observe(static_cast<double>(now - p.sent_ns) / 1e9);
  auto* r = static_cast<redisReply*>(raw);
  if (r->type == REDIS_REPLY_ERROR) {
    std::string msg(r->str, r->len);
    // Under Sentinel, READONLY means our master was demoted: find the new one.
    bool demoted = !opts_.sentinels.empty() && msg.starts_with("READONLY");
    auto alive = alive_;
    p.cb(fail(transient_error(msg) ? Errc::unavailable : Errc::internal, std::move(msg)));
    if (demoted && *alive && ac_) {
      drop_connection(Error{Errc::unavailable, "redis master became a replica; asking the sentinels again"}, false);
    }
    return;
  }
  p.cb(convert(r));
}

void RedisClient::drop_connection(const Error& why, bool timed_out) {
  if (ac_) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);  // deferred by hiredis when called from inside its callback
    ++stats_.disconnects;
  }
  state_ = State::backoff;
  mark_down(why.message);
  schedule_reconnect();
  fail_all(std::exchange(pending_, {}), why, mono_ns(), timed_out);
}

void RedisClient::fail_all(std::deque<Pending> pending, const Error& why, int64_t now_ns, bool timeouts) {
  auto alive = alive_;
  for (auto& p : pending) {
    if (!*alive) return;
    if (timeouts && p.deadline_ns <= now_ns) {
      ++stats_.timeouts;
      p.cb(fail(Errc::timeout, "redis command timed out"));
    } else {
      p.cb(std::unexpected(why));
    }
  }
}

void RedisClient::schedule_reconnect() {
  if (event_pending(reconnect_ev_, EV_TIMEOUT, nullptr)) return;
  int64_t delay = backoff_ms_ == 0 ? opts_.reconnect_min_ms : backoff_ms_;
  backoff_ms_ = std::min(std::max<int64_t>(delay * 2, 1), opts_.reconnect_max_ms);
  timeval tv{static_cast<time_t>(delay / 1000), static_cast<suseconds_t>((delay % 1000) * 1000)};
  event_add(reconnect_ev_, &tv);
}

void RedisClient::arm_tick() {
  if (tick_armed_) return;
  tick_armed_ = true;
  tick_due_ns_ = mono_ns() + kTickMs * 1'000'000;
  timeval tv{0, kTickMs * 1000};
  event_add(tick_ev_, &tv);
}

void RedisClient::on_tick() {
  tick_armed_ = false;
  int64_t now = mono_ns();
  if (now - tick_due_ns_ > kStalledTickNs) {
    arm_tick();
    return;
  }
  auto handshaking = [this] { return state_ == State::connecting || state_ == State::verifying; };
  if (handshaking() && now >= connect_deadline_ns_) {
    drop_connection(Error{Errc::unavailable, "redis connect timed out"}, true);
    return;
  }
  // Replies come back in order, so one late reply means the connection is stuck (or Redis
  // is); everything behind it would wait as long. Drop it and let the caller fail over.
  auto expired = [&] {
    return std::any_of(pending_.begin(), pending_.end(), [now](const Pending& p) { return p.deadline_ns <= now; });
  };
  if (expired() && state_ == State::connected && ac_) {
    // After this process itself stalled (a busy host), replies may be sitting unread in the
    // socket while the timer fires first: read them before calling the connection stuck.
    auto alive = alive_;
    redisAsyncHandleRead(ac_);
    if (!*alive) return;
    now = mono_ns();
  }
  if (expired()) {
    drop_connection(Error{Errc::unavailable, "redis connection reset after a timeout"}, true);
    return;
  }
  if (!pending_.empty() || handshaking()) arm_tick();
}

void RedisClient::fail_soon(Callback cb, Error err) {
  ++stats_.failed_fast;
  soon_.emplace_back(std::move(cb), std::move(err));
  event_active(soon_ev_, EV_TIMEOUT, 0);
}

void RedisClient::run_soon() {
  auto batch = std::exchange(soon_, {});
  auto alive = alive_;
  for (auto& [cb, err] : batch) {
    if (!*alive) return;
    cb(std::unexpected(std::move(err)));
  }
}

void RedisClient::send_argv(int argc, const char** argv, const size_t* lens, Callback cb, int64_t timeout_ms) {
  ++stats_.commands;
  // Without Sentinel, commands queue behind the handshake (Redis restarts are the common
  // case); with it, only once the server is known to be the master.
  bool open = state_ == State::connected || setting_up_ || (state_ == State::connecting && opts_.sentinels.empty());
  if (!ac_ || !open) {
    fail_soon(std::move(cb), Error{Errc::unavailable, "redis unavailable"});
    return;
  }
  if (pending_.size() >= opts_.max_pending) {
    fail_soon(std::move(cb), Error{Errc::unavailable, "redis: too many commands in flight"});
    return;
  }
  if (redisAsyncCommandArgv(ac_, &RedisClient::hiredis_reply_cb, this, argc, argv, lens) != REDIS_OK) {
    fail_soon(std::move(cb), Error{Errc::unavailable, "redis connection is closing"});
    return;
  }
  int64_t now = mono_ns();
  int64_t t = timeout_ms < 0 ? opts_.command_timeout_ms : timeout_ms;
  pending_.push_back(Pending{std::move(cb), now, now + t * 1'000'000});
  arm_tick();
}

void RedisClient::command(std::span<const std::string_view> argv, Callback cb, int64_t timeout_ms) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  send_argv(static_cast<int>(argv.size()), ptrs.data(), lens.data(), std::move(cb), timeout_ms);
}

void RedisClient::command(std::initializer_list<std::string_view> argv, Callback cb, int64_t timeout_ms) {
  command(std::span<const std::string_view>(argv.begin(), argv.size()), std::move(cb), timeout_ms);
}

void RedisClient::command(const std::vector<std::string>& argv, Callback cb, int64_t timeout_ms) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  send_argv(static_cast<int>(argv.size()), ptrs.data(), lens.data(), std::move(cb), timeout_ms);
}

void RedisClient::eval(const RedisScript& script, std::span<const std::string> keys,
                       std::span<const std::string> args, Callback cb, int64_t timeout_ms) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha1_hex);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto retry = [this, alive = alive_, argv, source = script.source, cb = std::move(cb), timeout_ms](Result<RedisReply> r) mutable {
    if (!*alive) return;
    if (!r && r.error().code == Errc::internal && r.error().message.starts_with("NOSCRIPT")) {
      argv[0] = "EVAL";
      argv[1] = std::move(source);
      command(argv, std::move(cb), timeout_ms);
      return;
    }
    cb(std::move(r));
  };
  command(argv, std::move(retry), timeout_ms);
}

}  // namespace sc
