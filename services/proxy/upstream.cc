// Upstream fetches over the one HttpClient: a registry call (token dance per scope, retries
// with exponential back-off before the first byte reaches the caller, redirects) and a plain
// call for configured URLs. Body bytes are handed over as a libevent buffer, never copied.
#include "services/proxy/upstream.h"

#include <algorithm>
#include <cctype>

#include "common/core/json.h"
#include "common/io/byte_buffer.h"
#include "common/io/event_loop.h"
#include "proto/oci.h"

namespace sc {
namespace {

// First retry after 200 ms, doubling: three retries span ~1.4 s, enough for a registry
// restart or a load-balancer hiccup, short enough that a docker pull does not give up.
constexpr int64_t kBackoffBaseMs = 200;
// Token answers are small JSON documents.
constexpr size_t kMaxTokenBytes = 64 << 10;
// Refresh a token this long before the registry says it expires (clock skew, request time).
constexpr int64_t kTokenSlackMs = 10'000;
constexpr int64_t kDefaultTokenLifetimeS = 60;

bool retryable_status(int s) { return s == 500 || s == 502 || s == 503 || s == 504; }

UpstreamHead head_of(const HttpResponse& r) {
  return UpstreamHead{r.status, r.headers, r.content_length(), r.url};
}

HttpRequestOptions fetch_options(const std::string& ca_file,
                                 const std::function<Status(std::string_view, uint16_t)>& check_address) {
  HttpRequestOptions o;
  o.max_redirects = kUpstreamMaxRedirects;
  o.ca_file = ca_file;
  o.check_address = check_address;
  return o;
}

// A strong owner as it is, a weak one while it lives.
template <class T>
std::shared_ptr<T> lock(const std::shared_ptr<T>& p) {
  return p;
}
template <class T>
std::shared_ptr<T> lock(const std::weak_ptr<T>& p) {
  return p.lock();
}

// The stream handlers of one exchange, calling into `owner`. head(): false stops the exchange
// with Errc::cancelled.
template <class OwnerPtr>
HttpStreamHandlers handlers_for(OwnerPtr owner) {
  HttpStreamHandlers h;
  h.on_head = [owner](const HttpResponse& r) -> Status {
    auto self = lock(owner);
    if (self && self->head(head_of(r))) return {};
    return fail(Errc::cancelled, "stopped at the response head");
  };
  h.on_body_buffer = [owner](evbuffer* b) -> Status {
    if (auto self = lock(owner)) self->data(b);
    return {};
  };
  h.on_done = [owner](Result<HttpResponse> r) {
    if (auto self = lock(owner)) self->done(r ? Status{} : Status(std::unexpected(r.error())));
  };
  return h;
}

}  // namespace

std::string_view UpstreamHead::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return {};
}

Result<std::pair<std::string, int64_t>> parse_token_response(std::string_view body) {
  if (body.size() > kMaxTokenBytes) return fail(Errc::too_large, "token response too large");
  auto root = json_parse(body);
  if (!root || !root->is_object()) return fail(Errc::invalid_argument, "token response is not a JSON object");
  std::string token(root->string_or("token", ""));
  if (token.empty()) token = root->string_or("access_token", "");
  int64_t expires = root->int_or("expires_in", kDefaultTokenLifetimeS);
  if (expires <= 0) expires = kDefaultTokenLifetimeS;
  if (token.empty()) return fail(Errc::invalid_argument, "token response has no token");
  return std::make_pair(token, expires * 1000);
}

class RegistryCall final : public UpstreamCall, public std::enable_shared_from_this<RegistryCall> {
 public:
  RegistryCall(Upstream& up, uint64_t serial, UpstreamRequest req, UpstreamHeadFn h, UpstreamDataFn d,
               UpstreamDoneFn done)
      : up_(up), serial_(serial), req_(std::move(req)), on_head_(std::move(h)), on_data_(std::move(d)),
        on_done_(std::move(done)) {}

  void begin() { attempt(); }
  void cancel() override {
    if (cancelled_) return;
    cancelled_ = true;
    timer_.reset();
    if (inner_ != 0) up_.http_->cancel(inner_);
    if (token_call_ != 0) up_.http_->cancel(token_call_);
    inner_ = token_call_ = 0;
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
    up_.live_.erase(serial_);
    auto keep = std::move(self_hold_);  // freed when this returns, not under our feet
  }
  void pause() override {
    if (cancelled_) return;
    paused_ = true;
    if (inner_ != 0) up_.http_->pause(inner_);
  }
  void resume() override {
    if (cancelled_) return;
    paused_ = false;
    if (inner_ != 0) up_.http_->resume(inner_);
  }

