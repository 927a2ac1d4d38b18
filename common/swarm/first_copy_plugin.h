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

// Requests a peer may have queued with an origin that runs this plugin, advertised to it as
// BEP 10 "reqq" (SwarmOptions::peer_request_queue): 16 blocks, 256 KiB. A peer is granted new
// pieces while less than this many bytes of its own are on their way, so a peer that honours
// reqq is never refused for asking too much; one that asked for more (libtorrent's own queue
// is a second of the rate, ~150 blocks at 20 Mbit/s) was refused and re-asked in a loop:
// 121k rejects in one 64 MiB run to 10 hosts, 5 % of the origin's upload, and 197k to 5 hosts,
// which took 10.0 s instead of 6.2. 256 KiB per peer still fills a LAN link: the window bounds
// the queue it builds, so one peer alone gets the whole link.
constexpr int kFirstCopyRequestQueue = 16;

// The torrent plugin factory for add_torrent_params::extensions, for a torrent of
// `num_pieces` pieces of `piece_length` bytes that this node seeds. Rule: a request for a piece already granted to
// another peer is rejected (BEP 6) while some piece has not been granted to anyone, and the
// reject is preceded by a suggest of an ungranted piece, so the peer re-picks at once and the
// first copies spread over all peers. Once all are granted, a piece exactly one other peer has
// may go out a second time (bounded: see kTailShare). A peer that asks again for a piece it was
// refused a second or more before has no other source, and is served. Peers without the fast
// extension are served as usual.
std::function<std::shared_ptr<libtorrent::torrent_plugin>(libtorrent::torrent_handle const&, libtorrent::client_data_t)>
first_copy_plugin(int num_pieces, int piece_length, std::shared_ptr<FirstCopyCounters> counters);

}  // namespace sc
