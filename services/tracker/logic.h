#pragma once
// Tracker logic, independent of the transport: parse → resolve the peer's address → prehook
// chain (config order) → PeerStore → bencoded body. The HTTP and UDP frontends feed it
// TrackerExchange objects they pool and reuse, so the hot path allocates nothing in steady state.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "proto/announce.h"
#include "services/tracker/peer_store.h"

namespace sc {

// An address block ("10.0.0.0/8", "::1/128", or a bare address).
struct Cidr {
  PeerAddr net;
  uint8_t bits = 0;
  bool contains(const PeerAddr& a) const;
};
Result<Cidr> parse_cidr(std::string_view text);

struct LogicOptions {
  int64_t announce_interval_s = 30 * 60;
  int64_t min_announce_interval_s = 15 * 60;
  uint32_t default_numwant = 50;
  uint32_t max_numwant = 100;
  size_t max_scrape_infohashes = 50;
  bool allow_ip_spoofing = false;
  std::string real_ip_header;          // "" = only the connection's address counts
  std::vector<Cidr> trusted_proxies;   // real_ip_header is read only from these
  QueryLimits limits;
};

enum class Outcome : uint8_t { ok, client_error, server_error };
enum class Action : uint8_t { announce, scrape };

// A hook run before the store sees a request (Chihaya's prehooks: jwt, client approval,
// torrent approval, interval variation). An error refuses the request; its message is the
// client's failure reason (Errc::internal/unavailable are reported as server errors).
class PreHook {
 public:
  virtual ~PreHook() = default;
  virtual std::string_view name() const = 0;
  // May adjust `reply` (intervals). Runs on worker threads: must be thread-safe.
  virtual Status on_announce(const AnnounceRequest& req, const PeerAddr& peer, AnnounceReply& reply) { return {}; }
  virtual Status on_scrape(const ScrapeRequest& req, const PeerAddr& client) { return {}; }
};

// One request in flight. The frontend derives from it, fills the inputs, and gets done()
// exactly once — possibly before TrackerLogic::announce() returns.
struct TrackerExchange {
  virtual ~TrackerExchange() = default;
  virtual void done() = 0;

  // Inputs.
  std::string_view query;          // raw query string; must stay valid until done()
  PeerAddr conn;                   // the connection's remote address (port unused)
  std::string_view real_ip_value;  // value of the real_ip_header, "" if absent

  bool bencode = true;             // HTTP: write `body`; UDP encodes reply/counts itself

  // Outputs.
  std::string body;                // bencoded response (success or failure reason)
  std::string failure;             // the failure reason, "" on success
  Outcome outcome = Outcome::ok;
  bool ipv6 = false;               // address family the request was counted under

  // Working state, kept here so its capacity is reused.
  AnnounceRequest announce;
  ScrapeRequest scrape;
  PeerAddr peer;
  AnnounceReply reply;
  StoreAnnounceResult stored;
  std::vector<SwarmCounts> counts;
};

class TrackerLogic {
 public:
  TrackerLogic(LogicOptions options, PeerStore& store);

  // Appends to the chain; call before serving.
  void add_prehook(std::shared_ptr<PreHook> hook);
  const LogicOptions& options() const { return options_; }
  const std::vector<std::shared_ptr<PreHook>>& prehooks() const { return hooks_; }

  // Parse `query`, then as below.
  void announce(TrackerExchange& ex);
  void scrape(TrackerExchange& ex);
  // For frontends that decode requests themselves (UDP): ex.announce / ex.scrape.info_hashes
  // are already filled (scrape hashes in the client's order; counts follow that order).
  void announce_parsed(TrackerExchange& ex);
  void scrape_parsed(TrackerExchange& ex);

  // The address a peer is recorded under: the connection's, or the real_ip_header's when the
  // connection comes from a trusted proxy, or the `ip` parameter when spoofing is allowed.
  Result<PeerAddr> resolve_peer(const PeerAddr& conn, std::string_view real_ip_value, std::string_view ip_param) const;
  // The numwant the store is asked for.
  uint32_t effective_numwant(const AnnounceRequest& req) const;

 private:
  void finish_announce(TrackerExchange& ex, const Status& st);
  void finish_scrape(TrackerExchange& ex, const Status& st);
  static void refuse(TrackerExchange& ex, const Error& err);

  LogicOptions options_;
  PeerStore& store_;
  std::vector<std::shared_ptr<PreHook>> hooks_;  // shared by the HTTP and UDP logic
};

}  // namespace sc
