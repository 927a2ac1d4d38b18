// The registry-blob and OSTree-file upstream sources (see upstream_sources.h): each request is
// a Fetch whose handle cancels it when the state machine lets go of the call.
#include "services/proxy/upstream_sources.h"

#include "common/io/event_loop.h"
#include "common/io/proxy_fetch.h"
#include "services/proxy/upstream.h"

namespace sc {
namespace {

class FetchCall : public UpstreamCall {
 public:
  explicit FetchCall(std::shared_ptr<Fetch> f) : f_(std::move(f)) {}
  ~FetchCall() override {
    if (f_) f_->cancel();
  }
  void pause() override { f_->pause(); }
  void resume() override { f_->resume(); }

 private:
  std::shared_ptr<Fetch> f_;
};

UpstreamHead head_of(const FetchHead& h) {
  return UpstreamHead{h.status, h.content_length, std::string(h.header("Content-Type"))};
}

// The three Fetch callbacks of a streamed GET.
struct GetFns {
  Fetch::HeadFn head;
  Fetch::DataFn data;
  Fetch::DoneFn done;
};
GetFns get_fns(UpstreamSource::Handlers h) {
  auto shared = std::make_shared<UpstreamSource::Handlers>(std::move(h));
  return GetFns{[shared](const FetchHead& fh) { return shared->on_head(head_of(fh)); },
                [shared](evbuffer* b) { for_each_segment(b, shared->on_data); },
                [shared](Status st) { shared->on_done(st); }};
}

// A HEAD answers once: with the head, or with the error when none came.
struct HeadFns {
  Fetch::HeadFn head;
  Fetch::DoneFn done;
};
HeadFns head_fns(std::function<void(Result<UpstreamHead>)> done) {
  auto answer = std::make_shared<std::function<void(Result<UpstreamHead>)>>(std::move(done));
  return HeadFns{[answer](const FetchHead& fh) {
                   if (auto fn = std::exchange(*answer, nullptr)) fn(head_of(fh));
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

std::unique_ptr<UpstreamCall> RegistryBlobSource::get(Headers headers, Handlers handlers) {
  auto fns = get_fns(std::move(handlers));
  UpstreamRequest ur{"GET", "/v2/" + name_ + "/blobs/" + digest_, "repository:" + name_ + ":pull", std::move(headers)};
  return std::make_unique<FetchCall>(up_.start(std::move(ur), fns.head, fns.data, fns.done));
}

std::unique_ptr<UpstreamCall> RegistryBlobSource::head(std::function<void(Result<UpstreamHead>)> done) {
  auto fns = head_fns(std::move(done));
  UpstreamRequest ur{"HEAD", "/v2/" + name_ + "/blobs/" + digest_, "repository:" + name_ + ":pull", {}};
  return std::make_unique<FetchCall>(up_.start(std::move(ur), fns.head, nullptr, fns.done));
}

std::unique_ptr<UpstreamCall> OriginFileSource::get(Headers headers, Handlers handlers) {
  auto fns = get_fns(std::move(handlers));
  FetchRequest fr;
  fr.url = url_;
  fr.headers = std::move(headers);
  fr.timeout_ms = timeout_ms_;
  fr.check_address = check_;
  return std::make_unique<FetchCall>(Fetch::start(loop_.base(), std::move(fr), fns.head, fns.data, fns.done));
}

std::unique_ptr<UpstreamCall> OriginFileSource::head(std::function<void(Result<UpstreamHead>)> done) {
  auto fns = head_fns(std::move(done));
  FetchRequest fr;
  fr.method = "HEAD";
  fr.url = url_;
  fr.timeout_ms = timeout_ms_;
  fr.check_address = check_;
  return std::make_unique<FetchCall>(Fetch::start(loop_.base(), std::move(fr), fns.head, nullptr, fns.done));
}

}  // namespace sc
