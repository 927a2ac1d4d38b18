// libFuzzer target for common/core/url. The first byte picks single-host or host-list parsing.
// An accepted URL must put itself back together from its parts, parse again to the same parts,
// and hold only what the parser promises (checked with __builtin_trap).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/url.h"

namespace {

bool same(const sc::Url& a, const sc::Url& b) {
  return a.scheme == b.scheme && a.authority == b.authority && a.has_userinfo == b.has_userinfo &&
         a.userinfo == b.userinfo && a.hosts == b.hosts && a.path == b.path && a.has_query == b.has_query &&
         a.query == b.query && a.has_fragment == b.has_fragment && a.fragment == b.fragment;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  sc::UrlOptions opt{.host_list = (data[0] & 1) != 0};
  auto u = sc::parse_url(in, opt);
  (void)sc::parse_host_port(in);
  if (!u) return 0;
  std::string again = u->scheme + "://" + u->authority + u->path;
  if (u->has_query) again += "?" + u->query;
  if (u->has_fragment) again += "#" + u->fragment;
  if (again.size() != in.size()) __builtin_trap();
  for (size_t i = 0; i < in.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(in[i])) != std::tolower(static_cast<unsigned char>(again[i])))
      __builtin_trap();
  auto v = sc::parse_url(again, opt);
  if (!v || !same(*u, *v)) __builtin_trap();
  if (u->hosts.empty() || (!opt.host_list && u->hosts.size() != 1)) __builtin_trap();
  if (u->host != u->hosts[0].host || u->port != u->hosts[0].port) __builtin_trap();
  for (const auto& h : u->hosts)
    if (h.host.empty() || h.host.find_first_of("/?#@[], ") != std::string::npos) __builtin_trap();
  if (!u->path.empty() && u->path[0] != '/') __builtin_trap();
  return 0;
}
