// Announce and scrape semantics shared by every frontend: address resolution (trusted proxies,
// ip spoofing), numwant caps, the prehook chain, and the store round trip.
#include "services/tracker/logic.h"

#include <algorithm>
#include <charconv>

namespace sc {

bool Cidr::contains(const PeerAddr& a) const {
  if (a.ipv6 != net.ipv6) return false;
  size_t full = bits / 8;
  for (size_t i = 0; i < full; ++i)
    if (a.ip[i] != net.ip[i]) return false;
  if (bits % 8) {
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
    if ((a.ip[full] & mask) != (net.ip[full] & mask)) return false;
  }
  return true;
}

Result<Cidr> parse_cidr(std::string_view text) {
  size_t slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return fail(Errc::invalid_argument, "invalid address block '" + std::string(text) + "'");
  Cidr c;
  c.net = *addr;
  const unsigned max_bits = addr->ipv6 ? 128 : 32;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    auto s = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), bits);
    if (ec != std::errc() || p != s.data() + s.size() || bits > max_bits) {
      return fail(Errc::invalid_argument, "invalid prefix length in '" + std::string(text) + "'");
    }
  }
  c.bits = static_cast<uint8_t>(bits);
  return c;
}

TrackerLogic::TrackerLogic(LogicOptions options, PeerStore& store) : options_(std::move(options)), store_(store) {}

void TrackerLogic::add_prehook(std::shared_ptr<PreHook> hook) { hooks_.push_back(std::move(hook)); }

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool in_any(const std::vector<Cidr>& blocks, const PeerAddr& a) {
  return std::any_of(blocks.begin(), blocks.end(), [&](const Cidr& c) { return c.contains(a); });
}

}  // namespace

Result<PeerAddr> TrackerLogic::resolve_peer(const PeerAddr& conn, std::string_view real_ip_value,
                                            std::string_view ip_param) const {
  PeerAddr a = conn;
  if (!options_.real_ip_header.empty() && !real_ip_value.empty() && in_any(options_.trusted_proxies, conn)) {
    // X-Forwarded-For lists client, proxy1, proxy2…: the rightmost address that is not one of
    // our proxies is the client (entries left of it could be forged by the client).
    constexpr size_t kMaxHops = 16;  // a longer chain is not a real deployment
    std::string_view rest = real_ip_value;
    for (size_t hop = 0; !rest.empty() && hop < kMaxHops; ++hop) {
      size_t comma = rest.rfind(',');
      std::string_view item = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
      auto parsed = parse_ip(item);
      if (!parsed) return fail(Errc::invalid_argument, "invalid address in " + options_.real_ip_header);
      a = *parsed;
      if (!in_any(options_.trusted_proxies, a)) break;
    }
  }
  if (options_.allow_ip_spoofing && !ip_param.empty()) {
    auto parsed = parse_ip(ip_param);
    if (!parsed) return fail(Errc::invalid_argument, "invalid ip parameter");
    a = *parsed;
  }
  a.port = 0;
  return a;
}

uint32_t TrackerLogic::effective_numwant(const AnnounceRequest& req) const {
  if (req.event == AnnounceEvent::stopped) return 0;
  if (req.numwant < 0) return std::min(options_.default_numwant, options_.max_numwant);
  return static_cast<uint32_t>(std::min<int64_t>(req.numwant, options_.max_numwant));
}

void TrackerLogic::refuse(TrackerExchange& ex, const Error& err) {
  ex.body.clear();
  const bool server = err.code == Errc::internal || err.code == Errc::unavailable || err.code == Errc::io ||
                      err.code == Errc::timeout;
  ex.outcome = server ? Outcome::server_error : Outcome::client_error;
  if (err.code == Errc::internal || err.code == Errc::io) {
    ex.failure = "internal server error";
  } else if (err.code == Errc::unavailable || err.code == Errc::timeout) {
    ex.failure = "tracker storage unavailable, try again later";
  } else {
    ex.failure = err.message;
  }
  if (ex.bencode) write_failure(ex.body, ex.failure);
  ex.done();
}

