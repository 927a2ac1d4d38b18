#pragma once
// The registry mirror's manifests and tag lists (see manifests.cc): upstream documents kept by
// digest, tags re-resolved after a TTL.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sc {

class Counter;
class EventLoop;
class HttpRequest;
class Upstream;
struct OciPath;
template <class M>
class Family;

class ManifestMirror {
 public:
  // `requests` is swarmcache_proxy_requests_total{kind,result}; kind="manifest" is used.
  ManifestMirror(EventLoop& loop, int64_t tag_ttl_ms, Family<Counter>& requests, Counter& digest_mismatch);
  ~ManifestMirror();
  void handle_tags(HttpRequest& req, const OciPath& p, Upstream& upstream);
  // `registry` keys the tag cache (the same name:tag differs between registries).
  void handle_manifest(HttpRequest& req, const OciPath& p, Upstream& upstream, const std::string& registry);

 private:
  struct Manifest {
    std::string content_type, body;
  };
  struct TagEntry {
    std::string digest;
    int64_t at_ms = 0;
  };
  void count(std::string_view result);
  void reply_manifest(HttpRequest& req, const std::string& digest, const Manifest& m);
  void remember_manifest(const std::string& digest, Manifest m);

  EventLoop& loop_;
  int64_t tag_ttl_ms_;
  Family<Counter>& requests_;
  Counter& digest_mismatch_;
  std::unordered_map<std::string, Manifest> manifests_;
  std::deque<std::string> manifest_order_;
  size_t manifest_bytes_ = 0;
  std::unordered_map<std::string, TagEntry> tags_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace sc
