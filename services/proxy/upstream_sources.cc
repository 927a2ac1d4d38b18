// The registry-blob and OSTree-file upstream sources (see upstream_sources.h): each request is
// an Upstream / UrlFetcher call that is cancelled when the state machine lets go of it.
#include "services/proxy/upstream_sources.h"

#include <utility>

#include "common/io/byte_buffer.h"
#include "services/proxy/upstream.h"

namespace sc {
namespace {

class CallHandle : public SourceCall {
 public:
  explicit CallHandle(std::shared_ptr<UpstreamCall> c) : c_(std::move(c)) {}
  ~CallHandle() override {
    if (c_) c_->cancel();
  }
  void pause() override { c_->pause(); }
  void resume() override { c_->resume(); }

 private:
  std::shared_ptr<UpstreamCall> c_;
};

SourceHead head_of(const UpstreamHead& h) {
  return SourceHead{h.status, h.content_length, std::string(h.header("Content-Type"))};
}

// The three callbacks of a streamed GET.
struct GetFns {
  UpstreamHeadFn head;
  UpstreamDataFn data;
  UpstreamDoneFn done;
};
GetFns get_fns(UpstreamSource::Handlers h) {
  auto shared = std::make_shared<UpstreamSource::Handlers>(std::move(h));
  return GetFns{[shared](const UpstreamHead& uh) { return shared->on_head(head_of(uh)); },
                [shared](evbuffer* b) { for_each_segment(b, shared->on_data); },
                [shared](Status st) { shared->on_done(st); }};
}

// A HEAD answers once: with the head, or with the error when none came.
struct HeadFns {
  UpstreamHeadFn head;
  UpstreamDoneFn done;
};
HeadFns head_fns(std::function<void(Result<SourceHead>)> done) {
  auto answer = std::make_shared<std::function<void(Result<SourceHead>)>>(std::move(done));
  return HeadFns{[answer](const UpstreamHead& uh) {
                   if (auto fn = std::exchange(*answer, nullptr)) fn(head_of(uh));
                   return false;
                 },
                 [answer](Status st) {
                   auto fn = std::exchange(*answer, nullptr);
                   if (!fn) return;
                   if (st) fn(fail(Errc::unavailable, "no response"));
                   else fn(std::unexpected(st.error()));
                 }};
}

}  // namespace

std::unique_ptr<SourceCall> RegistryBlobSource::get(Headers headers, Handlers handlers) {
  auto fns = get_fns(std::move(handlers));
  UpstreamRequest ur{"GET", "/v2/" + name_ + "/blobs/" + digest_, "repository:" + name_ + ":pull", {}};
  for (auto& [k, v] : headers) ur.headers.emplace_back(std::move(k), std::move(v));
  return std::make_unique<CallHandle>(up_.start(std::move(ur), fns.head, fns.data, fns.done));
}

std::unique_ptr<SourceCall> RegistryBlobSource::head(std::function<void(Result<SourceHead>)> done) {
  auto fns = head_fns(std::move(done));
  UpstreamRequest ur{"HEAD", "/v2/" + name_ + "/blobs/" + digest_, "repository:" + name_ + ":pull", {}};
  return std::make_unique<CallHandle>(up_.start(std::move(ur), fns.head, nullptr, fns.done));
}

std::unique_ptr<SourceCall> OriginFileSource::get(Headers headers, Handlers handlers) {
  auto fns = get_fns(std::move(handlers));
  UrlRequest r;
  r.url = url_;
  for (auto& [k, v] : headers) r.headers.emplace_back(std::move(k), std::move(v));
  r.timeout_ms = timeout_ms_;
  r.check_address = check_;
  return std::make_unique<CallHandle>(urls_.start(std::move(r), fns.head, fns.data, fns.done));
}

std::unique_ptr<SourceCall> OriginFileSource::head(std::function<void(Result<SourceHead>)> done) {
  auto fns = head_fns(std::move(done));
  UrlRequest r;
  r.method = "HEAD";
  r.url = url_;
  r.timeout_ms = timeout_ms_;
  r.check_address = check_;
  return std::make_unique<CallHandle>(urls_.start(std::move(r), fns.head, nullptr, fns.done));
}

}  // namespace sc
