// swarmctl: the command-line client. `create` makes a deterministic torrent with
// mktorrent-compatible options; `publish`, `get`, `ls`, `rm` and `nodes` talk to the
// metastore (and, for get, to the swarm). Exit codes: 0 done, 1 failed, 2 usage error.
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

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/event_loop.h"
#include "common/swarm/metastore_client.h"
#include "common/swarm/session.h"
#include "common/swarm/torrent_maker.h"
#include "proto/content_key.h"

namespace sc {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
// Listing page size asked of the metastore (it caps it anyway).
constexpr int kListPage = 500;
// Progress refresh: fast enough to look alive, slow enough for log files.
constexpr int64_t kTtyRefreshMs = 200;
constexpr int64_t kPlainRefreshMs = 2000;

const char* kUsage =
    "usage: swarmctl [--metastore URL] [--token-file FILE] [--tracker URL] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  create PATH [-a URL]... [-l EXP] [-n NAME] [-o FILE] [-p] [-w URL]... [-c TEXT] [-t N] [--hybrid]\n"
    "      make a torrent of a file or directory (mktorrent options; no creation date, so the\n"
    "      same bytes give the same info hash everywhere; piece size from the total size unless -l)\n"
    "  publish PATH|FILE.torrent [--key KEY] [-a URL]\n"
    "      make (or read) a torrent and register it; the key defaults to files/<name> or dirs/<name>\n"
    "  get KEY [-o DIR] [--peer-listen HOST:PORT] [--timeout DURATION]\n"
    "      download through the swarm, with a progress bar on a terminal\n"
    "  ls [PREFIX] [--json]      list registered torrents\n"
    "  rm KEY                    unregister a torrent\n"
    "  nodes [--json]            list nodes that sent a heartbeat\n"
    "\n"
    "environment: SWARMCACHE_METASTORE, SWARMCACHE_TOKEN_FILE, SWARMCACHE_TRACKER\n";

struct Global {
  std::string metastore, token_file, tracker;
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "swarmctl: %s\n\n%s", msg.c_str(), kUsage);
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

// Splits the arguments of a subcommand into options (with values where `takes_value`) and
// positionals. Unknown options are an error.
struct Parsed {
  std::multimap<std::string, std::string> opts;
  std::vector<std::string> pos;
  std::string error;
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, std::string d = "") const {
    auto it = opts.find(k);
    return it == opts.end() ? d : it->second;
  }
  std::vector<std::string> all(const std::string& k) const {
    std::vector<std::string> v;
    for (auto [a, b] = opts.equal_range(k); a != b; ++a) v.push_back(a->second);
    return v;
  }
};

Parsed parse_args(const std::vector<std::string>& args, const std::vector<std::string>& with_value,
                  const std::vector<std::string>& flags) {
  Parsed p;
  auto in = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      p.pos.insert(p.pos.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string name = a, value;
      auto eq = a.find('=');
      bool inline_value = a.starts_with("--") && eq != std::string::npos;
      if (inline_value) name = a.substr(0, eq), value = a.substr(eq + 1);
      // mktorrent style "-l20"
      if (!a.starts_with("--") && a.size() > 2 && in(with_value, a.substr(0, 2)))
        name = a.substr(0, 2), value = a.substr(2), inline_value = true;
      if (in(flags, name)) {
        p.opts.emplace(name, "1");
      } else if (in(with_value, name)) {
        if (!inline_value) {
          if (i + 1 >= args.size()) {
            p.error = name + " needs a value";
            return p;
          }
          value = args[++i];
        }
        p.opts.emplace(name, value);
      } else {
        p.error = "unknown option " + a;
        return p;
      }
    } else {
      p.pos.push_back(a);
    }
  }
  return p;
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

Result<MakeTorrentOptions> make_options(const Parsed& p, const Global& g) {
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

int cmd_create(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {"-a", "-l", "-n", "-o", "-w", "-c", "-t", "-s"}, {"-p", "-v", "-d", "-h", "--hybrid"});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.has("-h")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
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

int cmd_publish(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {"--key", "-a", "-l", "-n", "-w", "-c", "-t"}, {"-p", "--hybrid"});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() != 1) return usage_error("publish takes one PATH or FILE.torrent");
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
  return kExitOk;
}

