// Data directory scan for the seeder: walks the tree, computes a signature per content key,
// and makes (or reuses from the cache) one deterministic torrent per file (and per directory
// when asked).
// Runs on a background thread; touches nothing shared but the file system.
#include "services/seeder/scanner.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/core/atomic_file.h"
#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "common/swarm/torrent_maker.h"
#include "proto/content_key.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

// A data directory is operator-controlled, but a mistake ("/") must end, not exhaust memory.
constexpr size_t kMaxScanFiles = 200'000;
// Bump when torrent-making options change so cached torrents are remade.
constexpr const char* kCacheVersion = "v1";

struct FileInfo {
  std::string rel;  // relative to the data dir, '/'-separated
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

bool hidden_component(const std::string& rel) {
  size_t start = 0;
  for (;;) {
    if (start < rel.size() && rel[start] == '.') return true;
    auto slash = rel.find('/', start);
    if (slash == std::string::npos) return false;
    start = slash + 1;
  }
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

Result<ScanResult> scan_data_dir(const ScanOptions& opt) {
  std::error_code ec;
  fs::path root = fs::path(opt.data_dir).lexically_normal();
  if (!fs::is_directory(root, ec)) return fail(Errc::not_found, "data directory " + opt.data_dir + " is not a directory");
  std::string cache_dir = opt.state_dir + "/made";
  fs::create_directories(cache_dir, ec);
  if (ec) return fail(Errc::io, "cannot create " + cache_dir + ": " + ec.message());

  ScanResult out;
  std::vector<FileInfo> files;
  std::vector<std::string> dirs;
  if (opt.on_directory) opt.on_directory(root.string());
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return fail(Errc::io, "cannot read " + opt.data_dir + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) {
      out.errors.push_back("walk: " + ec.message());
      break;
    }
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) != 0) continue;  // vanished meanwhile
    std::string rel = fs::relative(it->path(), root, ec).generic_string();
    if (ec) continue;
    if (S_ISDIR(st.st_mode)) {
      if (opt.on_directory) opt.on_directory(it->path().string());
      dirs.push_back(rel);
    } else if (S_ISREG(st.st_mode)) {
      if (files.size() >= kMaxScanFiles) {
        out.errors.push_back("more than " + std::to_string(kMaxScanFiles) + " files; the rest are ignored");
        break;
      }
      int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
      files.push_back({rel, static_cast<int64_t>(st.st_size), mtime_ns});
    }
  }
  std::sort(files.begin(), files.end(), [](const FileInfo& a, const FileInfo& b) { return a.rel < b.rel; });
  std::sort(dirs.begin(), dirs.end());

  auto unsettled = [&](const FileInfo& f) { return opt.now_ms > 0 && f.mtime_ns / 1'000'000 > opt.now_ms - opt.settle_ms; };

  // Each candidate: key, path, its files (for the signature).
  struct Candidate {
    std::string key, rel;
    bool dir;
    std::string sig;
    bool skip = false;
  };
  std::vector<Candidate> cands;
  for (auto& f : files) {
    if (hidden_component(f.rel) || f.size == 0) continue;
    Candidate c{"files/" + f.rel, f.rel, false, "", false};
    if (unsettled(f)) {
      out.unsettled = true;
      continue;
    }
    c.sig = f.rel + '\0' + std::to_string(f.size) + '\0' + std::to_string(f.mtime_ns) + '\n';
    cands.push_back(std::move(c));
  }
  for (auto& d : dirs) {
    if (!opt.dir_torrents) break;
    if (hidden_component(d)) continue;
    std::string prefix = d + "/";
    Candidate c{"dirs/" + d, d, true, "", false};
    int64_t total = 0;
    auto lo = std::lower_bound(files.begin(), files.end(), prefix,
                               [](const FileInfo& f, const std::string& p) { return f.rel < p; });
    for (auto f = lo; f != files.end() && f->rel.starts_with(prefix); ++f) {
      if (unsettled(*f)) c.skip = true;
      total += f->size;
      c.sig += f->rel + '\0' + std::to_string(f->size) + '\0' + std::to_string(f->mtime_ns) + '\n';
    }
    if (total == 0) continue;
    if (c.skip) {
      out.unsettled = true;
      continue;
    }
    cands.push_back(std::move(c));
  }

  for (auto& c : cands) {
    if (auto k = parse_content_key(c.key); !k) {
      out.errors.push_back(c.key + ": not a valid content key (" + k.error().message + ")");
      continue;
    }
    std::string sig = std::string(kCacheVersion) + '\n' + opt.tracker + '\n' + c.sig;
    std::string cache = cache_dir + "/" + to_hex(sha1(c.key));
    ScanEntry e;
    e.key = c.key;
    e.path = (root / c.rel).string();
    e.save_path = (root / c.rel).parent_path().string();
    if (read_all(cache + ".sig") == sig) {
      e.torrent = read_all(cache + ".torrent");
      if (auto s = inspect_torrent(e.torrent)) e.infohash = s->infohash;
    }
    if (e.infohash.empty()) {
      MakeTorrentOptions mo;
      if (!opt.tracker.empty()) mo.trackers.push_back(opt.tracker);
      auto made = make_torrent(e.path, mo);
      if (!made) {
        out.errors.push_back(c.key + ": " + made.error().message);
        continue;
      }
      e.torrent = std::move(made->bytes);
      e.infohash = made->infohash;
      e.fresh = true;
      out.hashed_bytes += made->total_size;
      Status saved = write_file_atomically(cache + ".torrent", e.torrent);
      if (saved) saved = write_file_atomically(cache + ".sig", sig);
      if (!saved) out.errors.push_back(c.key + ": cannot write the torrent cache: " + saved.error().message);
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

}  // namespace sc
