// services/proxy BlobCache: verified writes, byte budget with LRU eviction, reconciliation of
// a crash's leftovers, and the rule that a digest mismatch never enters the cache.
#include "services/proxy/blob_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/core/bytes.h"
#include "common/core/sha.h"
#include "tests/support/support.h"

namespace sc {
namespace {

using test::write_file;

std::string hex_of(const std::string& data) { return to_hex(sha256(data)); }

void put(BlobCache& c, const std::string& data) {
  auto w = c.begin(hex_of(data), static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w) << w.error().message;
  ASSERT_TRUE((*w)->write(data));
  auto st = (*w)->commit();
  ASSERT_TRUE(st) << st.error().message;
}

TEST(BlobCache, VerifiedWriteAndRead) {
  test::TempDir dir;
  auto c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  std::string data(1000, 'x');
  put(**c, data);
  EXPECT_TRUE((*c)->contains(hex_of(data)));
  auto opened = (*c)->open_blob(hex_of(data));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->second, 1000);
  char buf[16];
  EXPECT_EQ(::read(opened->first, buf, sizeof buf), 16);
  ::close(opened->first);
  EXPECT_EQ((*c)->used_bytes(), 1000);
  EXPECT_FALSE((*c)->begin(hex_of(data), -1)) << "a second writer for a cached blob is refused";
}

TEST(BlobCache, DigestMismatchIsNeverCached) {
  test::TempDir dir;
  auto c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  std::string claimed = hex_of("the real content");
  auto w = (*c)->begin(claimed, -1);
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->write("tampered content"));
  auto st = (*w)->commit();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::invalid_argument);
  EXPECT_FALSE((*c)->contains(claimed));
  EXPECT_FALSE(std::filesystem::exists((*c)->blob_path(claimed)));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp")) << "the temp file is deleted";
  // A short body (truncated upstream) fails the size check the same way.
  std::string data = "0123456789";
  auto w2 = (*c)->begin(hex_of(data), 20);
  ASSERT_TRUE(w2);
  ASSERT_TRUE((*w2)->write(data));
  EXPECT_FALSE((*w2)->commit());
  EXPECT_FALSE((*c)->contains(hex_of(data)));
  // An abandoned writer leaves nothing behind.
  {
    auto w3 = (*c)->begin(hex_of("abandoned"), -1);
    ASSERT_TRUE(w3);
    ASSERT_TRUE((*w3)->write("aban"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp"));
  EXPECT_EQ((*c)->count(), 0u);
}

TEST(BlobCache, BudgetEvictsLeastRecentlyUsed) {
  test::TempDir dir;
  auto c = BlobCache::open({dir.path(), 3000});
  ASSERT_TRUE(c);
  std::vector<std::string> evicted;
  (*c)->on_evict([&](const std::string& h) { evicted.push_back(h); });
  std::string a(1000, 'a'), b(1000, 'b'), d(1000, 'd'), e(1000, 'e');
  put(**c, a);
  put(**c, b);
  put(**c, d);
  EXPECT_TRUE(evicted.empty());
  ASSERT_TRUE((*c)->lookup(hex_of(a)));  // a becomes most recent; b is now the oldest
  put(**c, e);
  ASSERT_EQ(evicted.size(), 1u);
  EXPECT_EQ(evicted[0], hex_of(b));
  EXPECT_FALSE(std::filesystem::exists((*c)->blob_path(hex_of(b))));
  EXPECT_TRUE((*c)->contains(hex_of(a)));
  EXPECT_LE((*c)->used_bytes(), 3000);
  EXPECT_EQ((*c)->evictions(), 1);
  // Larger than the whole budget: refused up front.
  auto big = (*c)->begin(hex_of("big"), 4000);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);
}

TEST(BlobCache, ReconcileDiscardsCrashLeftovers) {
  test::TempDir dir;
  std::string good(500, 'g'), partial(700, 'p');
  {
    auto c = BlobCache::open({dir.path(), 1 << 20});
    ASSERT_TRUE(c);
    put(**c, good);
  }
  std::string blobs = dir.path() + "/blobs";
  write_file(dir.path() + "/tmp/" + hex_of("half") + ".1.1", "half-written");
  write_file(blobs + "/" + hex_of(partial), partial.substr(0, 100));
  write_file(blobs + "/" + hex_of(partial) + ".partial", "");
  write_file(blobs + "/not-a-blob", "junk");
  auto c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  EXPECT_TRUE((*c)->contains(hex_of(good)));
  EXPECT_FALSE((*c)->contains(hex_of(partial)));
  EXPECT_FALSE(std::filesystem::exists(blobs + "/" + hex_of(partial)));
  EXPECT_FALSE(std::filesystem::exists(blobs + "/not-a-blob"));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path() + "/tmp"));
  EXPECT_EQ((*c)->reconcile_report().kept, 1);
  EXPECT_EQ((*c)->reconcile_report().removed_partial, 2);
  EXPECT_EQ((*c)->reconcile_report().removed_unknown, 1);
  EXPECT_EQ((*c)->used_bytes(), 500);
}

TEST(BlobCache, ReopenWithSmallerBudgetEvictsOldest) {
  test::TempDir dir;
  std::string a(1000, '1'), b(1000, '2');
  {
    auto c = BlobCache::open({dir.path(), 1 << 20});
    ASSERT_TRUE(c);
    put(**c, a);
    // Distinct mtimes so the order survives the restart.
    std::filesystem::last_write_time((*c)->blob_path(hex_of(a)),
                                     std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
    put(**c, b);
  }
  auto c = BlobCache::open({dir.path(), 1500});
  ASSERT_TRUE(c);
  EXPECT_FALSE((*c)->contains(hex_of(a)));
  EXPECT_TRUE((*c)->contains(hex_of(b)));
}

TEST(BlobCache, SwarmAdoptionClearsMarker) {
  test::TempDir dir;
  auto c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  std::string data = "from the swarm";
  std::string h = hex_of(data);
  ASSERT_TRUE((*c)->mark_partial(h));
  write_file((*c)->blob_path(h), data);
  EXPECT_FALSE((*c)->contains(h)) << "a file being downloaded is not served";
  ASSERT_TRUE((*c)->adopt(h));
  EXPECT_TRUE((*c)->contains(h));
  EXPECT_FALSE(std::filesystem::exists((*c)->blob_path(h) + ".partial"));
}

TEST(BlobCache, SizeCheckedAtOpenAndReopenedEntriesAreUnverified) {
  test::TempDir dir;
  std::string a(800, 'a'), b(900, 'b'), c(300, 'c');
  {
    auto cache = BlobCache::open({dir.path(), 1 << 20});
    ASSERT_TRUE(cache);
    put(**cache, a);
    put(**cache, b);
    EXPECT_TRUE((*cache)->info(hex_of(a))->verified) << "written (and hashed) in this run";
    EXPECT_EQ((*cache)->info(hex_of(a))->sha256, hex_of(a));
  }
  std::string blobs = dir.path() + "/blobs";
  // Truncated on disk, and a blob copied in by hand with no record: neither may be served.
  ::truncate((blobs + "/" + hex_of(b)).c_str(), 100);
  write_file(blobs + "/" + hex_of(c), c);
  auto cache = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(cache);
  EXPECT_TRUE((*cache)->contains(hex_of(a)));
  EXPECT_FALSE((*cache)->contains(hex_of(b)));
  EXPECT_FALSE((*cache)->contains(hex_of(c)));
  EXPECT_FALSE(std::filesystem::exists(blobs + "/" + hex_of(b)));
  EXPECT_EQ((*cache)->reconcile_report().removed_corrupt, 2);
  EXPECT_EQ((*cache)->corrupt_found(), 2);
  ASSERT_NE((*cache)->info(hex_of(a)), nullptr);
  EXPECT_FALSE((*cache)->info(hex_of(a))->verified) << "a restart forgets what was hashed";
  (*cache)->mark_verified(hex_of(a));
  EXPECT_TRUE((*cache)->info(hex_of(a))->verified);
  (*cache)->mark_corrupt(hex_of(a));
  EXPECT_FALSE((*cache)->contains(hex_of(a)));
  EXPECT_FALSE(std::filesystem::exists(blobs + "/" + hex_of(a)));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/meta/" + hex_of(a)));
  EXPECT_EQ((*cache)->corrupt_found(), 3);
}

TEST(BlobCache, AdoptionRecordsTheContentDigest) {
  test::TempDir dir;
  auto c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  std::string data = "an ostree delta part";
  std::string name = hex_of("ostree/fedora/deltas/x");  // keyed by name, not by content
  write_file((*c)->blob_path(name), data);
  ASSERT_TRUE((*c)->adopt(name, hex_of(data)));
  c = BlobCache::open({dir.path(), 1 << 20});
  ASSERT_TRUE(c);
  ASSERT_NE((*c)->info(name), nullptr);
  EXPECT_EQ((*c)->info(name)->sha256, hex_of(data));
}

}  // namespace
}  // namespace sc
