#pragma once
// The seeder's logic on top of SwarmNode: scans the data directory on a background thread,
// seeds every entry (seed mode for freshly hashed data, resume data otherwise), registers each
// key with the metastore, unregisters what disappeared, and rescans when inotify reports a
// change (debounced until writes settle) or on a slow safety-net timer.
#include <memory>

#include "common/core/error.h"

namespace sc {

class Options;
class SwarmNode;

struct SeederOptions {
  bool dir_torrents = false;  // see ScanOptions::dir_torrents
};

// Declares the seeder's own flags and config keys (beside declare_node_options).
void declare_seeder_options(Options& options, SeederOptions& config);

class Seeder {
 public:
  Seeder(SwarmNode& node, SeederOptions options);
  ~Seeder();
  Seeder(const Seeder&) = delete;
  Seeder& operator=(const Seeder&) = delete;

  // Sets up the inotify watch and the first scan. Errors: io.
  Status start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc
