// Disk blob cache for the proxy: verified writes (temp file → sha256 check → fdatasync →
// rename), LRU eviction under a byte budget, and start-up reconciliation that discards
// anything a crash left half-written.
#include "services/proxy/blob_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/core/atomic_file.h"
#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kPartialSuffix = ".partial";

std::string errno_text() { return std::strerror(errno); }

}  // namespace

bool is_blob_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::unique_ptr<BlobCache>> BlobCache::open(const BlobCacheOptions& options) {
  std::unique_ptr<BlobCache> c(new BlobCache());
  c->dir_ = options.dir;
  c->blobs_dir_ = options.dir + "/blobs";
  c->tmp_dir_ = options.dir + "/tmp";
  c->meta_dir_ = options.dir + "/meta";
  c->budget_ = options.budget_bytes;
  std::error_code ec;
  fs::create_directories(c->blobs_dir_, ec);
  if (!ec) fs::create_directories(c->tmp_dir_, ec);
  if (!ec) fs::create_directories(c->meta_dir_, ec);
  if (ec) return fail(Errc::io, "cache dir " + options.dir + ": " + ec.message());
  if (auto st = c->reconcile(); !st) return std::unexpected(st.error());
  c->evict_to_budget("");
  return c;
}

BlobCache::~BlobCache() = default;

Status BlobCache::reconcile() {
  std::error_code ec;
  for (auto it = fs::directory_iterator(tmp_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    fs::remove_all(it->path(), ec);
    ++report_.removed_partial;
  }
  struct Found {
    std::string hex;
    int64_t size;
    fs::file_time_type mtime;
  };
  std::vector<Found> found;
  std::vector<std::string> partial;
  std::vector<fs::path> junk;
  for (auto it = fs::directory_iterator(blobs_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.ends_with(kPartialSuffix) && is_blob_hex(name.substr(0, name.size() - kPartialSuffix.size()))) {
      partial.push_back(name.substr(0, 64));
      continue;
    }
    std::error_code fec;
    if (!is_blob_hex(name) || !it->is_regular_file(fec)) {
      junk.push_back(it->path());
      continue;
    }
    found.push_back({name, static_cast<int64_t>(it->file_size(fec)), it->last_write_time(fec)});
  }
  if (ec) return fail(Errc::io, "scan " + blobs_dir_ + ": " + ec.message());
  for (auto& p : junk) {
    fs::remove_all(p, ec);
    ++report_.removed_unknown;
  }
  for (auto& hex : partial) {
    fs::remove(blob_path(hex), ec);
    fs::remove(blob_path(hex) + std::string(kPartialSuffix), ec);
    ++report_.removed_partial;
    std::erase_if(found, [&](const Found& f) { return f.hex == hex; });
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime < b.mtime; });
  for (auto& f : found) {
    // A truncated or grown file, or one whose record is missing (a crash between rename and
    // record, or a hand-copied file), is never served: it would go out as a short 200.
    int64_t size = -1;
    std::string sha;
    std::ifstream(record_path(f.hex)) >> size >> sha;
    if (size != f.size || !is_blob_hex(sha)) {
      fs::remove(blob_path(f.hex), ec);
      fs::remove(record_path(f.hex), ec);
      ++report_.removed_corrupt;
      ++corrupt_;
      continue;
    }
    insert(f.hex, f.size, sha, false);
    ++report_.kept;
    report_.bytes += f.size;
  }
  // Records whose blob is gone.
  for (auto it = fs::directory_iterator(meta_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!index_.count(name)) fs::remove(it->path(), ec);
  }
  return {};
}

Status BlobCache::write_record(const std::string& hex, int64_t size, const std::string& sha256) {
  return write_file_atomically(record_path(hex), std::to_string(size) + " " + sha256 + "\n");
}

const BlobCache::EntryInfo* BlobCache::info(std::string_view hex) const {
  auto it = index_.find(std::string(hex));
  return it == index_.end() ? nullptr : &it->second;
}

void BlobCache::set_counters(Counter* evictions, Counter* corrupt) {
  evictions_counter_ = evictions;
  corrupt_counter_ = corrupt;
  if (evictions_counter_ && evictions_ > 0) evictions_counter_->inc(static_cast<uint64_t>(evictions_));
  if (corrupt_counter_ && corrupt_ > 0) corrupt_counter_->inc(static_cast<uint64_t>(corrupt_));
}

void BlobCache::mark_verified(std::string_view hex) {
  if (auto it = index_.find(std::string(hex)); it != index_.end()) it->second.verified = true;
}

void BlobCache::mark_corrupt(std::string_view hex) {
  if (!contains(hex)) return;
  ++corrupt_;
  if (corrupt_counter_) corrupt_counter_->inc();
  SC_WARN("corrupt cache entry removed", {"blob", hex});
  remove(hex);
}

void BlobCache::insert(const std::string& hex, int64_t size, std::string sha256, bool verified) {
  auto it = index_.find(hex);
  if (it != index_.end()) {
    used_ -= it->second.size;
    lru_.erase(it->second.pos);
    index_.erase(it);
  }
  lru_.push_back(hex);
  Entry e;
  e.size = size;
  e.sha256 = std::move(sha256);
  e.verified = verified;
  e.pos = std::prev(lru_.end());
  index_[hex] = std::move(e);
  used_ += size;
}

void BlobCache::evict_to_budget(const std::string& keep) {
  auto it = lru_.begin();
  while (used_ > budget_ && it != lru_.end()) {
    if (*it == keep) {
      ++it;
      continue;
    }
    std::string hex = *it;
    ++it;
    remove(hex);
    ++evictions_;
    if (evictions_counter_) evictions_counter_->inc();
  }
}

