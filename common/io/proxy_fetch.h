#pragma once
// Async HTTP(S) client used by the proxy for upstream registries, token endpoints, OSTree
// origins and the metastore: one request per connection on libevent's evhttp, TLS verified
// (system CA store, host name checked, SNI), redirects followed (Authorization dropped when
// the host changes), per-request timeout, and the body streamed as it arrives with
// pause/resume for back-pressure. Used by the proxy only.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/error.h"

struct event_base;
struct evbuffer;

namespace sc {

struct FetchRequest {
  std::string method = "GET";
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Bounds the connect and every read/write: a stalled upstream fails with Errc::timeout.
  int64_t timeout_ms = 30'000;
  int max_redirects = 5;
  std::string ca_file;  // extra CA bundle for this request's TLS ("" = the process-wide one)
  // Called with every address the host (of the URL and of each redirect) resolves to, before
  // dialling; an error fails the fetch with it. The connection then goes to the checked
  // address, so a second lookup cannot swap it (DNS rebinding).
  std::function<Status(std::string_view ip, uint16_t port)> check_address;
};

struct FetchHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t content_length = -1;  // -1 when unknown (chunked)
  std::string url;              // after redirects
  std::string_view header(std::string_view name) const;  // case-insensitive; "" if absent
};

// Process-wide TLS settings for upstream connections (set before the first https fetch).
struct FetchTlsOptions {
  std::string ca_file;        // extra CA bundle ("" = system store only)
  bool verify = true;         // never false in production; tests with self-signed certs
};
void set_fetch_tls_options(const FetchTlsOptions& o);

class Fetch {
 public:
  // on_head: headers of the final (non-redirect) response; return false to cancel.
  // on_data: a chunk of body; the callee takes what it wants from the buffer (what is left is
  //          drained). on_done: ok when the whole body arrived (Content-Length honoured, chunked
  //          terminator seen); errors: timeout, unavailable (connect/DNS/TLS), io (truncated).
  // Every callback runs on `base`'s thread; none runs after cancel().
  using HeadFn = std::function<bool(const FetchHead&)>;
  using DataFn = std::function<void(struct evbuffer*)>;
  using DoneFn = std::function<void(Status)>;

  static std::shared_ptr<Fetch> start(struct event_base* base, FetchRequest req, HeadFn on_head, DataFn on_data,
                                      DoneFn on_done);
  virtual ~Fetch() = default;
  virtual void cancel() = 0;
  virtual void pause() = 0;   // stop reading the body (the client is slow)
  virtual void resume() = 0;
};

// Resolves `host` (a name or a literal address) on base's resolver; `done` gets the textual
// addresses, always from a later loop turn. Errors: unavailable (no such host). Dropping the
// handle cancels (done is then never called).
using ResolveHandle = std::shared_ptr<void>;
ResolveHandle resolve_host(struct event_base* base, const std::string& host,
                           std::function<void(Result<std::vector<std::string>>)> done);

// Whole-body convenience for small documents (manifests, tokens, .torrent files): errors
// too_large past max_bytes.
struct FetchResult {
  FetchHead head;
  std::string body;
};
std::shared_ptr<Fetch> fetch_all(struct event_base* base, FetchRequest req, size_t max_bytes,
                                 std::function<void(Result<FetchResult>)> done);

// An owned evbuffer, so code outside common/io can hold and move bytes without libevent
// headers (the proxy's tee keeps the last chunk back until the digest is checked).
class OwnedBuffer {
 public:
  OwnedBuffer();
  ~OwnedBuffer();
  OwnedBuffer(const OwnedBuffer&) = delete;
  OwnedBuffer& operator=(const OwnedBuffer&) = delete;
  struct evbuffer* get() const { return buf_; }
  size_t size() const;
  void move_from(struct evbuffer* src);  // appends src's bytes, leaving src empty
  // Appends [offset, offset+length) of fd as a sendfile segment; takes ownership of fd.
  bool add_file(int fd, int64_t offset, int64_t length);
  void clear();

 private:
  struct evbuffer* buf_;
};
size_t buffer_length(struct evbuffer* b);
void buffer_drain(struct evbuffer* b, size_t n);
// Calls fn on each contiguous segment of b, without copying or draining.
void for_each_segment(struct evbuffer* b, const std::function<void(std::string_view)>& fn);

}  // namespace sc
