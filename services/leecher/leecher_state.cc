// Load and save of the leecher's JSON state file (see leecher_state.h), with jansson.
#include "services/leecher/leecher_state.h"

#include <jansson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sc {
namespace {

// The state file lists keys this node follows; a file this big is not ours.
constexpr size_t kMaxStateBytes = 64 << 20;

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
  json_error_t err;
  json_t* root = json_loadb(text.data(), text.size(), 0, &err);
  if (!root || !json_is_object(root)) {
    if (root) json_decref(root);
    return fail(Errc::invalid_argument, path + ": " + err.text);
  }
  if (const char* id = json_string_value(json_object_get(root, "last_event_id"))) st.last_event_id = id;
  json_t* items = json_object_get(root, "items");
  const char* key;
  json_t* v;
  if (json_is_object(items)) {
    json_object_foreach(items, key, v) {
      LeecherItem it;
      if (const char* ih = json_string_value(json_object_get(v, "infohash"))) it.infohash = ih;
      it.complete = json_is_true(json_object_get(v, "complete"));
      it.retired = json_is_true(json_object_get(v, "retired"));
      it.completed_at_ms = json_integer_value(json_object_get(v, "completed_at_ms"));
      if (!it.infohash.empty()) st.items.emplace(key, it);
    }
  }
  json_decref(root);
  return st;
}

Status save_leecher_state(const std::string& dir, const LeecherState& st) {
  json_t* root = json_object();
  json_object_set_new(root, "last_event_id", json_string(st.last_event_id.c_str()));
  json_t* items = json_object();
  for (auto& [k, it] : st.items) {
    json_t* o = json_object();
    json_object_set_new(o, "infohash", json_string(it.infohash.c_str()));
    json_object_set_new(o, "complete", json_boolean(it.complete));
    json_object_set_new(o, "retired", json_boolean(it.retired));
    json_object_set_new(o, "completed_at_ms", json_integer(it.completed_at_ms));
    json_object_set_new(items, k.c_str(), o);
  }
  json_object_set_new(root, "items", items);
  char* text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(root);
  if (!text) return fail(Errc::internal, "cannot encode leecher state");
  std::string path = file_of(dir), tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  bool ok = f && std::fputs(text, f) >= 0;
  if (f) ok = std::fclose(f) == 0 && ok;
  std::free(text);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) return fail(Errc::io, "cannot write " + path);
  return {};
}

}  // namespace sc
