#pragma once
// Bearer-token checks for the metastore: static tokens from a file (one per line, '#'
// comments), compared in constant time. With no token configured, writes are open (a
// development set-up; main.cc warns at start).
#include <string>
#include <string_view>
#include <vector>

#include "common/core/error.h"

namespace sc::metastore {

class TokenAuth {
 public:
  TokenAuth() = default;
  explicit TokenAuth(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}
  // Reads a token file. Errors: io (unreadable), invalid_argument (no token in it).
  static Result<TokenAuth> from_file(const std::string& path);
  bool configured() const { return !tokens_.empty(); }
  // `authorization` is the raw Authorization header. Open when no token is configured.
  bool allows(std::string_view authorization) const;

 private:
  std::vector<std::string> tokens_;
};

}  // namespace sc::metastore
