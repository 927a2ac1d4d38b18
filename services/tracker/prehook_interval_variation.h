#pragma once
// Chihaya's "interval variation" prehook: with probability `modify_response_probability`, adds
// 1..`max_increase_delta` seconds to the announce interval (and to min interval when
// `modify_min_interval`), so clients that started together drift apart instead of announcing
// in lock-step. Like Chihaya, the draw is derived from the request itself (info hash, peer id)
// mixed with a seed: no shared RNG state across worker threads, and a fixed seed makes tests
// deterministic.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>

#include "common/core/error.h"
#include "services/tracker/logic.h"

namespace sc {

class IntervalVariationHook final : public PreHook {
 public:
  // Errors: probability outside (0, 1], max_increase_delta < 1, wrong types.
  static Result<std::unique_ptr<IntervalVariationHook>> from_options(const YAML::Node& options, uint64_t seed);
  IntervalVariationHook(double probability, int64_t max_delta_s, bool modify_min, uint64_t seed);

  std::string_view name() const override { return "interval variation"; }
  Status on_announce(const AnnounceRequest& req, const PeerAddr& peer, AnnounceReply& reply) override;

 private:
  double probability_;
  int64_t max_delta_s_;
  bool modify_min_;
  uint64_t seed_;
};

}  // namespace sc
