#pragma once
// The swarm engine: one libtorrent session driven from an sc::EventLoop. libtorrent's alert
// notification (called on its network thread) only schedules a drain on our loop; every
// alert is handled on the loop thread, and no libtorrent exception leaves the engine.
// Adds fast resume (resume data saved periodically and at shutdown under the state dir, so a
// restart does not re-hash) and provenance (which peer supplied each piece, bytes each peer
// gave and took). No libtorrent type appears here (pimpl), so services compile fast.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc {

class EventLoop;

// libtorrent's disk back-ends. mmap: memory-mapped files served by a pool of disk threads
// (libtorrent's default; best where disks are slow or cores many). posix: pread/pwrite on the
// network thread, no thread hand-off per block: on bench/swarm/lan.sh (10 hosts, 2 cores) the
// whole swarm used 12.3-13.6 CPU seconds instead of 15.0-16.6, but a slow disk read stalls
// every peer of the node while it lasts.
enum class DiskIo { mmap, posix };

struct SwarmOptions {
  // BitTorrent listener, HOST:PORT or HOST:FIRST-LAST (the first free port of the range); port 0
  // binds any free port (see SwarmSession::listen_port).
  std::string peer_listen = "0.0.0.0:6881";
  // Resume data lives in <state_dir>/resume/<infohash>.resume; "" disables persistence.
  std::string state_dir;
  // Trackerless mode: DHT + local service discovery. Off by default: on a LAN with a
  // tracker they only add traffic and delay.
  bool dht = false;
  int64_t upload_rate_limit = 0;    // bytes/s over all peers, 0 = unlimited
  int64_t download_rate_limit = 0;  // bytes/s, 0 = unlimited
  int connections_limit = 400;      // peer connections over all torrents
  // Peers unchoked at once; -1 = every interested peer (the LAN default, see session.cc).
  int unchoke_slots = -1;
  int64_t resume_save_interval_ms = 30'000;
  int hashing_threads = 0;          // 0 = all cores
  DiskIo disk_io = DiskIo::mmap;
  // Memory for piece_cache.h (posix only): pieces being downloaded and the most recent ones,
  // so that blocks reach the file a piece at a time and hash checks and peers' requests for
  // recent pieces read memory. 0 = off.
  int64_t piece_cache_bytes = 16 << 20;
  // Requests a peer may have queued with us, advertised to it (BEP 10 "reqq"); an origin running
  // first_copy_plugin.h uses kFirstCopyRequestQueue.
  int peer_request_queue = 2000;
};

// What one remote peer did for one torrent, accumulated over this process's life.
struct PeerProvenance {
  std::string endpoint;      // "ip:port" as seen on the connection
  std::string client;        // peer id prefix in printable form ("-SC0100-", "-aria2-")
  std::string peer_id;       // the whole peer id in printable form (maps swarmcache peers to nodes)
  int64_t bytes_given = 0;   // payload we received from it (blocks it supplied)
  int64_t bytes_taken = 0;   // payload we sent to it
  int64_t pieces_given = 0;  // pieces whose last block came from it
  bool connected = false;
};

struct TorrentStatus {
  std::string key;       // the caller's label (content key); "" if none
  std::string infohash;  // v1, 40 hex
  std::string name;
  std::string save_path;
  int64_t size = 0;
  int64_t piece_length = 0;
  int num_pieces = 0;
  double progress = 0;   // 0..1
  // "checking", "downloading", "seeding", "paused", "error"
  std::string state;
  bool complete = false;  // every piece downloaded and hash-verified
  int peers = 0;          // connected peers
  int seeds = 0;          // of which seeds
  int64_t download_rate = 0;  // payload bytes/s
  int64_t upload_rate = 0;
  int64_t downloaded = 0;     // payload bytes this session
  int64_t uploaded = 0;
  int64_t all_time_downloaded = 0;
  int64_t all_time_uploaded = 0;
  int64_t seeding_seconds = 0;
  std::string error;
  std::vector<PeerProvenance> provenance;
  // Per piece, the index into `provenance` of the peer that supplied it; -1 when the piece was
  // already here (hashed locally, resumed) or is still missing. Filled only when asked.
  std::vector<int> piece_source;
};

