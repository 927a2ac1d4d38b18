// The one atomic file write of the tree (state, resume data, torrent caches, proxy records):
// temp file beside the target, fsync, rename, fsync of the directory.
#include "common/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace sc {
namespace {

// Temp names are unique per process and call, so concurrent writers of one path (threads, or a
// second process on a shared state dir) never write into each other's file. One left by a
// crashed process with a recycled pid is stepped over; this many in a row is not chance.
constexpr int kMaxNameAttempts = 64;
std::atomic<unsigned> g_sequence{0};

Status io_error(std::string_view step, const std::string& file, int err) {
  return fail(Errc::io, std::string(step) + " " + file + ": " + std::strerror(err));
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status write_all(int fd, std::string_view data, const std::string& tmp) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", tmp, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return io_error("fsync", tmp, errno);
  return {};
}

}  // namespace

Status write_file_atomically(const std::string& path, std::string_view data) {
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_sequence.fetch_add(1));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt + 1 == kMaxNameAttempts)) return io_error("create", tmp, errno);
  }
  Status st = write_all(fd, data, tmp);
  if (::close(fd) != 0 && st) st = io_error("close", tmp, errno);
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0) st = io_error("rename to", path, errno);
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  std::string dir = dir_of(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("open directory", dir, errno);
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  if (rc != 0) return io_error("fsync directory", dir, err);
  return {};
}

}  // namespace sc
