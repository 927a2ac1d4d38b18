// A memory cache in front of libtorrent's posix disk back-end, for nodes that download.
//
// Behind the posix back-end alone, a downloading node opens, seeks, writes and closes its file
// for every 16 KiB block it receives; reads the whole piece back from the file to check its
// hash; and reads each block again, with the same four calls, for every peer it forwards the
// piece to. On bench/swarm/lan.sh those file calls were most of a leecher's system calls. The
// cache instead:
//   - copies the blocks of a piece into one buffer, and writes the piece to the file in one
//     call when its last block arrives;
//   - checks the hash of such a piece from memory;
//   - serves peers' requests for recent pieces from memory, lending the block in place (the
//     piece's buffer is not reused until libtorrent hands every lent block back).
// Everything else (reads of older pieces, checks, moves, renames) goes to the wrapped
// back-end, after the blocks of pieces still arriving have been written out where the order
// matters (stop, release, move, rename, priorities, removal). A piece that fails its check is
// forgotten without being written. Once complete, pieces stay cached until newer ones need the
// room (least recently used first); pieces still arriving are never evicted, and when they
// (with blocks still lent) fill the budget, further blocks go straight to the back-end.
//
// The wrapped back-end must complete each write before async_write returns (posix does;
// mmap's disk threads do not), so that a piece is in its file before its hash check is
// reported and readers of the file see it. Only bytes libtorrent wrote are served, and only
// for pieces libtorrent asks to read, which are pieces that passed their check. A write error
// of a piece is reported to its last block; blocks of a piece still arriving are in memory
// only, so a crash loses them and their piece fails its check and is downloaded again.
// Every call arrives on libtorrent's network thread, so there is no locking.
#pragma once

#include <cstdint>
#include <memory>

#include <libtorrent/disk_interface.hpp>
#include <libtorrent/io_context.hpp>

namespace sc {

// Wraps `inner`; at most budget_bytes of piece data are held (0 = `inner` alone), in memory
// reserved at once and touched as it is first used (piece_arena.h).
std::unique_ptr<lt::disk_interface> make_piece_cache(std::unique_ptr<lt::disk_interface> inner,
                                                     lt::io_context& ioc, std::int64_t budget_bytes);

}  // namespace sc
