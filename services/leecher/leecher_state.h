#pragma once
// The leecher's durable state: the last metastore event applied and, per followed key, the
// torrent it maps to and how far it got. Saved as JSON (<state>/leecher.json, written to a
// temporary file and renamed, so a SIGKILL leaves the old or the new file, never half of one);
// the .torrent bytes live beside it in <state>/torrents/<infohash>.torrent.
#include <cstdint>
#include <map>
#include <string>

#include "common/core/error.h"

namespace sc {

struct LeecherItem {
  std::string infohash;
  bool complete = false;      // every piece verified at least once
  bool retired = false;       // seed policy met: no longer in the swarm, files kept
  int64_t completed_at_ms = 0;
};

struct LeecherState {
  std::string last_event_id;              // "" = never synced
  std::map<std::string, LeecherItem> items;  // by content key
};

// Errors: io (unreadable), invalid_argument (not our JSON). A missing file is an empty state.
Result<LeecherState> load_leecher_state(const std::string& state_dir);
Status save_leecher_state(const std::string& state_dir, const LeecherState& state);
std::string leecher_torrent_path(const std::string& state_dir, const std::string& infohash);

}  // namespace sc
