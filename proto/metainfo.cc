// .torrent validation for the metastore and its clients: bounded bdecode, then the `info`
// dict's fields (v1 `pieces`/`length`/`files`, v2 `meta version`/`file tree`), sizes and
// piece counts cross-checked, hashes taken over the raw info bytes.
#include "proto/metainfo.h"

#include <unordered_set>

#include "common/core/bytes.h"
#include "proto/content_key.h"

namespace sc {
namespace {

// clang 16 with libstdc++ 12 fails on std::pair<std::string, BValue> (BValue is a recursive
// variant) unless BValue's constructors are instantiated first; building one here orders them.
[[maybe_unused]] BValue order_bvalue_instantiation() {
  BValue b;
  b.v = BDict{};
  return b;
}

Error bad(std::string msg) { return Error{Errc::invalid_argument, "invalid torrent: " + std::move(msg)}; }

bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

// A file name segment as written by the maker; the same rules as content key segments, so
// nothing in a torrent can climb out of a download directory.
Status check_segment(const std::string& seg) {
  if (seg.find('/') != std::string::npos) return std::unexpected(bad("path segment contains '/'"));
  if (auto st = check_relative_path(seg); !st) return std::unexpected(bad("path: " + st.error().message));
  return {};
}

struct Walker {
  const MetainfoLimits& limits;
  Metainfo& out;
  std::vector<MetainfoFile> v2_files;
  int64_t v2_total = 0;

  // BEP 52 file tree: nested dicts of path segments; a leaf is {"": {length, pieces root}}.
  Status walk_tree(const BValue& node, std::string& prefix, size_t depth) {
    if (!node.is_dict()) return std::unexpected(bad("file tree node is not a dict"));
    if (depth > limits.max_path_depth) return std::unexpected(bad("file tree too deep"));
    for (const auto& entry : node.as_dict()) {
      const std::string& name = entry.first;
      const BValue& child = entry.second;
      if (name.empty()) {
        if (depth == 0) return std::unexpected(bad("file tree root cannot be a file"));
        if (node.as_dict().size() != 1) return std::unexpected(bad("file tree leaf has siblings"));
        if (!child.is_dict()) return std::unexpected(bad("file tree leaf is not a dict"));
        const BValue* len = child.find("length");
        if (!len || !len->is_int() || len->as_int() < 0 || len->as_int() > limits.max_total_size) {
          return std::unexpected(bad("file tree leaf needs a non-negative length"));
        }
        if (len->as_int() > 0) {
          const BValue* root = child.find("pieces root");
          if (!root || !root->is_str() || root->as_str().size() != 32) {
            return std::unexpected(bad("file tree leaf needs a 32-byte pieces root"));
          }
        }
        if (v2_files.size() >= limits.max_files) return std::unexpected(bad("too many files"));
        v2_total += len->as_int();
        if (v2_total > limits.max_total_size) return std::unexpected(bad("total size too large"));
        v2_files.push_back(MetainfoFile{prefix, len->as_int(), false});
        continue;
      }
      if (auto st = check_segment(name); !st) return st;
      size_t saved = prefix.size();
      if (!prefix.empty()) prefix += '/';
      prefix += name;
      if (prefix.size() > 4096) return std::unexpected(bad("file path too long"));
      if (auto st = walk_tree(child, prefix, depth + 1); !st) return st;
      prefix.resize(saved);
    }
    return {};
  }
};

// Two entries for one path (or a file that is also another's directory) cannot both be
// written: clients disagree on which wins, so the torrent is refused. BEP 47 pad files share
// names (".pad/16384") by design and are never written.
Status check_unique_paths(const std::vector<MetainfoFile>& files) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(files.size());
  for (const auto& f : files) {
    if (f.pad) continue;
    if (!seen.insert(f.path).second) return std::unexpected(bad("file path listed twice: " + f.path));
  }
  for (std::string_view p : seen) {
    for (size_t slash = p.find('/'); slash != std::string_view::npos; slash = p.find('/', slash + 1)) {
      if (seen.contains(p.substr(0, slash))) {
        return std::unexpected(bad("file path is also a directory: " + std::string(p.substr(0, slash))));
      }
    }
  }
  return {};
}

}  // namespace

std::string Metainfo::v1_hex() const { return has_v1 ? to_hex(info_hash_v1) : std::string(); }
std::string Metainfo::v2_hex() const { return has_v2 ? to_hex(info_hash_v2) : std::string(); }