  bool head(const UpstreamHead& h) {
    if (cancelled_) return false;
    if (h.status == 401 && !auth_tried_) {
      auto c = parse_bearer_challenge(h.header("WWW-Authenticate"));
      if (c) {
        challenge_ = *c;
        need_token_ = true;
        return false;
      }
    }
    if (retryable_status(h.status) && attempts_ <= up_.opt_.retries) {
      need_retry_ = true;
      return false;
    }
    delivered_ = true;
    return on_head_ ? on_head_(h) : false;
  }

  void data(evbuffer* b) {
    if (on_data_) on_data_(b);
  }

  void done(Status st) {
    if (cancelled_) return;
    auto keep = shared_from_this();
    inner_ = 0;
    if (need_token_) {
      auth_tried_ = true;
      fetch_token();
      return;
    }
    bool transient = !st && (st.error().code == Errc::unavailable || st.error().code == Errc::timeout);
    if (need_retry_ || (!delivered_ && transient && attempts_ <= up_.opt_.retries)) {
      ++up_.retries_;
      int64_t delay = kBackoffBaseMs << std::min(attempts_ - 1, 6);
      std::weak_ptr<RegistryCall> weak = weak_from_this();
      timer_ = up_.loop_.after(delay, [weak] {
        if (auto self = weak.lock()) self->attempt();
      });
      return;
    }
    finish(std::move(st));
  }

  std::shared_ptr<RegistryCall> self_hold_;  // alive while in flight even if the caller drops it

 private:
  void attempt() {
    if (cancelled_) return;
    ++attempts_;
    ++up_.requests_;
    HttpHeaderList headers = req_.headers;
    auto it = up_.tokens_.find(req_.scope);
    if (it != up_.tokens_.end() && it->second.expires_ms > up_.loop_.clock().mono_ms()) {
      headers.emplace_back("Authorization", "Bearer " + it->second.value);
    }
    need_token_ = need_retry_ = false;
    inner_ = up_.http_->stream(req_.method, up_.opt_.url + req_.path, headers, "", up_.opt_.timeout_ms, 0,
                               handlers_for(weak_from_this()), fetch_options(up_.opt_.ca_file, up_.opt_.check_address));
    if (paused_) up_.http_->pause(inner_);
  }

  void finish(Status st) {
    auto done = std::move(on_done_);
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
    cancelled_ = true;  // nothing of this call runs again
    up_.live_.erase(serial_);
    auto keep = std::move(self_hold_);
    if (done) done(std::move(st));
  }

  void fetch_token() {
    ++up_.token_fetches_;
    HttpHeaderList headers;
    if (!up_.opt_.username.empty()) headers.emplace_back("Authorization", http_basic_auth(up_.opt_.username, up_.opt_.password));
    std::weak_ptr<RegistryCall> weak = weak_from_this();
    token_call_ = up_.http_->request(
        "GET", token_url(challenge_), headers, "", up_.opt_.timeout_ms, kMaxTokenBytes,
        [weak](Result<HttpResponse> r) {
          auto self = weak.lock();
          if (!self || self->cancelled_) return;
          self->token_call_ = 0;
          if (!r || r->status != 200) {
            self->finish(fail(Errc::forbidden,
                              "upstream token endpoint refused: " + (r ? std::to_string(r->status) : r.error().message)));
            return;
          }
          auto tok = parse_token_response(r->body);
          if (!tok) {
            self->finish(fail(Errc::unavailable, "upstream token: " + tok.error().message));
            return;
          }
          int64_t life = std::max<int64_t>(tok->second - kTokenSlackMs, 1000);
          self->up_.tokens_[self->req_.scope] = {tok->first, self->up_.loop_.clock().mono_ms() + life};
          self->attempt();
        },
        fetch_options(up_.opt_.ca_file, up_.opt_.check_address));
  }

  Upstream& up_;
  uint64_t serial_;
  UpstreamRequest req_;
  UpstreamHeadFn on_head_;
  UpstreamDataFn on_data_;
  UpstreamDoneFn on_done_;
  HttpClient::RequestId inner_ = 0, token_call_ = 0;
  std::unique_ptr<Timer> timer_;
  BearerChallenge challenge_;
  int attempts_ = 0;
  bool auth_tried_ = false, need_token_ = false, need_retry_ = false, delivered_ = false;
  bool cancelled_ = false, paused_ = false;
};

