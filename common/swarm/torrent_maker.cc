// Deterministic torrent creation (v1 hashed on every core with our own reader threads; hybrid
// through libtorrent's set_piece_hashes) and bounded .torrent inspection. Every libtorrent call
// is wrapped so no exception leaves this file.
#include "common/swarm/torrent_maker.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <atomic>
#include <mutex>
#include <bit>
#include <filesystem>
#include <thread>
#include <utility>

#include <libtorrent/create_torrent.hpp>
#include <libtorrent/file_storage.hpp>
#include <libtorrent/hasher.hpp>
#include <libtorrent/settings_pack.hpp>
#include <libtorrent/torrent_info.hpp>

#include "common/core/bytes.h"

namespace sc {
namespace fs = std::filesystem;
namespace {

// Bounds for parsing a .torrent we did not make (metastore bytes are untrusted).
constexpr int kMaxTorrentBytes = 16 << 20;
constexpr int kMaxDecodeDepth = 100;
constexpr int kMaxDecodeTokens = 3'000'000;
// Bounds for a directory walk: a seeder given "/" must fail, not allocate forever.
constexpr size_t kMaxFilesPerTorrent = 1'000'000;

struct SourceFile {
  std::string rel;  // path inside the torrent (name/...)
  std::string abs;
  int64_t size = 0;
};

Status collect(const fs::path& root, const std::string& name, std::vector<SourceFile>& out) {
  std::error_code ec;
  auto st = fs::symlink_status(root, ec);
  if (ec) return fail(Errc::not_found, "stat " + root.string() + ": " + ec.message());
  if (fs::is_regular_file(st)) {
    out.push_back({name, root.string(), static_cast<int64_t>(fs::file_size(root, ec))});
    if (ec) return fail(Errc::io, "size of " + root.string() + ": " + ec.message());
    return {};
  }
  if (!fs::is_directory(st)) return fail(Errc::invalid_argument, root.string() + " is neither a file nor a directory");
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return fail(Errc::io, "open " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Errc::io, "walk " + root.string() + ": " + ec.message());
    auto s = it->symlink_status(ec);
    if (ec || !fs::is_regular_file(s)) continue;  // symlinks, sockets, fifos: skipped
    if (out.size() >= kMaxFilesPerTorrent) return fail(Errc::too_large, "too many files under " + root.string());
    auto rel = fs::relative(it->path(), root, ec).generic_string();
    if (ec) return fail(Errc::io, "relative path: " + ec.message());
    auto size = fs::file_size(it->path(), ec);
    if (ec) return fail(Errc::io, "size of " + it->path().string() + ": " + ec.message());
    out.push_back({name + "/" + rel, it->path().string(), static_cast<int64_t>(size)});
  }
  if (ec) return fail(Errc::io, "walk " + root.string() + ": " + ec.message());
  // Directory iteration order is file-system dependent; sorted bytes are the same everywhere.
  std::sort(out.begin(), out.end(), [](const SourceFile& a, const SourceFile& b) { return a.rel < b.rel; });
  return {};
}

// Hashes every v1 piece with `threads` readers. Each thread claims the next piece, preads its
// file slices and hashes them; neighbouring threads read neighbouring pieces, so the disk
// still sees a mostly sequential stream. A thread keeps only its current file open: slices come
// in file order and the next piece usually continues that file, so open files stay at one per
// thread however many files a directory holds (1,500 files under `ulimit -n 1024` used to fail).
Status hash_v1(lt::create_torrent& ct, const lt::file_storage& files, const std::vector<SourceFile>& src,
               int threads) {
  int num_pieces = files.num_pieces();
  std::vector<lt::sha1_hash> hashes(num_pieces);
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  Error err;
  auto worker = [&] {
    int open_index = -1, fd = -1;
    std::vector<char> buf(files.piece_length());
    auto set_error = [&](Errc code, std::string msg) {
      std::lock_guard lock(err_mu);
      if (!failed.exchange(true)) err = Error{code, std::move(msg)};
    };
    for (;;) {
      int p = next.fetch_add(1);
      if (p >= num_pieces || failed.load()) break;
      int psize = files.piece_size(lt::piece_index_t(p));
      auto slices = files.map_block(lt::piece_index_t(p), 0, psize);
      int off = 0;
      for (auto& sl : slices) {
        int fi = static_cast<int>(sl.file_index);
        if (fi != open_index) {
          if (fd >= 0) ::close(fd);
          open_index = fi;
          fd = ::open(src[fi].abs.c_str(), O_RDONLY | O_CLOEXEC);
          if (fd < 0) {
            set_error(Errc::io, "open " + src[fi].abs + ": " + std::strerror(errno));
            break;
          }
          ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        }
        int64_t want = sl.size, pos = sl.offset;
        while (want > 0) {
          ssize_t n = ::pread(fd, buf.data() + off, want, pos);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            set_error(Errc::io, "read " + src[fi].abs + (n < 0 ? std::string(": ") + std::strerror(errno)
                                                               : std::string(": file shrank while hashing")));
            break;
          }
          want -= n, pos += n, off += n;
        }
        if (failed.load()) break;
      }
      if (failed.load()) break;
      hashes[p] = lt::hasher(buf.data(), psize).final();
    }
    if (fd >= 0) ::close(fd);
  };
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (failed.load()) return std::unexpected(err);
  for (int p = 0; p < num_pieces; ++p) ct.set_hash(lt::piece_index_t(p), hashes[p]);
  return {};
}

