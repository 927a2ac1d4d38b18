// First-copy plugin for an origin seeder: serve every piece once, to one peer, before serving
// any piece a second time, so the origin's upload is spent on pieces the swarm lacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include <libtorrent/extensions.hpp>

namespace sc {

// What the plugins of one session have done, summed over torrents (read from any thread).
struct FirstCopyCounters {
  std::atomic<int64_t> rejected{0};   // requests answered with a BEP 6 reject
  std::atomic<int64_t> suggested{0};  // BEP 6 suggest messages sent
  std::atomic<int64_t> tail_copies{0};  // pieces served a second time to speed up the tail
  std::atomic<int64_t> repeat_copies{0};  // served to a peer that asked again after a refusal
};

// The torrent plugin factory for add_torrent_params::extensions, for a torrent of
// `num_pieces` pieces that this node seeds. Rule: a request for a piece already granted to
// another peer is rejected (BEP 6) while some piece has not been granted to anyone, and the
// reject is preceded by a suggest of an ungranted piece, so the peer re-picks at once and the
// first copies spread over all peers. Once all are granted, a piece exactly one other peer has
// may go out a second time (bounded: see kTailShare). A peer that asks again for a piece it was
// refused a second or more before has no other source, and is served. Peers without the fast
// extension are served as usual.
std::function<std::shared_ptr<libtorrent::torrent_plugin>(libtorrent::torrent_handle const&, libtorrent::client_data_t)>
first_copy_plugin(int num_pieces, std::shared_ptr<FirstCopyCounters> counters);

}  // namespace sc
