#pragma once
// The leecher's logic on top of SwarmNode: follows the metastore's event stream from the last
// applied id (kept in the state dir), adds every key the selector matches, downloads into the
// data directory (key files/a/b.bin → <data>/files/a/b.bin), lets libtorrent verify each piece,
// then seeds until the policy says stop (seed_time, seed_ratio, or forever).
#include <cstdint>
#include <memory>
#include <string>

#include "common/core/error.h"

namespace sc {

class Options;
class SwarmNode;

struct LeecherConfig {
  std::string select = "*";   // glob over content keys ('*' also crosses '/')
  int64_t seed_time_ms = 0;   // stop seeding this long after completion (0 = no time limit)
  std::string seed_ratio;     // stop seeding at this upload/size ratio ("" or 0 = no limit)
  int64_t poll_wait_ms = 30'000;  // long-poll wait per events request
};

void declare_leecher_options(Options& options, LeecherConfig& config);

// True when `key` matches the selector glob (fnmatch without FNM_PATHNAME).
bool key_selected(const std::string& glob, const std::string& key);

class Leecher {
 public:
  Leecher(SwarmNode& node, LeecherConfig config);
  ~Leecher();
  Leecher(const Leecher&) = delete;
  Leecher& operator=(const Leecher&) = delete;

  // Loads the state, re-adds what it was doing, starts following events.
  // Errors: invalid_argument (bad policy), io (state unreadable).
  Status start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
