// ProvenanceLedger and the plugin that fills it: one mutex per torrent, taken once per block on
// libtorrent's network thread and on status reads; a peer connection remembers its row.
#include "common/swarm/provenance.h"

#include <sstream>

#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>

#include "common/core/bytes.h"

namespace sc {
namespace {

namespace lt = libtorrent;

std::string endpoint_str(const lt::tcp::endpoint& ep) {
  std::ostringstream o;
  if (ep.address().is_v6())
    o << '[' << ep.address().to_string() << "]:" << ep.port();
  else
    o << ep.address().to_string() << ':' << ep.port();
  return o.str();
}

std::string printable(const lt::peer_id& pid, int len) {
  std::string s;
  for (int i = 0; i < len; ++i) {
    char c = pid[i];
    s.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '.');
  }
  return s;
}

class ProvenancePeer final : public lt::peer_plugin {
 public:
  ProvenancePeer(lt::peer_connection_handle peer, std::shared_ptr<ProvenanceLedger> ledger)
      : peer_(std::move(peer)), ledger_(std::move(ledger)) {}

  bool on_piece(lt::peer_request const& r, lt::span<char const>) override {
    ledger_->received(slot(), static_cast<int>(r.piece), r.length);
    return false;
  }
  void sent_piece(lt::peer_request const& r) override { ledger_->sent(slot(), r.length); }

 private:
  // Blocks flow only after the handshake, so the peer id is known by the first call.
  int slot() {
    if (slot_ < 0) slot_ = ledger_->slot(peer_.pid(), peer_.remote());
    return slot_;
  }

  lt::peer_connection_handle peer_;
  std::shared_ptr<ProvenanceLedger> ledger_;
  int slot_ = -1;
};

class ProvenanceTorrent final : public lt::torrent_plugin {
 public:
  explicit ProvenanceTorrent(std::shared_ptr<ProvenanceLedger> ledger) : ledger_(std::move(ledger)) {}
  std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const& peer) override {
    if (peer.type() != lt::connection_type::bittorrent) return nullptr;
    return std::make_shared<ProvenancePeer>(peer, ledger_);
  }
  void on_piece_pass(lt::piece_index_t piece) override { ledger_->passed(static_cast<int>(piece)); }

 private:
  std::shared_ptr<ProvenanceLedger> ledger_;
};

}  // namespace

int ProvenanceLedger::slot(const lt::peer_id& pid, const lt::tcp::endpoint& ep) {
  std::lock_guard lock(mu_);
  std::string id = pid.is_all_zeros() ? endpoint_str(ep) : to_hex(std::string_view(pid.data(), pid.size()));
  auto it = index_.find(id);
  if (it != index_.end()) {
    peers_[static_cast<size_t>(it->second)].endpoint = endpoint_str(ep);
    return it->second;
  }
  if (peers_.size() >= kMaxPeers) {
    auto other = index_.find("other");
    if (other != index_.end()) return other->second;
    id = "other";
  }
  PeerProvenance p;
  p.endpoint = id == "other" ? "other" : endpoint_str(ep);
  p.client = id == "other" ? "" : printable(pid, 8);
  p.peer_id = id == "other" || pid.is_all_zeros() ? "" : printable(pid, 20);
  peers_.push_back(std::move(p));
  index_.emplace(id, static_cast<int>(peers_.size() - 1));
  return static_cast<int>(peers_.size() - 1);
}

void ProvenanceLedger::received(int slot, int piece, int bytes) {
  if (piece < 0 || piece >= num_pieces_ || bytes <= 0) return;
  std::lock_guard lock(mu_);
  peers_[static_cast<size_t>(slot)].bytes_given += bytes;
  if (source_.empty()) source_.assign(static_cast<size_t>(num_pieces_), -1);
  source_[static_cast<size_t>(piece)] = slot;
}

void ProvenanceLedger::sent(int slot, int bytes) {
  if (bytes <= 0) return;
  std::lock_guard lock(mu_);
  peers_[static_cast<size_t>(slot)].bytes_taken += bytes;
}

void ProvenanceLedger::passed(int piece) {
  if (piece < 0 || piece >= num_pieces_) return;
  std::lock_guard lock(mu_);
  if (source_.empty() || source_[static_cast<size_t>(piece)] < 0) return;  // hashed locally
  peers_[static_cast<size_t>(source_[static_cast<size_t>(piece)])].pieces_given++;
}

std::vector<PeerProvenance> ProvenanceLedger::rows() const {
  std::lock_guard lock(mu_);
  return peers_;
}

std::vector<int> ProvenanceLedger::piece_sources() const {
  std::lock_guard lock(mu_);
  return source_.empty() ? std::vector<int>(static_cast<size_t>(num_pieces_), -1) : source_;
}

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const&, lt::client_data_t)>
provenance_plugin(std::shared_ptr<ProvenanceLedger> ledger) {
  return [ledger](lt::torrent_handle const&, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
    return std::make_shared<ProvenanceTorrent>(ledger);
  };
}

}  // namespace sc
