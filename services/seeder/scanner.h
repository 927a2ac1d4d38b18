#pragma once
// The seeder's view of its data directory: one entry per regular file (key files/<rel>) and,
// when asked, one per non-empty subdirectory (key dirs/<rel>), each with its torrent. Torrents are cached
// in <state>/made keyed by the content key and a signature (sizes and mtimes of the bytes
// covered, plus the tracker), so a restart or a rescan re-hashes only what changed.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace sc {

struct ScanEntry {
  std::string key;        // files/<rel> or dirs/<rel>
  std::string path;       // absolute path of the file or directory
  std::string save_path;  // directory the torrent's name lives in
  std::string infohash;
  std::string torrent;    // .torrent bytes
  bool fresh = false;     // hashed in this scan (seed mode is safe), else from the cache
};

struct ScanResult {
  std::vector<ScanEntry> entries;
  std::vector<std::string> errors;  // per path, non-fatal
  bool unsettled = false;           // some file changed moments ago: scan again soon
  int64_t hashed_bytes = 0;
};

struct ScanOptions {
  std::string data_dir;
  std::string state_dir;
  std::string tracker;  // announce URL put into every torrent ("" = none: DHT mode)
  // Files modified less than this long ago are probably still being written; they are
  // skipped this time and the result says unsettled.
  int64_t settle_ms = 1000;
  int64_t now_ms = 0;  // wall clock at scan start
  // Also one torrent per non-empty subdirectory. Off by default: a directory torrent holds the
  // same bytes as its files' torrents, so a leecher following "*" would download, store and
  // verify every file twice, and the seeder would hash it twice.
  bool dir_torrents = false;
  // Called for every directory walked (the seeder adds an inotify watch there).
  std::function<void(const std::string& dir)> on_directory;
};

// Names starting with '.' are skipped as files of their own (editor and rsync temporaries),
// but a directory torrent covers every regular file under it, like mktorrent.
// Errors: not_found / io when the data directory itself cannot be read.
Result<ScanResult> scan_data_dir(const ScanOptions& options);

}  // namespace sc
