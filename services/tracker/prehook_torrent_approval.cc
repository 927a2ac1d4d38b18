// The "torrent approval" prehook (Chihaya's torrentapproval) with file-backed lists: the set
// of hashes is an immutable snapshot swapped atomically, so a SIGHUP reload never blocks or
// races announces on the worker threads.
#include "services/tracker/prehook_torrent_approval.h"

#include <cctype>

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "services/tracker/prehook_util.h"

namespace sc {

namespace {

constexpr std::string_view kName = "torrent approval";
// 41 bytes a line: 64 MiB is ~1.6M info hashes, far beyond any private tracker's catalogue.
constexpr size_t kMaxListFileBytes = 64 << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return s;
}

Status add_hash(std::unordered_set<std::string>& set, std::string_view line, const std::string& where) {
  line = trim(line);
  if (line.empty() || line.front() == '#') return {};
  auto bytes = from_hex(line);
  if (line.size() != 40 || !bytes || bytes->size() != 20) {
    return fail(Errc::invalid_argument, where + ": '" + std::string(line.substr(0, 64)) + "' is not a 40-hex info hash");
  }
  set.insert(std::move(*bytes));
  return {};
}

}  // namespace

Result<std::unique_ptr<TorrentApprovalHook>> TorrentApprovalHook::from_options(const YAML::Node& o,
                                                                               MetricsRegistry* metrics) {
  if (auto st = prehook::check_options(o, kName, {"whitelist", "blacklist", "whitelist_file", "blacklist_file"}); !st) {
    return std::unexpected(st.error());
  }
  auto wl = prehook::get_list(o, kName, "whitelist");
  if (!wl) return std::unexpected(wl.error());
  auto bl = prehook::get_list(o, kName, "blacklist");
  if (!bl) return std::unexpected(bl.error());
  auto wf = prehook::get_string(o, kName, "whitelist_file");
  if (!wf) return std::unexpected(wf.error());
  auto bf = prehook::get_string(o, kName, "blacklist_file");
  if (!bf) return std::unexpected(bf.error());
  bool white = !wl->empty() || !wf->empty();
  bool black = !bl->empty() || !bf->empty();
  if (white && black) return prehook::bad(kName, "using both whitelist and blacklist is invalid");
  if (!white && !black) return prehook::bad(kName, "needs a whitelist, blacklist, whitelist_file or blacklist_file");
  auto hook = std::make_unique<TorrentApprovalHook>(white ? std::move(*wl) : std::move(*bl),
                                                    white ? std::move(*wf) : std::move(*bf), white, metrics);
  if (auto st = hook->reload(); !st) return prehook::bad(kName, st.error().message);
  return hook;
}

TorrentApprovalHook::TorrentApprovalHook(std::vector<std::string> inline_list, std::string file, bool whitelist,
                                         MetricsRegistry* metrics)
    : inline_(std::move(inline_list)), file_(std::move(file)), whitelist_(whitelist) {
  if (metrics) {
    reloads_ = &metrics->counter("swarmcache_tracker_torrent_approval_reloads_total",
                                 "Torrent approval lists loaded (start and SIGHUP).");
    reload_failures_ = &metrics->counter("swarmcache_tracker_torrent_approval_reload_failures_total",
                                         "Torrent approval reloads that failed; the previous list stayed in force.");
  }
}

Status TorrentApprovalHook::reload() {
  auto set = std::make_shared<HashSet>();
  auto load = [&]() -> Status {
    for (const auto& h : inline_) {
      if (auto st = add_hash(*set, h, whitelist_ ? "whitelist" : "blacklist"); !st) return st;
    }
    if (file_.empty()) return {};
    auto text = prehook::read_file_bounded(file_, kMaxListFileBytes);
    if (!text) return std::unexpected(text.error());
    std::string_view rest = *text;
    size_t line_no = 0;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      ++line_no;
      if (auto st = add_hash(*set, line, file_ + ":" + std::to_string(line_no)); !st) return st;
    }
    return {};
  };
  if (auto st = load(); !st) {
    if (reload_failures_) reload_failures_->inc();
    return st;
  }
  size_t n = set->size();
  set_.store(std::move(set));
  if (reloads_) reloads_->inc();
  SC_INFO("torrent approval list loaded", {"entries", n}, {"mode", whitelist_ ? "whitelist" : "blacklist"});
  return {};
}

Status TorrentApprovalHook::on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply&) {
  auto set = set_.load();
  bool listed = set->contains(std::string(reinterpret_cast<const char*>(req.info_hash.data()), req.info_hash.size()));
  if (listed != whitelist_) return fail(Errc::forbidden, "unapproved torrent");
  return {};
}

}  // namespace sc
