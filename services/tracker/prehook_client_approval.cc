// The "client approval" prehook (Chihaya's clientapproval): refuses announces whose peer id
// names a client outside the whitelist, or inside the blacklist.
#include "services/tracker/prehook_client_approval.h"

#include "services/tracker/prehook_util.h"

namespace sc {

namespace {
constexpr std::string_view kName = "client approval";
}

std::string_view chihaya_client_id(const PeerId& pid) {
  const char* p = reinterpret_cast<const char*>(pid.data());
  return pid[0] == '-' ? std::string_view(p + 1, 6) : std::string_view(p, 6);
}

Result<std::unique_ptr<ClientApprovalHook>> ClientApprovalHook::from_options(const YAML::Node& o) {
  if (auto st = prehook::check_options(o, kName, {"whitelist", "blacklist"}); !st) return std::unexpected(st.error());
  auto wl = prehook::get_list(o, kName, "whitelist");
  if (!wl) return std::unexpected(wl.error());
  auto bl = prehook::get_list(o, kName, "blacklist");
  if (!bl) return std::unexpected(bl.error());
  if (!wl->empty() && !bl->empty()) return prehook::bad(kName, "using both whitelist and blacklist is invalid");
  if (wl->empty() && bl->empty()) return prehook::bad(kName, "needs a whitelist or a blacklist");
  for (const auto& e : wl->empty() ? *bl : *wl) {
    if (e.empty() || e.size() > 20) return prehook::bad(kName, "client id '" + e + "' must be 1 to 20 bytes");
  }
  bool white = !wl->empty();
  return std::make_unique<ClientApprovalHook>(white ? std::move(*wl) : std::move(*bl), white);
}

ClientApprovalHook::ClientApprovalHook(std::vector<std::string> entries, bool whitelist)
    : entries_(std::move(entries)), whitelist_(whitelist) {}

bool ClientApprovalHook::matches(const PeerId& peer_id) const {
  std::string_view raw(reinterpret_cast<const char*>(peer_id.data()), peer_id.size());
  std::string_view id = chihaya_client_id(peer_id);
  for (const auto& e : entries_) {
    if (e == id || raw.starts_with(e)) return true;
  }
  return false;
}

Status ClientApprovalHook::on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) {
  // Chihaya's wording, so existing client-side handling of the message keeps working.
  if (matches(req.peer_id) != whitelist_) return fail(Errc::forbidden, "unapproved client");
  return {};
}

}  // namespace sc
