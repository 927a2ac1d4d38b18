// The mirror's manifests: passed through from the registry, kept by digest (checked against
// it) under a byte budget, tags re-resolved after tag_ttl, a stale tag served while the
// registry is down. Tag answers are remembered per registry.
#include "services/proxy/manifests.h"

#include "common/core/bytes.h"
#include "common/core/metrics.h"
#include "common/core/sha.h"
#include "common/io/event_loop.h"
#include "common/io/http_server.h"
#include "proto/oci.h"
#include "services/proxy/oci_reply.h"
#include "services/proxy/upstream.h"

namespace sc {
namespace {

// Manifests are small JSON documents (the spec suggests registries accept up to 4 MiB).
constexpr size_t kMaxManifestBytes = 4 << 20;
// Manifests kept by digest; past this the oldest go first.
constexpr size_t kManifestCacheBytes = 64 << 20;
constexpr size_t kMaxTagEntries = 10'000;

constexpr std::string_view kDefaultManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

}  // namespace

ManifestMirror::ManifestMirror(EventLoop& loop, int64_t tag_ttl_ms, Family<Counter>& requests, Counter& digest_mismatch)
    : loop_(loop), tag_ttl_ms_(tag_ttl_ms), requests_(requests), digest_mismatch_(digest_mismatch) {}

ManifestMirror::~ManifestMirror() = default;

void ManifestMirror::count(std::string_view result) { requests_.with({"manifest", result}).inc(); }

void ManifestMirror::handle_tags(HttpRequest& req, const OciPath& p, Upstream& upstream) {
  auto held = req.hold();
  UpstreamRequest ur{"GET", "/v2/" + p.name + "/tags/list", "repository:" + p.name + ":pull", {}};
  upstream.get_all(std::move(ur), kMaxManifestBytes, [held](Result<UpstreamDocument> r) {
    if (!held->alive()) return;
    if (!r) return reply_fetch_error(*held, r.error(), "NAME_UNKNOWN");
    held->reply(r->head.status, r->head.header("Content-Type"), r->body);
  });
}

void ManifestMirror::reply_manifest(HttpRequest& req, const std::string& digest, const Manifest& m) {
  req.add_header("Docker-Content-Digest", digest);
  req.add_header("ETag", "\"" + digest + "\"");
  if (req.method() == "HEAD") {
    req.add_header("Content-Length", std::to_string(m.body.size()));
    return req.reply(200, m.content_type, "");
  }
  req.reply(200, m.content_type, m.body);
}

void ManifestMirror::remember_manifest(const std::string& digest, Manifest m) {
  if (manifests_.count(digest)) return;
  manifest_bytes_ += m.body.size();
  manifests_.emplace(digest, std::move(m));
  manifest_order_.push_back(digest);
  while (manifest_bytes_ > kManifestCacheBytes && !manifest_order_.empty()) {
    auto it = manifests_.find(manifest_order_.front());
    if (it != manifests_.end()) {
      manifest_bytes_ -= it->second.body.size();
      manifests_.erase(it);
    }
    manifest_order_.pop_front();
  }
}

void ManifestMirror::handle_manifest(HttpRequest& req, const OciPath& p, Upstream& upstream,
                                   const std::string& registry) {
  // Clients such as dockerd send one Accept line per media type and only the first reaches
  // us; a registry answers 404 when the manifest's type is not acceptable, so the types
  // every current client handles are always added.
  std::string accept(req.header("Accept"));
  for (size_t pos = 0; pos < kDefaultManifestAccept.size();) {
    size_t comma = kDefaultManifestAccept.find(',', pos);
    std::string_view type = kDefaultManifestAccept.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    while (type.starts_with(' ')) type.remove_prefix(1);
    if (accept.find(type) == std::string::npos) accept += (accept.empty() ? "" : ", ") + std::string(type);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  std::string tag_key = registry + "/" + p.name + ":" + p.reference + "\n" + accept;
  if (p.reference_is_digest) {
    if (auto it = manifests_.find(p.reference); it != manifests_.end()) {
      count("cache");
      return reply_manifest(req, it->first, it->second);
    }
  } else if (auto t = tags_.find(tag_key); t != tags_.end()) {
    auto m = manifests_.find(t->second.digest);
    if (m != manifests_.end() && loop_.clock().mono_ms() - t->second.at_ms < tag_ttl_ms_) {
      count("cache");
      return reply_manifest(req, m->first, m->second);
    }
  }
  auto held = req.hold();
  UpstreamRequest ur{"GET", "/v2/" + p.name + "/manifests/" + p.reference, "repository:" + p.name + ":pull",
                     {{"Accept", accept}}};
  std::weak_ptr<bool> weak_alive = alive_;
  OciPath path = p;
  upstream.get_all(std::move(ur), kMaxManifestBytes, [this, weak_alive, held, path, tag_key](Result<UpstreamDocument> r) {
    if (weak_alive.expired() || !held->alive()) return;
    auto stale = [&]() -> bool {
      if (path.reference_is_digest) return false;
      auto t = tags_.find(tag_key);
      if (t == tags_.end()) return false;
      auto m = manifests_.find(t->second.digest);
      if (m == manifests_.end()) return false;
      count("stale");
      reply_manifest(*held, m->first, m->second);
      return true;
    };
    if (!r) {
      if (stale()) return;
      count("error");
      return reply_fetch_error(*held, r.error(), "MANIFEST_UNKNOWN");
    }
    if (r->head.status != 200) {
      if (r->head.status >= 500 && stale()) return;
      count("upstream_" + std::to_string(r->head.status));
      if (r->head.status == 404) return reply_oci(*held, "MANIFEST_UNKNOWN", 404, "manifest unknown upstream");
      std::string_view ct = r->head.header("Content-Type");
      if (ct.starts_with("application/json") && r->head.status < 500)
        return held->reply(r->head.status, ct, r->body);
      return reply_fetch_error(*held, error_for_upstream_status(r->head.status, "manifest"), "MANIFEST_UNKNOWN");
    }
    std::string digest = "sha256:" + to_hex(sha256(r->body));
    if (path.reference_is_digest && digest != path.reference) {
      digest_mismatch_.inc();
      count("digest_mismatch");
      return reply_oci(*held, "MANIFEST_INVALID", 502, "upstream manifest does not match its digest");
    }
    Manifest m{std::string(r->head.header("Content-Type")), std::move(r->body)};
    if (m.content_type.empty()) m.content_type = "application/vnd.oci.image.manifest.v1+json";
    remember_manifest(digest, m);
    if (!path.reference_is_digest) {
      if (tags_.size() >= kMaxTagEntries) tags_.clear();
      tags_[tag_key] = {digest, loop_.clock().mono_ms()};
    }
    count("upstream");
    reply_manifest(*held, digest, m);
  });
}

}  // namespace sc
