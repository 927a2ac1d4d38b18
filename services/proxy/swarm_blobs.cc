// Swarm downloads and seeding of cached blobs (see swarm_blobs.h).
#include "services/proxy/swarm_blobs.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "common/core/atomic_file.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/swarm/session.h"
#include "common/swarm/stream_resume.h"
#include "common/swarm/torrent_maker.h"
#include "services/proxy/blob_cache.h"

namespace sc {
namespace fs = std::filesystem;

SwarmBlobs::SwarmBlobs(EventLoop& loop, SwarmSession& swarm, BlobCache& cache, std::string state_dir,
                       std::string tracker)
    : loop_(loop),
      swarm_(swarm),
      cache_(cache),
      state_dir_(std::move(state_dir)),
      torrents_dir_(state_dir_ + "/torrents"),
      tracker_(std::move(tracker)) {
  std::error_code ec;
  fs::create_directories(torrents_dir_, ec);
}

SwarmBlobs::~SwarmBlobs() {
  *alive_ = false;
  for (auto& [id, p] : downloads_) close_fd(p);
}

void SwarmBlobs::close_fd(Pending& p) {
  if (p.fd >= 0) ::close(p.fd);
  p.fd = -1;
}

Result<SwarmDownloads::Download> SwarmBlobs::add(const std::string& hex, const std::string& key,
                                                 const std::string& torrent) {
  auto info = inspect_torrent(torrent);
  // Only our own shape can be served from the cache path: one file named by the hex.
  if (!info || info->files.size() != 1 || info->name != hex || info->total_size <= 0 ||
      info->total_size > cache_.budget_bytes())
    return fail(Errc::invalid_argument, "not a single-file torrent of this blob");
  auto layout = parse_piece_layout(torrent);
  if (!layout || layout->total != info->total_size) return fail(Errc::invalid_argument, "bad piece layout");
  if (auto st = cache_.mark_partial(hex); !st) return std::unexpected(st.error());
  // In piece order, so the streamed client's next bytes are the ones being fetched.
  if (auto st = write_sequential_resume(state_dir_ + "/swarm", torrent); !st)
    SC_DEBUG("no sequential download", {"key", key}, {"error", st.error().message});
  AddTorrentOptions ao;
  ao.key = key;
  ao.save_path = cache_.blobs_dir();
  if (!tracker_.empty()) ao.trackers.push_back(tracker_);
  auto ih = swarm_.add(torrent, ao);
  if (!ih) {
    cache_.clear_partial(hex);
    return fail(Errc::unavailable, ih.error().message);
  }
  downloads_[*ih] = Pending{hex, torrent, std::move(*layout)};
  return Download{*ih, info->total_size};
}

int64_t SwarmBlobs::downloaded(const std::string& id) {
  auto st = swarm_.status_of(id);
  return st ? st->downloaded : 0;
}

Result<std::string> SwarmBlobs::read_verified(const std::string& id, int64_t offset, int64_t max) {
  auto it = downloads_.find(id);
  if (it == downloads_.end()) return fail(Errc::not_found, "no such download");
  Pending& p = it->second;
  auto st = swarm_.status_of(id);
  int64_t now = st ? st->downloaded : 0;
  // Nothing new arrived since the next piece was missing: do not re-read it.
  if (st && !st->complete && now == p.miss_at) return std::string();
  if (p.fd < 0) {
    p.fd = ::open(cache_.blob_path(p.hex).c_str(), O_RDONLY | O_CLOEXEC);
    if (p.fd < 0) return std::string();  // libtorrent has not created the file yet
  }
  const auto& l = p.layout;
  std::string out;
  for (int64_t i = offset / l.piece_len; i < l.pieces && (out.empty() || static_cast<int64_t>(out.size()) < max); ++i) {
    int64_t off = i * l.piece_len;
    int64_t len = std::min(l.piece_len, l.total - off);
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(len));
    if (::pread(p.fd, out.data() + at, static_cast<size_t>(len), off) != len ||
        !l.matches(i, std::string_view(out).substr(at))) {
      out.resize(at);  // not here yet (or not yet written by libtorrent's disk threads)
      p.miss_at = now;
      break;
    }
  }
  return out;
}