Upstream::Upstream(EventLoop& loop, UpstreamOptions options) : loop_(loop), opt_(std::move(options)) {
  while (!opt_.url.empty() && opt_.url.back() == '/') opt_.url.pop_back();
  HttpClientOptions ho;
  ho.tls_verify = opt_.tls_verify;
  http_ = std::make_shared<HttpClient>(loop, ho);
}

Upstream::~Upstream() {
  auto live = std::move(live_);
  live_.clear();
  for (auto& [serial, weak] : live) {
    if (auto call = weak.lock()) call->cancel();
  }
}

std::shared_ptr<UpstreamCall> Upstream::start(UpstreamRequest req, UpstreamHeadFn on_head, UpstreamDataFn on_data,
                                              UpstreamDoneFn on_done) {
  uint64_t serial = next_call_++;
  auto call = std::make_shared<RegistryCall>(*this, serial, std::move(req), std::move(on_head), std::move(on_data),
                                             std::move(on_done));
  call->self_hold_ = call;
  live_.emplace(serial, call);
  call->begin();
  return call;
}

std::shared_ptr<UpstreamCall> Upstream::get_all(UpstreamRequest req, size_t max_bytes,
                                                std::function<void(Result<UpstreamDocument>)> done) {
  auto acc = std::make_shared<UpstreamDocument>();
  auto too_big = std::make_shared<bool>(false);
  auto cb = std::make_shared<std::function<void(Result<UpstreamDocument>)>>(std::move(done));
  return start(
      std::move(req),
      [acc, max_bytes, too_big](const UpstreamHead& h) {
        acc->head = h;
        if (h.content_length > static_cast<int64_t>(max_bytes)) *too_big = true;
        return !*too_big;
      },
      [acc, max_bytes, too_big](evbuffer* b) {
        if (*too_big) return;
        for_each_segment(b, [&](std::string_view s) {
          if (acc->body.size() + s.size() > max_bytes) *too_big = true;
          else acc->body.append(s);
        });
      },
      [acc, too_big, cb](Status st) {
        if (*too_big) return (*cb)(fail(Errc::too_large, "upstream document too large"));
        if (!st) return (*cb)(std::unexpected(st.error()));
        (*cb)(std::move(*acc));
      });
}

// One exchange with a configured URL. The client's request holds it (through its handlers),
// so it lives as long as the exchange whether or not the caller keeps the handle.
class DirectCall final : public UpstreamCall {
 public:
  DirectCall(std::weak_ptr<HttpClient> http, UpstreamHeadFn h, UpstreamDataFn d, UpstreamDoneFn done)
      : http_(std::move(http)), on_head_(std::move(h)), on_data_(std::move(d)), on_done_(std::move(done)) {}
  void pause() override {
    if (auto h = http_.lock()) h->pause(id_);
  }
  void resume() override {
    if (auto h = http_.lock()) h->resume(id_);
  }
  void cancel() override {
    if (auto h = http_.lock()) h->cancel(id_);
  }
  bool head(const UpstreamHead& h) { return on_head_ ? on_head_(h) : false; }
  void data(evbuffer* b) {
    if (on_data_) on_data_(b);
  }
  void done(Status st) {
    auto done = std::move(on_done_);
    if (done) done(std::move(st));
  }

  HttpClient::RequestId id_ = 0;

 private:
  std::weak_ptr<HttpClient> http_;
  UpstreamHeadFn on_head_;
  UpstreamDataFn on_data_;
  UpstreamDoneFn on_done_;
};

UrlFetcher::UrlFetcher(EventLoop& loop, bool tls_verify) {
  HttpClientOptions ho;
  ho.tls_verify = tls_verify;
  http_ = std::make_shared<HttpClient>(loop, ho);
}

std::shared_ptr<UpstreamCall> UrlFetcher::start(UrlRequest req, UpstreamHeadFn on_head, UpstreamDataFn on_data,
                                                UpstreamDoneFn on_done) {
  auto call = std::make_shared<DirectCall>(http_, std::move(on_head), std::move(on_data), std::move(on_done));
  call->id_ = http_->stream(req.method, req.url, req.headers, "", req.timeout_ms, 0, handlers_for(call),
                            fetch_options("", req.check_address));
  return call;
}

}  // namespace sc
