#pragma once
// The one table from a peer's HTTP status to an error code (errc_http_status in error.h is the
// other direction). Kept out of error.h, which nearly every file includes.
#include "common/core/error.h"

namespace sc {

// 401/403/404/409/410/413/504 by name; other 4xx invalid_argument; 429 and other 5xx
// unavailable.
Errc errc_for_http_status(int status);

}  // namespace sc
