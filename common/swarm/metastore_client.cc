// Blocking metastore client over common/io's HTTP client (http_fetch: one connection per call,
// bounded by a deadline and a response size), plus the worker thread that lets event loop
// services use it without blocking.
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
#include "common/io/event_loop.h"
#include "common/io/http_client.h"

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

Result<MetastoreClient> MetastoreClient::create(MetastoreClientOptions options) {
  while (options.base_url.ends_with('/')) options.base_url.pop_back();
  auto url = parse_http_url(options.base_url);
  if (!url) return fail(Errc::invalid_argument, "bad metastore URL '" + options.base_url + "': " + url.error().message);
  MetastoreClient c;
  c.opt_ = std::move(options);
  return c;
}

Result<MetastoreClient::Reply> MetastoreClient::call(std::string_view method, const std::string& target,
                                                     std::string_view content_type, std::string_view body, bool auth,
                                                     int64_t timeout_ms, std::string_view accept) const {
  HttpHeaderList headers;
  if (!accept.empty()) headers.emplace_back("Accept", accept);
  if (auth && !opt_.token.empty()) headers.emplace_back("Authorization", "Bearer " + opt_.token);
  if (!content_type.empty()) headers.emplace_back("Content-Type", content_type);
  auto resp = http_fetch(method, opt_.base_url + target, headers, body, timeout_ms, kMaxResponseBytes);
  if (!resp) return fail(resp.error().code, "metastore " + std::string(method) + " " + target + ": " + resp.error().message);
  Reply r{resp->status, std::move(resp->body)};
  if (r.status < 200 || r.status > 299) {
    std::string msg = "metastore answered " + std::to_string(r.status);
    if (auto e = error_from_json(r.body)) msg += ": " + e->message;
    return fail(errc_for_http_status(r.status), msg);
  }
  return r;
}

Result<int> MetastoreClient::put_torrent(std::string_view key, std::string_view bytes) const {
  auto r = call("PUT", "/v1/torrents/" + key_path(key), "application/x-bittorrent", bytes, true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return r->status;
}

Result<std::string> MetastoreClient::get_torrent(std::string_view key) const {
  auto r = call("GET", "/v1/torrents/" + key_path(key), "", "", false, opt_.timeout_ms, "application/x-bittorrent");
  if (!r) return std::unexpected(r.error());
  return std::move(r->body);
}

Result<TorrentMeta> MetastoreClient::get_meta(std::string_view key) const {
  auto r = call("GET", "/v1/torrents/" + key_path(key), "", "", false, opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return torrent_meta_from_json(r->body);
}

Result<TorrentPage> MetastoreClient::list(std::string_view prefix, int limit, std::string_view cursor) const {
  std::string target = "/v1/torrents?prefix=" + percent_encode(prefix) + "&limit=" + std::to_string(limit);
  if (!cursor.empty()) target += "&cursor=" + percent_encode(cursor);
  auto r = call("GET", target, "", "", false, opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return torrent_page_from_json(r->body);
}

Status MetastoreClient::remove(std::string_view key) const {
  auto r = call("DELETE", "/v1/torrents/" + key_path(key), "", "", true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<EventsPage> MetastoreClient::events(std::string_view after, int64_t wait_ms) const {
  std::string target = "/v1/events?after=" + percent_encode(after.empty() ? "0" : after) +
                       "&wait=" + std::to_string(wait_ms) + "ms";
  auto r = call("GET", target, "", "", false, wait_ms + opt_.timeout_ms, "application/json");
  if (!r) return std::unexpected(r.error());
  return events_page_from_json(r->body);
}

Status MetastoreClient::heartbeat(const NodeInfo& node) const {
  auto r = call("PUT", "/v1/nodes/" + percent_encode(node.id), "application/json", to_json(node), true, opt_.timeout_ms);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<NodeList> MetastoreClient::nodes() const {
  auto r = call("GET", "/v1/nodes", "", "", false, opt_.timeout_ms, "application/json");
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
