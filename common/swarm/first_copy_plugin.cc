// First-copy plugin: per torrent, which peer each piece was first granted to; per peer, the
// BEP 6 reject + suggest that turns a request for someone else's piece into one for a piece
// nobody has yet. Runs on libtorrent's network thread only (no locks, no handle calls).
#include "common/swarm/first_copy_plugin.h"

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <vector>

#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>

namespace sc {
namespace {

namespace lt = libtorrent;

// Suggestions sent when a peer becomes interested: enough for its first requests to the origin
// (libtorrent's leecher asks for about one second of its rate, a few pieces) to be disjoint
// from every other peer's.
constexpr int kInitialSuggestions = 4;
// A peer gets a new piece only while less than this many bytes granted to it are still on their
// way (not announced yet), at least one piece; a request for another is rejected with a
// suggestion of one of its own. Granting on first request alone let a leecher with a deep
// request queue own many pieces at once, each arriving at its slice of the origin's upload: one
// lan.sh host got 22 % of the pieces (the average is 10 %), its upload became the swarm's
// bottleneck and runs varied from 7.2 to 9.9 s; a cap of two pieces, 7.1-7.2 s, per-host upload
// 48-66 MiB instead of 29-89 (bench/swarm/README.md). The cap is the request queue the origin
// advertises (kFirstCopyRequestQueue), so a peer is never refused for asking within it.
constexpr int kMaxOwnInFlightBytes = kFirstCopyRequestQueue * 16 * 1024;
// Tail copies: once every piece is granted, the last hosts wait on the few owners still
// forwarding the last pieces while the origin's upload goes idle (bench/swarm/lan.sh LAN_TRACE:
// ~2 s of a 9 s run). The origin then serves a second copy of a piece that only one other
// connected peer has so far (delivered, not yet forwarded), one such copy per piece, for at
// most 1/kTailShare of the pieces, so the origin never sends more than 1 + 1/kTailShare copies.
constexpr int kTailShare = 16;
constexpr int kTailHolders = 1;
// A peer refused a piece with nothing else to offer is choked, and unchoked on the next tick
// (about a second). If it then asks again for that same piece at least kRepeatPatience after the
// first refusal, no other peer has given it the piece in all that time: one that can reach only
// the origin (a network policy), or whose sources left. It is served (a repeat copy) rather
// than refused until its sources change.
constexpr std::chrono::milliseconds kRepeatPatience{1000};
// A finished leecher drops its connection to the origin but stays in the swarm, and the others
// fetch its pieces from it. Its pieces are granted afresh only to a peer that asks for one at
// least this long after it left, when no connected peer has announced it. Granted at once, they
// went from the origin to a leecher that lagged (swarm_integration_test under load: up to
// 21.2 MB for 16 MiB; with this patience 17.2-19.8 MB, before wake_plugin.h cured the lag).
// Pieces it had not delivered are granted at once.
constexpr std::chrono::milliseconds kOwnerLeftPatience = kRepeatPatience;
// BEP 6 message ids and the fast-extension bit of the handshake's reserved bytes.
constexpr char kMsgSuggest = 13;
constexpr char kMsgReject = 16;
constexpr int kFastByte = 7;
constexpr char kFastBit = 0x04;

void put32(std::vector<char>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Shared by the torrent's peers. owner[p] is the id of the peer piece p was first granted to,
// 0 while nobody has been served any of it.
struct Grants {
  Grants(int num_pieces, int piece_length, std::shared_ptr<FirstCopyCounters> c)
      : max_own_in_flight(std::max(1, kMaxOwnInFlightBytes / std::max(1, piece_length))),
        owner(static_cast<size_t>(num_pieces), 0), tail_owner(static_cast<size_t>(num_pieces), 0),
        suggested(static_cast<size_t>(num_pieces), false), ungranted(num_pieces),
        tail_left(std::max(1, num_pieces / kTailShare)), counters(std::move(c)) {}
  const int max_own_in_flight;  // pieces: kMaxOwnInFlightBytes
  std::vector<uint32_t> owner;
  std::vector<uint32_t> tail_owner;  // the peer given piece p's tail copy, 0 if none
  std::vector<bool> suggested;  // already offered to some peer: offer others different pieces
  std::unordered_map<uint32_t, lt::peer_connection_handle> live;  // connected peers by id
  std::unordered_map<uint32_t, std::chrono::steady_clock::time_point> left;  // left within kOwnerLeftPatience
  int ungranted;
  int tail_left;  // tail copies still allowed
  size_t cursor = 0;
  uint32_t next_peer = 1;
  std::shared_ptr<FirstCopyCounters> counters;

  // How many connected peers other than `self` have announced piece p, counting no further
  // than `enough`.
  int holders(int p, uint32_t self, int enough) const {
    int n = 0;
    for (auto& [id, h] : live)
      if (id != self && h.native_handle() && h.has_piece(lt::piece_index_t(p)) && ++n == enough) break;
    return n;
  }

  // Whether piece p, granted to a peer that has left, may be granted to `self` now.
  bool regrant(int p, uint32_t self) const {
    auto it = left.find(owner[static_cast<size_t>(p)]);
    return (it == left.end() || std::chrono::steady_clock::now() - it->second >= kOwnerLeftPatience) &&
           holders(p, self, 1) == 0;
  }

  // Whether peer `self` may have (or already has) the tail copy of piece p.
  bool tail_copy(int p, uint32_t self) {
    uint32_t& t = tail_owner[static_cast<size_t>(p)];
    if (t == self) return true;
    if (ungranted > 0 || t != 0 || tail_left == 0) return false;
    // Only a piece some peer already has: one nobody has yet is still on its way to its owner.
    int n = holders(p, self, kTailHolders + 1);
    if (n == 0 || n > kTailHolders) return false;
    t = self;
    --tail_left;
    counters->tail_copies.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // The next ungranted piece the peer lacks, preferring ones not yet offered to anyone;
  // -1 if there is none.
  int pick(const lt::peer_connection_handle& peer) {
    const size_t n = owner.size();
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t k = 0; k < n; ++k) {
        size_t i = (cursor + k) % n;
        if (owner[i] != 0 || (pass == 0 && suggested[i])) continue;
        if (peer.has_piece(lt::piece_index_t(static_cast<int>(i)))) continue;
        cursor = (i + 1) % n;
        suggested[i] = true;
        return static_cast<int>(i);
      }
    }
    return -1;
  }
};

class FirstCopyPeer final : public lt::peer_plugin {
 public:
  FirstCopyPeer(lt::peer_connection_handle peer, std::shared_ptr<Grants> grants)
      : peer_(std::move(peer)), grants_(std::move(grants)), id_(grants_->next_peer++) {
    grants_->live.emplace(id_, peer_);
  }
  ~FirstCopyPeer() override { grants_->live.erase(id_); }

