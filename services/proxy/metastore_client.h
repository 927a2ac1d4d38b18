#pragma once
// The few metastore calls the proxy makes: look a torrent up by content key, register one
// (bearer token), and take/release the single-flight upstream lease. Async on the loop.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/core/error.h"
#include "common/io/http_client.h"

namespace sc {

class EventLoop;

class MetastoreAsync {
 public:
  MetastoreAsync(EventLoop& loop, std::string base_url, std::string token, int64_t timeout_ms);
  ~MetastoreAsync();
  // The .torrent bytes registered under key; nullopt when none (404). Errors: unavailable…
  void get_torrent(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done);
  // 201/200 → ok; 409 (key holds another torrent) → conflict; others → the mapped error.
  void put_torrent(const std::string& key, std::string bytes, std::function<void(Status)> done);
  // true: we hold the lease (granted or renewed); false: another holder has it.
  void take_lease(const std::string& key, const std::string& holder, int64_t ttl_ms,
                  std::function<void(Result<bool>)> done);
  void release_lease(const std::string& key, const std::string& holder);
  // POST /v1/quarantine/{key} {"infohash","reason"}: the torrent's bytes failed their digest;
  // the metastore drops the registration if it is still that infohash and refuses it from then
  // on. true when a registration was removed. Errors: unauthorized, forbidden, unavailable…
  void quarantine(const std::string& key, const std::string& infohash, const std::string& reason,
                  std::function<void(Result<bool>)> done);

 private:
  std::string url_for(std::string_view prefix, const std::string& key) const;
  HttpHeaderList with_auth(HttpHeaderList headers) const;
  std::unique_ptr<HttpClient> http_;
  std::string base_, token_;
  int64_t timeout_ms_;
};

}  // namespace sc
