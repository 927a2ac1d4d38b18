// libFuzzer target: the UDP tracker packet parser (BEP 15 + BEP 41 options) and the
// connection-id check, with the invariants the frontend relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proto/udp_tracker.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sc::UdpRequest req;
  uint32_t txid = 0;
  auto st = sc::parse_udp_request(std::span<const uint8_t>(data, size), req, {}, &txid);
  if (st) {
    if (req.action == sc::UdpAction::announce && req.announce.port == 0) std::abort();
    if (req.url_data.size() > 1024) std::abort();
    if (req.action == sc::UdpAction::scrape && (req.info_hashes.empty() || req.info_hashes.size() > 74)) std::abort();
  }
  static const sc::ConnectionIdIssuer ids("fuzz-key", 10);
  if (size >= 8) (void)ids.valid(req.connection_id, std::span<const uint8_t>(data, size < 16 ? size : 16), 1'700'000'000);
  return 0;
}
