#pragma once
// The request-target forms http_server.h does not expose (kept apart so that adding them does
// not rebuild every includer of http_server.h). Added for the proxy's forward-proxy routing.
#include <string>

namespace sc {

class HttpRequest;

// "http://host[:port]" (or "https://…"; "unsupported://…" for other schemes) when the request
// line was in absolute form (RFC 9112 §3.2.2), "" for origin-form. The port is present only
// when the client wrote one. The Host header plays no part.
std::string absolute_form_origin(const HttpRequest& req);

}  // namespace sc
