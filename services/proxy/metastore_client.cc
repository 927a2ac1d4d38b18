// Metastore calls for the proxy (the metastore's /v1 API): torrents by key, leases for single-flight
// upstream fetches. Keys are percent-encoded into the path.
#include "services/proxy/metastore_client.h"

#include "common/core/bytes.h"
#include "common/core/http_status.h"
#include "common/core/json.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"
#include "proto/metastore_api.h"

namespace sc {
namespace {

// .torrent files for single blobs are a few KB; a 16 GiB blob at 16 MiB pieces is ~20 KB.
constexpr size_t kMaxTorrentBytes = 8 << 20;
constexpr size_t kMaxSmallJson = 64 << 10;


}  // namespace

MetastoreAsync::MetastoreAsync(EventLoop& loop, std::string base_url, std::string token, int64_t timeout_ms)
    : http_(std::make_unique<HttpClient>(loop)), base_(std::move(base_url)), token_(std::move(token)),
      timeout_ms_(timeout_ms) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
}

MetastoreAsync::~MetastoreAsync() = default;

HttpHeaderList MetastoreAsync::with_auth(HttpHeaderList headers) const {
  if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
  return headers;
}

std::string MetastoreAsync::url_for(std::string_view prefix, const std::string& key) const {
  return base_ + std::string(prefix) + percent_encode(key);
}

void MetastoreAsync::get_torrent(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) {
  http_->request("GET", url_for("/v1/torrents/", key), {{"Accept", "application/x-bittorrent"}}, "", timeout_ms_,
                 kMaxTorrentBytes, [done = std::move(done)](Result<HttpResponse> res) {
    if (!res) return done(std::unexpected(res.error()));
    if (res->status == 404) return done(std::optional<std::string>());
    if (res->status != 200)
      return done(fail(errc_for_http_status(res->status), "metastore GET torrent: " + std::to_string(res->status)));
    done(std::optional<std::string>(std::move(res->body)));
  });
}

void MetastoreAsync::put_torrent(const std::string& key, std::string bytes, std::function<void(Status)> done) {
  http_->request("PUT", url_for("/v1/torrents/", key), with_auth({{"Content-Type", "application/x-bittorrent"}}), bytes,
                 timeout_ms_, kMaxSmallJson, [done = std::move(done)](Result<HttpResponse> res) {
    if (!res) return done(std::unexpected(res.error()));
    int s = res->status;
    if (s == 200 || s == 201) return done({});
    done(fail(errc_for_http_status(s), "metastore PUT torrent: " + std::to_string(s) + " " + res->body.substr(0, 200)));
  });
}

void MetastoreAsync::take_lease(const std::string& key, const std::string& holder, int64_t ttl_ms,
                                 std::function<void(Result<bool>)> done) {
  http_->request("POST", url_for("/v1/leases/", key), with_auth({{"Content-Type", "application/json"}}),
                 to_json(LeaseRequest{holder, ttl_ms}), timeout_ms_, kMaxSmallJson,
                 [done = std::move(done)](Result<HttpResponse> res) {
    if (!res) return done(std::unexpected(res.error()));
    int s = res->status;
    if (s == 200 || s == 201) return done(true);
    if (s == 409) return done(false);
    done(fail(errc_for_http_status(s), "metastore lease: " + std::to_string(s)));
  });
}

void MetastoreAsync::release_lease(const std::string& key, const std::string& holder) {
  http_->request("DELETE", url_for("/v1/leases/", key) + "?holder=" + percent_encode(holder), with_auth({}), "",
                 timeout_ms_, kMaxSmallJson, [](Result<HttpResponse>) {});
}

void MetastoreAsync::quarantine(const std::string& key, const std::string& infohash, const std::string& reason,
                                std::function<void(Result<bool>)> done) {
  std::string body = Json::object().set("infohash", Json::string(infohash)).set("reason", Json::string(reason)).dump();
  http_->request("POST", url_for("/v1/quarantine/", key), with_auth({{"Content-Type", "application/json"}}), body,
                 timeout_ms_, kMaxSmallJson, [done = std::move(done)](Result<HttpResponse> res) {
    if (!res) return done(std::unexpected(res.error()));
    if (res->status != 200)
      return done(fail(errc_for_http_status(res->status),
                       "metastore quarantine: " + std::to_string(res->status) + " " + res->body.substr(0, 200)));
    auto body = json_parse(res->body);
    done(body && body->is_object() && body->bool_or("removed", false));
  });
}

}  // namespace sc
