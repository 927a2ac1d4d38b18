#pragma once
// RAII handle over a jansson value, so services never count references by hand. Parsing is
// bounded (input size and nesting depth) because request bodies are untrusted; building and
// dumping (compact, UTF-8, keys in insertion order) cover the JSON APIs the services answer.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/core/error.h"

struct json_t;

namespace sc {

struct JsonLimits {
  size_t max_size = 1 << 20;  // input bytes
  size_t max_depth = 32;      // nesting of arrays/objects
};

class Json {
 public:
  // An empty handle (no value): falsy; get() on a missing key returns one.
  Json() = default;
  // Takes over one reference (e.g. the result of json_object()); nullptr gives an empty handle.
  static Json adopt(json_t* owned);
  // Adds a reference to a value owned elsewhere.
  static Json borrow(json_t* value);

  Json(const Json& other);
  Json& operator=(const Json& other);
  Json(Json&& other) noexcept : v_(other.v_) { other.v_ = nullptr; }
  Json& operator=(Json&& other) noexcept;
  ~Json();

  static Json object();
  static Json array();
  static Json null();
  static Json string(std::string_view s);  // invalid UTF-8 is replaced by U+FFFD
  static Json integer(int64_t v);
  static Json real(double v);
  static Json boolean(bool v);

  explicit operator bool() const { return v_ != nullptr; }
  bool is_object() const;
  bool is_array() const;
  bool is_string() const;
  bool is_integer() const;
  bool is_real() const;
  bool is_number() const;  // integer or real
  bool is_bool() const;
  bool is_null() const;    // a JSON null (not an empty handle)

  // Scalar reads; a value of another type gives the zero value.
  std::string_view as_string() const;
  int64_t as_int() const;
  double as_number() const;
  bool as_bool() const;

  // Object member (empty handle when absent or not an object); array element likewise.
  Json get(std::string_view key) const;
  Json at(size_t index) const;
  size_t size() const;  // members of an object, elements of an array, else 0
  std::vector<std::string> keys() const;
  void for_each_member(const std::function<void(std::string_view key, const Json& value)>& fn) const;

  // Validating reads of a member, for request bodies. Errors: invalid_argument naming the key.
  Result<std::string_view> string_at(std::string_view key) const;
  Result<int64_t> int_at(std::string_view key) const;
  Result<bool> bool_at(std::string_view key) const;
  std::string_view string_or(std::string_view key, std::string_view fallback) const;
  int64_t int_or(std::string_view key, int64_t fallback) const;
  bool bool_or(std::string_view key, bool fallback) const;

  // Building. set() on a non-object and push() on a non-array are ignored. They return *this,
  // so objects can be built in one expression.
  Json& set(std::string_view key, Json value);
  Json& set(std::string_view key, std::string_view v) { return set(key, string(v)); }
  Json& set(std::string_view key, const char* v) { return set(key, string(v ? v : "")); }
  Json& set(std::string_view key, const std::string& v) { return set(key, string(v)); }
  Json& set(std::string_view key, bool v) { return set(key, boolean(v)); }
  template <class T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Json& set(std::string_view key, T v) {
    return set(key, from_integral(v));
  }
  Json& set(std::string_view key, double v) { return set(key, real(v)); }
  Json& push(Json value);
  Json& erase(std::string_view key);

  // Compact text. An empty handle dumps as "null".
  std::string dump() const;

  json_t* get() const { return v_; }
  json_t* release() {
    json_t* v = v_;
    v_ = nullptr;
    return v;
  }

 private:
  explicit Json(json_t* owned) : v_(owned) {}
  template <class T>
  static Json from_integral(T v) {
    // Values above INT64_MAX do not fit a JSON integer in jansson; they go out as a real.
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (v > static_cast<T>(INT64_MAX)) return real(static_cast<double>(v));
    }
    return integer(static_cast<int64_t>(v));
  }
  json_t* v_ = nullptr;
};

// Parses one JSON value (any type at the top level). Errors: too_large (size or depth over
// the limits), invalid_argument (malformed, duplicate object keys, NUL in strings), with the
// line and column.
Result<Json> json_parse(std::string_view text, const JsonLimits& limits = {});

}  // namespace sc
