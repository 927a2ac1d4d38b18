// Names and HTTP statuses of sc::Errc, in one place so every service answers alike.
#include "common/core/error.h"

namespace sc {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::conflict: return "conflict";
    case Errc::gone: return "gone";
    case Errc::too_large: return "too_large";
    case Errc::unauthorized: return "unauthorized";
    case Errc::forbidden: return "forbidden";
    case Errc::unavailable: return "unavailable";
    case Errc::timeout: return "timeout";
    case Errc::io: return "io";
    case Errc::internal: return "internal";
  }
  return "internal";
}

int errc_http_status(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::conflict: return 409;
    case Errc::gone: return 410;
    case Errc::too_large: return 413;
    case Errc::unavailable: return 503;
    case Errc::timeout: return 504;
    case Errc::io:
    case Errc::internal: return 500;
  }
  return 500;
}

}  // namespace sc
