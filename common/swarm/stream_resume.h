#pragma once
// Streaming support for the proxy, outside the swarm engine's own files: resume data that
// makes SwarmSession::add() fetch a torrent's pieces in order (libtorrent's sequential
// download), so a client streamed from the swarm gets its first bytes without waiting for
// random pieces. Relies on the documented resume location <state_dir>/resume/<infohash>.resume
// (session.h) and on add() keeping the resume data's flags. Owned by the proxy engineer.
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

// Writes resume data for the torrent (v1) with only the sequential-download flag set, unless
// resume data for it already exists. Errors: invalid_argument (bad torrent), io.
Status write_sequential_resume(const std::string& state_dir, std::string_view torrent_bytes);

}  // namespace sc
