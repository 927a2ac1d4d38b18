#pragma once
// Chihaya's "torrent approval" prehook: announces are allowed (whitelist) or refused
// (blacklist) by info hash. Options: `whitelist` / `blacklist` (lists of 40-hex info hashes,
// as Chihaya) and ours, `whitelist_file` / `blacklist_file` (one 40-hex hash per line, '#'
// comments), which reload() re-reads — main wires it to SIGHUP. Peers are never dropped by a
// reload: the list only gates later announces.
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/core/error.h"
#include "common/core/metrics.h"
#include "services/tracker/logic.h"

namespace sc {

class TorrentApprovalHook final : public PreHook {
 public:
  // Loads the list once. Errors (invalid_argument, io, too_large) name the option or file.
  static Result<std::unique_ptr<TorrentApprovalHook>> from_options(const YAML::Node& options,
                                                                   MetricsRegistry* metrics = nullptr);
  TorrentApprovalHook(std::vector<std::string> inline_list, std::string file, bool whitelist,
                      MetricsRegistry* metrics = nullptr);

  std::string_view name() const override { return "torrent approval"; }
  Status on_announce(const AnnounceRequest& req, const PeerAddr& peer, AnnounceReply& reply) override;

  // Rebuilds the list from the inline entries and the file. On error the previous list stays
  // in force (and a counter goes up). Thread-safe against concurrent announces.
  Status reload();
  bool has_file() const { return !file_.empty(); }
  size_t size() const { return set_.load()->size(); }

 private:
  using HashSet = std::unordered_set<std::string>;  // raw 20-byte info hashes

  std::vector<std::string> inline_;
  std::string file_;
  bool whitelist_;
  std::atomic<std::shared_ptr<const HashSet>> set_{std::make_shared<const HashSet>()};
  Counter* reloads_ = nullptr;
  Counter* reload_failures_ = nullptr;
};

}  // namespace sc
