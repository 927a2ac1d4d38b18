#pragma once
// A blocking client of the metastore API (routes in proto/metastore_api.h), used by swarmctl
// directly and by the seeder and leecher from a worker thread (MetastoreWorker), so their
// event loops never wait on the network. Each call is bounded by a deadline and a response
// size; non-2xx answers become an Error whose code follows the HTTP status and whose message
// carries the server's error message.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/error.h"
#include "proto/metastore_api.h"

namespace sc {

class EventLoop;

struct MetastoreClientOptions {
  std::string base_url;  // http://host:port[/prefix]
  std::string token;     // bearer token for writes ("" = none)
  int64_t timeout_ms = 15'000;
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
  struct Reply {
    int status = 0;
    std::string body;
  };
  Result<Reply> call(std::string_view method, const std::string& target, std::string_view content_type,
                     std::string_view body, bool auth, int64_t timeout_ms, std::string_view accept = "") const;
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
