// swarmctl: the command-line client. `create` makes a deterministic torrent with
// mktorrent-compatible options; `publish`, `get`, `ls`, `rm` and `nodes` talk to the
// metastore (and, for get and publish --seed, to the swarm); `status` reads the dashboard.
// Commands and options come from one table (cli.h). Exit codes: see cli.cc's overall_help.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/core/bencode.h"
#include "common/core/build_info.h"
#include "common/core/bytes.h"
#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/url.h"
#include "common/io/event_loop.h"
#include "common/io/http_client.h"
#include "common/swarm/metastore_client.h"
#include "common/swarm/session.h"
#include "common/swarm/torrent_maker.h"
#include "proto/content_key.h"
#include "services/swarmctl/cli.h"

namespace sc {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
// publish registered the torrent, but no seeder has the content and --seed was not asked for.
constexpr int kExitUnseeded = 3;
constexpr int kExitInterrupted = 130;
// Listing page size asked of the metastore (it caps it anyway).
constexpr int kListPage = 500;
// Progress refresh: fast enough to look alive, slow enough for log files.
constexpr int64_t kTtyRefreshMs = 200;
constexpr int64_t kPlainRefreshMs = 2000;
// get gives up when no peer has been seen for this long: a key nothing seeds would otherwise
// wait forever at 0%. A tracker answers within seconds; a minute covers a seeder restarting.
constexpr int64_t kDefaultStallMs = 60'000;
// status: the dashboard answers from memory.
constexpr int64_t kDashboardTimeoutMs = 10'000;
constexpr uint64_t kMaxOverviewBytes = 64ull << 20;
// publish asks the torrent's trackers whether anyone seeds it: a scrape is one small reply.
constexpr int64_t kScrapeTimeoutMs = 5'000;
constexpr uint64_t kMaxScrapeBytes = 64 << 10;

struct Global {
  std::string metastore, token_file, tracker, dashboard;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "swarmctl: %s\n(see swarmctl --help)\n", msg.c_str());
  return kExitUsage;
}

int failed(const std::string& what, const Error& e) {
  std::fprintf(stderr, "swarmctl: %s: %s\n", what.c_str(), e.message.c_str());
  return kExitFailed;
}

std::string env_or(const char* name, std::string fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

std::string human_duration(double seconds) {
  if (seconds < 0 || !std::isfinite(seconds)) return "--";
  auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%llds", s);
  return buf;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto c = s.find(',', start);
    auto part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    start = c + 1;
  }
  return out;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::not_found, "cannot read " + path);
  std::string s((std::istreambuf_iterator<char>(in)), {});
  return s;
}

Result<MetastoreClient> client_of(const Global& g) {
  if (g.metastore.empty()) return fail(Errc::invalid_argument, "no metastore: pass --metastore URL or set SWARMCACHE_METASTORE");
  auto token = read_token_file(g.token_file);
  if (!token) return std::unexpected(token.error());
  return MetastoreClient::create({.base_url = g.metastore, .token = *token});
}

// ---- create --------------------------------------------------------------------------------

Result<MakeTorrentOptions> make_options(const cli::Parsed& p, const Global& g) {
  MakeTorrentOptions o;
  for (auto& a : p.all("-a"))
    for (auto& url : split_commas(a)) o.trackers.push_back(url);
  if (o.trackers.empty() && !g.tracker.empty()) o.trackers.push_back(g.tracker);
  for (auto& w : p.all("-w"))
    for (auto& url : split_commas(w)) o.web_seeds.push_back(url);
  if (p.has("-l")) {
    char* end = nullptr;
    std::string v = p.get("-l");
    long e = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end) return fail(Errc::invalid_argument, "-l takes a number (piece length exponent)");
    o.piece_length_exp = static_cast<int>(e);
  }
  o.name = p.get("-n");
  o.comment = p.get("-c");
  o.priv = p.has("-p");
  o.hybrid = p.has("--hybrid");
  if (p.has("-t")) o.threads = std::atoi(p.get("-t").c_str());
  return o;
}

