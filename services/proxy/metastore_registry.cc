// The metastore as the blob state machine's torrent registry (see metastore_registry.h).
#include "services/proxy/metastore_registry.h"

#include "common/core/log.h"
#include "common/swarm/metastore_client.h"

namespace sc {

void MetastoreRegistry::lookup(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) {
  ms_.get_torrent(key, std::move(done));
}

void MetastoreRegistry::take_lease(const std::string& key, std::function<void(Result<bool>)> done) {
  ms_.take_lease(key, node_id_, lease_ttl_ms_, std::move(done));
}

void MetastoreRegistry::release_lease(const std::string& key) { ms_.release_lease(key, node_id_); }

void MetastoreRegistry::publish(const std::string& key, std::string torrent, std::function<void(Status)> done) {
  ms_.put_torrent(key, std::move(torrent), std::move(done));
}

// The metastore drops the registration and refuses that infohash for the key from then on.
void MetastoreRegistry::mark_bad(const std::string& key, const std::string& infohash) {
  ms_.quarantine(key, infohash, "content does not match " + key, [key](Result<bool> r) {
    if (!r) SC_WARN("cannot quarantine torrent", {"key", key}, {"error", r.error().message});
  });
}

}  // namespace sc
