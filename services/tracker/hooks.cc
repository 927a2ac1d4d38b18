// Prehook implementations and their construction from config. Lists and keys that change at
// run time (JWK sets refreshed from a URL, approval lists reloaded on SIGHUP) are swapped in
// as immutable snapshots behind an atomic shared_ptr, so announces never wait on a reload.
#include "services/tracker/hooks.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <unordered_set>

#include "common/core/bytes.h"
#include "common/core/jwt.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"

namespace sc {
namespace {

std::unexpected<Error> bad(std::string m) { return fail(Errc::invalid_argument, std::move(m)); }

Result<std::string> read_small_file(const std::string& path) {
  constexpr std::streamsize kMaxListFile = 64 << 20;  // ~1.5M info hashes
  std::ifstream f(path, std::ios::binary);
  if (!f) return fail(Errc::io, "cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  if (static_cast<std::streamsize>(s.size()) > kMaxListFile) return fail(Errc::too_large, path + " is too large");
  return s;
}

// Reads a scalar option, turning yaml-cpp's exceptions into errors that name the option.
template <class T>
Result<T> opt(const YAML::Node& options, const std::string& hook, const char* key, T fallback) {
  if (!options || options.IsNull() || !options[key]) return fallback;
  try {
    return options[key].as<T>();
  } catch (const std::exception&) {
    return bad("prehook '" + hook + "': option " + key + " has the wrong type");
  }
}

Result<std::vector<std::string>> opt_list(const YAML::Node& options, const std::string& hook, const char* key) {
  std::vector<std::string> out;
  if (!options || options.IsNull() || !options[key] || options[key].IsNull()) return out;
  if (!options[key].IsSequence()) return bad("prehook '" + hook + "': option " + key + " must be a list");
  for (const auto& item : options[key]) {
    if (!item.IsScalar()) return bad("prehook '" + hook + "': option " + key + " must be a list of strings");
    out.push_back(item.Scalar());
  }
  return out;
}

void warn_unknown_options(const YAML::Node& options, const std::string& hook, std::initializer_list<const char*> known) {
  if (!options || !options.IsMap()) return;
  for (const auto& kv : options) {
    std::string k = kv.first.Scalar();
    if (std::find_if(known.begin(), known.end(), [&](const char* n) { return k == n; }) == known.end()) {
      SC_WARN("prehook option not supported, ignored", {"prehook", hook}, {"option", k});
    }
  }
}

// Chihaya's client id: the 6 bytes after a leading '-' (Azureus style), else the first 6.
std::string_view client_id(const PeerId& pid) {
  const char* p = reinterpret_cast<const char*>(pid.data());
  return pid[0] == '-' ? std::string_view(p + 1, 6) : std::string_view(p, 6);
}

class ClientApprovalHook final : public PreHook {
 public:
  ClientApprovalHook(std::set<std::string> list, bool whitelist) : list_(std::move(list)), whitelist_(whitelist) {}
  std::string_view name() const override { return "client approval"; }
  Status on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) override {
    bool listed = list_.count(std::string(client_id(req.peer_id))) > 0;
    if (listed != whitelist_) return fail(Errc::forbidden, "unapproved client");
    return {};
  }

 private:
  std::set<std::string> list_;
  bool whitelist_;
};

using HashSet = std::unordered_set<std::string>;  // raw 20-byte info hashes

Result<void> add_hex_hashes(HashSet& set, const std::vector<std::string>& items, const std::string& where) {
  for (const auto& raw : items) {
    std::string_view h = raw;
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.back()))) h.remove_suffix(1);
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.front()))) h.remove_prefix(1);
    if (h.empty() || h.front() == '#') continue;
    auto bytes = from_hex(h);
    if (!bytes || bytes->size() != 20) return bad(where + ": '" + std::string(h) + "' is not a 40-hex info hash");
    set.insert(*bytes);
  }
  return {};
}

