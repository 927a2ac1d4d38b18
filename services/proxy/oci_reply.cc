// OCI error answers of the mirror and the mapping of upstream failures onto them.
#include "services/proxy/oci_reply.h"

#include <string>

#include "common/core/http_status.h"
#include "common/io/http_server.h"
#include "proto/oci.h"

namespace sc {

void reply_oci(HttpRequest& req, std::string_view code, int status, std::string_view msg) {
  req.reply(status, "application/json", oci_error_json(code, msg));
}

void reply_fetch_error(HttpRequest& req, const Error& e, std::string_view unknown_code) {
  switch (e.code) {
    case Errc::not_found: return reply_oci(req, unknown_code, 404, e.message);
    case Errc::timeout: return reply_oci(req, "UNAVAILABLE", 504, e.message);
    case Errc::forbidden:
    case Errc::unauthorized: return reply_oci(req, "DENIED", 403, e.message);
    case Errc::too_large: return reply_oci(req, "SIZE_INVALID", 502, e.message);
    default: return reply_oci(req, "UNAVAILABLE", 502, e.message);
  }
}

Error error_for_upstream_status(int status, std::string_view what) {
  return {errc_for_http_status(status), "upstream answered " + std::to_string(status) + " for " + std::string(what)};
}

}  // namespace sc
