// Construction of the prehook chain from config (names → hook types) and the SIGHUP reload
// dispatch. The individual hooks live in prehook_*.cc.
#include "services/tracker/prehooks.h"

#include <random>

#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "services/tracker/prehook_client_approval.h"
#include "services/tracker/prehook_interval_variation.h"
#include "services/tracker/prehook_jwt.h"
#include "services/tracker/prehook_torrent_approval.h"

namespace sc {

namespace {

template <class T>
Result<std::unique_ptr<PreHook>> up(Result<std::unique_ptr<T>> r) {
  if (!r) return std::unexpected(r.error());
  return std::unique_ptr<PreHook>(std::move(*r));
}

Result<std::unique_ptr<PreHook>> make_one(const HookConfig& c, EventLoop& loop, MetricsRegistry& metrics,
                                          const Clock& clock, const PrehookBuildOptions& bo) {
  if (c.name == "jwt") {
    auto o = JwtHookOptions::parse(c.options);
    if (!o) return std::unexpected(o.error());
    auto hook = std::make_unique<JwtHook>(std::move(*o), &loop, metrics, clock);
    if (auto st = hook->start(); !st) return std::unexpected(st.error());
    return std::unique_ptr<PreHook>(std::move(hook));
  }
  if (c.name == "client approval") return up(ClientApprovalHook::from_options(c.options));
  if (c.name == "torrent approval") return up(TorrentApprovalHook::from_options(c.options, &metrics));
  if (c.name == "interval variation") {
    uint64_t seed = bo.interval_variation_seed;
    if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    return up(IntervalVariationHook::from_options(c.options, seed));
  }
  return fail(Errc::invalid_argument,
              "unknown prehook '" + c.name + "' (known: jwt, client approval, torrent approval, interval variation)");
}

}  // namespace

Result<std::vector<std::unique_ptr<PreHook>>> make_prehooks(const std::vector<HookConfig>& configs, EventLoop& loop,
                                                            MetricsRegistry& metrics, const Clock& clock,
                                                            const PrehookBuildOptions& options) {
  std::vector<std::unique_ptr<PreHook>> out;
  for (const auto& c : configs) {
    auto h = make_one(c, loop, metrics, clock, options);
    if (!h) return std::unexpected(h.error());
    out.push_back(std::move(*h));
  }
  return out;
}

void reload_prehook(PreHook& hook) {
  if (auto* jwt = dynamic_cast<JwtHook*>(&hook)) {
    // An operator rotating keys should not wait for the next interval.
    if (auto st = jwt->reload(); !st) {
      SC_WARN("jwt key reload failed, keeping the previous keys", {"error", st.error().message});
    }
    return;
  }
  auto* ta = dynamic_cast<TorrentApprovalHook*>(&hook);
  if (!ta || !ta->has_file()) return;
  if (auto st = ta->reload(); !st) {
    SC_WARN("torrent approval reload failed, keeping the previous list", {"error", st.error().message});
  }
}

}  // namespace sc