std::string hex_of(const lt::sha1_hash& h) {
  return to_hex(std::string_view(h.data(), h.size()));
}

}  // namespace

int64_t auto_piece_length(int64_t total_size) {
  int64_t size = std::max<int64_t>(total_size, 1);
  int64_t p = static_cast<int64_t>(std::bit_ceil(static_cast<uint64_t>((size + kTargetPieces - 1) / kTargetPieces)));
  return std::clamp(p, kMinPieceLength, kMaxPieceLength);
}

Result<MadeTorrent> make_torrent(const std::string& path, const MakeTorrentOptions& opt) try {
  fs::path root = fs::path(path).lexically_normal();
  if (root.has_filename() == false) root = root.parent_path();  // "dir/" → "dir"
  std::string name = opt.name.empty() ? root.filename().string() : opt.name;
  if (name.empty() || name == "." || name == "..")
    return fail(Errc::invalid_argument, "cannot name a torrent after " + path + " (use -n NAME)");
  if (name.find('/') != std::string::npos) return fail(Errc::invalid_argument, "torrent name may not contain '/'");
  std::vector<SourceFile> src;
  if (auto st = collect(root, name, src); !st) return std::unexpected(st.error());
  int64_t total = 0;
  for (auto& f : src) total += f.size;
  if (src.empty() || total == 0) return fail(Errc::invalid_argument, path + " holds no data to share");

  int64_t piece_length = auto_piece_length(total);
  if (opt.piece_length_exp != 0) {
    if (opt.piece_length_exp < 15 || opt.piece_length_exp > 28)
      return fail(Errc::invalid_argument, "piece length exponent must be 15..28");
    piece_length = int64_t{1} << opt.piece_length_exp;
  }

  lt::file_storage files;
  for (auto& f : src) files.add_file(f.rel, f.size);
  // A single file keeps the single-file layout (info.length), as mktorrent makes it.
  lt::create_flags_t flags = opt.hybrid ? lt::create_flags_t{} : lt::create_torrent::v1_only;
  lt::create_torrent ct(files, static_cast<int>(piece_length), flags);
  ct.set_creation_date(0);
  for (auto& t : opt.trackers) ct.add_tracker(t, static_cast<int>(&t - opt.trackers.data()));
  for (auto& w : opt.web_seeds) ct.add_url_seed(w);
  if (!opt.comment.empty()) ct.set_comment(opt.comment.c_str());
  ct.set_priv(opt.priv);

  int threads = opt.threads > 0 ? opt.threads : std::max(1u, std::thread::hardware_concurrency());
  if (opt.hybrid) {
    lt::settings_pack sp;
    sp.set_int(lt::settings_pack::hashing_threads, threads);
    lt::error_code ec;
    lt::set_piece_hashes(ct, root.parent_path().empty() ? "." : root.parent_path().string(), sp,
                         [](lt::piece_index_t) {}, ec);
    if (ec) return fail(Errc::io, "hashing " + path + ": " + ec.message());
  } else {
    if (auto st = hash_v1(ct, ct.files(), src, threads); !st) return std::unexpected(st.error());
  }
  auto buf = ct.generate_buf();
  MadeTorrent out;
  out.bytes.assign(buf.begin(), buf.end());
  auto summary = inspect_torrent(out.bytes);
  if (!summary) return fail(Errc::internal, "made an unreadable torrent: " + summary.error().message);
  out.infohash = summary->infohash;
  out.name = name;
  out.total_size = total;
  out.piece_length = piece_length;
  out.num_files = static_cast<int>(src.size());
  return out;
} catch (const std::exception& e) {
  return fail(Errc::internal, std::string("make_torrent: ") + e.what());
}

Result<TorrentSummary> inspect_torrent(std::string_view bytes) try {
  if (bytes.size() > static_cast<size_t>(kMaxTorrentBytes)) return fail(Errc::too_large, "torrent file too large");
  lt::load_torrent_limits limits;
  limits.max_buffer_size = kMaxTorrentBytes;
  limits.max_decode_depth = kMaxDecodeDepth;
  limits.max_decode_tokens = kMaxDecodeTokens;
  lt::torrent_info ti(lt::span<const char>(bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())), limits,
                      lt::from_span);
  if (!ti.info_hashes().has_v1()) return fail(Errc::invalid_argument, "v2-only torrents are not supported");
  TorrentSummary s;
  s.infohash = hex_of(ti.info_hashes().v1);
  s.name = ti.name();
  s.total_size = ti.total_size();
  s.piece_length = ti.piece_length();
  s.num_pieces = ti.num_pieces();
  s.hybrid = ti.info_hashes().has_v2();
  s.priv = ti.priv();
  for (auto& t : ti.trackers()) s.trackers.push_back(t.url);
  auto& fst = ti.files();
  for (auto f : fst.file_range()) {
    if (fst.pad_file_at(f)) continue;
    s.files.push_back({fst.file_path(f), fst.file_size(f)});
  }
  return s;
} catch (const std::exception& e) {
  return fail(Errc::invalid_argument, std::string("not a valid torrent: ") + e.what());
}

}  // namespace sc
