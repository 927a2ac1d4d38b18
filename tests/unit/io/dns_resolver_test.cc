// DnsResolver: literals answer themselves, /etc/hosts names resolve, answers never arrive
// inside resolve(), and a resolver destroyed with lookups pending calls nobody back.
#include "common/io/dns_resolver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "common/io/event_loop.h"

namespace sc {
namespace {

using Answer = std::optional<Result<std::vector<std::string>>>;

// Runs the loop until every answer arrived or 10 s passed.
bool run_until_answered(EventLoop& loop, const std::vector<Answer*>& answers) {
  auto all = [&] { return std::all_of(answers.begin(), answers.end(), [](Answer* a) { return a->has_value(); }); };
  bool expired = false;
  auto deadline = loop.after(10'000, [&] { expired = true; });
  auto poll = loop.every(5, [&] {
    if (all() || expired) loop.stop();
  });
  if (!all()) loop.run();
  return all();
}

TEST(DnsResolver, LiteralsAndHostsFileNamesAnswerOnALaterTurn) {
  EventLoop loop;
  DnsResolver dns(loop);
  Answer v4, v6, name;
  dns.resolve("127.0.0.1", DnsResolver::Family::any, [&](auto r) { v4 = std::move(r); });
  dns.resolve("::1", DnsResolver::Family::any, [&](auto r) { v6 = std::move(r); });
  dns.resolve("localhost", DnsResolver::Family::ipv4, [&](auto r) { name = std::move(r); });
  EXPECT_FALSE(v4 || v6 || name) << "answered inside resolve()";
  ASSERT_TRUE(run_until_answered(loop, {&v4, &v6, &name}));
  ASSERT_TRUE(*v4);
  EXPECT_EQ(**v4, std::vector<std::string>{"127.0.0.1"});
  ASSERT_TRUE(*v6);
  EXPECT_EQ(**v6, std::vector<std::string>{"::1"});
  ASSERT_TRUE(*name) << name->error().message;
  EXPECT_NE(std::find((*name)->begin(), (*name)->end(), "127.0.0.1"), (*name)->end());
  EXPECT_LE((*name)->size(), DnsResolver::kMaxAddresses);
}

TEST(DnsResolver, DestroyedResolverCallsNobodyBack) {
  EventLoop loop;
  int calls = 0;
  {
    DnsResolver dns(loop);
    dns.resolve("localhost", DnsResolver::Family::any, [&](auto) { ++calls; });
    dns.resolve("127.0.0.1", DnsResolver::Family::any, [&](auto) { ++calls; });
  }
  Answer tick;
  auto t = loop.after(50, [&] { tick = std::vector<std::string>{}; });
  ASSERT_TRUE(run_until_answered(loop, {&tick}));
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace sc