int cmd_create(const cli::Parsed& p, const Global& g) {
  if (p.has("-s")) return usage_error("-s (source) is not supported: it would change the info hash");
  if (p.pos.size() != 1) return usage_error("create takes one PATH");
  auto o = make_options(p, g);
  if (!o) return usage_error(o.error().message);
  auto t0 = std::chrono::steady_clock::now();
  auto made = make_torrent(p.pos[0], *o);
  if (!made) return failed("create " + p.pos[0], made.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string out = p.get("-o", made->name + ".torrent");
  if (fs::exists(out)) {
    std::fprintf(stderr, "swarmctl: %s already exists (mktorrent refuses too); remove it first\n", out.c_str());
    return kExitFailed;
  }
  std::ofstream f(out, std::ios::binary);
  f.write(made->bytes.data(), static_cast<std::streamsize>(made->bytes.size()));
  f.close();
  if (!f) {
    std::fprintf(stderr, "swarmctl: cannot write %s\n", out.c_str());
    return kExitFailed;
  }
  if (p.has("-v"))
    std::fprintf(stderr, "hashed %s in %.2f s (%.0f MB/s), %lld-byte pieces, %d file(s)\n",
                 human_bytes(static_cast<double>(made->total_size)).c_str(), secs,
                 secs > 0 ? made->total_size / secs / 1e6 : 0.0, static_cast<long long>(made->piece_length),
                 made->num_files);
  std::printf("%s %s\n", made->infohash.c_str(), out.c_str());
  return kExitOk;
}

// ---- publish ------------------------------------------------------------------------------

// Complete peers an HTTP tracker reports for the info hash (BEP 48 scrape); 0 when it cannot say.
int64_t scrape_complete(const std::string& announce, const std::string& infohash) {
  auto u = parse_url(announce);
  auto raw = from_hex(infohash);
  if (!u || (u->scheme != "http" && u->scheme != "https") || !raw) return 0;
  // BEP 48: a tracker can be scraped when the last segment of its announce path starts "announce".
  size_t last = u->path.rfind('/') + 1;
  if (!std::string_view(u->path).substr(last).starts_with("announce")) return 0;
  std::string url = u->scheme + "://" + u->authority + u->path.substr(0, last) + "scrape" + u->path.substr(last + 8) +
                    "?" + (u->query.empty() ? "" : u->query + "&") + "info_hash=" + percent_encode(*raw);
  auto r = http_fetch("GET", url, {}, {}, kScrapeTimeoutMs, kMaxScrapeBytes);
  if (!r || r->status != 200) return 0;
  auto doc = bdecode(r->body);
  const BValue* files = doc ? doc->find("files") : nullptr;
  const BValue* entry = files ? files->find(*raw) : nullptr;
  const BValue* complete = entry ? entry->find("complete") : nullptr;
  return complete && std::holds_alternative<int64_t>(complete->v) ? complete->as_int() : 0;
}

// Who seeds the info hash: a seeder whose heartbeat lists it, else a tracker of the torrent
// that counts a complete peer (a client outside swarmcache). "" if nobody is known to.
std::string seeder_of(const MetastoreClient& client, const TorrentSummary& t) {
  if (auto list = client.nodes())
    for (const auto& n : list->nodes)
      if (n.role == "seeder" && std::find(n.swarms.begin(), n.swarms.end(), t.infohash) != n.swarms.end()) return n.id;
  for (const auto& announce : t.trackers)
    if (int64_t n = scrape_complete(announce, t.infohash); n > 0) return std::to_string(n) + " peer(s) of " + announce;
  return "";
}

// publish --seed: seeds the content from where it lies until SIGINT/SIGTERM.
int seed_in_foreground(const std::string& torrent, const std::string& key, const std::string& save_path,
                       const Global& g) {
  EventLoop loop;
  SwarmOptions so;
  so.peer_listen = env_or("SWARMCACHE_PEER_LISTEN", "0.0.0.0:0");
  so.resume_save_interval_ms = 0;
  auto swarm = SwarmSession::start(loop, so);
  if (!swarm) return failed("publish --seed", swarm.error());
  AddTorrentOptions ao;
  ao.key = key;
  ao.save_path = save_path.empty() ? "." : save_path;
  ao.seed_mode = true;  // just hashed by make_torrent
  if (!g.tracker.empty()) ao.trackers.push_back(g.tracker);
  auto ih = (*swarm)->add(torrent, ao);
  if (!ih) return failed("publish --seed " + key, ih.error());
  if (g.tracker.empty()) std::fprintf(stderr, "swarmctl: warning: no --tracker: peers find this seed only through the torrent's own trackers\n");
  std::fprintf(stderr, "seeding %s on peer port %u until interrupted (Ctrl-C)\n", key.c_str(),
               static_cast<unsigned>((*swarm)->listen_port()));
  auto stop = [&] { (*swarm)->shutdown([&] { loop.stop(); }); };
  bool stopping = false;
  auto once = [&] {
    if (!stopping) stopping = true, stop();
  };
  loop.on_signal(SIGINT, once);
  loop.on_signal(SIGTERM, once);
  loop.run();
  swarm->reset();
  return kExitOk;
}

int cmd_publish(const cli::Parsed& p, const Global& g) {
  if (p.pos.size() != 1) return usage_error("publish takes one PATH or FILE.torrent");
  if (p.has("--seed") && p.pos[0].ends_with(".torrent") && fs::is_regular_file(p.pos[0]))
    return usage_error("--seed needs the content's PATH, not a .torrent");
  auto client = client_of(g);
  if (!client) return failed("publish", client.error());
  const std::string& path = p.pos[0];
  std::string bytes, name;
  bool is_dir = false;
  if (path.ends_with(".torrent") && fs::is_regular_file(path)) {
    auto b = read_file(path);
    if (!b) return failed("publish", b.error());
    auto s = inspect_torrent(*b);
    if (!s) return failed("publish " + path, s.error());
    bytes = std::move(*b);
    name = s->name;
    is_dir = s->files.size() > 1 || (s->files.size() == 1 && s->files[0].path.find('/') != std::string::npos);
  } else {
    auto o = make_options(p, g);
    if (!o) return usage_error(o.error().message);
    auto made = make_torrent(path, *o);
    if (!made) return failed("publish " + path, made.error());
    bytes = std::move(made->bytes);
    name = made->name;
    is_dir = fs::is_directory(path);
  }
  std::string key = p.get("--key", (is_dir ? "dirs/" : "files/") + name);
  if (auto k = parse_content_key(key); !k) return usage_error("bad key '" + key + "': " + k.error().message);
  auto s = inspect_torrent(bytes);
  if (!s) return failed("publish", s.error());
  auto r = client->put_torrent(key, bytes);
  if (!r) return failed("publish " + key, r.error());
  std::printf("%s %s %s\n", s->infohash.c_str(), key.c_str(), *r == 201 ? "created" : "unchanged");
  std::fflush(stdout);
  if (p.has("--seed")) return seed_in_foreground(bytes, key, fs::path(path).parent_path().string(), g);
  // A registered torrent nobody seeds leaves every leecher at 0%: say so unless told it is fine.
  std::string seeder = seeder_of(*client, *s);
  if (!seeder.empty()) {
    std::printf("seeded by %s\n", seeder.c_str());
    return kExitOk;
  }
  if (p.has("--no-seed-ok")) {
    std::fprintf(stderr, "swarmctl: note: no seeder has %s yet\n", key.c_str());
    return kExitOk;
  }
  std::fprintf(stderr,
               "swarmctl: nothing seeds %s: no seeder reports it, so downloads would wait at 0%%.\n"
               "  Seed it from here with `swarmctl publish --seed %s`, put it in a seeder's data directory,\n"
               "  or pass --no-seed-ok if a seeder will have it soon.\n",
               key.c_str(), path.c_str());
  return kExitUnseeded;
}

// ---- get ----------------------------------------------------------------------------------

int cmd_get(const cli::Parsed& p, const Global& g) {
  if (p.pos.size() != 1) return usage_error("get takes one KEY");
  const std::string& key = p.pos[0];
  std::string dir = p.get("-o", ".");
  int64_t timeout_ms = 0;
  if (p.has("--timeout")) {
    auto t = parse_duration_ms(p.get("--timeout"));
    if (!t) return usage_error("--timeout: " + t.error().message);
    timeout_ms = *t;
  }
  int64_t stall_ms = kDefaultStallMs;
  if (p.has("--stall-timeout")) {
    auto t = parse_duration_ms(p.get("--stall-timeout"));
    if (!t) return usage_error("--stall-timeout: " + t.error().message);
    stall_ms = *t;
  }
  auto client = client_of(g);
  if (!client) return failed("get", client.error());
  auto bytes = client->get_torrent(key);
  if (!bytes) return failed("get " + key, bytes.error());
  auto summary = inspect_torrent(*bytes);
  if (!summary) return failed("get " + key, summary.error());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return failed("get", Error{Errc::io, "cannot create " + dir + ": " + ec.message()});

  EventLoop loop;
  SwarmOptions so;
  so.peer_listen = p.get("--peer-listen", env_or("SWARMCACHE_PEER_LISTEN", "0.0.0.0:0"));
  so.resume_save_interval_ms = 0;
  auto swarm = SwarmSession::start(loop, so);
  if (!swarm) return failed("get", swarm.error());
  AddTorrentOptions ao;
  ao.key = key;
  ao.save_path = dir;
  if (!g.tracker.empty()) ao.trackers.push_back(g.tracker);
  auto ih = (*swarm)->add(*bytes, ao);
  if (!ih) return failed("get " + key, ih.error());

  bool tty = ::isatty(STDERR_FILENO) && !p.has("--quiet");
  int rc = kExitFailed;
  std::string why;
  auto t0 = std::chrono::steady_clock::now();
  // The last time a peer was connected: with none for stall_ms, nothing seeds the key.
  auto last_peer = t0;
  auto finish = [&](int code, std::string reason) {
    rc = code;
    why = std::move(reason);
    (*swarm)->shutdown([&] { loop.stop(); });
  };
  bool finishing = false;
  auto tick = [&] {
    if (finishing) return;
    auto st = (*swarm)->status_of(*ih);
    if (!st) return;
    auto now = std::chrono::steady_clock::now();
    double elapsed = std::chrono::duration<double>(now - t0).count();
    if (st->peers > 0 || st->complete) last_peer = now;
    double total = static_cast<double>(st->size), done = st->progress * total;
    double rate = static_cast<double>(st->download_rate);
    double eta = rate > 0 ? (total - done) / rate : -1;
    if (tty) {
      constexpr int kWidth = 30;
      int fill = static_cast<int>(st->progress * kWidth);
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(kWidth, '.');
      std::fprintf(stderr, "\r[%s] %5.1f%%  %s / %s  %s/s  ETA %s  %d peer(s)   ", bar.c_str(), st->progress * 100,
                   human_bytes(done).c_str(), human_bytes(total).c_str(), human_bytes(rate).c_str(),
                   human_duration(eta).c_str(), st->peers);
    } else if (!p.has("--quiet")) {
      std::fprintf(stderr, "%s progress=%.1f%% done=%.0f total=%.0f rate=%s/s eta=%s peers=%d state=%s\n", key.c_str(),
                   st->progress * 100, done, total, human_bytes(rate).c_str(), human_duration(eta).c_str(), st->peers,
                   st->state.c_str());
    }
    if (st->complete) {
      finishing = true;
      if (tty) std::fputc('\n', stderr);
      std::printf("%s %s %s (%s in %.1f s)\n", st->infohash.c_str(), key.c_str(), (fs::path(dir) / st->name).c_str(),
                  human_bytes(static_cast<double>(st->size)).c_str(), elapsed);
      finish(kExitOk, "");
    } else if (!st->error.empty()) {
      finishing = true;
      finish(kExitFailed, st->error);
    } else if (timeout_ms > 0 && elapsed * 1000 > static_cast<double>(timeout_ms)) {
      finishing = true;
      finish(kExitFailed, "timed out at " + std::to_string(static_cast<int>(st->progress * 100)) + "%");
    } else if (stall_ms > 0 && std::chrono::duration<double>(now - last_peer).count() * 1000 > static_cast<double>(stall_ms)) {
      finishing = true;
      finish(kExitFailed, "no peer has it after " + human_duration(static_cast<double>(stall_ms) / 1000) +
                              ": nothing seeds this key (is a seeder running with its content? `swarmctl nodes` "
                              "lists the nodes; --stall-timeout 0 waits forever)");
    }
  };
  auto timer = loop.every(tty ? kTtyRefreshMs : kPlainRefreshMs, tick);
  (*swarm)->on_complete([&](const std::string&) { tick(); });
  bool interrupted = false;
  loop.on_signal(SIGINT, [&] {
    if (finishing) return;
    finishing = true;
    interrupted = true;
    finish(kExitInterrupted, "interrupted");
  });
  loop.run();
  timer.reset();
  swarm->reset();
  if (rc != kExitOk) {
    if (tty) std::fputc('\n', stderr);
    std::fprintf(stderr, "swarmctl: get %s: %s\n", key.c_str(), why.c_str());
  }
  return interrupted ? kExitInterrupted : rc;
}

// ---- ls, rm, nodes ------------------------------------------------------------------------

int cmd_ls(const cli::Parsed& p, const Global& g) {
  if (p.pos.size() > 1) return usage_error("ls takes at most one PREFIX");
  auto client = client_of(g);
  if (!client) return failed("ls", client.error());
  std::string cursor;
  std::vector<TorrentListItem> all;
  for (;;) {
    auto page = client->list(p.pos.empty() ? "" : p.pos[0], kListPage, cursor);
    if (!page) return failed("ls", page.error());
    for (auto& it : page->items) all.push_back(it);
    if (page->cursor.empty() || page->items.empty()) break;
    cursor = page->cursor;
  }
  if (p.has("--json")) {
    TorrentPage out;
    out.items = std::move(all);
    std::printf("%s\n", to_json(out).c_str());
    return kExitOk;
  }
  for (auto& it : all)
    std::printf("%s  %10s  %s\n", it.infohash.c_str(), human_bytes(static_cast<double>(it.size)).c_str(), it.key.c_str());
  return kExitOk;
}

int cmd_rm(const cli::Parsed& p, const Global& g) {
  if (p.pos.empty()) return usage_error("rm takes one or more KEYs");
  auto client = client_of(g);
  if (!client) return failed("rm", client.error());
  int rc = kExitOk;
  for (auto& key : p.pos) {
    if (auto st = client->remove(key); !st)
      rc = failed("rm " + key, st.error());
    else
      std::printf("removed %s\n", key.c_str());
  }
  return rc;
}

int cmd_nodes(const cli::Parsed& p, const Global& g) {
  auto client = client_of(g);
  if (!client) return failed("nodes", client.error());
  auto list = client->nodes();
  if (!list) return failed("nodes", list.error());
  if (p.has("--json")) {
    std::printf("%s\n", to_json(*list).c_str());
    return kExitOk;
  }
  for (auto& n : list->nodes)
    std::printf("%-28s %-8s %-32s %zu swarm(s)\n", n.id.c_str(), n.role.c_str(), n.control_url.c_str(), n.swarms.size());
  return kExitOk;
}

// ---- status -------------------------------------------------------------------------------

// One key across the cluster, from the dashboard's overview (the nodes' own status documents).
int cmd_status(const cli::Parsed& p, const Global& g) {
  if (p.pos.size() != 1) return usage_error("status takes one KEY");
  const std::string& key = p.pos[0];
  std::string base = g.dashboard;
  while (base.ends_with('/')) base.pop_back();
  auto r = http_fetch("GET", base + "/api/overview", {{"Accept", "application/json"}}, {}, kDashboardTimeoutMs,
                      kMaxOverviewBytes);
  if (!r) return failed("status: dashboard " + base, r.error());
  if (r->status != 200)
    return failed("status", Error{Errc::unavailable, "dashboard " + base + " answered " + std::to_string(r->status)});
  auto doc = json_parse(r->body, JsonLimits{kMaxOverviewBytes, 32});
  if (!doc) return failed("status: dashboard's overview", doc.error());
  Json swarms = doc->get("swarms");
  for (size_t i = 0; i < swarms.size(); ++i) {
    Json s = swarms.at(i);
    if (s.string_or("key", "") != key) continue;
    if (p.has("--json")) {
      std::printf("%s\n", s.dump().c_str());
      return kExitOk;
    }
    Json members = s.get("nodes");
    std::printf("%s  %s  %s  %lld/%zu node(s) complete\n", key.c_str(), std::string(s.string_or("infohash", "")).c_str(),
                human_bytes(static_cast<double>(s.int_or("size", 0))).c_str(),
                static_cast<long long>(s.int_or("complete", 0)), members.size());
    std::printf("%-24s %-8s %7s %12s %8s  %s\n", "NODE", "ROLE", "DONE", "RATE", "ETA", "SOURCES");
    for (size_t j = 0; j < members.size(); ++j) {
      Json m = members.at(j);
      std::string sources;
      Json prov = m.get("provenance");
      for (size_t k = 0; k < prov.size(); ++k) {
        Json e = prov.at(k);
        if (e.int_or("bytes_given", 0) <= 0) continue;
        std::string who(e.string_or("node", ""));
        if (who.empty()) who = std::string(e.string_or("endpoint", "?"));
        sources += (sources.empty() ? "" : ", ") + who + " " + human_bytes(static_cast<double>(e.int_or("bytes_given", 0)));
      }
      Json eta = m.get("eta_seconds");
      std::printf("%-24s %-8s %6.1f%% %10s/s %8s  %s\n", std::string(m.string_or("node", "")).c_str(),
                  std::string(m.string_or("role", "")).c_str(), m.get("progress").as_number() * 100,
                  human_bytes(static_cast<double>(m.int_or("download_rate", 0))).c_str(),
                  m.bool_or("complete", false) ? "done" : eta ? human_duration(static_cast<double>(eta.as_int())).c_str() : "--",
                  sources.empty() ? "-" : sources.c_str());
    }
    return kExitOk;
  }
  return failed("status " + key, Error{Errc::not_found, "no node reports this key (is it registered and followed?)"});
}

// ---- the command table ----------------------------------------------------------------------

struct Entry {
  cli::Command spec;
  int (*run)(const cli::Parsed&, const Global&);
};

int cmd_completion(const cli::Parsed& p, const Global& g);

const std::vector<cli::OptSpec> kTorrentOpts = {
    {"-a", "URL", "announce URL (repeat or comma-separate; default --tracker)"},
    {"-l", "EXP", "piece length as a power of two (default from the total size)"},
    {"-n", "NAME", "torrent name (default the file or directory name)"},
    {"-w", "URL", "web seed URL (repeat or comma-separate)"},
    {"-c", "TEXT", "comment"},
    {"-t", "N", "hashing threads"},
    {"-p", "", "private torrent"},
    {"--hybrid", "", "BitTorrent v1+v2 hybrid (default v1 only, which every client reads)"},
};

std::vector<cli::OptSpec> with_torrent_opts(std::vector<cli::OptSpec> own) {
  own.insert(own.end(), kTorrentOpts.begin(), kTorrentOpts.end());
  return own;
}

const std::vector<Entry>& commands() {
  static const std::vector<Entry> table = {
      {{"create", "PATH",
        "make a torrent of a file or directory (mktorrent options; no creation date, so the same bytes give the "
        "same info hash everywhere)",
        with_torrent_opts({{"-o", "FILE", "output file (default NAME.torrent)"},
                           {"-v", "", "print hashing speed"},
                           {"-d", "", "accepted for mktorrent compatibility (no date is ever written)"},
                           {"-s", "TEXT", "refused: a source tag would change the info hash"}})},
       cmd_create},
      {{"publish", "PATH|FILE.torrent",
        "make (or read) a torrent and register it; the key defaults to files/<name> or dirs/<name>. Exits 3 when "
        "no seeder has the content, unless --seed or --no-seed-ok",
        with_torrent_opts({{"--key", "KEY", "content key to register under"},
                           {"--seed", "", "then seed PATH from here in the foreground until interrupted"},
                           {"--no-seed-ok", "", "exit 0 even when no seeder has the content yet"}})},
       cmd_publish},
      {{"get", "KEY",
        "download through the swarm, with a progress bar (bytes, rate, ETA) on a terminal",
        {{"-o", "DIR", "download directory (default .)"},
         {"--peer-listen", "HOST:PORT", "BitTorrent listener (default any free port)"},
         {"--timeout", "DURATION", "give up after this long (default never)"},
         {"--stall-timeout", "DURATION", "give up when no peer was seen for this long (default 60s; 0 = never)"},
         {"--quiet", "", "no progress output"}}},
       cmd_get},
      {{"status", "KEY", "progress of one key on every node (%, rate, ETA, sources), from the dashboard",
        {{"--json", "", "print the dashboard's JSON for this key"}}},
       cmd_status},
      {{"ls", "[PREFIX]", "list registered torrents", {{"--json", "", "print JSON"}}}, cmd_ls},
      {{"rm", "KEY...", "unregister torrents", {}}, cmd_rm},
      {{"nodes", "", "list nodes that sent a heartbeat", {{"--json", "", "print JSON"}}}, cmd_nodes},
      {{"completion", "bash|zsh", "print a shell completion script (e.g. swarmctl completion bash > /etc/bash_completion.d/swarmctl)", {}},
       cmd_completion},
  };
  return table;
}

std::vector<cli::Command> command_specs() {
  std::vector<cli::Command> out;
  for (const auto& e : commands()) out.push_back(e.spec);
  return out;
}

int cmd_completion(const cli::Parsed& p, const Global&) {
  if (p.pos.size() != 1) return usage_error("completion takes bash or zsh");
  if (p.pos[0] == "bash") {
    std::fputs(cli::bash_completion(command_specs()).c_str(), stdout);
  } else if (p.pos[0] == "zsh") {
    std::fputs(cli::zsh_completion(command_specs()).c_str(), stdout);
  } else {
    return usage_error("completion takes bash or zsh, not " + p.pos[0]);
  }
  return kExitOk;
}

int run(int argc, char** argv) {
  set_log_level(LogLevel::warn);
  Global g;
  g.metastore = env_or("SWARMCACHE_METASTORE");
  g.token_file = env_or("SWARMCACHE_TOKEN_FILE");
  g.tracker = env_or("SWARMCACHE_TRACKER");
  g.dashboard = env_or("SWARMCACHE_DASHBOARD", "http://127.0.0.1:8080");
  std::vector<std::string> rest;
  std::string command;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto take = [&](const std::string& flag, std::string& dest) {
      if (a == flag) {
        if (i + 1 >= argc) return false;
        dest = argv[++i];
        return true;
      }
      if (a.starts_with(flag + "=")) {
        dest = a.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--metastore", g.metastore) || take("--token-file", g.token_file) || take("--tracker", g.tracker) ||
        take("--dashboard", g.dashboard))
      continue;
    if (a == "--version") {
      std::printf("%s\n", version_line("swarmctl").c_str());
      return kExitOk;
    }
    if (a == "--help" || a == "-h" || (command.empty() && a == "help")) {
      help = true;
      continue;
    }
    if (command.empty()) {
      if (a.starts_with("-")) return usage_error("unknown option " + a);
      command = a;
      continue;
    }
    rest.push_back(a);
  }
  if (command.empty()) {
    if (!help) return usage_error("no command");
    std::fputs(cli::overall_help(command_specs()).c_str(), stdout);
    return kExitOk;
  }
  for (const auto& e : commands()) {
    if (e.spec.name != command) continue;
    if (help) {
      std::fputs(cli::command_help(e.spec).c_str(), stdout);
      return kExitOk;
    }
    auto parsed = cli::parse(e.spec, rest);
    if (!parsed.error.empty()) return usage_error(parsed.error);
    return e.run(parsed, g);
  }
  return usage_error("unknown command " + command);
}

}  // namespace
}  // namespace sc

int main(int argc, char** argv) {
  try {
    return sc::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmctl: fatal: %s\n", e.what());
    return 1;
  }
}
