// prefer_lazy_ca_lookup: SSL_CERT_FILE is pointed at /dev/null only when the operator left it
// unset and the directory holds hashed certificates; and a TLS client that then loads OpenSSL's
// defaults still verifies a chain whose CA is only in that directory.
#include "common/swarm/lazy_ca.h"

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/support.h"

namespace sc {
namespace {

struct LazyCa : ::testing::Test {
  test::TempDir dir;
  void SetUp() override { ::unsetenv("SSL_CERT_FILE"); }
  void TearDown() override { ::unsetenv("SSL_CERT_FILE"); }
  void touch(const std::string& name) { std::ofstream(dir.file(name)) << "x"; }
};

TEST_F(LazyCa, HashedDirectoryReplacesTheBundle) {
  touch("README");
  touch("5ad8a5d6.0");
  EXPECT_TRUE(prefer_lazy_ca_lookup(dir.path()));
  ASSERT_NE(std::getenv("SSL_CERT_FILE"), nullptr);
  EXPECT_STREQ(std::getenv("SSL_CERT_FILE"), "/dev/null");
}

TEST_F(LazyCa, OperatorsBundleIsKept) {
  touch("5ad8a5d6.0");
  ::setenv("SSL_CERT_FILE", "/etc/my-ca.pem", 1);
  EXPECT_FALSE(prefer_lazy_ca_lookup(dir.path()));
  EXPECT_STREQ(std::getenv("SSL_CERT_FILE"), "/etc/my-ca.pem");
}

// The default bundle named through another path (Debian's /etc/ssl/certs/ca-certificates.crt
// for /usr/lib/ssl/cert.pem) is no choice of the operator's.
TEST_F(LazyCa, DefaultBundleByAnotherNameIsReplacedToo) {
  std::error_code ec;
  const std::string bundle = std::filesystem::canonical(X509_get_default_cert_file(), ec);
  if (bundle.empty()) GTEST_SKIP() << "no default CA bundle on this machine";
  touch("5ad8a5d6.0");
  ::setenv("SSL_CERT_FILE", bundle.c_str(), 1);
  EXPECT_TRUE(prefer_lazy_ca_lookup(dir.path()));
  EXPECT_STREQ(std::getenv("SSL_CERT_FILE"), "/dev/null");
}

TEST_F(LazyCa, DirectoryWithoutHashedCertificatesChangesNothing) {
  touch("ca-certificates.crt");
  touch("5ad8a5d6.x");
  touch("5ad8a5dg.0");
  EXPECT_FALSE(prefer_lazy_ca_lookup(dir.path()));
  EXPECT_FALSE(prefer_lazy_ca_lookup(dir.file("missing")));
  EXPECT_EQ(std::getenv("SSL_CERT_FILE"), nullptr);
}

// With the bundle pointed at /dev/null, OpenSSL's default paths (what libtorrent's and our TLS
// clients load) still find a CA that is only in the hashed directory, and only there.
TEST_F(LazyCa, DefaultPathsStillVerifyFromTheHashedDirectory) {
  const std::string certs = dir.file("certs");
  const std::string cmd = "set -e; cd " + dir.path() + "; mkdir certs; "
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=test-ca -days 2 -keyout ca.key -out certs/ca.pem; "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=tracker.test -keyout t.key -out t.csr; "
      "openssl x509 -req -in t.csr -CA certs/ca.pem -CAkey ca.key -CAcreateserial -days 1 -out t.pem; "
      "openssl rehash certs";
  ASSERT_EQ(std::system(("(" + cmd + ") >/dev/null 2>&1").c_str()), 0);
  ::setenv("SSL_CERT_DIR", certs.c_str(), 1);
  ASSERT_TRUE(prefer_lazy_ca_lookup(default_cert_dir()));

  FILE* f = std::fopen(dir.file("t.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* leaf = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(leaf, nullptr);
  auto verifies = [&] {
    X509_STORE* store = X509_STORE_new();
    X509_STORE_set_default_paths(store);
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, nullptr);
    bool ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return ok;
  };
  EXPECT_TRUE(verifies());
  // And the CA really comes from the directory: without it, the same chain fails.
  ::setenv("SSL_CERT_DIR", dir.file("missing").c_str(), 1);
  EXPECT_FALSE(verifies());
  ::unsetenv("SSL_CERT_DIR");
  X509_free(leaf);
}

}  // namespace
}  // namespace sc
