// libtorrent's session loads OpenSSL's whole default CA bundle as it starts
// (SSL_CTX_set_default_verify_paths, for HTTPS trackers): ~35 ms of CPU, a third of a leecher's
// start-up, which every node of a fleet pays at the same moment. OpenSSL's hashed certificate
// directory holds the same CAs on Debian (update-ca-certificates writes both) and is read
// lazily, one issuer at a time, only when a certificate is verified.
#pragma once

#include <string>

namespace sc {

// Unless the operator chose a bundle other than OpenSSL's default (SSL_CERT_FILE names another
// file), points SSL_CERT_FILE at /dev/null when `cert_dir` holds hashed certificates
// ("1a2b3c4d.0"), so CAs come from that directory.
// Returns whether it did. Call before any thread that reads the environment starts;
// SwarmSession::start calls it with OpenSSL's default directory (or $SSL_CERT_DIR).
bool prefer_lazy_ca_lookup(const std::string& cert_dir);
// OpenSSL's certificate directory: $SSL_CERT_DIR, else its built-in default.
std::string default_cert_dir();

}  // namespace sc