  // Pieces this peer was granted and had not announced go back to the pool; the others stay
  // its own for kOwnerLeftPatience.
  void on_disconnect(lt::error_code const&) override {
    auto& g = *grants_;
    const auto now = std::chrono::steady_clock::now();
    g.live.erase(id_);
    std::erase_if(g.left, [now](auto const& e) { return now - e.second >= kOwnerLeftPatience; });
    g.left.emplace(id_, now);
    for (int p : mine_)
      if (unfinished(p)) {
        g.owner[static_cast<size_t>(p)] = 0;
        ++g.ungranted;
      }
  }

  // libtorrent's choker does not unchoke a peer choked below again while it stays interested:
  // one compose leecher waited 40 s so, and FirstCopyOriginServesAPeerThatHasNoOtherSource
  // stalls for good without this tick.
  void tick() override {
    if (choked_ && peer_.is_choked()) peer_.maybe_unchoke_this_peer();
    choked_ = false;
  }

  bool on_handshake(lt::span<char const> reserved) override {
    fast_ = reserved.size() > kFastByte && (reserved[kFastByte] & kFastBit) != 0;
    return true;
  }

  bool on_interested() override {
    if (fast_)
      for (int k = 0; k < kInitialSuggestions && grants_->ungranted > 0; ++k) suggest(grants_->pick(peer_));
    return false;  // libtorrent goes on to unchoke as usual
  }

