#pragma once
// Redis PeerStore: several tracker instances behind a load balancer share one view of every
// swarm. Per swarm and address family, seeders and leechers are sorted sets of compact peers
// scored by last-seen second, so any instance can expire any peer; `downloaded` is a hash
// field; each announce/scrape/GC step is one Lua script (EVALSHA, EVAL on NOSCRIPT), so the
// multi-step update is atomic across instances.
//
// Threads: RedisClient is one connection per event_base. A thread that serves announces on
// its own loop (an HttpServer worker) calls attach_thread(base) from HttpServerOptions::
// thread_init; its requests then use that connection and `done` runs on that thread, later.
// Any other thread (UDP workers, tests) is served by the store's own loop thread, where
// `done` then runs. collect_garbage() only starts a sweep on the store thread and returns; its
// `done` runs there when the sweep ends (the main loop never waits on Redis).
//
// Key layout (prefix default "sc:tracker:"):
//   <prefix>swarm:<hex ih>:s4 / :l4 / :s6 / :l6   ZSET compact peer -> last-seen Unix second
//   <prefix>swarm:<hex ih>:meta                    HASH downloaded
//   <prefix>swarms                                 SET hex info hashes with peers (GC, torrents)
//   <prefix>stats                                  HASH seeders, leechers (for /metrics)
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/clock.h"
#include "common/io/redis_client.h"
#include "services/tracker/peer_store.h"

struct event_base;

namespace sc {

class EventLoop;
class Timer;

struct RedisStoreOptions {
  RedisOptions redis;                       // from storage.config.redis_broker and timeouts
  std::string key_prefix = "sc:tracker:";
  int64_t peer_lifetime_ms = 31 * 60 * 1000;
  uint64_t max_swarms = kDefaultMaxSwarms;  // over all instances sharing the key prefix
};

class RedisPeerStore final : public PeerStore {
 public:
  RedisPeerStore(const Clock& clock, RedisStoreOptions options);
  // Stops the store thread. Clients attached by other threads must have been detached (or
  // their threads ended with the process): they are left alone, not freed from here.
  ~RedisPeerStore() override;
  RedisPeerStore(const RedisPeerStore&) = delete;
  RedisPeerStore& operator=(const RedisPeerStore&) = delete;

  // Starts the store thread and its connection (Redis may still be down: it is retried in
  // the background and ready() stays false meanwhile). Errors: invalid_argument.
  Status start();

  // On the thread that runs `base`: give this thread its own connection. Idempotent.
  void attach_thread(struct event_base* base);
  // On the same thread, before its base is freed: drop that connection.
  void detach_thread();

  void announce(const StoreAnnounce& req, StoreAnnounceResult& out, Done done) override;
  void scrape(std::span<const InfoHash> hashes, std::vector<SwarmCounts>& out, Done done) override;
  void collect_garbage(GcDone done) override;
  StoreStats stats() const override;
  bool ready() const override { return ready_.load(std::memory_order_relaxed); }

 private:
  struct GcRun;
  using Callback = RedisClient::Callback;

  RedisClient* local_client() const;
  // Runs the script on this thread's connection, or on the store thread's.
  void submit(const RedisScript& script, std::vector<std::string> keys, std::vector<std::string> args, Callback cb);
  void swarm_keys(const InfoHash& ih, std::vector<std::string>& keys) const;
  void note_failure(const Error& e);
  void on_tick();
  void gc_step(const std::shared_ptr<GcRun>& run);

  const Clock& clock_;
  RedisStoreOptions options_;
  const uint64_t id_;  // tells this store's per-thread connections from another store's
  std::unique_ptr<EventLoop> loop_;
  std::unique_ptr<RedisClient> home_;
  std::unique_ptr<Timer> tick_;
  int64_t quiet_ticks_ = 0;  // store thread only
  std::thread thread_;
  bool started_ = false;

  std::mutex attached_mu_;
  std::vector<std::unique_ptr<RedisClient>> attached_;

  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> torrents_{0}, seeders_{0}, leechers_{0}, swarm_limit_refusals_{0};
  std::atomic<bool> gc_running_{false};
};

}  // namespace sc
