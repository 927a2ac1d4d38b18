#pragma once
// CONNECT tunnels for forward proxies: dial the target, answer "200 Connection established",
// then copy bytes both ways with bounded buffers (a slow side stops reading from the other)
// until either side closes or stays idle too long.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/error.h"

namespace sc {

class HttpRequest;

struct TunnelOptions {
  int64_t connect_timeout_ms = 10'000;
  int64_t idle_timeout_ms = 300'000;   // no byte either way for this long closes the tunnel
  size_t max_buffered_bytes = 1 << 20;  // per direction, before reading from the source pauses
};

struct TunnelResult {
  Status status;           // ok, or why dialling failed (the client got a 502)
  uint64_t to_target = 0;  // bytes client → target
  uint64_t to_client = 0;  // bytes target → client
};

// `held` comes from HttpRequest::hold() in the CONNECT handler. `done` runs on the request's
// loop when the tunnel has closed (or could not open).
void start_tunnel(std::shared_ptr<HttpRequest> held, const std::string& host, uint16_t port, TunnelOptions options,
                  std::function<void(const TunnelResult&)> done);

}  // namespace sc
