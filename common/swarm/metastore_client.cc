// The metastore client: every route goes through MetastoreAsync::call (headers, deadline,
// response bound, status → Errc); the blocking MetastoreClient runs it on a private loop, and
// the worker thread lets event loop services use the blocking one without blocking.
#include "common/swarm/metastore_client.h"


#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/core/bytes.h"
#include "common/core/http_status.h"
#include "common/core/json.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"
#include "common/io/private_loop.h"

namespace sc {
namespace {

// Largest response we accept: a .torrent is bounded at 16 MiB by the metastore, JSON pages at
// kMaxApiJsonBytes; anything bigger is a broken or hostile server.
constexpr size_t kMaxResponseBytes = 32 << 20;


}  // namespace

std::string key_path(std::string_view key) {
  std::string out;
  size_t start = 0;
  for (;;) {
    auto slash = key.find('/', start);
    out += percent_encode(key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

Result<std::string> read_token_file(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path);
  if (!in) return fail(Errc::io, "cannot read token file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  size_t b = 0;
  while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
  return line.substr(b);
}

MetastoreAsync::MetastoreAsync(EventLoop& loop, MetastoreClientOptions options)
    : opt_(std::move(options)), http_(std::make_unique<HttpClient>(loop)) {
  while (opt_.base_url.ends_with('/')) opt_.base_url.pop_back();
}

MetastoreAsync::~MetastoreAsync() = default;

void MetastoreAsync::call(MetastoreCall c, std::function<void(Result<MetastoreReply>)> done) {
  HttpHeaderList headers;
  if (!c.accept.empty()) headers.emplace_back("Accept", c.accept);
  if (c.auth && !opt_.token.empty()) headers.emplace_back("Authorization", "Bearer " + opt_.token);
  if (!c.content_type.empty()) headers.emplace_back("Content-Type", c.content_type);
  int64_t timeout = c.timeout_ms > 0 ? c.timeout_ms : opt_.timeout_ms;
  std::string what = c.method + " " + c.target;
  http_->request(c.method, opt_.base_url + c.target, headers, c.body, timeout, kMaxResponseBytes,
                 [what, done = std::move(done)](Result<HttpResponse> resp) {
                   if (!resp) return done(fail(resp.error().code, "metastore " + what + ": " + resp.error().message));
                   if (resp->status < 200 || resp->status > 299) {
                     std::string msg = "metastore answered " + std::to_string(resp->status) + " to " + what;
                     if (auto e = error_from_json(resp->body)) msg += ": " + e->message;
                     return done(fail(errc_for_http_status(resp->status), msg));
                   }
                   done(MetastoreReply{resp->status, std::move(resp->body)});
                 });
}

void MetastoreAsync::get_torrent(const std::string& key, std::function<void(Result<std::optional<std::string>>)> done) {
  call({"GET", "/v1/torrents/" + key_path(key), "", "", false, "application/x-bittorrent"},
       [done = std::move(done)](Result<MetastoreReply> r) {
         if (!r && r.error().code == Errc::not_found) return done(std::optional<std::string>());
         if (!r) return done(std::unexpected(r.error()));
         done(std::optional<std::string>(std::move(r->body)));
       });
}

void MetastoreAsync::put_torrent(const std::string& key, std::string bytes, std::function<void(Status)> done) {
  call({"PUT", "/v1/torrents/" + key_path(key), "application/x-bittorrent", std::move(bytes), true},
       [done = std::move(done)](Result<MetastoreReply> r) { done(r ? Status{} : Status(std::unexpected(r.error()))); });
}

void MetastoreAsync::take_lease(const std::string& key, const std::string& holder, int64_t ttl_ms,
                                std::function<void(Result<bool>)> done) {
  call({"POST", "/v1/leases/" + key_path(key), "application/json", to_json(LeaseRequest{holder, ttl_ms}), true},
       [done = std::move(done)](Result<MetastoreReply> r) {
         if (!r && r.error().code == Errc::conflict) return done(false);
         if (!r) return done(std::unexpected(r.error()));
         done(true);
       });
}

void MetastoreAsync::release_lease(const std::string& key, const std::string& holder) {
  call({"DELETE", "/v1/leases/" + key_path(key) + "?holder=" + percent_encode(holder), "", "", true},
       [](Result<MetastoreReply>) {});
}

void MetastoreAsync::quarantine(const std::string& key, const std::string& infohash, const std::string& reason,
                                std::function<void(Result<bool>)> done) {
  std::string body = Json::object().set("infohash", Json::string(infohash)).set("reason", Json::string(reason)).dump();
  call({"POST", "/v1/quarantine/" + key_path(key), "application/json", std::move(body), true},
       [done = std::move(done)](Result<MetastoreReply> r) {
         if (!r) return done(std::unexpected(r.error()));
         auto json = json_parse(r->body);
         done(json && json->is_object() && json->bool_or("removed", false));
       });
}

Result<MetastoreClient> MetastoreClient::create(MetastoreClientOptions options) {
  while (options.base_url.ends_with('/')) options.base_url.pop_back();
  auto url = parse_http_url(options.base_url);
  if (!url) return fail(Errc::invalid_argument, "bad metastore URL '" + options.base_url + "': " + url.error().message);
  MetastoreClient c;
  c.opt_ = std::move(options);
  return c;
}

Result<MetastoreReply> MetastoreClient::call(MetastoreCall c) const {
  return run_on_private_loop<MetastoreReply>(
      "a metastore answer", [&](EventLoop& loop, std::function<void(Result<MetastoreReply>)> done) {
        MetastoreAsync async(loop, opt_);
        async.call(std::move(c), std::move(done));
        loop.run();
      });
}

Result<int> MetastoreClient::put_torrent(std::string_view key, std::string_view bytes) const {
  auto r = call({"PUT", "/v1/torrents/" + key_path(key), "application/x-bittorrent", std::string(bytes), true});
  if (!r) return std::unexpected(r.error());
  return r->status;
}

Result<std::string> MetastoreClient::get_torrent(std::string_view key) const {
  auto r = call({"GET", "/v1/torrents/" + key_path(key), "", "", false, "application/x-bittorrent"});
  if (!r) return std::unexpected(r.error());
  return std::move(r->body);
}

Result<TorrentMeta> MetastoreClient::get_meta(std::string_view key) const {
  auto r = call({"GET", "/v1/torrents/" + key_path(key), "", "", false, "application/json"});
  if (!r) return std::unexpected(r.error());
  return torrent_meta_from_json(r->body);
}

Result<TorrentPage> MetastoreClient::list(std::string_view prefix, int limit, std::string_view cursor) const {
  std::string target = "/v1/torrents?prefix=" + percent_encode(prefix) + "&limit=" + std::to_string(limit);
  if (!cursor.empty()) target += "&cursor=" + percent_encode(cursor);
  auto r = call({"GET", target, "", "", false, "application/json"});
  if (!r) return std::unexpected(r.error());
  return torrent_page_from_json(r->body);
}

Status MetastoreClient::remove(std::string_view key) const {
  auto r = call({"DELETE", "/v1/torrents/" + key_path(key), "", "", true});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<EventsPage> MetastoreClient::events(std::string_view after, int64_t wait_ms) const {
  std::string target = "/v1/events?after=" + percent_encode(after.empty() ? "0" : after) +
                       "&wait=" + std::to_string(wait_ms) + "ms";
  auto r = call({"GET", target, "", "", false, "application/json", wait_ms + opt_.timeout_ms});
  if (!r) return std::unexpected(r.error());
  return events_page_from_json(r->body);
}

Status MetastoreClient::heartbeat(const NodeInfo& node) const {
  auto r = call({"PUT", "/v1/nodes/" + percent_encode(node.id), "application/json", to_json(node), true});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<NodeList> MetastoreClient::nodes() const {
  auto r = call({"GET", "/v1/nodes", "", "", false, "application/json"});
  if (!r) return std::unexpected(r.error());
  return node_list_from_json(r->body);
}

// ---- worker -------------------------------------------------------------------------------

struct MetastoreWorker::Impl {
  EventLoop* loop;
  MetastoreClient client;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::function<void(const MetastoreClient&)>, std::function<void()>>> jobs;
  size_t running = 0;
  bool stopping = false;
  std::thread thread;
  // Cleared on the loop thread at stop(): done callbacks still queued on the loop check it.
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);

  void run() {
    for (;;) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stopping || !jobs.empty(); });
      if (stopping) return;
      auto job = std::move(jobs.front());
      jobs.pop_front();
      running = 1;
      lock.unlock();
      try {
        job.first(client);
      } catch (const std::exception&) {
        // A job must not kill the worker; jobs report through their own captures.
      }
      lock.lock();
      running = 0;
      if (job.second && !stopping) {
        auto a = alive;
        loop->defer([a, done = std::move(job.second)] {
          if (a->load()) done();
        });
      }
    }
  }
};

MetastoreWorker::MetastoreWorker(EventLoop& loop, MetastoreClient client) : impl_(std::make_shared<Impl>()) {
  impl_->loop = &loop;
  impl_->client = std::move(client);
  // The thread owns a reference: stop() may detach it while a long-poll is still out.
  impl_->thread = std::thread([im = impl_] { im->run(); });
}

MetastoreWorker::~MetastoreWorker() { stop(); }

void MetastoreWorker::post(std::function<void(const MetastoreClient&)> job, std::function<void()> done) {
  std::lock_guard lock(impl_->mu);
  if (impl_->stopping) return;
  impl_->jobs.emplace_back(std::move(job), std::move(done));
  impl_->cv.notify_one();
}

size_t MetastoreWorker::backlog() const {
  std::lock_guard lock(impl_->mu);
  return impl_->jobs.size() + impl_->running;
}

void MetastoreWorker::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->jobs.clear();
    impl_->alive->store(false);
  }
  impl_->cv.notify_all();
  if (!impl_->thread.joinable()) return;
  bool busy;
  {
    std::lock_guard lock(impl_->mu);
    busy = impl_->running > 0;
  }
  // A call in flight (a 30 s long-poll) would hold up shutdown: let it finish on its own; its
  // result is dropped because stopping is set.
  if (busy)
    impl_->thread.detach();
  else
    impl_->thread.join();
}

}  // namespace sc