// ---- get ----------------------------------------------------------------------------------

int cmd_get(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {"-o", "--peer-listen", "--timeout"}, {"--quiet"});
  if (!p.error.empty()) return usage_error(p.error);
  if (p.pos.size() != 1) return usage_error("get takes one KEY");
  const std::string& key = p.pos[0];
  std::string dir = p.get("-o", ".");
  int64_t timeout_ms = 0;
  if (p.has("--timeout")) {
    auto t = parse_duration_ms(p.get("--timeout"));
    if (!t) return usage_error("--timeout: " + t.error().message);
    timeout_ms = *t;
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
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty) {
      constexpr int kWidth = 30;
      int fill = static_cast<int>(st->progress * kWidth);
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(kWidth, '.');
      std::fprintf(stderr, "\r[%s] %5.1f%%  %s/s  %d peer(s)  %s   ", bar.c_str(), st->progress * 100,
                   human_bytes(static_cast<double>(st->download_rate)).c_str(), st->peers, st->state.c_str());
    } else if (!p.has("--quiet")) {
      std::fprintf(stderr, "%s progress=%.1f%% rate=%s/s peers=%d state=%s\n", key.c_str(), st->progress * 100,
                   human_bytes(static_cast<double>(st->download_rate)).c_str(), st->peers, st->state.c_str());
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
    }
  };
  auto timer = loop.every(tty ? kTtyRefreshMs : kPlainRefreshMs, tick);
  (*swarm)->on_complete([&](const std::string&) { tick(); });
  bool interrupted = false;
  loop.on_signal(SIGINT, [&] {
    if (finishing) return;
    finishing = true;
    interrupted = true;
    finish(130, "interrupted");
  });
  loop.run();
  timer.reset();
  swarm->reset();
  if (rc != kExitOk) {
    if (tty) std::fputc('\n', stderr);
    std::fprintf(stderr, "swarmctl: get %s: %s\n", key.c_str(), why.c_str());
  }
  return interrupted ? 130 : rc;
}

// ---- ls, rm, nodes ------------------------------------------------------------------------

int cmd_ls(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {}, {"--json"});
  if (!p.error.empty()) return usage_error(p.error);
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

int cmd_rm(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {}, {});
  if (!p.error.empty()) return usage_error(p.error);
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

int cmd_nodes(const std::vector<std::string>& args, const Global& g) {
  auto p = parse_args(args, {}, {"--json"});
  if (!p.error.empty()) return usage_error(p.error);
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

int run(int argc, char** argv) {
  set_log_level(LogLevel::warn);
  Global g;
  g.metastore = env_or("SWARMCACHE_METASTORE");
  g.token_file = env_or("SWARMCACHE_TOKEN_FILE");
  g.tracker = env_or("SWARMCACHE_TRACKER");
  std::vector<std::string> rest;
  std::string command;
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
    if (command.empty()) {
      if (take("--metastore", g.metastore) || take("--token-file", g.token_file) || take("--tracker", g.tracker)) continue;
      if (a == "-h" || a == "--help" || a == "help") {
        std::fputs(kUsage, stdout);
        return kExitOk;
      }
      if (a.starts_with("-")) return usage_error("unknown option " + a);
      command = a;
      continue;
    }
    if (take("--metastore", g.metastore) || take("--token-file", g.token_file) || take("--tracker", g.tracker)) continue;
    rest.push_back(a);
  }
  if (command.empty()) return usage_error("no command");
  if (command == "create") return cmd_create(rest, g);
  if (command == "publish") return cmd_publish(rest, g);
  if (command == "get") return cmd_get(rest, g);
  if (command == "ls") return cmd_ls(rest, g);
  if (command == "rm") return cmd_rm(rest, g);
  if (command == "nodes") return cmd_nodes(rest, g);
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
