#pragma once
// Deterministic .torrent creation and inspection. Same bytes and same layout give the same
// info hash on every host: no creation date, no creator, no file attributes or mtimes, files
// of a directory in byte-wise sorted path order, piece size from auto_piece_length() unless
// forced. v1 torrents by default (aria2 1.36 misreads and transmission 3.00 refuses libtorrent's
// hybrid v1+v2 torrents); hybrid is an option. v1 hashing runs on every core.
// No libtorrent type appears here: services include this header without paying for libtorrent.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

// Piece size rule: the smallest power of two that keeps the torrent at or under
// kTargetPieces pieces, clamped to [kMinPieceLength, kMaxPieceLength] (64 KiB up to 128 MiB,
// 128 KiB at 256 MiB, 512 KiB at 1 GiB).
// Why: a leecher can forward a piece only once it has all of it and verified it, so on a LAN
// each relay hop costs one piece time; small pieces keep the pipeline short, and a small file
// needs pieces enough to spread over every host. bench/swarm/lan.sh: 16 MiB to 30 hosts took
// 15.1 s with 64 KiB pieces and 20.9 s with 256 KiB; 64 MiB to 10 hosts 6.8-7.3 s (mean 7.0)
// with 64 KiB and 7.2-7.6 s (mean 7.4) with 256 KiB, the same at 20 hosts (9.5 vs 10.1 s);
// 256 MiB unchanged with 128 KiB (24.8 vs 25.0 s). Past kTargetPieces the per-piece messages
// and the metadata grow for no gain.
inline constexpr int64_t kMinPieceLength = 64 << 10;
inline constexpr int64_t kMaxPieceLength = 16 << 20;
inline constexpr int64_t kTargetPieces = 2048;
int64_t auto_piece_length(int64_t total_size);

struct MakeTorrentOptions {
  // Announce URLs, one tier each (mktorrent -a a,b makes one tier; we keep it simple).
  std::vector<std::string> trackers;
  std::vector<std::string> web_seeds;  // url-list (BEP 19)
  int piece_length_exp = 0;            // 15..28 forces 2^exp bytes; 0 = auto_piece_length()
  std::string name;                    // overrides the basename as the torrent's name
  std::string comment;
  bool priv = false;                   // BEP 27 private flag
  bool hybrid = false;                 // v1+v2 instead of v1 only
  int threads = 0;                     // hashing threads; 0 = all cores
};

struct MadeTorrent {
  std::string bytes;       // the bencoded .torrent
  std::string infohash;    // v1 info hash, 40 lower-case hex
  std::string name;
  int64_t total_size = 0;
  int64_t piece_length = 0;
  int num_files = 0;
};

// Makes a torrent of a regular file (single-file torrent) or a directory (multi-file torrent
// of every regular file under it, recursively; symlinks and special files are skipped so the
// result does not depend on what they point to). Errors: not_found (no such path),
// invalid_argument (empty content, bad piece exponent), io (read failed or a file changed size
// while hashing).
Result<MadeTorrent> make_torrent(const std::string& path, const MakeTorrentOptions& options = {});

struct TorrentContentFile {
  std::string path;  // relative, '/'-separated, starting with the torrent name for directories
  int64_t size = 0;
};

struct TorrentSummary {
  std::string infohash;  // v1 info hash, 40 lower-case hex
  std::string name;
  int64_t total_size = 0;
  int64_t piece_length = 0;
  int num_pieces = 0;
  bool hybrid = false;
  bool priv = false;
  std::vector<std::string> trackers;
  std::vector<TorrentContentFile> files;
};

// Parses .torrent bytes (bounded: size, bencode depth and token count). Errors:
// invalid_argument (not a torrent, or a v2-only torrent, which has no v1 info hash).
Result<TorrentSummary> inspect_torrent(std::string_view bytes);

}  // namespace sc
