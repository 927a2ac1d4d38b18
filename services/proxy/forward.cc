// The OSTree forward proxy (see forward.h).
#include "services/proxy/forward.h"

#include "common/core/bytes.h"
#include "common/core/log.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/byte_buffer.h"
#include "common/io/http_request_target.h"
#include "common/io/http_server.h"
#include "proto/content_key.h"
#include "proto/oci.h"
#include "services/proxy/blob_fetch.h"
#include "services/proxy/config.h"
#include "services/proxy/http_blob_sink.h"
#include "services/proxy/upstream.h"
#include "services/proxy/upstream_sources.h"

namespace sc {

bool safe_forward_path(std::string_view path) {
  if (!path.starts_with('/') || path.find("//") != std::string_view::npos || path.find('\\') != std::string_view::npos)
    return false;
  for (std::string_view bad : {"%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%00"})
    if (path.find(bad) != std::string_view::npos) return false;
  for (size_t pos = 0; pos != std::string_view::npos;) {
    size_t next = path.find('/', pos + 1);
    std::string_view seg = path.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1);
    if (seg == "." || seg == "..") return false;
    pos = next;
  }
  return true;
}

ForwardProxy::ForwardProxy(UrlFetcher& urls, const ProxyConfig& cfg, BlobFetcher& blobs, DialCheck check,
                           MetricsRegistry& m)
    : urls_(urls),
      cfg_(cfg),
      blobs_(blobs),
      check_(std::move(check)),
      requests_(m.counter_family("swarmcache_proxy_requests_total", "Requests by kind and result", {"kind", "result"})),
      served_upstream_(m.counter_family("swarmcache_proxy_served_bytes_total", "Body bytes served, by where they came from",
                                        {"source"})
                           .with({"upstream"})) {}

void ForwardProxy::count(std::string_view result) { requests_.with({"forward", result}).inc(); }

// A refused target: 403, a warning line (rare, and worth an operator's eye) and a counter.
void ForwardProxy::refuse(HttpRequest& req, std::string_view target, std::string_view why) {
  count("refused");
  SC_WARN("refused target", {"method", req.method()}, {"target", target}, {"client", req.peer_ip()}, {"reason", why});
  req.reply(403, "text/plain", std::string(why) + "\n");
}

void ForwardProxy::handle(HttpRequest& req, const std::string& origin) {
  if (!cfg_.forward_proxy || cfg_.ostree_remotes.empty())
    return refuse(req, origin, "the forward proxy is off (no ostree.remotes configured)");
  if (!origin.starts_with("http://"))
    return refuse(req, origin, "only http:// is forwarded; https goes through CONNECT, never downgraded");
  if (req.method() != "GET" && req.method() != "HEAD") {
    count("method");
    return req.reply(405, "text/plain", "only GET and HEAD are proxied\n");
  }
  std::string path(req.path());
  auto u = parse_absolute_url(origin + path);
  if (!u || !safe_forward_path(path)) {
    count("bad_request");
    return req.reply(400, "text/plain", "bad proxy request path\n");
  }
  const OstreeRemote* remote = nullptr;
  for (const auto& r : cfg_.ostree_remotes) {
    if (r.host == u->host && r.port == u->port &&
        (r.prefix.empty() || path == r.prefix || path.starts_with(r.prefix + "/"))) {
      remote = &r;
      break;
    }
  }
  if (!remote) return refuse(req, origin + path, "not below a configured ostree remote");
  std::string url = remote->origin + path;
  if (!req.query().empty()) url += "?" + std::string(req.query());
  std::string rest = path.substr(std::min(path.size(), remote->prefix.size() + 1));
  std::string key = "ostree/" + remote->name + "/" + rest;
  // Static deltas are immutable and large: cached and swarmed under a key from configuration.
  if (req.method() == "GET" && req.query().empty() && req.header("Range").empty() &&
      path.find("/deltas/") != std::string::npos && is_valid_content_key(key)) {
    HttpBlobSink sink(req);
    return blobs_.serve(BlobAsk{to_hex(sha256(key)), key, false}, sink, [&] {
      return std::make_shared<OriginFileSource>(urls_, url, cfg_.upstream_timeout_ms, check_);
    });
  }
  pass_through(req, url);
}

void ForwardProxy::pass_through(HttpRequest& req, const std::string& url) {
  auto held = req.hold();
  UrlRequest fr;
  fr.method = std::string(req.method());
  fr.url = url;
  fr.timeout_ms = cfg_.upstream_timeout_ms;
  fr.check_address = check_;
  for (const char* h : {"Accept", "Range", "If-None-Match", "If-Modified-Since", "User-Agent"}) {
    std::string_view v = req.header(h);
    if (!v.empty()) fr.headers.emplace_back(h, std::string(v));
  }
  auto started = std::make_shared<bool>(false);
  bool head_only = fr.method == "HEAD";
  urls_.start(
      std::move(fr),
      [this, held, started, head_only](const UpstreamHead& h) {
        if (!held->alive()) return false;
        for (const char* name : {"ETag", "Last-Modified", "Content-Range", "Accept-Ranges", "Cache-Control"}) {
          std::string_view v = h.header(name);
          if (!v.empty()) held->add_header(name, v);
        }
        std::string ct(h.header("Content-Type"));
        if (head_only) {
          if (h.content_length >= 0) held->add_header("Content-Length", std::to_string(h.content_length));
          held->reply(h.status, ct, "");
          count("pass");
          return false;
        }
        held->stream_start(h.status, ct, h.content_length);
        *started = true;
        return true;
      },
      [this, held](evbuffer* b) {
        if (!held->alive()) return;
        served_upstream_.inc(buffer_length(b));
        held->stream_write(b);
      },
      [this, held, started](Status st) {
        if (!held->alive()) return;
        if (*started) {
          if (st) {
            count("pass");
            held->stream_end();
          } else {
            count("aborted");
            held->stream_abort();
          }
        } else if (!st && st.error().code != Errc::cancelled) {
          count("error");
          held->reply(st.error().code == Errc::timeout ? 504 : 502, "text/plain", st.error().message + "\n");
        }
      });
}

}  // namespace sc
