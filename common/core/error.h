#pragma once
// Error values for data-path functions: std::expected<T, sc::Error>. An error says what was
// being done and what went wrong; `code` picks the client-visible answer (HTTP status, etc.).
#include <expected>
#include <string>
#include <string_view>

namespace sc {

enum class Errc {
  invalid_argument,  // client sent something malformed → 400 / failure reason
  not_found,         // 404
  conflict,          // 409
  gone,              // 410: what the client refers to is no longer kept (a trimmed event id)
  too_large,         // 413
  unauthorized,      // 401
  forbidden,         // 403
  unavailable,       // a dependency (Redis, upstream) is down → 503
  timeout,           // 504
  io,                // local I/O failed → 500
  internal,          // a bug or an impossible state → 500
  cancelled,         // the caller gave up (client gone, request cancelled): nobody awaits an answer
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Short stable name of an error code ("invalid_argument"), used in JSON errors and metrics.
std::string_view errc_name(Errc code);
// The HTTP status that a client sees for an error code.
int errc_http_status(Errc code);

}  // namespace sc
