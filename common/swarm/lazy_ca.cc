#include "common/swarm/lazy_ca.h"

#include <cstdlib>
#include <filesystem>
#include <string_view>

#include <openssl/x509.h>

namespace sc {
namespace {

// OpenSSL's name for a hashed certificate: 8 hex digits, '.', a decimal sequence number.
bool hashed_name(std::string_view n) {
  if (n.size() < 10 || n[8] != '.') return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = i < 8 ? ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) : i == 8 || (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string default_cert_dir() {
  const char* env = std::getenv(X509_get_default_cert_dir_env());
  return env && *env ? env : X509_get_default_cert_dir();
}

bool prefer_lazy_ca_lookup(const std::string& cert_dir) {
  // A bundle the operator named stays, unless it is OpenSSL's default one under another name.
  std::error_code ec;
  if (const char* chosen = std::getenv(X509_get_default_cert_file_env());
      chosen != nullptr && !std::filesystem::equivalent(chosen, X509_get_default_cert_file(), ec))
    return false;
  for (std::filesystem::directory_iterator it(cert_dir, ec), end; !ec && it != end; it.increment(ec))
    if (hashed_name(it->path().filename().native()))
      return ::setenv(X509_get_default_cert_file_env(), "/dev/null", 1) == 0;
  return false;
}

}  // namespace sc
