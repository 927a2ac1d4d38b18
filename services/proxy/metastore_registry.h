#pragma once
// TorrentRegistry over the metastore: torrents by content key, the upstream lease held under
// this proxy's node id, and quarantine of a torrent whose bytes failed their digest.
#include <cstdint>
#include <string>

#include "services/proxy/blob_ports.h"

namespace sc {

class MetastoreAsync;

class MetastoreRegistry : public TorrentRegistry {
 public:
  MetastoreRegistry(MetastoreAsync& ms, std::string node_id, int64_t lease_ttl_ms)
      : ms_(ms), node_id_(std::move(node_id)), lease_ttl_ms_(lease_ttl_ms) {}
  void lookup(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) override;
  void take_lease(const std::string& key, std::function<void(Result<bool>)> done) override;
  void release_lease(const std::string& key) override;
  void publish(const std::string& key, std::string torrent, std::function<void(Status)> done) override;
  void mark_bad(const std::string& key, const std::string& infohash) override;

 private:
  MetastoreAsync& ms_;
  std::string node_id_;
  int64_t lease_ttl_ms_;
};

}  // namespace sc