void SwarmBlobs::remove(const std::string& id) {
  auto it = downloads_.find(id);
  if (it == downloads_.end()) return;
  close_fd(it->second);
  (void)swarm_.remove(id, false);
  // Unlinked here, synchronously: an asynchronous delete could hit the file the upstream fetch
  // is about to rename into the same place.
  ::unlink(cache_.blob_path(it->second.hex).c_str());
  cache_.clear_partial(it->second.hex);
  downloads_.erase(it);
}

void SwarmBlobs::keep(const std::string& id, const std::string& hex) {
  auto it = downloads_.find(id);
  if (it == downloads_.end()) return;
  close_fd(it->second);
  torrent_of_[hex] = id;
  save_torrent(hex, it->second.torrent);
  downloads_.erase(it);
}

void SwarmBlobs::seed(const std::string& hex, const std::string& key, std::function<void(Result<std::string>)> done) {
  std::string path = cache_.blob_path(hex);
  MakeTorrentOptions mo;
  if (!tracker_.empty()) mo.trackers.push_back(tracker_);
  mo.threads = 1;
  std::weak_ptr<bool> alive = alive_;
  work_.post([this, alive, hex, key, path, mo, done = std::move(done)] {
    auto made = make_torrent(path, mo);
    loop_.defer([this, alive, hex, key, done, made = std::move(made)]() mutable {
      if (alive.expired()) return;
      if (!made) return done(std::unexpected(made.error()));
      if (!cache_.contains(hex)) return done(fail(Errc::not_found, "evicted meanwhile"));
      AddTorrentOptions ao;
      ao.key = key;
      ao.save_path = cache_.blobs_dir();
      ao.seed_mode = true;
      auto ih = swarm_.add(made->bytes, ao);
      if (!ih) return done(std::unexpected(ih.error()));
      torrent_of_[hex] = *ih;
      save_torrent(hex, made->bytes);
      done(std::move(made->bytes));
    });
  });
}

void SwarmBlobs::save_torrent(const std::string& hex, const std::string& bytes) {
  // Without the file the blob is still served and seeded now; only a restart would not
  // re-seed it, so a failure is reported, not fatal.
  if (auto st = write_file_atomically(torrents_dir_ + "/" + hex + ".torrent", bytes); !st)
    SC_WARN("cannot save torrent", {"blob", hex}, {"error", st.error().message});
}

void SwarmBlobs::stop_seeding(const std::string& hex) {
  auto it = torrent_of_.find(hex);
  if (it != torrent_of_.end()) {
    // Removing the torrent sends event=stopped to its trackers.
    (void)swarm_.remove(it->second, false);
    torrent_of_.erase(it);
  }
  ::unlink((torrents_dir_ + "/" + hex + ".torrent").c_str());
}

void SwarmBlobs::sync_torrents() {
  std::error_code ec;
  std::vector<fs::path> files, drop;
  for (auto it = fs::directory_iterator(torrents_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    files.push_back(it->path());
  for (const auto& path : files) {
    std::string name = path.filename().string();
    std::string hex = name.substr(0, name.find('.'));
    if (name.ends_with(".torrent") && is_blob_hex(hex) && cache_.contains(hex)) {
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      AddTorrentOptions ao;
      ao.key = "sha256:" + hex;  // OSTree entries re-register under their key when next fetched
      ao.save_path = cache_.blobs_dir();
      ao.seed_mode = true;
      if (auto ih = swarm_.add(bytes, ao)) {
        torrent_of_[hex] = *ih;
        continue;
      }
    }
    drop.push_back(path);
  }
  // Resume data of downloads a crash interrupted (their partial files are gone): left in
  // place it would claim pieces the next download of the same torrent does not have.
  std::unordered_set<std::string> live;
  for (auto& [hex, ih] : torrent_of_) live.insert(ih);
  std::string resume_dir = state_dir_ + "/swarm/resume";
  for (auto it = fs::directory_iterator(resume_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.ends_with(".resume") && !live.count(name.substr(0, name.size() - 7))) drop.push_back(it->path());
  }
  for (const auto& path : drop) fs::remove(path, ec);
}

}  // namespace sc

