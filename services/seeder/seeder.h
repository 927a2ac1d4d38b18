#pragma once
// The seeder's logic on top of SwarmNode: scans the data directory on a background thread,
// seeds every entry (seed mode for freshly hashed data, resume data otherwise), registers each
// key with the metastore, unregisters what disappeared, and rescans when inotify reports a
// change (debounced until writes settle) or on a slow safety-net timer.
#include <memory>

#include "common/core/error.h"

namespace sc {

class SwarmNode;

class Seeder {
 public:
  explicit Seeder(SwarmNode& node);
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