Result<Metainfo> parse_metainfo(std::string_view bytes, const MetainfoLimits& limits) {
  auto root = bdecode(bytes, limits.bencode);
  if (!root) {
    // Only the byte limit makes a torrent "too large" (413); a nesting or value-count limit hit
    // by a small document is a malformed torrent (400).
    if (root.error().code == Errc::too_large && bytes.size() > limits.bencode.max_size) {
      return std::unexpected(root.error());
    }
    return std::unexpected(bad(root.error().message));
  }
  if (!root->is_dict()) return std::unexpected(bad("top level is not a dict"));
  const BValue* info = root->find("info");
  if (!info || !info->is_dict()) return std::unexpected(bad("missing info dict"));

  Metainfo m;
  const BValue* name = info->find("name");
  if (!name || !name->is_str() || name->as_str().empty()) return std::unexpected(bad("missing name"));
  if (auto st = check_segment(name->as_str()); !st) return std::unexpected(bad("name: " + st.error().message));
  m.name = name->as_str();

  const BValue* pl = info->find("piece length");
  if (!pl || !pl->is_int()) return std::unexpected(bad("missing piece length"));
  m.piece_length = pl->as_int();
  if (!is_pow2(m.piece_length) || m.piece_length < limits.min_piece_length || m.piece_length > limits.max_piece_length) {
    return std::unexpected(bad("piece length must be a power of two between " + std::to_string(limits.min_piece_length) +
                               " and " + std::to_string(limits.max_piece_length)));
  }
  if (const BValue* priv = info->find("private"); priv && priv->is_int()) m.is_private = priv->as_int() == 1;

  Walker w{limits, m, {}, 0};
  const BValue* mv = info->find("meta version");
  if (mv) {
    if (!mv->is_int() || mv->as_int() != 2) return std::unexpected(bad("unsupported meta version"));
    const BValue* tree = info->find("file tree");
    if (!tree) return std::unexpected(bad("meta version 2 without a file tree"));
    std::string prefix;
    if (auto st = w.walk_tree(*tree, prefix, 0); !st) return std::unexpected(st.error());
    if (w.v2_files.empty()) return std::unexpected(bad("file tree has no files"));
    m.has_v2 = true;
  }

  const BValue* pieces = info->find("pieces");
  if (pieces) {
    if (!pieces->is_str() || pieces->as_str().size() % 20 != 0) {
      return std::unexpected(bad("pieces must be a string of 20-byte hashes"));
    }
    const BValue* length = info->find("length");
    const BValue* files = info->find("files");
    if ((length != nullptr) == (files != nullptr)) return std::unexpected(bad("exactly one of length and files"));
    int64_t total_with_pad = 0;
    if (length) {
      if (!length->is_int() || length->as_int() < 0 || length->as_int() > limits.max_total_size) {
        return std::unexpected(bad("length must be a non-negative integer"));
      }
      total_with_pad = length->as_int();
      m.files.push_back(MetainfoFile{m.name, length->as_int(), false});
      m.total_size = length->as_int();
    } else {
      if (!files->is_list() || files->as_list().empty()) return std::unexpected(bad("files must be a non-empty list"));
      if (files->as_list().size() > limits.max_files) return std::unexpected(bad("too many files"));
      m.files.reserve(files->as_list().size());
      for (const BValue& f : files->as_list()) {
        const BValue* fl = f.find("length");
        const BValue* fp = f.find("path");
        if (!fl || !fl->is_int() || fl->as_int() < 0 || fl->as_int() > limits.max_total_size) {
          return std::unexpected(bad("file length must be a non-negative integer"));
        }
        if (!fp || !fp->is_list() || fp->as_list().empty() || fp->as_list().size() > limits.max_path_depth) {
          return std::unexpected(bad("file path must be a non-empty list"));
        }
        MetainfoFile mf;
        mf.length = fl->as_int();
        if (const BValue* attr = f.find("attr"); attr && attr->is_str()) mf.pad = attr->as_str().find('p') != std::string::npos;
        for (const BValue& seg : fp->as_list()) {
          if (!seg.is_str()) return std::unexpected(bad("file path segment is not a string"));
          if (auto st = check_segment(seg.as_str()); !st) return std::unexpected(st.error());
          if (!mf.path.empty()) mf.path += '/';
          mf.path += seg.as_str();
        }
        if (mf.path.size() > 4096) return std::unexpected(bad("file path too long"));
        total_with_pad += mf.length;
        if (total_with_pad > limits.max_total_size) return std::unexpected(bad("total size too large"));
        if (!mf.pad) m.total_size += mf.length;
        m.files.push_back(std::move(mf));
      }
    }
    int64_t want = (total_with_pad + m.piece_length - 1) / m.piece_length;
    m.piece_count = static_cast<int64_t>(pieces->as_str().size() / 20);
    if (m.piece_count != want) {
      return std::unexpected(bad("pieces holds " + std::to_string(m.piece_count) + " hashes, the size needs " +
                                 std::to_string(want)));
    }
    m.has_v1 = true;
    if (m.has_v2 && w.v2_total != m.total_size) return std::unexpected(bad("hybrid torrent: v1 and v2 sizes differ"));
  } else if (m.has_v2) {
    m.files = std::move(w.v2_files);
    m.total_size = w.v2_total;
    // In v2 every file starts on a piece boundary.
    for (auto& f : m.files) m.piece_count += (f.length + m.piece_length - 1) / m.piece_length;
  } else {
    return std::unexpected(bad("neither pieces (v1) nor meta version 2"));
  }

  if (auto st = check_unique_paths(m.files); !st) return std::unexpected(st.error());

  std::string_view raw = bytes.substr(info->begin, info->end - info->begin);
  if (m.has_v1) m.info_hash_v1 = sha1(raw);
  if (m.has_v2) m.info_hash_v2 = sha256(raw);
  return m;
}

}  // namespace sc
