// The "interval variation" prehook (Chihaya's varinterval): a per-request pseudo-random bump of
// the announce interval, drawn from splitmix64 over the seed, info hash and peer id.
#include "services/tracker/prehook_interval_variation.h"

#include <cstring>

#include "services/tracker/prehook_util.h"

namespace sc {

namespace {

constexpr std::string_view kName = "interval variation";

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

Result<std::unique_ptr<IntervalVariationHook>> IntervalVariationHook::from_options(const YAML::Node& o,
                                                                                   uint64_t seed) {
  if (auto st = prehook::check_options(o, kName,
                                       {"modify_response_probability", "max_increase_delta", "modify_min_interval"});
      !st) {
    return std::unexpected(st.error());
  }
  auto p = prehook::get_double(o, kName, "modify_response_probability", 0.0);
  if (!p) return std::unexpected(p.error());
  auto d = prehook::get_int(o, kName, "max_increase_delta", 0);
  if (!d) return std::unexpected(d.error());
  auto m = prehook::get_bool(o, kName, "modify_min_interval", false);
  if (!m) return std::unexpected(m.error());
  if (!(*p > 0 && *p <= 1)) return prehook::bad(kName, "modify_response_probability must be in (0, 1]");
  // A day is far beyond any useful jitter; larger values are a typo (milliseconds?).
  if (*d < 1 || *d > 86'400) return prehook::bad(kName, "max_increase_delta must be 1..86400 seconds");
  return std::make_unique<IntervalVariationHook>(*p, *d, *m, seed);
}

IntervalVariationHook::IntervalVariationHook(double probability, int64_t max_delta_s, bool modify_min, uint64_t seed)
    : probability_(probability), max_delta_s_(max_delta_s), modify_min_(modify_min), seed_(seed) {}

Status IntervalVariationHook::on_announce(const AnnounceRequest& req, const PeerAddr&, AnnounceReply& reply) {
  uint64_t state = seed_ ^ load64(req.info_hash.data()) ^ load64(req.info_hash.data() + 8) * 31 ^
                   load64(req.peer_id.data()) * 17 ^ load64(req.peer_id.data() + 8) * 13 ^
                   load64(req.peer_id.data() + 12);
  double u = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  if (u >= probability_) return {};
  int64_t delta = 1 + static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(max_delta_s_));
  reply.interval_s += delta;
  if (modify_min_) reply.min_interval_s += delta;
  return {};
}

}  // namespace sc