void BlobCache::remove(std::string_view hex_view) {
  std::string hex(hex_view);
  auto it = index_.find(hex);
  if (it == index_.end()) return;
  if (on_evict_) on_evict_(hex);
  used_ -= it->second.size;
  lru_.erase(it->second.pos);
  index_.erase(it);
  // Readers holding the file open (sendfile in progress) keep their bytes until they close.
  ::unlink(blob_path(hex).c_str());
  ::unlink(record_path(hex).c_str());
}

std::optional<int64_t> BlobCache::lookup(std::string_view hex) {
  auto it = index_.find(std::string(hex));
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.end(), lru_, it->second.pos);
  return it->second.size;
}

Result<std::pair<int, int64_t>> BlobCache::open_blob(std::string_view hex) {
  auto size = lookup(hex);
  if (!size) return fail(Errc::not_found, "blob not cached");
  int fd = ::open(blob_path(hex).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // The file vanished under us (deleted by hand): forget it rather than fail forever.
    std::string err = errno_text();
    auto it = index_.find(std::string(hex));
    if (it != index_.end()) {
      used_ -= it->second.size;
      lru_.erase(it->second.pos);
      index_.erase(it);
    }
    return fail(Errc::not_found, "cached blob missing: " + err);
  }
  return std::make_pair(fd, *size);
}

std::vector<std::string> BlobCache::lru_order() const { return {lru_.begin(), lru_.end()}; }

Result<std::unique_ptr<BlobCache::Writer>> BlobCache::begin(std::string_view hex, int64_t expected_size, bool verify) {
  if (!is_blob_hex(hex)) return fail(Errc::invalid_argument, "not a blob name");
  if (contains(hex)) return fail(Errc::conflict, "already cached");
  if (expected_size > budget_) return fail(Errc::too_large, "blob larger than the cache budget");
  std::unique_ptr<Writer> w(new Writer());
  w->cache_ = this;
  w->hex_ = std::string(hex);
  w->expected_ = expected_size;
  w->verify_ = verify;
  w->tmp_path_ = tmp_dir_ + "/" + w->hex_ + "." + std::to_string(::getpid()) + "." + std::to_string(++tmp_seq_);
  w->fd_ = ::open(w->tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w->fd_ < 0) return fail(Errc::io, "create " + w->tmp_path_ + ": " + errno_text());
  return w;
}

BlobCache::Writer::~Writer() { abort(); }

Status BlobCache::Writer::write(std::string_view data) {
  if (done_) return fail(Errc::internal, "writer finished");
  if (expected_ >= 0 && written_ + static_cast<int64_t>(data.size()) > expected_)
    return fail(Errc::invalid_argument, "more bytes than announced");
  if (written_ + static_cast<int64_t>(data.size()) > cache_->budget_)
    return fail(Errc::too_large, "blob larger than the cache budget");
  sha_.update(data);
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::io, "write " + tmp_path_ + ": " + errno_text());
    }
    data.remove_prefix(static_cast<size_t>(n));
    written_ += n;
  }
  return {};
}

Status BlobCache::Writer::commit() {
  if (done_) return fail(Errc::internal, "writer finished");
  auto digest = sha_.finish();
  if (expected_ >= 0 && written_ != expected_) {
    abort();
    return fail(Errc::invalid_argument, "size mismatch: got " + std::to_string(written_) + " bytes");
  }
  if (verify_ && to_hex(digest) != hex_) {
    abort();
    return fail(Errc::invalid_argument, "digest mismatch: content is sha256:" + to_hex(digest));
  }
  if (::fdatasync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    abort();
    return fail(Errc::io, "flush " + tmp_path_ + ": " + errno_text());
  }
  fd_ = -1;
  std::string dest = cache_->blob_path(hex_);
  if (::rename(tmp_path_.c_str(), dest.c_str()) != 0) {
    abort();
    return fail(Errc::io, "rename into cache: " + errno_text());
  }
  done_ = true;
  if (auto st = cache_->write_record(hex_, written_, to_hex(digest)); !st) {
    ::unlink(dest.c_str());
    return st;
  }
  cache_->insert(hex_, written_, to_hex(digest), true);
  cache_->evict_to_budget(hex_);
  return {};
}

void BlobCache::Writer::abort() {
  if (done_) return;
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_path_.c_str());
}

Status BlobCache::mark_partial(std::string_view hex) {
  std::string marker = blob_path(hex) + std::string(kPartialSuffix);
  int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Errc::io, "create " + marker + ": " + errno_text());
  ::fsync(fd);
  ::close(fd);
  return {};
}

void BlobCache::clear_partial(std::string_view hex) {
  ::unlink((blob_path(hex) + std::string(kPartialSuffix)).c_str());
}

Status BlobCache::adopt(std::string_view hex, std::string_view sha256) {
  struct stat st;
  std::string path = blob_path(hex);
  if (::stat(path.c_str(), &st) != 0) return fail(Errc::not_found, "adopt " + path + ": " + errno_text());
  if (st.st_size > budget_) return fail(Errc::too_large, "blob larger than the cache budget");
  std::string sha(sha256.empty() ? hex : sha256);
  if (auto w = write_record(std::string(hex), st.st_size, sha); !w) return w;
  clear_partial(hex);
  insert(std::string(hex), st.st_size, sha, true);
  evict_to_budget(std::string(hex));
  return {};
}

}  // namespace sc