void TrackerLogic::announce(TrackerExchange& ex) {
  ex.ipv6 = ex.conn.ipv6;
  if (auto st = parse_announce(ex.query, ex.announce, options_.limits); !st) return refuse(ex, st.error());
  announce_parsed(ex);
}

void TrackerLogic::announce_parsed(TrackerExchange& ex) {
  ex.ipv6 = ex.conn.ipv6;
  ex.failure.clear();
  auto peer = resolve_peer(ex.conn, ex.real_ip_value, ex.announce.ip);
  if (!peer) return refuse(ex, peer.error());
  ex.peer = *peer;
  ex.peer.port = ex.announce.port;
  ex.ipv6 = ex.peer.ipv6;

  ex.reply = AnnounceReply{};
  ex.reply.interval_s = options_.announce_interval_s;
  ex.reply.min_interval_s = options_.min_announce_interval_s;
  // BEP 3 dicts carry `peer id`, which the stores do not keep (it would triple the memory per
  // peer). BEP 23 makes compact=0 advisory ("the tracker MAY return using either format"), so
  // only a client that also waives peer ids (no_peer_id) gets dicts; others get compact peers.
  ex.reply.compact = ex.announce.compact || !ex.announce.no_peer_id;
  ex.reply.no_peer_id = ex.announce.no_peer_id;
  ex.reply.ipv6 = ex.peer.ipv6;
  for (auto& hook : hooks_) {
    if (auto st = hook->on_announce(ex.announce, ex.peer, ex.reply); !st) return refuse(ex, st.error());
  }

  StoreAnnounce req;
  req.info_hash = ex.announce.info_hash;
  req.peer = ex.peer;
  req.seeder = ex.announce.left == 0;
  req.event = ex.announce.event;
  req.numwant = effective_numwant(ex.announce);
  // The callback captures two pointers, which std::function stores without allocating.
  store_.announce(req, ex.stored, [this, &ex](Status st) { finish_announce(ex, st); });
}

void TrackerLogic::finish_announce(TrackerExchange& ex, const Status& st) {
  if (!st) return refuse(ex, st.error());
  ex.reply.counts = ex.stored.counts;
  ex.reply.peers = ex.stored.peers;
  ex.reply.external_ip = std::string_view(reinterpret_cast<const char*>(ex.peer.ip.data()), ex.peer.ip_len());
  ex.body.clear();
  if (ex.bencode) write_announce_reply(ex.body, ex.reply);
  ex.outcome = Outcome::ok;
  ex.done();
}

void TrackerLogic::scrape(TrackerExchange& ex) {
  ex.ipv6 = ex.conn.ipv6;
  if (auto st = parse_scrape(ex.query, ex.scrape, options_.max_scrape_infohashes, options_.limits); !st) {
    return refuse(ex, st.error());
  }
  scrape_parsed(ex);
}

void TrackerLogic::scrape_parsed(TrackerExchange& ex) {
  ex.ipv6 = ex.conn.ipv6;
  ex.failure.clear();
  // Frontends that decode requests themselves (UDP) may bring more: cut as parse_scrape does.
  auto& hashes = ex.scrape.info_hashes;
  if (hashes.size() > options_.max_scrape_infohashes) hashes.resize(options_.max_scrape_infohashes);
  for (auto& hook : hooks_) {
    if (auto st = hook->on_scrape(ex.scrape, ex.conn); !st) return refuse(ex, st.error());
  }
  store_.scrape(ex.scrape.info_hashes, ex.counts, [this, &ex](Status st) { finish_scrape(ex, st); });
}

void TrackerLogic::finish_scrape(TrackerExchange& ex, const Status& st) {
  if (!st) return refuse(ex, st.error());
  ex.body.clear();
  if (ex.bencode) write_scrape_reply(ex.body, ex.scrape.info_hashes, ex.counts);
  ex.outcome = Outcome::ok;
  ex.done();
}

}  // namespace sc
