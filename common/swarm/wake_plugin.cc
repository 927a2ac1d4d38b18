// Wake plugin (wake_plugin.h): counts the requests each peer has waiting with us, and after a
// HAVE to an idle peer that wants the piece, appends an UNCHOKE. Network thread only.
#include "common/swarm/wake_plugin.h"

#include <chrono>

#include <libtorrent/peer_connection_handle.hpp>
#include <libtorrent/peer_request.hpp>

namespace sc {
namespace {

namespace lt = libtorrent;

// <len=1><id=1>: UNCHOKE.
constexpr char kUnchoke[] = {0, 0, 0, 1, 1};
// A peer is woken only once it has had nothing waiting with us this long, and then at most
// once per this long. Waking on every HAVE to an idle peer cost lan.sh at N = 20 about 1 CPU s
// of picking (15.5-16.0 CPU s against 14.4-14.7) for no faster run; the stall it cures lasts
// seconds.
constexpr std::chrono::milliseconds kQuietBeforeWake{100};

class WakePeer final : public lt::peer_plugin {
 public:
  explicit WakePeer(lt::peer_connection_handle peer) : peer_(std::move(peer)), quiet_since_(Clock::now()) {}

  // Seen before libtorrent checks it; one it refuses is answered by a REJECT (counted below)
  // or, to a peer without the fast extension, dropped, and then `waiting_` over-counts until
  // the next CHOKE, which only means no wake-up: libtorrent's own behaviour.
  bool on_request(lt::peer_request const&) override {
    ++waiting_;
    return false;
  }
  void sent_piece(lt::peer_request const&) override { settle(); }
  void sent_reject_request(lt::peer_request const&) override { settle(); }
  void sent_choke() override {
    waiting_ = 0;
    quiet_since_ = Clock::now();
  }

  void sent_have(lt::piece_index_t p) override {
    if (waiting_ != 0 || !peer_.is_peer_interested() || peer_.is_choked() || peer_.has_piece(p)) return;
    const auto now = Clock::now();
    if (now - quiet_since_ < kQuietBeforeWake) return;
    quiet_since_ = now;
    peer_.send_buffer(kUnchoke, sizeof kUnchoke);
  }

 private:
  using Clock = std::chrono::steady_clock;

  void settle() {
    if (waiting_ > 0 && --waiting_ == 0) quiet_since_ = Clock::now();
  }

  lt::peer_connection_handle peer_;
  int waiting_ = 0;  // requests received and not yet answered
  Clock::time_point quiet_since_;  // since when nothing waits, or the last wake-up
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
