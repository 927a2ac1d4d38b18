#pragma once
// The narrow interfaces BlobFetch is driven through: the client's response (BlobSink), the
// upstream (UpstreamSource), the cluster's torrent registry (TorrentRegistry), swarm downloads
// (SwarmDownloads) and the cache (BlobStore). The real adapters wrap HttpRequest, Upstream, the
// metastore client, SwarmSession and BlobCache; the unit suite drives BlobFetch through fakes.
// No HTTP-client, metastore or libtorrent type appears here.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/error.h"

namespace sc {

// One client's response. A streamed response is start → send… → finish (complete) or abort
// (closed before the body is complete, never a final chunk). The reply_* calls are whole
// responses. Nothing may be called once alive() is false.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  // A handle that keeps the response open past the call that handed this sink over (a cache
  // hit is answered within that call, and never pays for one).
  virtual std::shared_ptr<BlobSink> retain() = 0;
  virtual bool alive() const = 0;
  virtual bool head_only() const = 0;          // a HEAD request
  virtual std::string_view range() const = 0;  // the raw Range header, "" when absent
  virtual size_t pending_output() const = 0;   // bytes queued, not yet sent (back-pressure)
  virtual void add_header(std::string_view name, std::string_view value) = 0;
  virtual void start(int status, std::string_view content_type, int64_t content_length) = 0;
  virtual void send(std::string_view bytes) = 0;
  // Streams [offset, offset+length) of fd (sendfile where possible); takes fd.
  virtual void send_file(int fd, int64_t offset, int64_t length) = 0;
  virtual void finish() = 0;
  virtual void abort() = 0;
  // Whole responses: a file range (takes fd), a body-less answer with a Content-Length (HEAD),
  // an OCI error, or the error of a failed fetch (mapped onto an OCI error by the adapter).
  virtual void reply_file(int status, int fd, int64_t offset, int64_t length) = 0;
  virtual void reply_head(int status, int64_t content_length) = 0;
  virtual void reply_oci_error(int status, std::string_view code, std::string_view message) = 0;
  virtual void reply_fetch_error(const Error& e) = 0;
};

struct SourceHead {
  int status = 0;
  int64_t content_length = -1;  // -1 when unknown
  std::string content_type;
};

// A running upstream request. Destroying it cancels it (no callback runs afterwards).
class SourceCall {
 public:
  virtual ~SourceCall() = default;
  virtual void pause() = 0;  // stop reading the body (a slow client)
  virtual void resume() = 0;
};

// Where one blob comes from when nobody nearer has it: a registry's blob URL or an OSTree
// remote's file. Bound to that blob by the router.
class UpstreamSource {
 public:
  struct Handlers {
    std::function<bool(const SourceHead&)> on_head;  // the final response's head; false = stop
    std::function<void(std::string_view)> on_data;     // body bytes, in order
    std::function<void(Status)> on_done;               // once, last (not after the call is destroyed)
  };
  using Headers = std::vector<std::pair<std::string, std::string>>;
  virtual ~UpstreamSource() = default;
  // A GET of the blob (extra request headers, e.g. Range).
  virtual std::unique_ptr<SourceCall> get(Headers headers, Handlers handlers) = 0;
  // A HEAD of the blob.
  virtual std::unique_ptr<SourceCall> head(std::function<void(Result<SourceHead>)> done) = 0;
};

// The cluster's torrents by content key, and the single-flight lease on an upstream fetch.
class TorrentRegistry {
 public:
  virtual ~TorrentRegistry() = default;
  // The .torrent registered under key; nullopt when none.
  virtual void lookup(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) = 0;
  // true: this proxy holds the lease; false: another proxy is fetching it.
  virtual void take_lease(const std::string& key, std::function<void(Result<bool>)> done) = 0;
  virtual void release_lease(const std::string& key) = 0;
  virtual void publish(const std::string& key, std::string torrent, std::function<void(Status)> done) = 0;
  // The torrent's bytes are not the content: drop it so that no proxy trusts it again.
  virtual void mark_bad(const std::string& key, const std::string& infohash) = 0;
};

// Swarm downloads land where the store adopts them (the blob's own cache file).
class SwarmDownloads {
 public:
  struct Download {
    std::string id;  // the infohash
    int64_t size = 0;
  };
  virtual ~SwarmDownloads() = default;
  // Starts downloading `torrent` as blob hex. Errors: invalid_argument (not a shape this proxy
  // serves: one file named by the hex, within the cache budget), others (could not start).
  virtual Result<Download> add(const std::string& hex, const std::string& key, const std::string& torrent) = 0;
  // Payload bytes received so far (stall detection).
  virtual int64_t downloaded(const std::string& id) = 0;
  // Whole pieces from `offset` (a piece boundary) that passed their piece hash, at most `max`
  // bytes but at least one piece; "" while the next piece is not there yet.
  virtual Result<std::string> read_verified(const std::string& id, int64_t offset, int64_t max) = 0;
  // Gives a download up and deletes its partial file.
  virtual void remove(const std::string& id) = 0;
  // The download was verified and adopted by the store: keep seeding it.
  virtual void keep(const std::string& id, const std::string& hex) = 0;
  // Makes a torrent of cached blob hex and seeds it; done gets the torrent's bytes.
  virtual void seed(const std::string& hex, const std::string& key, std::function<void(Result<std::string>)> done) = 0;
};

// The blob cache.
class BlobStore {
 public:
  struct Entry {
    int64_t size = 0;
    std::string sha256;     // hex digest of the content
    bool verified = false;  // hashed since this process started
  };
  class Writer {
   public:
    virtual ~Writer() = default;  // aborts unless committed
    virtual Status write(std::string_view data) = 0;
    // Errors: invalid_argument (digest or size mismatch: nothing is kept), too_large, io.
    virtual Status commit() = 0;
  };
  virtual ~BlobStore() = default;
  virtual std::optional<Entry> lookup(const std::string& hex) = 0;  // marks it most recently used
  virtual Result<int> open(const std::string& hex) = 0;             // O_RDONLY fd the caller owns
  virtual void mark_verified(const std::string& hex) = 0;
  // The entry's bytes do not match its record: delete it (and count it).
  virtual void evict_corrupt(const std::string& hex) = 0;
  virtual int64_t budget_bytes() const = 0;
  // verify=false only for content not named by its own digest. Errors: conflict (cached).
  virtual Result<std::unique_ptr<Writer>> begin(const std::string& hex, bool verify) = 0;
  // Indexes the completed swarm download of hex (content digest sha256).
  virtual Status adopt(const std::string& hex, const std::string& sha256) = 0;
};

}  // namespace sc
