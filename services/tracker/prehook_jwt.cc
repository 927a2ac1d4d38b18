// The "jwt" prehook: token checks on the worker threads against an atomically swapped key set,
// and the JWK set refresh on the main loop with the shared async HTTP client.
#include "services/tracker/prehook_jwt.h"

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"
#include "services/tracker/prehook_util.h"

namespace sc {

namespace {

constexpr std::string_view kName = "jwt";
// An identity provider answers in well under a second; ten leaves room for a slow one without
// stacking fetches (one in flight at a time).
constexpr int64_t kFetchTimeoutMs = 10'000;
// Refreshing more often than every second would hammer the identity provider.
constexpr int64_t kMinUpdateIntervalMs = 1000;
// Clock skew beyond an hour is a broken clock, not skew.
constexpr int64_t kMaxLeewayS = 3600;

Result<JwkSet> load_key_file(const std::string& path, bool pem) {
  auto text = prehook::read_file_bounded(path, JwtLimits::kMaxJwksBytes);
  if (!text) return std::unexpected(text.error());
  auto set = pem ? JwkSet::parse_pem(*text) : JwkSet::parse_jwks(*text);
  if (!set) return fail(Errc::invalid_argument, path + ": " + set.error().message);
  return set;
}

}  // namespace

Result<JwtHookOptions> JwtHookOptions::parse(const YAML::Node& o) {
  if (auto st = prehook::check_options(o, kName,
                                       {"issuer", "audience", "jwk_set_url", "jwk_set_update_interval",
                                        "jwk_set_file", "public_key_file", "leeway"});
      !st) {
    return std::unexpected(st.error());
  }
  JwtHookOptions out;
  auto take = [&](const char* key, std::string& dst) -> Status {
    auto v = prehook::get_string(o, kName, key);
    if (!v) return std::unexpected(v.error());
    dst = std::move(*v);
    return {};
  };
  for (auto [key, dst] : {std::pair{"issuer", &out.issuer}, std::pair{"audience", &out.audience},
                          std::pair{"jwk_set_url", &out.jwk_set_url}, std::pair{"jwk_set_file", &out.jwk_set_file},
                          std::pair{"public_key_file", &out.public_key_file}}) {
    if (auto st = take(key, *dst); !st) return std::unexpected(st.error());
  }
  auto every = prehook::get_duration_ms(o, kName, "jwk_set_update_interval", out.jwk_set_update_interval_ms);
  if (!every) return std::unexpected(every.error());
  if (*every < kMinUpdateIntervalMs) return prehook::bad(kName, "jwk_set_update_interval must be at least 1s");
  out.jwk_set_update_interval_ms = *every;
  auto leeway = prehook::get_duration_ms(o, kName, "leeway", out.leeway_s * 1000);
  if (!leeway) return std::unexpected(leeway.error());
  if (*leeway < 0 || *leeway / 1000 > kMaxLeewayS) return prehook::bad(kName, "leeway must be 0s..1h");
  out.leeway_s = *leeway / 1000;
  int sources = !out.jwk_set_url.empty() + !out.jwk_set_file.empty() + !out.public_key_file.empty();
  if (sources == 0) return prehook::bad(kName, "needs jwk_set_url, jwk_set_file or public_key_file");
  if (sources > 1) return prehook::bad(kName, "jwk_set_url, jwk_set_file and public_key_file are exclusive");
  if (!out.jwk_set_url.empty()) {
    if (auto u = parse_http_url(out.jwk_set_url); !u) return prehook::bad(kName, "jwk_set_url: " + u.error().message);
  }
  return out;
}

JwtHook::JwtHook(JwtHookOptions options, EventLoop* loop, MetricsRegistry& metrics, const Clock& clock)
    : opts_(std::move(options)), loop_(loop), clock_(clock) {
  verify_opts_.issuer = opts_.issuer;
  verify_opts_.audience = opts_.audience;
  verify_opts_.leeway_s = opts_.leeway_s;
  auto& fam = metrics.counter_family("swarmcache_tracker_jwt_refusals_total",
                                     "Announces refused by the jwt prehook, by reason.", {"reason"});
  for (int i = 0; i < kJwtErrcCount; ++i) {
    refusals_[i] = &fam.with({jwt_errc_name(static_cast<JwtErrc>(i))});
  }
  refusals_[kMissing] = &fam.with({"missing"});
  refusals_[kWrongInfohash] = &fam.with({"wrong_infohash"});
  refreshes_ = &metrics.counter("swarmcache_tracker_jwks_refreshes_total", "JWK sets fetched and installed.");
  refresh_failures_ = &metrics.counter("swarmcache_tracker_jwks_refresh_failures_total",
                                       "JWK set fetches or parses that failed; the previous keys stayed in force.");
  keys_gauge_ = &metrics.gauge("swarmcache_tracker_jwks_keys", "Keys in the jwt prehook's current key set.");
}

JwtHook::~JwtHook() = default;

Status JwtHook::start() {
  if (!opts_.jwk_set_file.empty() || !opts_.public_key_file.empty()) {
    bool pem = !opts_.public_key_file.empty();
    auto set = load_key_file(pem ? opts_.public_key_file : opts_.jwk_set_file, pem);
    if (!set) return prehook::bad(kName, set.error().message);
    keys_gauge_->set(static_cast<int64_t>(set->size()));
    verifier_.set_keys(std::move(*set));
  }
  if (!opts_.jwk_set_url.empty()) {
    if (!loop_) return prehook::bad(kName, "jwk_set_url needs an event loop");
    http_ = std::make_unique<HttpClient>(*loop_);
    refresh();
    timer_ = loop_->every(opts_.jwk_set_update_interval_ms, [this] { refresh(); });
  }
  return {};
}

Status JwtHook::reload() {
  if (opts_.jwk_set_file.empty() && opts_.public_key_file.empty()) {
    refresh();
    return {};
  }
  bool pem = !opts_.public_key_file.empty();
  auto set = load_key_file(pem ? opts_.public_key_file : opts_.jwk_set_file, pem);
  if (!set) {
    refresh_failures_->inc();
    return std::unexpected(set.error());
  }
  keys_gauge_->set(static_cast<int64_t>(set->size()));
  verifier_.set_keys(std::move(*set));
  refreshes_->inc();
  return {};
}

void JwtHook::refresh() {
  if (!http_ || fetching_) return;
  fetching_ = true;
  http_->request("GET", opts_.jwk_set_url, {{"Accept", "application/json"}}, "", kFetchTimeoutMs,
                 JwtLimits::kMaxJwksBytes, [this](Result<HttpResponse> r) {
                   fetching_ = false;
                   if (!r || r->status != 200) {
                     refresh_failures_->inc();
                     SC_WARN("jwk set fetch failed, keeping the previous keys", {"url", opts_.jwk_set_url},
                             {"error", r ? "HTTP " + std::to_string(r->status) : r.error().message});
                     return;
                   }
                   auto set = JwkSet::parse_jwks(r->body);
                   if (!set) {
                     refresh_failures_->inc();
                     SC_WARN("jwk set unusable, keeping the previous keys", {"url", opts_.jwk_set_url},
                             {"error", set.error().message});
                     return;
                   }
                   bool first = !verifier_.has_keys();
                   keys_gauge_->set(static_cast<int64_t>(set->size()));
                   verifier_.set_keys(std::move(*set));
                   refreshes_->inc();
                   if (first) SC_INFO("jwk set loaded", {"url", opts_.jwk_set_url}, {"keys", keys_gauge_->value()});
                 });
}

void JwtHook::refused(int reason) { refusals_[static_cast<size_t>(reason)]->inc(); }

Status JwtHook::on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) {
  if (req.jwt.empty()) {
    refused(kMissing);
    return fail(Errc::unauthorized, "missing jwt parameter");
  }
  auto claims = verifier_.verify(req.jwt, clock_.now_s(), verify_opts_);
  if (!claims) {
    refused(static_cast<int>(claims.error().code));
    // Keys not fetched yet is our fault, not the client's: a server error it may retry.
    Errc code = claims.error().code == JwtErrc::no_keys ? Errc::unavailable : Errc::unauthorized;
    return fail(code, "jwt: " + claims.error().message);
  }
  char want[40];
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < 20; ++i) {
    want[2 * i] = kHex[req.info_hash[i] >> 4];
    want[2 * i + 1] = kHex[req.info_hash[i] & 15];
  }
  std::string_view got = claims->string_claim("infohash");
  if (got.empty()) {
    refused(kWrongInfohash);
    return fail(Errc::unauthorized, "jwt: token has no infohash claim");
  }
  if (got != std::string_view(want, sizeof want)) {
    refused(kWrongInfohash);
    return fail(Errc::unauthorized, "jwt: infohash claim does not match the announce");
  }
  return {};
}

}  // namespace sc
