#pragma once
// The prehooks a config can name, with Chihaya's names and options: "jwt", "client approval",
// "torrent approval", "interval variation". The chain is data: config order is run order.
#include <memory>
#include <string>
#include <vector>

#include "common/core/clock.h"
#include "common/core/error.h"
#include "common/core/metrics.h"
#include "services/tracker/config.h"
#include "services/tracker/logic.h"

namespace sc {

class EventLoop;
class HttpClient;

// What hooks may need from the composition root: the main loop (timers, SIGHUP), an HTTP
// client for JWK set URLs, metrics, and the clock.
struct HookEnv {
  EventLoop* loop = nullptr;        // nullptr in unit tests: no refresh timers or SIGHUP
  HttpClient* http = nullptr;
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
};

// Builds every configured hook. Errors name the hook and the option at fault.
Result<std::vector<std::shared_ptr<PreHook>>> make_prehooks(const std::vector<HookConfig>& configs, HookEnv& env);

// Reloads file-backed lists (torrent approval); called on SIGHUP.
void reload_prehooks(const std::vector<std::shared_ptr<PreHook>>& hooks);

}  // namespace sc
