#pragma once
// Chihaya's "client approval" prehook: announces are allowed (whitelist) or refused (blacklist)
// by the client part of the peer id. Options: `whitelist` or `blacklist`, a list of entries;
// an entry matches Chihaya's 6-byte client id (the bytes after a leading '-', e.g. "qB4450")
// or any prefix of the raw peer id ("-qB4", "-TR30").
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"
#include "services/tracker/logic.h"

namespace sc {

class ClientApprovalHook final : public PreHook {
 public:
  // Errors (invalid_argument) name the option: both or neither list, empty or >20-byte entries.
  static Result<std::unique_ptr<ClientApprovalHook>> from_options(const YAML::Node& options);
  ClientApprovalHook(std::vector<std::string> entries, bool whitelist);

  std::string_view name() const override { return "client approval"; }
  Status on_announce(const AnnounceRequest& req, const PeerAddr& peer, AnnounceReply& reply) override;

  bool matches(const PeerId& peer_id) const;

 private:
  std::vector<std::string> entries_;  // immutable after construction: read from any thread
  bool whitelist_;
};

// Chihaya's client id: the 6 bytes after a leading '-' (Azureus style), else the first 6.
std::string_view chihaya_client_id(const PeerId& peer_id);

}  // namespace sc