  bool on_request(lt::peer_request const& r) override {
    auto& g = *grants_;
    const int p = static_cast<int>(r.piece);
    if (p < 0 || p >= static_cast<int>(g.owner.size())) return false;
    uint32_t& owner = g.owner[static_cast<size_t>(p)];
    if (owner == 0 && fast_ && own_in_flight() >= g.max_own_in_flight) {
      g.counters->rejected.fetch_add(1, std::memory_order_relaxed);
      suggest(unfinished_own());
      reject(r);
      return true;
    }
    if (owner == 0) --g.ungranted;
    if (owner == 0 || (owner != id_ && !g.live.contains(owner) && g.regrant(p, id_))) {
      owner = id_;
      mine_.push_back(p);
    }
    if (owner == id_ || !fast_ || g.tail_copy(p, id_)) return false;
    if (asked_again(p)) {
      g.counters->repeat_copies.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    // Someone else is fetching this piece and will forward it. Point the peer at a piece nobody
    // has been granted yet or, once all are, at one of its own it has not finished, and reject
    // (suggest first: libtorrent re-picks while handling the reject, and tries suggested pieces
    // before rarest-first). A peer with nothing of its own left here is choked, which rejects
    // its queue, until the next tick (about a second) instead of bouncing requests.
    g.counters->rejected.fetch_add(1, std::memory_order_relaxed);
    if (!(g.ungranted > 0 && suggest(g.pick(peer_))) && !suggest(unfinished_own())) {
      refused_.try_emplace(p, std::chrono::steady_clock::now());
      peer_.choke_this_peer();
      choked_ = true;
    }
    // Rejected here even when choked: libtorrent would still serve a piece in the peer's
    // allowed-fast set, a second copy.
    reject(r);
    return true;
  }

 private:
  void reject(lt::peer_request const& r) {
    std::vector<char> msg;
    put32(msg, 13);
    msg.push_back(kMsgReject);
    put32(msg, static_cast<uint32_t>(static_cast<int>(r.piece)));
    put32(msg, static_cast<uint32_t>(r.start));
    put32(msg, static_cast<uint32_t>(r.length));
    peer_.send_buffer(msg.data(), static_cast<int>(msg.size()));
  }

  // Whether the peer was choked over piece p at least kRepeatPatience ago and asks for it again.
  bool asked_again(int p) const {
    auto it = refused_.find(p);
    return it != refused_.end() && std::chrono::steady_clock::now() - it->second >= kRepeatPatience;
  }

  // Whether piece p is granted to this peer and not announced by it yet.
  bool unfinished(int p) const {
    return grants_->owner[static_cast<size_t>(p)] == id_ && !peer_.has_piece(lt::piece_index_t(p));
  }

  // Pieces granted to this peer that it has not announced yet.
  int own_in_flight() const {
    return static_cast<int>(std::count_if(mine_.begin(), mine_.end(), [this](int p) { return unfinished(p); }));
  }

  // A piece granted to this peer that it has not announced yet, round-robin; -1 if none.
  int unfinished_own() {
    for (size_t k = 0; k < mine_.size(); ++k) {
      int p = mine_[next_own_++ % mine_.size()];
      if (unfinished(p)) return p;
    }
    return -1;
  }

  bool suggest(int p) {
    if (p < 0) return false;
    std::vector<char> msg;
    put32(msg, 5);
    msg.push_back(kMsgSuggest);
    put32(msg, static_cast<uint32_t>(p));
    peer_.send_buffer(msg.data(), static_cast<int>(msg.size()));
    grants_->counters->suggested.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  lt::peer_connection_handle peer_;
  std::shared_ptr<Grants> grants_;
  uint32_t id_;
  std::vector<int> mine_;  // pieces granted to this peer
  std::unordered_map<int, std::chrono::steady_clock::time_point> refused_;  // choked over, when first
  size_t next_own_ = 0;
  bool fast_ = false;
  bool choked_ = false;  // choked by us since the last tick
};

class FirstCopyTorrent final : public lt::torrent_plugin {
 public:
  explicit FirstCopyTorrent(std::shared_ptr<Grants> grants) : grants_(std::move(grants)) {}
  std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const& peer) override {
    if (peer.type() != lt::connection_type::bittorrent) return nullptr;
    return std::make_shared<FirstCopyPeer>(peer, grants_);
  }

 private:
  std::shared_ptr<Grants> grants_;
};

}  // namespace

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const&, lt::client_data_t)>
first_copy_plugin(int num_pieces, int piece_length, std::shared_ptr<FirstCopyCounters> counters) {
  return [num_pieces, piece_length, counters](lt::torrent_handle const&, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
    return std::make_shared<FirstCopyTorrent>(std::make_shared<Grants>(num_pieces, piece_length, counters));
  };
}

}  // namespace sc
