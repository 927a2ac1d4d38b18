// Upstream registry client: token dance per scope, retries with exponential back-off before
// the first byte reaches the caller, and whole-document fetches for manifests.
#include "services/proxy/upstream.h"

#include <openssl/evp.h>

#include "common/core/json.h"
#include "common/core/log.h"
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

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool retryable_status(int s) { return s == 500 || s == 502 || s == 503 || s == 504; }

}  // namespace

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

class UpstreamCall final : public Fetch, public std::enable_shared_from_this<UpstreamCall> {
 public:
  UpstreamCall(Upstream& up, UpstreamRequest req, HeadFn h, DataFn d, DoneFn done)
      : up_(up), req_(std::move(req)), on_head_(std::move(h)), on_data_(std::move(d)), on_done_(std::move(done)) {}

  void begin() { attempt(); }
  void cancel() override {
    cancelled_ = true;
    timer_.reset();
    if (inner_) inner_->cancel();
    inner_.reset();
    token_fetch_.reset();
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
  }
  void pause() override {
    paused_ = true;
    if (inner_) inner_->pause();
  }
  void resume() override {
    paused_ = false;
    if (inner_) inner_->resume();
  }

 private:
  void attempt() {
    if (cancelled_) return;
    ++attempts_;
    ++up_.requests_;
    FetchRequest fr;
    fr.method = req_.method;
    fr.url = up_.opt_.url + req_.path;
    fr.timeout_ms = up_.opt_.timeout_ms;
    fr.ca_file = up_.opt_.ca_file;
    fr.check_address = up_.opt_.check_address;
    fr.headers = req_.headers;
    auto it = up_.tokens_.find(req_.scope);
    if (it != up_.tokens_.end() && it->second.expires_ms > up_.loop_.clock().mono_ms())
      fr.headers.emplace_back("Authorization", "Bearer " + it->second.value);
    need_token_ = need_retry_ = false;
    std::weak_ptr<UpstreamCall> weak = weak_from_this();
    inner_ = Fetch::start(
        up_.loop_.base(), std::move(fr),
        [weak](const FetchHead& h) {
          auto self = weak.lock();
          return self ? self->head(h) : false;
        },
        [weak](evbuffer* b) {
          if (auto self = weak.lock())
            if (self->on_data_) self->on_data_(b);
        },
        [weak](Status st) {
          if (auto self = weak.lock()) self->done(std::move(st));
        });
    if (paused_ && inner_) inner_->pause();
  }

  bool head(const FetchHead& h) {
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

  void done(Status st) {
    if (cancelled_) return;
    auto keep = shared_from_this();
    inner_.reset();
    if (need_token_) {
      auth_tried_ = true;
      fetch_token();
      return;
    }
    bool transient = !st && (st.error().code == Errc::unavailable || st.error().code == Errc::timeout);
    if (need_retry_ || (!delivered_ && transient && attempts_ <= up_.opt_.retries)) {
      ++up_.retries_;
      int64_t delay = kBackoffBaseMs << std::min(attempts_ - 1, 6);
      std::weak_ptr<UpstreamCall> weak = weak_from_this();
      timer_ = up_.loop_.after(delay, [weak] {
        if (auto self = weak.lock()) self->attempt();
      });
      return;
    }
    finish(std::move(st));
  }

  void finish(Status st) {
    auto done = std::move(on_done_);
    on_head_ = nullptr;
    on_data_ = nullptr;
    on_done_ = nullptr;
    self_hold_.reset();
    if (done) done(std::move(st));
  }

  void fetch_token() {
    ++up_.token_fetches_;
    FetchRequest fr;
    fr.url = token_url(challenge_);
    fr.timeout_ms = up_.opt_.timeout_ms;
    fr.ca_file = up_.opt_.ca_file;
    fr.check_address = up_.opt_.check_address;
    if (!up_.opt_.username.empty())
      fr.headers.emplace_back("Authorization", "Basic " + base64(up_.opt_.username + ":" + up_.opt_.password));
    std::weak_ptr<UpstreamCall> weak = weak_from_this();
    token_fetch_ = fetch_all(up_.loop_.base(), std::move(fr), kMaxTokenBytes, [weak](Result<FetchResult> r) {
      auto self = weak.lock();
      if (!self || self->cancelled_) return;
      self->token_fetch_.reset();
      if (!r || r->head.status != 200) {
        self->finish(fail(Errc::forbidden, "upstream token endpoint refused: " +
                                               (r ? std::to_string(r->head.status) : r.error().message)));
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
    });
  }

 public:
  std::shared_ptr<UpstreamCall> self_hold_;  // alive while in flight even if the caller drops it

 private:
  Upstream& up_;
  UpstreamRequest req_;
  HeadFn on_head_;
  DataFn on_data_;
  DoneFn on_done_;
  std::shared_ptr<Fetch> inner_, token_fetch_;
  std::unique_ptr<Timer> timer_;
  BearerChallenge challenge_;
  int attempts_ = 0;
  bool auth_tried_ = false, need_token_ = false, need_retry_ = false, delivered_ = false;
  bool cancelled_ = false, paused_ = false;
};

Upstream::Upstream(EventLoop& loop, UpstreamOptions options) : loop_(loop), opt_(std::move(options)) {
  while (!opt_.url.empty() && opt_.url.back() == '/') opt_.url.pop_back();
}

std::shared_ptr<Fetch> Upstream::start(UpstreamRequest req, Fetch::HeadFn on_head, Fetch::DataFn on_data,
                                       Fetch::DoneFn on_done) {
  auto call = std::make_shared<UpstreamCall>(*this, std::move(req), std::move(on_head), std::move(on_data),
                                             std::move(on_done));
  call->self_hold_ = call;
  call->begin();
  return call;
}

std::shared_ptr<Fetch> Upstream::get_all(UpstreamRequest req, size_t max_bytes,
                                         std::function<void(Result<FetchResult>)> done) {
  auto acc = std::make_shared<FetchResult>();
  auto too_big = std::make_shared<bool>(false);
  auto cb = std::make_shared<std::function<void(Result<FetchResult>)>>(std::move(done));
  return start(
      std::move(req),
      [acc, max_bytes, too_big](const FetchHead& h) {
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

}  // namespace sc
