// Provenance of one torrent: which peer gave us each piece, and the payload exchanged with each
// peer. Counted on libtorrent's network thread by a torrent plugin that sees every block as it
// arrives or leaves, instead of one alert per block handed across to our loop thread (those
// alerts cost ~10 % of a leecher's CPU: bench/swarm/README.md). Read from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <libtorrent/extensions.hpp>

#include "common/swarm/session.h"

namespace sc {

class ProvenanceLedger {
 public:
  explicit ProvenanceLedger(int num_pieces) : num_pieces_(num_pieces) {}

  // The row of a peer, by peer id (by endpoint while it has none), created on first sight.
  // Beyond kMaxPeers distinct peers, later ones share one "other" row, so a hostile swarm
  // cannot grow our memory.
  int slot(const libtorrent::peer_id& pid, const libtorrent::tcp::endpoint& ep);
  // A block of `bytes` of piece `piece` arrived from the peer in row `slot`.
  void received(int slot, int piece, int bytes);
  // A block of `bytes` left for the peer in row `slot`.
  void sent(int slot, int bytes);
  // Piece `piece` passed its hash check: the peer that sent its last block is credited.
  void passed(int piece);

  // A copy of every row, with `connected` false; and, when asked, the row of each piece's
  // source (-1: none).
  std::vector<PeerProvenance> rows() const;
  std::vector<int> piece_sources() const;

  static constexpr size_t kMaxPeers = 1024;

 private:
  const int num_pieces_;
  mutable std::mutex mu_;
  std::vector<PeerProvenance> peers_;
  std::unordered_map<std::string, int> index_;  // peer id hex (or endpoint) → row
  std::vector<int> source_;                     // per piece, allocated on the first block
};

// The torrent plugin factory (add_torrent_params::extensions) that fills `ledger`.
std::function<std::shared_ptr<libtorrent::torrent_plugin>(libtorrent::torrent_handle const&, libtorrent::client_data_t)>
provenance_plugin(std::shared_ptr<ProvenanceLedger> ledger);

}  // namespace sc
