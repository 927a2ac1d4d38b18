#pragma once
// OCI distribution error answers ({"errors":[…]}) for the mirror, and how a failed upstream
// fetch maps onto them.
#include <string_view>

#include "common/core/error.h"

namespace sc {

class HttpRequest;

void reply_oci(HttpRequest& req, std::string_view code, int status, std::string_view msg);
// not_found → `unknown_code` 404; timeout → 504; forbidden/unauthorized → DENIED 403; too_large
// → SIZE_INVALID 502; anything else UNAVAILABLE 502.
void reply_fetch_error(HttpRequest& req, const Error& e, std::string_view unknown_code);
// An upstream's non-2xx answer as an error (errc_for_http_status), naming what was asked.
Error error_for_upstream_status(int status, std::string_view what);

}  // namespace sc