class TorrentApprovalHook final : public PreHook {
 public:
  TorrentApprovalHook(std::vector<std::string> inline_list, std::string file, bool whitelist)
      : inline_(std::move(inline_list)), file_(std::move(file)), whitelist_(whitelist) {}
  std::string_view name() const override { return "torrent approval"; }

  Status load() {
    auto set = std::make_shared<HashSet>();
    if (auto st = add_hex_hashes(*set, inline_, "torrent approval"); !st) return st;
    if (!file_.empty()) {
      auto text = read_small_file(file_);
      if (!text) return std::unexpected(text.error());
      std::vector<std::string> lines;
      std::istringstream in(*text);
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      if (auto st = add_hex_hashes(*set, lines, file_); !st) return st;
    }
    size_t n = set->size();
    set_.store(std::move(set));
    SC_INFO("torrent approval list loaded", {"entries", n}, {"mode", whitelist_ ? "whitelist" : "blacklist"});
    return {};
  }

  Status on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) override {
    auto set = set_.load();
    bool listed = set->count(std::string(reinterpret_cast<const char*>(req.info_hash.data()), 20)) > 0;
    if (listed != whitelist_) return fail(Errc::forbidden, "unapproved torrent");
    return {};
  }
  bool has_file() const { return !file_.empty(); }

 private:
  std::vector<std::string> inline_;
  std::string file_;
  bool whitelist_;
  std::atomic<std::shared_ptr<const HashSet>> set_{std::make_shared<const HashSet>()};
};

class IntervalVariationHook final : public PreHook {
 public:
  IntervalVariationHook(double probability, int64_t max_delta, bool modify_min)
      : probability_(probability), max_delta_(max_delta), modify_min_(modify_min) {}
  std::string_view name() const override { return "interval variation"; }
  Status on_announce(const AnnounceRequest&, const PeerAddr&, AnnounceReply& reply) override {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    if (std::uniform_real_distribution<double>(0, 1)(rng) >= probability_) return {};
    int64_t delta = std::uniform_int_distribution<int64_t>(1, max_delta_)(rng);
    reply.interval_s += delta;
    if (modify_min_) reply.min_interval_s += delta;
    return {};
  }

 private:
  double probability_;
  int64_t max_delta_;
  bool modify_min_;
};

class JwtHook final : public PreHook {
 public:
  JwtHook(JwtVerifyOptions vopts, std::string url, std::string file, int64_t refresh_ms, HookEnv& env)
      : vopts_(std::move(vopts)), url_(std::move(url)), file_(std::move(file)), refresh_ms_(refresh_ms), env_(env) {
    auto& fam = env.metrics->counter_family("swarmcache_tracker_jwt_rejections_total",
                                            "Announces refused by the jwt prehook, by reason.", {"reason"});
    for (int i = 0; i <= static_cast<int>(JwtErrc::wrong_claim); ++i) {
      rejections_[i] = &fam.with({std::string(jwt_errc_name(static_cast<JwtErrc>(i)))});
    }
    missing_ = &fam.with({"missing"});
    no_keys_ = &fam.with({"no_keys"});
    refresh_failures_ = &env.metrics->counter("swarmcache_tracker_jwt_jwks_refresh_failures_total",
                                              "JWK set fetches or parses that failed (the previous keys stay).");
    refreshes_ = &env.metrics->counter("swarmcache_tracker_jwt_jwks_refreshes_total", "JWK sets loaded.");
  }
  std::string_view name() const override { return "jwt"; }

  Status start() {
    if (!file_.empty()) {
      auto text = read_small_file(file_);
      if (!text) return std::unexpected(text.error());
      auto set = JwkSet::parse_any(*text);
      if (!set) return bad("prehook 'jwt': " + file_ + ": " + set.error().message);
      install(std::move(*set));
    }
    if (!url_.empty()) {
      if (auto u = parse_http_url(url_); !u) return bad("prehook 'jwt': jwk_set_url: " + u.error().message);
      if (env_.loop && env_.http) {
        fetch();
        timer_ = env_.loop->every(refresh_ms_, [this] { fetch(); });
      }
    }
    return {};
  }

