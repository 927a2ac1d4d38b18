// Resume data asking libtorrent for sequential download (see stream_resume.h).
#include "common/swarm/stream_resume.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/torrent_flags.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "common/core/atomic_file.h"
#include "common/core/bytes.h"

namespace sc {

Status write_sequential_resume(const std::string& state_dir, std::string_view bytes) try {
  lt::load_torrent_limits limits;
  limits.max_buffer_size = 16 << 20;
  lt::torrent_info ti(lt::span<const char>(bytes.data(), static_cast<std::ptrdiff_t>(bytes.size())), limits,
                      lt::from_span);
  if (!ti.info_hashes().has_v1()) return fail(Errc::invalid_argument, "v2-only torrent");
  auto v1 = ti.info_hashes().v1;
  std::string ih = to_hex(std::string_view(v1.data(), v1.size()));
  std::string dir = state_dir + "/resume";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string path = dir + "/" + ih + ".resume";
  if (std::filesystem::exists(path, ec)) return {};
  lt::add_torrent_params atp;
  atp.info_hashes = ti.info_hashes();
  atp.flags = lt::torrent_flags::sequential_download;
  // A "trackers" list in resume data replaces the torrent's own (override_trackers), so it
  // must repeat them or the download would find no peers.
  for (const auto& t : ti.trackers()) {
    atp.trackers.push_back(t.url);
    atp.tracker_tiers.push_back(t.tier);
  }
  std::vector<char> buf = lt::write_resume_data_buf(atp);
  return write_file_atomically(path, std::string_view(buf.data(), buf.size()));
} catch (const std::exception& e) {
  return fail(Errc::invalid_argument, std::string("not a valid torrent: ") + e.what());
}

}  // namespace sc
