// Metastore calls for the proxy (the metastore's /v1 API): torrents by key, leases for single-flight
// upstream fetches. Keys are percent-encoded into the path.
#include "services/proxy/metastore_client.h"

#include "common/core/bytes.h"
#include "common/core/http_status.h"
#include "common/core/json.h"
#include "common/io/event_loop.h"
#include "common/io/proxy_fetch.h"
#include "proto/metastore_api.h"

namespace sc {
namespace {

// .torrent files for single blobs are a few KB; a 16 GiB blob at 16 MiB pieces is ~20 KB.
constexpr size_t kMaxTorrentBytes = 8 << 20;
constexpr size_t kMaxSmallJson = 64 << 10;


}  // namespace

MetastoreAsync::MetastoreAsync(EventLoop& loop, std::string base_url, std::string token, int64_t timeout_ms)
    : loop_(loop), base_(std::move(base_url)), token_(std::move(token)), timeout_ms_(timeout_ms) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

std::string MetastoreAsync::url_for(std::string_view prefix, const std::string& key) const {
  return base_ + std::string(prefix) + percent_encode(key);
}

void MetastoreAsync::get_torrent(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) {
  FetchRequest r;
  r.url = url_for("/v1/torrents/", key);
  r.timeout_ms = timeout_ms_;
  r.headers.emplace_back("Accept", "application/x-bittorrent");
  fetch_all(loop_.base(), std::move(r), kMaxTorrentBytes, [done = std::move(done)](Result<FetchResult> res) {
    if (!res) return done(std::unexpected(res.error()));
    if (res->head.status == 404) return done(std::optional<std::string>());
    if (res->head.status != 200)
      return done(fail(errc_for_http_status(res->head.status), "metastore GET torrent: " + std::to_string(res->head.status)));
    done(std::optional<std::string>(std::move(res->body)));
  });
}

void MetastoreAsync::put_torrent(const std::string& key, std::string bytes, std::function<void(Status)> done) {
  FetchRequest r;
  r.method = "PUT";
  r.url = url_for("/v1/torrents/", key);
  r.timeout_ms = timeout_ms_;
  r.body = std::move(bytes);
  r.headers.emplace_back("Content-Type", "application/x-bittorrent");
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  fetch_all(loop_.base(), std::move(r), kMaxSmallJson, [done = std::move(done)](Result<FetchResult> res) {
    if (!res) return done(std::unexpected(res.error()));
    int s = res->head.status;
    if (s == 200 || s == 201) return done({});
    done(fail(errc_for_http_status(s), "metastore PUT torrent: " + std::to_string(s) + " " + res->body.substr(0, 200)));
  });
}

void MetastoreAsync::take_lease(const std::string& key, const std::string& holder, int64_t ttl_ms,
                                 std::function<void(Result<bool>)> done) {
  FetchRequest r;
  r.method = "POST";
  r.url = url_for("/v1/leases/", key);
  r.timeout_ms = timeout_ms_;
  r.body = to_json(LeaseRequest{holder, ttl_ms});
  r.headers.emplace_back("Content-Type", "application/json");
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  fetch_all(loop_.base(), std::move(r), kMaxSmallJson, [done = std::move(done)](Result<FetchResult> res) {
    if (!res) return done(std::unexpected(res.error()));
    int s = res->head.status;
    if (s == 200 || s == 201) return done(true);
    if (s == 409) return done(false);
    done(fail(errc_for_http_status(s), "metastore lease: " + std::to_string(s)));
  });
}

void MetastoreAsync::release_lease(const std::string& key, const std::string& holder) {
  FetchRequest r;
  r.method = "DELETE";
  r.url = url_for("/v1/leases/", key) + "?holder=" + percent_encode(holder);
  r.timeout_ms = timeout_ms_;
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  fetch_all(loop_.base(), std::move(r), kMaxSmallJson, [](Result<FetchResult>) {});
}

void MetastoreAsync::quarantine(const std::string& key, const std::string& infohash, const std::string& reason,
                                std::function<void(Result<bool>)> done) {
  FetchRequest r;
  r.method = "POST";
  r.url = url_for("/v1/quarantine/", key);
  r.timeout_ms = timeout_ms_;
  r.body = Json::object().set("infohash", Json::string(infohash)).set("reason", Json::string(reason)).dump();
  r.headers.emplace_back("Content-Type", "application/json");
  if (!token_.empty()) r.headers.emplace_back("Authorization", "Bearer " + token_);
  fetch_all(loop_.base(), std::move(r), kMaxSmallJson, [done = std::move(done)](Result<FetchResult> res) {
    if (!res) return done(std::unexpected(res.error()));
    if (res->head.status != 200)
      return done(fail(errc_for_http_status(res->head.status),
                       "metastore quarantine: " + std::to_string(res->head.status) + " " + res->body.substr(0, 200)));
    auto body = json_parse(res->body);
    done(body && body->is_object() && body->bool_or("removed", false));
  });
}

}  // namespace sc