  Status on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) override {
    if (req.jwt.empty()) {
      missing_->inc();
      return fail(Errc::unauthorized, "missing jwt parameter");
    }
    auto keys = keys_.load();
    if (!keys) {
      no_keys_->inc();
      return fail(Errc::unavailable, "jwt keys not loaded yet");
    }
    auto claims = jwt_verify(req.jwt, *keys, env_.clock->now_s(), vopts_);
    if (!claims) {
      rejections_[static_cast<int>(claims.error().code)]->inc();
      return fail(Errc::unauthorized, "jwt: " + claims.error().message);
    }
    std::string want = to_hex(std::span<const uint8_t>(req.info_hash.data(), 20));
    if (claims->string_claim("infohash") != want) {
      rejections_[static_cast<int>(JwtErrc::wrong_claim)]->inc();
      return fail(Errc::unauthorized, "jwt: infohash claim does not match the announce");
    }
    return {};
  }

 private:
  void install(JwkSet set) {
    size_t n = set.size();
    keys_.store(std::make_shared<const JwkSet>(std::move(set)));
    refreshes_->inc();
    SC_INFO("jwt keys loaded", {"keys", n});
  }
  void fetch() {
    constexpr int64_t kFetchTimeoutMs = 10'000;
    constexpr size_t kMaxJwksBytes = 1 << 20;
    env_.http->request("GET", url_, {}, "", kFetchTimeoutMs, kMaxJwksBytes,
                       [this](Result<HttpResponse> r) {
                         if (!r || r->status != 200) {
                           refresh_failures_->inc();
                           SC_WARN("jwk set fetch failed, keeping the previous keys", {"url", url_},
                                   {"error", r ? "HTTP " + std::to_string(r->status) : r.error().message});
                           return;
                         }
                         auto set = JwkSet::parse_any(r->body);
                         if (!set) {
                           refresh_failures_->inc();
                           SC_WARN("jwk set unusable, keeping the previous keys", {"url", url_},
                                   {"error", set.error().message});
                           return;
                         }
                         install(std::move(*set));
                       });
  }

  JwtVerifyOptions vopts_;
  std::string url_, file_;
  int64_t refresh_ms_;
  HookEnv& env_;
  std::atomic<std::shared_ptr<const JwkSet>> keys_;
  std::unique_ptr<Timer> timer_;
  Counter* rejections_[static_cast<int>(JwtErrc::wrong_claim) + 1];
  Counter* missing_;
  Counter* no_keys_;
  Counter* refresh_failures_;
  Counter* refreshes_;
};