struct AddTorrentOptions {
  std::string key;        // label echoed in TorrentStatus
  std::string save_path;  // directory the torrent's name is created under
  // The data is already there and was just hashed by us: skip the check (seeder).
  bool seed_mode = false;
  // BEP 16 super-seeding: reveal pieces to each peer one at a time so the origin sends each
  // piece about once and the leechers spread it (see session.cc). Only for complete data.
  bool super_seed = false;
  // Origin rule (first_copy_plugin.h): serve a piece a second time only once every piece has
  // been served once, steering other requests to ungranted pieces. Only for complete data.
  bool first_copy = false;
  // Extra tracker URLs appended to the torrent's own.
  std::vector<std::string> trackers;
};

class SwarmSession {
 public:
  // Starts a session bound to options.peer_listen. Errors: invalid_argument (bad address),
  // unavailable (could not listen), io (state dir not writable).
  static Result<std::unique_ptr<SwarmSession>> start(EventLoop& loop, const SwarmOptions& options);
  ~SwarmSession();
  SwarmSession(const SwarmSession&) = delete;
  SwarmSession& operator=(const SwarmSession&) = delete;

  uint16_t listen_port() const;
  // Sets the 20-byte peer id of torrents added from now on (libtorrent pads shorter ids
  // with random bytes per torrent; a full one makes the node recognisable to its peers).
  void set_peer_id(std::string_view peer_id);

  // Adds a torrent (bencoded .torrent bytes); uses saved resume data for it when present.
  // Returns the info hash. Adding one already present updates its key and returns its hash.
  // Errors: invalid_argument (bad torrent), io.
  Result<std::string> add(std::string_view torrent_bytes, const AddTorrentOptions& options);
  // Removes the torrent and its resume data; files are deleted only when asked.
  // Errors: not_found.
  Status remove(std::string_view infohash, bool delete_files = false);
  bool contains(std::string_view infohash) const;
  std::vector<std::string> infohashes() const;

  std::vector<TorrentStatus> status(bool with_piece_sources = false) const;
  std::optional<TorrentStatus> status_of(std::string_view infohash, bool with_piece_sources = false) const;

  // Called on the loop thread when a torrent has every piece verified (once per add, also for
  // torrents that start complete).
  void on_complete(std::function<void(const std::string& infohash)> fn);
  // Called on the loop thread when a torrent hits a storage or file error.
  void on_error(std::function<void(const std::string& infohash, const std::string& message)> fn);

  // Dials a peer directly ("ip:port"), for trackerless setups and tests. Errors: not_found,
  // invalid_argument.
  Status connect_peer(std::string_view infohash, std::string_view endpoint);
  // Saves resume data of torrents that changed (also runs on a timer).
  void save_resume_data();
  // Saves all resume data, waits (bounded) for it to reach disk, stops the session, then runs
  // done on the loop. Destroying the session without shutdown() skips the final save.
  void shutdown(std::function<void()> done);

  // Alerts dropped because the queue overflowed (a completion, error or resume-data report may
  // have been missed when > 0; provenance does not depend on alerts).
  int64_t dropped_alerts() const;
  // Requests the first-copy rule rejected, pieces it suggested instead, and pieces it served a
  // second time: to shorten the tail, or to a peer that asked again after a refusal
  // (AddTorrentOptions::first_copy), over all torrents.
  int64_t first_copy_rejects() const;
  int64_t first_copy_suggests() const;
  int64_t first_copy_tail_copies() const;
  int64_t first_copy_repeat_copies() const;

 private:
  SwarmSession() = default;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sc
