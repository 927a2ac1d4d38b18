// Bencode (BEP 3) decoder and encoder. The decoder reads untrusted .torrent uploads and announce
// replies: it is iterative (an explicit stack, bounded by max_depth), counts tokens, refuses
// non-canonical numbers and duplicate keys, and records where each value starts and ends.
#include "common/core/bencode.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <tuple>
#include <unordered_set>

namespace sc {
namespace {

std::string at(size_t pos) { return " at offset " + std::to_string(pos); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// An open list or dict. `value` points into the parent's container (or at the root): the
// parent cannot grow while this child is open, so the pointer stays valid, and every value is
// built in place instead of being moved up when it closes.
struct Frame {
  BValue* value;
  bool have_key = false;  // a dict's last member has its key but not yet its value
  // Duplicate detection: canonical input has strictly increasing keys, so comparing with the
  // previous key suffices; a hash set is built only once a dict turns out to be unsorted.
  std::string_view last_key;
  std::unique_ptr<std::unordered_set<std::string>> seen;
};

class Decoder {
 public:
  Decoder(std::string_view in, const BLimits& limits) : in_(in), limits_(limits) {}

  Result<BValue> run() {
    if (in_.size() > limits_.max_size) {
      return fail(Errc::too_large, "bencode input of " + std::to_string(in_.size()) + " bytes exceeds the limit of " +
                                       std::to_string(limits_.max_size));
    }
    BValue root;
    std::vector<Frame> stack;
    stack.reserve(std::min<size_t>(limits_.max_depth, 64));
    for (;;) {
      if (pos_ >= in_.size()) return fail(Errc::invalid_argument, "bencode input truncated" + at(pos_));
      char c = in_[pos_];
      BValue* slot = nullptr;  // where the value starting at pos_ goes
      if (stack.empty()) {
        slot = &root;
      } else {
        Frame& f = stack.back();
        if (c == 'e') {
          if (f.have_key) return fail(Errc::invalid_argument, "dict key without a value" + at(pos_));
          ++pos_;
          f.value->end = pos_;
          stack.pop_back();
          if (stack.empty()) break;
          continue;
        }
        if (auto* list = std::get_if<BList>(&f.value->v)) {
          slot = &list->emplace_back();
        } else if (f.have_key) {
          slot = &std::get<BDict>(f.value->v).back().second;
          f.have_key = false;
        } else {
          if (!is_digit(c)) return fail(Errc::invalid_argument, "dict key is not a string" + at(pos_));
          if (auto st = count_token(); !st) return std::unexpected(st.error());
          size_t key_pos = pos_;
          auto key = read_string();
          if (!key) return std::unexpected(key.error());
          if (auto st = check_duplicate(f, *key, key_pos); !st) return std::unexpected(st.error());
          std::get<BDict>(f.value->v).emplace_back(std::piecewise_construct, std::forward_as_tuple(*key),
                                                   std::forward_as_tuple());
          f.have_key = true;
          continue;
        }
      }
      if (auto st = count_token(); !st) return std::unexpected(st.error());
      slot->begin = pos_;
      if (c == 'l' || c == 'd') {
        if (stack.size() >= limits_.max_depth) {
          return fail(Errc::too_large, "bencode nesting deeper than " + std::to_string(limits_.max_depth) + at(pos_));
        }
        ++pos_;
        if (c == 'l') {
          slot->v.emplace<BList>();
        } else {
          slot->v.emplace<BDict>();
        }
        stack.push_back(Frame{slot});
        continue;
      }
      if (c == 'i') {
        auto n = read_int();
        if (!n) return std::unexpected(n.error());
        slot->v.emplace<int64_t>(*n);
      } else if (is_digit(c)) {
        auto str = read_string();
        if (!str) return std::unexpected(str.error());
        slot->v.emplace<std::string>(*str);
      } else {
        return fail(Errc::invalid_argument, "unexpected byte in bencode" + at(pos_));
      }
      slot->end = pos_;
      if (stack.empty()) break;
    }
    if (pos_ != in_.size()) return fail(Errc::invalid_argument, "trailing bytes after bencode value" + at(pos_));
    return root;
  }

 private:
  Status count_token() {
    if (++tokens_ > limits_.max_tokens) {
      return fail(Errc::too_large, "bencode has more than " + std::to_string(limits_.max_tokens) + " values");
    }
    return {};
  }

  static Status check_duplicate(Frame& f, std::string_view key, size_t key_pos) {
    auto& dict = std::get<BDict>(f.value->v);
    if (dict.empty()) {
      f.last_key = key;
      return {};
    }
    if (!f.seen && key > f.last_key) {
      f.last_key = key;
      return {};
    }
    if (!f.seen) {
      // Keys so far were strictly increasing, so they are distinct: index them once.
      f.seen = std::make_unique<std::unordered_set<std::string>>();
      f.seen->reserve(dict.size() * 2);
      for (auto& [k, v] : dict) f.seen->insert(k);
    }
    if (!f.seen->emplace(key).second) {
      return fail(Errc::invalid_argument, "duplicate dict key" + at(key_pos));
    }
    f.last_key = key;
    return {};
  }

  // <length>:<bytes>, returned as a view into the input.
  Result<std::string_view> read_string() {
    size_t start = pos_;
    size_t len = 0;
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      len = len * 10 + static_cast<size_t>(in_[pos_] - '0');
      // Checked each step so the multiplication cannot overflow.
      if (len > in_.size()) return fail(Errc::invalid_argument, "string length exceeds the input" + at(start));
      ++pos_;
    }
    if (pos_ >= in_.size() || in_[pos_] != ':') {
      return fail(Errc::invalid_argument, "string length not followed by ':'" + at(pos_));
    }
    if (pos_ - start > 1 && in_[start] == '0') {
      return fail(Errc::invalid_argument, "string length with a leading zero" + at(start));
    }
    ++pos_;
    if (len > in_.size() - pos_) return fail(Errc::invalid_argument, "string runs past the end of input" + at(start));
    std::string_view s = in_.substr(pos_, len);
    pos_ += len;
    return s;
  }

  // i<decimal>e with no leading zeros, no "-0", within int64.
  Result<int64_t> read_int() {
    size_t start = pos_;
    ++pos_;  // 'i'
    bool neg = false;
    if (pos_ < in_.size() && in_[pos_] == '-') {
      neg = true;
      ++pos_;
    }
    size_t digits = pos_;
    uint64_t mag = 0;
    constexpr uint64_t kMaxMag = static_cast<uint64_t>(INT64_MAX);
    while (pos_ < in_.size() && is_digit(in_[pos_])) {
      uint64_t d = static_cast<uint64_t>(in_[pos_] - '0');
      if (mag > (kMaxMag + 1 - d) / 10) return fail(Errc::invalid_argument, "integer out of range" + at(start));
      mag = mag * 10 + d;
      ++pos_;
    }
    size_t ndigits = pos_ - digits;
    if (pos_ >= in_.size()) return fail(Errc::invalid_argument, "integer truncated" + at(start));
    if (in_[pos_] != 'e' || ndigits == 0) return fail(Errc::invalid_argument, "malformed integer" + at(start));
    if (ndigits > 1 && in_[digits] == '0') return fail(Errc::invalid_argument, "integer with a leading zero" + at(start));
    if (neg && mag == 0) return fail(Errc::invalid_argument, "negative zero" + at(start));
    if (!neg && mag > kMaxMag) return fail(Errc::invalid_argument, "integer out of range" + at(start));
    ++pos_;  // 'e'
    return neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  }

  std::string_view in_;
  const BLimits& limits_;
  size_t pos_ = 0;
  size_t tokens_ = 0;
};

void encode_into(std::string& out, const BValue& value) {
  switch (value.v.index()) {
    case 0:
      bput_int(out, std::get<int64_t>(value.v));
      break;
    case 1:
      bput_str(out, std::get<std::string>(value.v));
      break;
    case 2:
      out.push_back('l');
      for (const BValue& e : std::get<BList>(value.v)) encode_into(out, e);
      out.push_back('e');
      break;
    case 3: {
      const BDict& d = std::get<BDict>(value.v);
      out.push_back('d');
      bool sorted = std::is_sorted(d.begin(), d.end(), [](auto& a, auto& b) { return a.first < b.first; });
      if (sorted) {
        for (auto& [k, v] : d) {
          bput_str(out, k);
          encode_into(out, v);
        }
      } else {
        std::vector<const std::pair<std::string, BValue>*> order;
        order.reserve(d.size());
        for (auto& kv : d) order.push_back(&kv);
        std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
        for (auto* kv : order) {
          bput_str(out, kv->first);
          encode_into(out, kv->second);
        }
      }
      out.push_back('e');
      break;
    }
  }
}

}  // namespace

const BValue* BValue::find(std::string_view key) const {
  const BDict* d = std::get_if<BDict>(&v);
  if (d == nullptr) return nullptr;
  for (auto& [k, val] : *d) {
    if (k == key) return &val;
  }
  return nullptr;
}

Result<BValue> bdecode(std::string_view in, const BLimits& limits) { return Decoder(in, limits).run(); }

std::string bencode(const BValue& value) {
  std::string out;
  encode_into(out, value);
  return out;
}

void bput_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.push_back('i');
  out.append(buf, r.ptr);
  out.push_back('e');
}

void bput_str(std::string& out, std::string_view s) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, s.size());
  out.append(buf, r.ptr);
  out.push_back(':');
  out.append(s);
}

}  // namespace sc
