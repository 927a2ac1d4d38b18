// Wake plugin: after announcing a piece to a peer that wants it but has asked us for nothing
// lately, repeat UNCHOKE so that its client picks blocks from us again.
#pragma once

#include <functional>
#include <memory>

#include <libtorrent/extensions.hpp>

namespace sc {

// Why: libtorrent 2.0 picks blocks from a peer only on that connection's own events (a block
// arrives, UNCHOKE or REJECT arrives, the peer becomes interesting). A connection whose last
// pick found nothing free (every block it could ask for was on its way from someone else) stays
// idle while interested, and a HAVE for a new piece does not wake it, since it is already
// interested; only its end-game timer does, after 5 s. A host so left idle towards every other
// leecher downloads only from the origin: swarm_integration_test saw one of 4 leechers stall at
// 40 % for 1-2 s while 3 seeds were connected to it and unchoked it. A redundant UNCHOKE is valid
// in the protocol (libtorrent sends one itself to a peer that is interested again) and costs
// 5 bytes, sent only to a peer that is interested, unchoked, lacks the piece and has had no
// request waiting with us for a while (wake_plugin.cc: kQuietBeforeWake).
std::function<std::shared_ptr<libtorrent::torrent_plugin>(libtorrent::torrent_handle const&, libtorrent::client_data_t)>
wake_plugin();

}  // namespace sc
