// libFuzzer target: the announce and scrape query parsers, and the response writers fed with
// whatever the parser accepted. Any crash, sanitizer report or broken invariant is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/announce.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view q(reinterpret_cast<const char*>(data), size);
  sc::AnnounceRequest req;
  if (sc::parse_announce(q, req)) {
    if (req.port == 0) std::abort();
    if (req.numwant > 1'000'000) std::abort();
    sc::AnnounceReply reply;
    std::string peers(reinterpret_cast<const char*>(req.info_hash.data()), 18);
    reply.peers = peers;
    reply.compact = req.compact;
    reply.ipv6 = req.no_peer_id;
    std::string out;
    sc::write_announce_reply(out, reply);
    if (out.empty() || out.front() != 'd' || out.back() != 'e') std::abort();
  }
  sc::ScrapeRequest scrape;
  if (sc::parse_scrape(q, scrape, 8)) {
    if (scrape.info_hashes.empty() || scrape.info_hashes.size() > 8) std::abort();
    for (size_t i = 1; i < scrape.info_hashes.size(); ++i)
      if (!(scrape.info_hashes[i - 1] < scrape.info_hashes[i])) std::abort();
  }
  return 0;
}
