// sc::Json: reference-counted jansson values behind a value-semantic handle, and a parser that
// refuses oversized or deeply nested input before jansson sees it.
#include "common/core/json.h"

#include <jansson.h>

namespace sc {
namespace {

// Length of the valid UTF-8 sequence at in[i], or 0 when the byte there does not start one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence(std::string_view in, size_t i) {
  unsigned char c = static_cast<unsigned char>(in[i]);
  size_t len = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= in.size() || (static_cast<unsigned char>(in[i + k]) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (static_cast<unsigned char>(in[i + k]) & 0x3F);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return len;
}

bool valid_utf8(std::string_view in) {
  for (size_t i = 0; i < in.size();) {
    size_t n = utf8_sequence(in, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// Replaces every byte that does not start a valid UTF-8 sequence with U+FFFD, because jansson
// refuses strings and keys that are not UTF-8.
std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 8);
  for (size_t i = 0; i < in.size();) {
    size_t n = utf8_sequence(in, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Nesting depth of the text, ignoring brackets inside strings; malformed text is left to
// jansson, which reports it with a position.
size_t nesting_depth(std::string_view text, size_t stop_above) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          max_depth = depth;
          if (max_depth > stop_above) return max_depth;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return max_depth;
}

int append_to_string(const char* buffer, size_t size, void* data) {
  static_cast<std::string*>(data)->append(buffer, size);
  return 0;
}

}  // namespace

Json Json::adopt(json_t* owned) { return Json(owned); }

Json Json::borrow(json_t* value) { return Json(json_incref(value)); }

Json::Json(const Json& other) : v_(json_incref(other.v_)) {}

Json& Json::operator=(const Json& other) {
  if (this != &other) {
    json_t* old = v_;
    v_ = json_incref(other.v_);
    json_decref(old);
  }
  return *this;
}

Json& Json::operator=(Json&& other) noexcept {
  if (this != &other) {
    json_decref(v_);
    v_ = other.v_;
    other.v_ = nullptr;
  }
  return *this;
}

Json::~Json() { json_decref(v_); }

Json Json::object() { return Json(json_object()); }
Json Json::array() { return Json(json_array()); }
Json Json::null() { return Json(json_null()); }
Json Json::integer(int64_t v) { return Json(json_integer(static_cast<json_int_t>(v))); }
Json Json::real(double v) { return Json(json_real(v)); }
Json Json::boolean(bool v) { return Json(json_boolean(v)); }

Json Json::string(std::string_view s) {
  if (s.data() == nullptr) s = "";  // jansson refuses a null pointer even for length 0
  if (valid_utf8(s)) return Json(json_stringn_nocheck(s.data(), s.size()));
  std::string clean = sanitize_utf8(s);
  return Json(json_stringn_nocheck(clean.data(), clean.size()));
}

bool Json::is_object() const { return v_ != nullptr && json_is_object(v_); }
bool Json::is_array() const { return v_ != nullptr && json_is_array(v_); }
bool Json::is_string() const { return v_ != nullptr && json_is_string(v_); }
bool Json::is_integer() const { return v_ != nullptr && json_is_integer(v_); }
bool Json::is_real() const { return v_ != nullptr && json_is_real(v_); }
bool Json::is_number() const { return v_ != nullptr && json_is_number(v_); }
bool Json::is_bool() const { return v_ != nullptr && json_is_boolean(v_); }
bool Json::is_null() const { return v_ != nullptr && json_is_null(v_); }

std::string_view Json::as_string() const {
  if (!is_string()) return {};
  return {json_string_value(v_), json_string_length(v_)};
}

int64_t Json::as_int() const { return is_integer() ? static_cast<int64_t>(json_integer_value(v_)) : 0; }

double Json::as_number() const { return is_number() ? json_number_value(v_) : 0.0; }

bool Json::as_bool() const { return is_bool() && json_is_true(v_); }

Json Json::get(std::string_view key) const {
  if (!is_object()) return {};
  json_t* m = json_object_getn(v_, key.data(), key.size());
  return m ? borrow(m) : Json();
}

Json Json::at(size_t index) const {
  if (!is_array()) return {};
  json_t* e = json_array_get(v_, index);
  return e ? borrow(e) : Json();
}

size_t Json::size() const {
  if (is_object()) return json_object_size(v_);
  if (is_array()) return json_array_size(v_);
  return 0;
}

std::vector<std::string> Json::keys() const {
  std::vector<std::string> out;
  for_each_member([&](std::string_view k, const Json&) { out.emplace_back(k); });
  return out;
}

void Json::for_each_member(const std::function<void(std::string_view key, const Json& value)>& fn) const {
  if (!is_object()) return;
  const char* key;
  size_t key_len;
  json_t* value;
  json_object_keylen_foreach(v_, key, key_len, value) { fn(std::string_view(key, key_len), borrow(value)); }
}

Result<std::string_view> Json::string_at(std::string_view key) const {
  Json m = get(key);
  if (!m.is_string()) return fail(Errc::invalid_argument, "field \"" + std::string(key) + "\" must be a string");
  // The view stays valid: the member is owned by *this as long as it is not replaced.
  return std::string_view(json_string_value(m.v_), json_string_length(m.v_));
}

Result<int64_t> Json::int_at(std::string_view key) const {
  Json m = get(key);
  if (!m.is_integer()) return fail(Errc::invalid_argument, "field \"" + std::string(key) + "\" must be an integer");
  return m.as_int();
}

Result<bool> Json::bool_at(std::string_view key) const {
  Json m = get(key);
  if (!m.is_bool()) return fail(Errc::invalid_argument, "field \"" + std::string(key) + "\" must be a boolean");
  return m.as_bool();
}

std::string_view Json::string_or(std::string_view key, std::string_view fallback) const {
  auto v = string_at(key);
  return v ? *v : fallback;
}

int64_t Json::int_or(std::string_view key, int64_t fallback) const {
  auto v = int_at(key);
  return v ? *v : fallback;
}

bool Json::bool_or(std::string_view key, bool fallback) const {
  auto v = bool_at(key);
  return v ? *v : fallback;
}

Json& Json::set(std::string_view key, Json value) {
  if (!is_object() || value.v_ == nullptr) return *this;
  // The _new setters take the reference even when they fail, so the handle lets go first.
  json_t* v = value.release();
  if (key.data() == nullptr) key = "";
  if (valid_utf8(key)) {
    json_object_setn_new_nocheck(v_, key.data(), key.size(), v);
  } else {
    // An invalid UTF-8 key is stored under a sanitized spelling rather than losing the value.
    std::string clean = sanitize_utf8(key);
    json_object_setn_new_nocheck(v_, clean.data(), clean.size(), v);
  }
  return *this;
}

Json& Json::push(Json value) {
  if (is_array() && value.v_ != nullptr) json_array_append_new(v_, value.release());
  return *this;
}

Json& Json::erase(std::string_view key) {
  if (is_object()) json_object_deln(v_, key.data(), key.size());
  return *this;
}

std::string Json::dump() const {
  if (v_ == nullptr) return "null";
  std::string out;
  json_dump_callback(v_, &append_to_string, &out, JSON_COMPACT | JSON_ENCODE_ANY);
  return out;
}

Result<Json> json_parse(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_size) {
    return fail(Errc::too_large, "JSON body of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                     std::to_string(limits.max_size));
  }
  if (nesting_depth(text, limits.max_depth) > limits.max_depth) {
    return fail(Errc::too_large, "JSON nested deeper than " + std::to_string(limits.max_depth));
  }
  json_error_t err;
  json_t* v = json_loadb(text.data(), text.size(), JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
  if (v == nullptr) {
    return fail(Errc::invalid_argument, "invalid JSON at line " + std::to_string(err.line) + " column " +
                                            std::to_string(err.column) + ": " + err.text);
  }
  return Json::adopt(v);
}

}  // namespace sc
