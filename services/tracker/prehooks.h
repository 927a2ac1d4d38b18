#pragma once
// The tracker's prehook chain, built from config: Chihaya's hook names ("jwt", "client
// approval", "torrent approval", "interval variation") with Chihaya's options, read from either
// config dialect (HookConfig). The chain is data: config order is execution order.
#include <memory>
#include <vector>

#include "common/core/clock.h"
#include "common/core/error.h"
#include "common/core/metrics.h"
#include "services/tracker/config.h"
#include "services/tracker/logic.h"

namespace sc {

class EventLoop;

struct PrehookBuildOptions {
  // Seed of the interval variation draws; 0 = random at start. Tests pin it.
  uint64_t interval_variation_seed = 0;
};

// Builds every configured hook in config order, loading key and list files now and starting
// JWK set fetches on `loop`. Errors (invalid_argument, io) name the hook and the option or
// file at fault; an unknown name is an error naming it (starting without a configured
// jwt or approval hook would silently open the tracker).
Result<std::vector<std::unique_ptr<PreHook>>> make_prehooks(const std::vector<HookConfig>& configs, EventLoop& loop,
                                                            MetricsRegistry& metrics, const Clock& clock,
                                                            const PrehookBuildOptions& options = {});

// What SIGHUP does to one hook: torrent approval re-reads its list file (a failure keeps the
// old list, logs and counts); jwt re-reads its key file or re-fetches jwk_set_url now (likewise
// keeping the old keys on failure); other hooks ignore it. Call on the loop thread.
void reload_prehook(PreHook& hook);

}  // namespace sc
