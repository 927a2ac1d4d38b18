// Names and HTTP statuses of sc::Errc, in one place so every service answers alike.
#include "common/core/error.h"

#include "common/core/http_status.h"

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
    case Errc::cancelled: return "cancelled";
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
    // Nobody reads this answer; 499 is nginx's "client closed request", what access logs expect.
    case Errc::cancelled: return 499;
  }
  return 500;
}

Errc errc_for_http_status(int status) {
  switch (status) {
    case 401: return Errc::unauthorized;
    case 403: return Errc::forbidden;
    case 404: return Errc::not_found;
    case 409: return Errc::conflict;
    case 410: return Errc::gone;
    case 413: return Errc::too_large;
    case 429: return Errc::unavailable;
    case 504: return Errc::timeout;
  }
  return status >= 400 && status < 500 ? Errc::invalid_argument : Errc::unavailable;
}

}  // namespace sc
