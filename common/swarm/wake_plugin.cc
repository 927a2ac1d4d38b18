// Wake plugin (wake_plugin.h): counts the requests each peer has waiting with us, and after a
// HAVE to an idle peer that wants the piece, appends an UNCHOKE. Network thread only.
#include "common/swarm/wake_plugin.h"

#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>

namespace sc {
namespace {

namespace lt = libtorrent;

// <len=1><id=1>: UNCHOKE.
constexpr char kUnchoke[] = {0, 0, 0, 1, 1};

class WakePeer final : public lt::peer_plugin {
 public:
  explicit WakePeer(lt::peer_connection_handle peer) : peer_(std::move(peer)) {}

  // Seen before libtorrent checks it; one it refuses is answered by a REJECT (counted below)
  // or, to a peer without the fast extension, dropped, and then `waiting_` over-counts until
  // the next CHOKE, which only means no wake-up: libtorrent's own behaviour.
  bool on_request(lt::peer_request const&) override {
    ++waiting_;
    return false;
  }
  void sent_piece(lt::peer_request const&) override { settle(); }
  void sent_reject_request(lt::peer_request const&) override { settle(); }
  void sent_choke() override { waiting_ = 0; }

  void sent_have(lt::piece_index_t p) override {
    if (waiting_ == 0 && peer_.is_peer_interested() && !peer_.is_choked() && !peer_.has_piece(p))
      peer_.send_buffer(kUnchoke, sizeof kUnchoke);
  }

 private:
  void settle() {
    if (waiting_ > 0) --waiting_;
  }

  lt::peer_connection_handle peer_;
  int waiting_ = 0;  // requests received and not yet answered
};

class WakeTorrent final : public lt::torrent_plugin {
 public:
  std::shared_ptr<lt::peer_plugin> new_connection(lt::peer_connection_handle const& peer) override {
    if (peer.type() != lt::connection_type::bittorrent) return nullptr;
    return std::make_shared<WakePeer>(peer);
  }
};

}  // namespace

std::function<std::shared_ptr<lt::torrent_plugin>(lt::torrent_handle const&, lt::client_data_t)> wake_plugin() {
  return [](lt::torrent_handle const&, lt::client_data_t) -> std::shared_ptr<lt::torrent_plugin> {
    return std::make_shared<WakeTorrent>();
  };
}

}  // namespace sc
