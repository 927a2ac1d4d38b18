#pragma once
// Every tunable of the metastore in one place, each with the reason for its value.
#include <cstddef>
#include <cstdint>

namespace sc::metastore {

// Largest .torrent accepted: a 1 TiB file in 1 MiB pieces needs 20 MiB of hashes; real
// uploads (per file, per directory, per blob) are far smaller.
inline constexpr int64_t kDefaultMaxTorrentBytes = 16 << 20;
// HTTP request limits. Clients send a handful of headers; a reverse proxy adds a few.
inline constexpr size_t kMaxHeaders = 64;
inline constexpr size_t kMaxHeaderBytes = 16 << 10;
// Keys are at most kMaxKeyBytes, percent-encoded up to 3x, plus a query.
inline constexpr size_t kMaxUriBytes = 8 << 10;
// Bodies other than a .torrent are JSON (leases, node heartbeats with up to 10k swarms):
// 1 MiB is ample. The body limit is the larger of this and limits.max_torrent_bytes.
inline constexpr int64_t kMaxJsonBodyBytes = 1 << 20;
// Listing pages: a client that wants more asks again with the cursor.
inline constexpr int64_t kDefaultListLimit = 100;
inline constexpr int64_t kMaxListLimit = 1000;
// Events per page (long-poll and each SSE fetch).
inline constexpr int64_t kMaxEventsPerPage = 1000;
// Stream retention: a follower offline for longer than ~this many registrations must resync
// from the listing. Trimmed approximately (MAXLEN ~), which is cheap.
inline constexpr int64_t kEventsMaxLen = 100'000;
// Long-poll: how long ?wait= may hold a request (a proxy in front may cut longer ones).
inline constexpr int64_t kMaxWaitMs = 60'000;
// How often waiting long-polls and SSE streams look for new events written by other
// metastore instances (own writes wake them at once). One cheap XREVRANGE per period.
inline constexpr int64_t kEventPollMs = 100;
// SSE comment lines keep idle streams alive through proxies and detect gone clients.
inline constexpr int64_t kSseHeartbeatMs = 15'000;
// An SSE client this far behind is dropped (it reconnects with Last-Event-ID, losing nothing).
inline constexpr size_t kSseMaxBufferedBytes = 1 << 20;
// Concurrent long-polls and SSE streams per process.
inline constexpr size_t kMaxWaiters = 10'000;
// Leases are for an upstream fetch: minutes at most; expiry frees a crashed holder's lease.
inline constexpr int64_t kMaxLeaseTtlMs = 10 * 60'000;
// Node heartbeats: default lifetime when the node does not ask for one, and bounds.
inline constexpr int64_t kDefaultNodeTtlMs = 30'000;
inline constexpr int64_t kMinNodeTtlMs = 1'000;
inline constexpr int64_t kMaxNodeTtlMs = 10 * 60'000;
// Coalesced last_access writes: GETs only mark keys; one pipelined ZADD per period.
inline constexpr int64_t kTouchFlushMs = 1'000;
inline constexpr size_t kMaxPendingTouches = 100'000;
// GC deletes in batches so one Lua call never blocks Redis for long.
inline constexpr int64_t kGcBatch = 200;
inline constexpr int64_t kDefaultGcIntervalMs = 60'000;
// The torrents gauge is refreshed this often (ZCARD).
inline constexpr int64_t kCountRefreshMs = 5'000;
// Redis commands: a healthy local Redis answers in well under a millisecond; past this the
// request fails with 503 instead of hanging.
inline constexpr int64_t kRedisCommandTimeoutMs = 1'000;
inline constexpr int64_t kReadyzTimeoutMs = 500;
// redis.wait_replicas: how long a write waits for its replicas (WAIT). Replicas on a LAN ack in
// about a millisecond; a replica that has not acked after half a second is lagging or gone, and
// the writer gets a 503 rather than a slow yes. WAIT holds its connection meanwhile (every
// request pipelined behind it waits too), which is why this stays well under a second.
inline constexpr int64_t kWaitReplicasMs = 500;
// Quarantine (POST /v1/quarantine/{key}): an infohash that failed verification under a key
// stays refused there for 30 days, the longest GC age we expect (README example: 30d), so a
// proxy that still has the bad torrent cached cannot re-register it meanwhile. A key collects
// at most this many (a few bad uploads at most; the oldest is forgotten first), so the
// quarantine costs O(keys x 8) entries at worst and expires on its own.
inline constexpr int64_t kQuarantineTtlMs = 30LL * 24 * 3600 * 1000;
inline constexpr int64_t kMaxQuarantinedPerKey = 8;
// Its JSON body: a 40-hex infohash and a reason of at most 1 KiB.
inline constexpr size_t kMaxQuarantineBodyBytes = 4096;
// A lease holder names a proxy (hostname-pid by default): a host name's 253 bytes fit.
inline constexpr size_t kMaxLeaseHolderBytes = 256;
// Query strings: parameters beyond this many are refused.
inline constexpr size_t kMaxQueryParams = 16;
// Node ids: short, printable, path-safe.
inline constexpr size_t kMaxNodeIdBytes = 128;

}  // namespace sc::metastore
