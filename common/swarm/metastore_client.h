#pragma once
// The metastore client (routes in proto/metastore_api.h): MetastoreAsync on an sc::EventLoop
// over the HTTP client, used by the proxy; MetastoreClient, the blocking wrapper that runs the
// same calls on a private loop, used by swarmctl directly and by the seeder and leecher from a
// worker thread (MetastoreWorker), so their event loops never wait on the network. Each call
// is bounded by a deadline and a response size; non-2xx answers become an Error whose code
// follows the HTTP status (errc_for_http_status) and whose message carries the server's
// error message.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/error.h"
#include "proto/metastore_api.h"

namespace sc {

class EventLoop;
class HttpClient;

struct MetastoreClientOptions {
  std::string base_url;  // http://host:port[/prefix]
  std::string token;     // bearer token for writes ("" = none)
  int64_t timeout_ms = 15'000;
};

// A 2xx answer of the metastore.
struct MetastoreReply {
  int status = 0;
  std::string body;
};

// One exchange with the metastore, as the async and blocking clients send it.
struct MetastoreCall {
  MetastoreCall(std::string m, std::string t, std::string ct = "", std::string b = "", bool a = false,
                std::string acc = "", int64_t timeout = 0)
      : method(std::move(m)), target(std::move(t)), content_type(std::move(ct)), body(std::move(b)), auth(a),
        accept(std::move(acc)), timeout_ms(timeout) {}
  std::string method;
  std::string target;  // "/v1/…" with the key already encoded (key_path)
  std::string content_type;
  std::string body;
  bool auth;  // sends the bearer token
  std::string accept;
  int64_t timeout_ms;  // 0: the client's
};

class MetastoreAsync {
 public:
  // The base URL is checked by the first call (invalid_argument, like any bad request).
  MetastoreAsync(EventLoop& loop, MetastoreClientOptions options);
  // Calls in flight are abandoned: their callbacks never run.
  ~MetastoreAsync();
  MetastoreAsync(const MetastoreAsync&) = delete;
  MetastoreAsync& operator=(const MetastoreAsync&) = delete;

  // Any route; `done` runs on the loop, never from inside call().
  void call(MetastoreCall c, std::function<void(Result<MetastoreReply>)> done);

  // The .torrent bytes registered under key; nullopt when none (404).
  void get_torrent(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done);
  // 201/200 → ok; 409 (key holds another torrent) → conflict; others → the mapped error.
  void put_torrent(const std::string& key, std::string bytes, std::function<void(Status)> done);
  // true: we hold the lease (granted or renewed); false: another holder has it (409).
  void take_lease(const std::string& key, const std::string& holder, int64_t ttl_ms,
                  std::function<void(Result<bool>)> done);
  // Fire and forget: a lease left behind expires at its TTL.
  void release_lease(const std::string& key, const std::string& holder);
  // POST /v1/quarantine/{key} {"infohash","reason"}: the torrent's bytes failed their digest;
  // the metastore drops the registration if it is still that infohash and refuses it from then
  // on. true when a registration was removed. Errors: unauthorized, forbidden, unavailable…
  void quarantine(const std::string& key, const std::string& infohash, const std::string& reason,
                  std::function<void(Result<bool>)> done);

 private:
  MetastoreClientOptions opt_;
  std::unique_ptr<HttpClient> http_;
};

class MetastoreClient {
 public:
  // Errors: invalid_argument (not an http:// URL).
  static Result<MetastoreClient> create(MetastoreClientOptions options);

  // PUT /v1/torrents/{key}: returns 201 (new) or 200 (same infohash already there).
  // Errors: conflict (key holds another infohash), unauthorized, invalid_argument, too_large.
  Result<int> put_torrent(std::string_view key, std::string_view torrent_bytes) const;
  // GET /v1/torrents/{key}: the .torrent bytes. Errors: not_found.
  Result<std::string> get_torrent(std::string_view key) const;
  Result<TorrentMeta> get_meta(std::string_view key) const;
  Result<TorrentPage> list(std::string_view prefix, int limit, std::string_view cursor) const;
  // DELETE /v1/torrents/{key}. Errors: not_found, unauthorized.
  Status remove(std::string_view key) const;
  // Long-poll GET /v1/events?after=&wait=; the deadline is wait + timeout_ms.
  Result<EventsPage> events(std::string_view after, int64_t wait_ms) const;
  Status heartbeat(const NodeInfo& node) const;
  Result<NodeList> nodes() const;

  const std::string& base_url() const { return opt_.base_url; }

 private:
  // Runs c on a private loop until it is answered.
  Result<MetastoreReply> call(MetastoreCall c) const;
  MetastoreClientOptions opt_;
};

// Reads a bearer token file (first line, trimmed). "" path → "". Errors: io.
Result<std::string> read_token_file(const std::string& path);

// The path of a key in URLs: every byte but unreserved characters and '/' percent-encoded.
std::string key_path(std::string_view key);

// Runs blocking metastore calls on one background thread and hands each result back on the
// loop thread, in order. Jobs queued after stop() are dropped.
class MetastoreWorker {
 public:
  MetastoreWorker(EventLoop& loop, MetastoreClient client);
  ~MetastoreWorker();  // stops and joins (a running long-poll finishes first: bounded)
  MetastoreWorker(const MetastoreWorker&) = delete;
  MetastoreWorker& operator=(const MetastoreWorker&) = delete;

  // `job` runs on the worker thread with the client; `done` runs afterwards on the loop.
  void post(std::function<void(const MetastoreClient&)> job, std::function<void()> done = {});
  // Jobs waiting or running.
  size_t backlog() const;
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sc
