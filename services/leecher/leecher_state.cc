// Load and save of the leecher's JSON state file (see leecher_state.h).
#include "services/leecher/leecher_state.h"

#include <filesystem>
#include <fstream>

#include "common/core/atomic_file.h"
#include "common/core/json.h"

namespace sc {
namespace {

// The state file lists keys this node follows; a file this big is not ours.
constexpr size_t kMaxStateBytes = 64 << 20;
// The file nests three levels (root, items, item); the slack is for fields added later.
constexpr size_t kMaxStateDepth = 8;

std::string file_of(const std::string& dir) { return dir + "/leecher.json"; }

}  // namespace

std::string leecher_torrent_path(const std::string& state_dir, const std::string& infohash) {
  return state_dir + "/torrents/" + infohash + ".torrent";
}

Result<LeecherState> load_leecher_state(const std::string& dir) {
  LeecherState st;
  std::error_code ec;
  std::string path = file_of(dir);
  if (!std::filesystem::exists(path, ec)) return st;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxStateBytes) return fail(Errc::io, "cannot read " + path);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  auto root = json_parse(text, {.max_size = kMaxStateBytes, .max_depth = kMaxStateDepth});
  if (!root) return fail(Errc::invalid_argument, path + ": " + root.error().message);
  if (!root->is_object()) return fail(Errc::invalid_argument, path + ": not a JSON object");
  st.last_event_id = root->get("last_event_id").as_string();
  root->get("items").for_each_member([&](std::string_view key, const Json& v) {
    LeecherItem it;
    it.infohash = v.get("infohash").as_string();
    it.complete = v.get("complete").as_bool();
    it.retired = v.get("retired").as_bool();
    it.completed_at_ms = v.get("completed_at_ms").as_int();
    if (!it.infohash.empty()) st.items.emplace(key, it);
  });
  return st;
}

Status save_leecher_state(const std::string& dir, const LeecherState& st) {
  // Keys in sorted order, as the file has always been written (it is read by people too).
  Json items = Json::object();
  for (const auto& [k, it] : st.items) {
    items.set(k, Json::object()
                     .set("complete", it.complete)
                     .set("completed_at_ms", it.completed_at_ms)
                     .set("infohash", it.infohash)
                     .set("retired", it.retired));
  }
  Json root = Json::object();
  root.set("items", std::move(items)).set("last_event_id", st.last_event_id);
  return write_file_atomically(file_of(dir), root.dump());
}

}  // namespace sc
