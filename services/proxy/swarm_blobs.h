#pragma once
// SwarmDownloads over the libtorrent session and the blob cache: downloads land in the blob's
// own cache file (marked partial until adopted) in piece order; pieces are re-checked against
// the torrent's SHA-1 before their bytes are handed out (libtorrent's disk threads may lag its
// hash check). Seeded blobs keep their .torrent under <state_dir>/torrents so seeding resumes
// after a restart, and stop when the cache evicts them.
#include <memory>
#include <string>
#include <unordered_map>

#include "services/proxy/blob_ports.h"
#include "services/proxy/piece_layout.h"
#include "services/proxy/work_queue.h"

namespace sc {

class BlobCache;
class EventLoop;
class SwarmSession;

class SwarmBlobs : public SwarmDownloads {
 public:
  // tracker: announce URL added to what this proxy downloads and seeds ("" = none).
  SwarmBlobs(EventLoop& loop, SwarmSession& swarm, BlobCache& cache, std::string state_dir, std::string tracker);
  ~SwarmBlobs() override;

  Result<Download> add(const std::string& hex, const std::string& key, const std::string& torrent) override;
  int64_t downloaded(const std::string& id) override;
  Result<std::string> read_verified(const std::string& id, int64_t offset, int64_t max) override;
  void remove(const std::string& id) override;
  void keep(const std::string& id, const std::string& hex) override;
  void seed(const std::string& hex, const std::string& key, std::function<void(Result<std::string>)> done) override;

  // Re-adds torrents of cached blobs (seeding resumes) and drops torrents whose blob is gone,
  // and resume data of downloads a crash interrupted.
  void sync_torrents();
  void stop_seeding(const std::string& hex);

 private:
  struct Pending {
    std::string hex, torrent;
    PieceLayout layout;
    int fd = -1;
    int64_t miss_at = -1;  // downloaded() when the next piece was last found missing
  };
  void close_fd(Pending& p);
  void save_torrent(const std::string& hex, const std::string& bytes);

  EventLoop& loop_;
  SwarmSession& swarm_;
  BlobCache& cache_;
  std::string state_dir_, torrents_dir_, tracker_;
  std::unordered_map<std::string, Pending> downloads_;       // by infohash
  std::unordered_map<std::string, std::string> torrent_of_;  // seeded: hex → infohash
  WorkQueue work_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sc
