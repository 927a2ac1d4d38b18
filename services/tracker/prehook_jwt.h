#pragma once
// Chihaya's "jwt" prehook: an announce must carry a `jwt` parameter holding an RS256 or ES256
// token whose signature checks against the configured keys, whose `iss` is `issuer`, whose
// `aud` contains `audience`, whose `infohash` claim is the announce's info hash (lower-case
// hex), and — beyond Chihaya — that is within its exp/nbf window (± `leeway`). Scrapes are not
// checked, as in Chihaya.
//
// Options: Chihaya's `issuer`, `audience`, `jwk_set_url`, `jwk_set_update_interval`; ours:
// `jwk_set_file` (a local JWKS), `public_key_file` (a PEM public key), `leeway` (duration).
// Keys from the URL are fetched at start and every update interval on the main loop; a failed
// refresh keeps the previous keys and counts in swarmcache_tracker_jwks_refresh_failures_total.
// Every refusal counts in swarmcache_tracker_jwt_refusals_total{reason}.
#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/clock.h"
#include "common/core/error.h"
#include "common/core/jwt.h"
#include "common/core/metrics.h"
#include "services/tracker/logic.h"

namespace sc {

class EventLoop;
class HttpClient;
class Timer;

struct JwtHookOptions {
  std::string issuer;
  std::string audience;
  std::string jwk_set_url;
  int64_t jwk_set_update_interval_ms = 5 * 60 * 1000;  // Chihaya's default
  std::string jwk_set_file;
  std::string public_key_file;
  int64_t leeway_s = 30;

  // Errors name the option: wrong types, no key source, interval under 1 s, bad URL.
  static Result<JwtHookOptions> parse(const YAML::Node& options);
};

class JwtHook final : public PreHook {
 public:
  // `loop` may be null when no jwk_set_url is configured (unit tests).
  JwtHook(JwtHookOptions options, EventLoop* loop, MetricsRegistry& metrics, const Clock& clock);
  ~JwtHook() override;

  // Loads the key files (errors: io, invalid_argument naming the file), then starts fetching
  // jwk_set_url (first fetch now, then every interval). Call on the loop thread.
  Status start();

  std::string_view name() const override { return "jwt"; }
  Status on_announce(const AnnounceRequest& req, const PeerAddr& peer, AnnounceReply& reply) override;

  // Starts one fetch of jwk_set_url unless one is in flight (loop thread). For tests and SIGHUP.
  void refresh();
  // SIGHUP: re-reads jwk_set_file / public_key_file, or refreshes from the URL. A failure keeps
  // the previous keys and counts in swarmcache_tracker_jwks_refresh_failures_total.
  Status reload();
  const JwtVerifier& verifier() const { return verifier_; }

 private:
  void refused(int reason);

  JwtHookOptions opts_;
  JwtVerifyOptions verify_opts_;
  EventLoop* loop_;
  const Clock& clock_;
  JwtVerifier verifier_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Timer> timer_;
  bool fetching_ = false;

  // Refusal reasons: every JwtErrc, then these two.
  static constexpr int kMissing = kJwtErrcCount;
  static constexpr int kWrongInfohash = kJwtErrcCount + 1;
  std::array<Counter*, kJwtErrcCount + 2> refusals_{};
  Counter* refreshes_;
  Counter* refresh_failures_;
  Gauge* keys_gauge_;
};

}  // namespace sc