Result<std::shared_ptr<PreHook>> make_one(const HookConfig& c, HookEnv& env) {
  const YAML::Node& o = c.options;
  const std::string& n = c.name;
  if (n == "client approval") {
    warn_unknown_options(o, n, {"whitelist", "blacklist"});
    auto wl = opt_list(o, n, "whitelist");
    auto bl = opt_list(o, n, "blacklist");
    if (!wl) return std::unexpected(wl.error());
    if (!bl) return std::unexpected(bl.error());
    if (!wl->empty() && !bl->empty()) return bad("prehook 'client approval': whitelist and blacklist are exclusive");
    if (wl->empty() && bl->empty()) return bad("prehook 'client approval': needs a whitelist or a blacklist");
    std::set<std::string> ids;
    for (const auto& id : wl->empty() ? *bl : *wl) {
      if (id.size() != 6) return bad("prehook 'client approval': client id '" + id + "' must be 6 characters");
      ids.insert(id);
    }
    return std::make_shared<ClientApprovalHook>(std::move(ids), !wl->empty());
  }
  if (n == "torrent approval") {
    warn_unknown_options(o, n, {"whitelist", "blacklist", "whitelist_file", "blacklist_file"});
    auto wl = opt_list(o, n, "whitelist");
    auto bl = opt_list(o, n, "blacklist");
    auto wf = opt<std::string>(o, n, "whitelist_file", "");
    auto bf = opt<std::string>(o, n, "blacklist_file", "");
    if (!wl || !bl || !wf || !bf) return bad("prehook 'torrent approval': bad option types");
    bool white = !wl->empty() || !wf->empty();
    bool black = !bl->empty() || !bf->empty();
    if (white && black) return bad("prehook 'torrent approval': whitelist and blacklist are exclusive");
    if (!white && !black) return bad("prehook 'torrent approval': needs a whitelist or a blacklist");
    auto hook = std::make_shared<TorrentApprovalHook>(white ? *wl : *bl, white ? *wf : *bf, white);
    if (auto st = hook->load(); !st) return std::unexpected(st.error());
    return hook;
  }
  if (n == "interval variation") {
    warn_unknown_options(o, n, {"modify_response_probability", "max_increase_delta", "modify_min_interval"});
    auto p = opt<double>(o, n, "modify_response_probability", 0.0);
    auto d = opt<int64_t>(o, n, "max_increase_delta", 0);
    auto m = opt<bool>(o, n, "modify_min_interval", false);
    if (!p || !d || !m) return bad("prehook 'interval variation': bad option types");
    if (!(*p > 0 && *p <= 1)) return bad("prehook 'interval variation': modify_response_probability must be in (0, 1]");
    if (*d <= 0) return bad("prehook 'interval variation': max_increase_delta must be positive");
    return std::make_shared<IntervalVariationHook>(*p, *d, *m);
  }
  if (n == "jwt") {
    warn_unknown_options(o, n, {"issuer", "audience", "jwk_set_url", "jwk_set_update_interval", "jwk_set_file", "leeway"});
    auto iss = opt<std::string>(o, n, "issuer", "");
    auto aud = opt<std::string>(o, n, "audience", "");
    auto url = opt<std::string>(o, n, "jwk_set_url", "");
    auto file = opt<std::string>(o, n, "jwk_set_file", "");
    auto every = opt<std::string>(o, n, "jwk_set_update_interval", "5m");
    auto leeway = opt<std::string>(o, n, "leeway", "30s");
    if (!iss || !aud || !url || !file || !every || !leeway) return bad("prehook 'jwt': bad option types");
    if (url->empty() && file->empty()) return bad("prehook 'jwt': needs jwk_set_url or jwk_set_file");
    auto every_ms = parse_duration_ms(*every);
    auto leeway_ms = parse_duration_ms(*leeway);
    if (!every_ms || *every_ms < 1000) return bad("prehook 'jwt': jwk_set_update_interval must be a duration >= 1s");
    if (!leeway_ms) return bad("prehook 'jwt': leeway must be a duration");
    JwtVerifyOptions v;
    v.issuer = *iss;
    v.audience = *aud;
    v.leeway_s = *leeway_ms / 1000;
    auto hook = std::make_shared<JwtHook>(v, *url, *file, *every_ms, env);
    if (auto st = hook->start(); !st) return std::unexpected(st.error());
    return hook;
  }
  return bad("unknown prehook '" + n + "' (known: jwt, client approval, torrent approval, interval variation)");
}

}  // namespace

Result<std::vector<std::shared_ptr<PreHook>>> make_prehooks(const std::vector<HookConfig>& configs, HookEnv& env) {
  std::vector<std::shared_ptr<PreHook>> out;
  for (const auto& c : configs) {
    auto h = make_one(c, env);
    if (!h) return std::unexpected(h.error());
    out.push_back(std::move(*h));
  }
  return out;
}

void reload_prehooks(const std::vector<std::shared_ptr<PreHook>>& hooks) {
  for (const auto& h : hooks) {
    if (auto* ta = dynamic_cast<TorrentApprovalHook*>(h.get()); ta && ta->has_file()) {
      if (auto st = ta->load(); !st) SC_WARN("torrent approval reload failed, keeping the old list", {"error", st.error().message});
    }
  }
}

}  // namespace sc
