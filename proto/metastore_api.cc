// JSON encoding and decoding of the metastore API types (see metastore_api.h), on jansson.
// Decoders check types and bounds of every field they keep and ignore the rest.
#include "proto/metastore_api.h"

#include <jansson.h>

#include <memory>

#include "common/core/bytes.h"

namespace sc {
namespace {

struct JsonDeleter {
  void operator()(json_t* j) const { json_decref(j); }
};
using Json = std::unique_ptr<json_t, JsonDeleter>;

json_t* str(std::string_view s) { return json_stringn_nocheck(s.data(), s.size()); }

std::string dump(json_t* j) {
  Json owner(j);
  char* out = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
  if (!out) return "{}";
  std::string s(out);
  free(out);
  return s;
}

void set(json_t* o, const char* k, json_t* v) { json_object_set_new_nocheck(o, k, v); }

Result<Json> parse(std::string_view text) {
  if (text.size() > kMaxApiJsonBytes) return fail(Errc::too_large, "JSON body too large");
  json_error_t err;
  json_t* j = json_loadb(text.data(), text.size(), JSON_REJECT_DUPLICATES, &err);
  if (!j) return fail(Errc::invalid_argument, std::string("invalid JSON: ") + err.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return fail(Errc::invalid_argument, "JSON body must be an object");
  }
  return Json(j);
}

// Field readers: absent fields keep their default unless required.
Status get_str(json_t* o, const char* k, std::string& out, bool required = false, size_t max = kMaxFieldBytes) {
  json_t* v = json_object_get(o, k);
  if (!v || json_is_null(v)) {
    if (required) return fail(Errc::invalid_argument, std::string("missing field ") + k);
    return {};
  }
  if (!json_is_string(v)) return fail(Errc::invalid_argument, std::string("field ") + k + " must be a string");
  if (json_string_length(v) > max) return fail(Errc::invalid_argument, std::string("field ") + k + " too long");
  out.assign(json_string_value(v), json_string_length(v));
  return {};
}

Status get_int(json_t* o, const char* k, int64_t& out, bool required = false) {
  json_t* v = json_object_get(o, k);
  if (!v || json_is_null(v)) {
    if (required) return fail(Errc::invalid_argument, std::string("missing field ") + k);
    return {};
  }
  if (!json_is_integer(v)) return fail(Errc::invalid_argument, std::string("field ") + k + " must be an integer");
  out = json_integer_value(v);
  return {};
}

Result<json_t*> get_array(json_t* o, const char* k, size_t max) {
  json_t* v = json_object_get(o, k);
  if (!v || json_is_null(v)) return nullptr;
  if (!json_is_array(v)) return fail(Errc::invalid_argument, std::string("field ") + k + " must be an array");
  if (json_array_size(v) > max) return fail(Errc::invalid_argument, std::string("field ") + k + " has too many elements");
  return v;
}

#define SC_TRY(expr)                                        \
  do {                                                      \
    if (auto st_ = (expr); !st_) return std::unexpected(st_.error()); \
  } while (0)

json_t* meta_event_obj(const MetaEvent& e) {
  json_t* o = json_object();
  set(o, "id", str(e.id));
  set(o, "type", str(e.type));
  set(o, "key", str(e.key));
  set(o, "infohash", str(e.infohash));
  return o;
}

Result<MetaEvent> meta_event_from(json_t* o) {
  if (!json_is_object(o)) return fail(Errc::invalid_argument, "event must be an object");
  MetaEvent e;
  SC_TRY(get_str(o, "id", e.id, true));
  SC_TRY(get_str(o, "type", e.type, true));
  SC_TRY(get_str(o, "key", e.key, true));
  SC_TRY(get_str(o, "infohash", e.infohash));
  return e;
}

json_t* node_obj(const NodeInfo& n) {
  json_t* o = json_object();
  set(o, "id", str(n.id));
  set(o, "role", str(n.role));
  set(o, "control_url", str(n.control_url));
  json_t* a = json_array();
  for (auto& s : n.swarms) json_array_append_new(a, str(s));
  set(o, "swarms", a);
  json_error_t err;
  json_t* info = json_loadb(n.info_json.data(), n.info_json.size(), 0, &err);
  set(o, "info", info && json_is_object(info) ? info : (json_decref(info), json_object()));
  set(o, "ttl_ms", json_integer(n.ttl_ms));
  set(o, "last_seen", json_integer(n.last_seen));
  return o;
}

Result<NodeInfo> node_from(json_t* o) {
  if (!json_is_object(o)) return fail(Errc::invalid_argument, "node must be an object");
  NodeInfo n;
  SC_TRY(get_str(o, "id", n.id));
  SC_TRY(get_str(o, "role", n.role));
  SC_TRY(get_str(o, "control_url", n.control_url));
  SC_TRY(get_int(o, "ttl_ms", n.ttl_ms));
  SC_TRY(get_int(o, "last_seen", n.last_seen));
  auto swarms = get_array(o, "swarms", kMaxNodeSwarms);
  if (!swarms) return std::unexpected(swarms.error());
  if (*swarms) {
    size_t i;
    json_t* v;
    json_array_foreach(*swarms, i, v) {
      if (!json_is_string(v) || json_string_length(v) > 128) return fail(Errc::invalid_argument, "swarms must be short strings");
      n.swarms.emplace_back(json_string_value(v), json_string_length(v));
    }
  }
  if (json_t* info = json_object_get(o, "info"); info && !json_is_null(info)) {
    if (!json_is_object(info)) return fail(Errc::invalid_argument, "field info must be an object");
    char* s = json_dumps(info, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!s) return fail(Errc::invalid_argument, "field info cannot be encoded");
    n.info_json = s;
    free(s);
    if (n.info_json.size() > kMaxNodeInfoBytes) return fail(Errc::invalid_argument, "field info too large");
  }
  return n;
}

}  // namespace

std::string to_json(const TorrentMeta& v) {
  json_t* o = json_object();
  set(o, "key", str(v.key));
  set(o, "kind", str(v.kind));
  set(o, "infohash", str(v.infohash));
  set(o, "infohash_v1", str(v.infohash_v1));
  set(o, "infohash_v2", str(v.infohash_v2));
  set(o, "name", str(v.name));
  set(o, "size", json_integer(v.size));
  set(o, "piece_length", json_integer(v.piece_length));
  json_t* files = json_array();
  for (auto& f : v.files) {
    json_t* fo = json_object();
    set(fo, "path", str(f.path));
    set(fo, "length", json_integer(f.length));
    json_array_append_new(files, fo);
  }
  set(o, "files", files);
  set(o, "created", json_integer(v.created));
  set(o, "last_access", json_integer(v.last_access));
  return dump(o);
}

std::string to_json(const TorrentPage& v) {
  json_t* o = json_object();
  json_t* items = json_array();
  for (auto& it : v.items) {
    json_t* io = json_object();
    set(io, "key", str(it.key));
    set(io, "infohash", str(it.infohash));
    set(io, "size", json_integer(it.size));
    json_array_append_new(items, io);
  }
  set(o, "items", items);
  set(o, "cursor", str(v.cursor));
  return dump(o);
}

std::string to_json(const MetaEvent& v) { return dump(meta_event_obj(v)); }

std::string to_json(const EventsPage& v) {
  json_t* o = json_object();
  json_t* a = json_array();
  for (auto& e : v.events) json_array_append_new(a, meta_event_obj(e));
  set(o, "events", a);
  set(o, "last_id", str(v.last_id));
  return dump(o);
}

std::string to_json(const LeaseRequest& v) {
  json_t* o = json_object();
  set(o, "holder", str(v.holder));
  set(o, "ttl_ms", json_integer(v.ttl_ms));
  return dump(o);
}

std::string to_json(const Lease& v) {
  json_t* o = json_object();
  set(o, "key", str(v.key));
  set(o, "holder", str(v.holder));
  set(o, "ttl_ms", json_integer(v.ttl_ms));
  return dump(o);
}

std::string to_json(const NodeInfo& v) { return dump(node_obj(v)); }

std::string to_json(const NodeList& v) {
  json_t* o = json_object();
  json_t* a = json_array();
  for (auto& n : v.nodes) json_array_append_new(a, node_obj(n));
  set(o, "nodes", a);
  return dump(o);
}

std::string error_json(std::string_view code, std::string_view message) {
  json_t* o = json_object();
  json_t* e = json_object();
  set(e, "code", str(code));
  set(e, "message", str(message));
  set(o, "error", e);
  return dump(o);
}

Result<TorrentMeta> torrent_meta_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  json_t* o = j->get();
  TorrentMeta m;
  SC_TRY(get_str(o, "key", m.key, true));
  SC_TRY(get_str(o, "kind", m.kind));
  SC_TRY(get_str(o, "infohash", m.infohash, true));
  SC_TRY(get_str(o, "infohash_v1", m.infohash_v1));
  SC_TRY(get_str(o, "infohash_v2", m.infohash_v2));
  SC_TRY(get_str(o, "name", m.name, false, 4096));
  SC_TRY(get_int(o, "size", m.size));
  SC_TRY(get_int(o, "piece_length", m.piece_length));
  SC_TRY(get_int(o, "created", m.created));
  SC_TRY(get_int(o, "last_access", m.last_access));
  auto files = get_array(o, "files", 1'000'000);
  if (!files) return std::unexpected(files.error());
  if (*files) {
    size_t i;
    json_t* v;
    json_array_foreach(*files, i, v) {
      if (!json_is_object(v)) return fail(Errc::invalid_argument, "files entries must be objects");
      TorrentFileEntry f;
      SC_TRY(get_str(v, "path", f.path, true, 8192));
      SC_TRY(get_int(v, "length", f.length));
      m.files.push_back(std::move(f));
    }
  }
  return m;
}

Result<TorrentPage> torrent_page_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  TorrentPage p;
  SC_TRY(get_str(j->get(), "cursor", p.cursor));
  auto items = get_array(j->get(), "items", 100'000);
  if (!items) return std::unexpected(items.error());
  if (*items) {
    size_t i;
    json_t* v;
    json_array_foreach(*items, i, v) {
      if (!json_is_object(v)) return fail(Errc::invalid_argument, "items entries must be objects");
      TorrentListItem it;
      SC_TRY(get_str(v, "key", it.key, true));
      SC_TRY(get_str(v, "infohash", it.infohash));
      SC_TRY(get_int(v, "size", it.size));
      p.items.push_back(std::move(it));
    }
  }
  return p;
}

Result<MetaEvent> meta_event_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  return meta_event_from(j->get());
}

Result<EventsPage> events_page_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  EventsPage p;
  SC_TRY(get_str(j->get(), "last_id", p.last_id));
  auto events = get_array(j->get(), "events", 100'000);
  if (!events) return std::unexpected(events.error());
  if (*events) {
    size_t i;
    json_t* v;
    json_array_foreach(*events, i, v) {
      auto e = meta_event_from(v);
      if (!e) return std::unexpected(e.error());
      p.events.push_back(std::move(*e));
    }
  }
  return p;
}

Result<LeaseRequest> lease_request_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  LeaseRequest r;
  SC_TRY(get_str(j->get(), "holder", r.holder, true));
  SC_TRY(get_int(j->get(), "ttl_ms", r.ttl_ms, true));
  if (r.holder.empty()) return fail(Errc::invalid_argument, "holder must not be empty");
  if (r.ttl_ms <= 0) return fail(Errc::invalid_argument, "ttl_ms must be positive");
  return r;
}

std::string to_json(const QuarantineRequest& v) {
  json_t* o = json_object();
  set(o, "infohash", str(v.infohash));
  set(o, "reason", str(v.reason));
  return dump(o);
}

Result<QuarantineRequest> quarantine_request_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  QuarantineRequest r;
  SC_TRY(get_str(j->get(), "infohash", r.infohash, true));
  SC_TRY(get_str(j->get(), "reason", r.reason, false, kMaxQuarantineReasonBytes));
  auto raw = from_hex(r.infohash);
  if (!raw || raw->size() != 20) return fail(Errc::invalid_argument, "infohash must be 40 hex digits");
  r.infohash = to_hex(*raw);  // stored infohashes are lower case
  return r;
}

Result<Lease> lease_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  Lease l;
  SC_TRY(get_str(j->get(), "key", l.key));
  SC_TRY(get_str(j->get(), "holder", l.holder, true));
  SC_TRY(get_int(j->get(), "ttl_ms", l.ttl_ms));
  return l;
}

Result<NodeInfo> node_info_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  return node_from(j->get());
}

Result<NodeList> node_list_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  NodeList l;
  auto nodes = get_array(j->get(), "nodes", 100'000);
  if (!nodes) return std::unexpected(nodes.error());
  if (*nodes) {
    size_t i;
    json_t* v;
    json_array_foreach(*nodes, i, v) {
      auto n = node_from(v);
      if (!n) return std::unexpected(n.error());
      l.nodes.push_back(std::move(*n));
    }
  }
  return l;
}

Result<Error> error_from_json(std::string_view text) {
  auto j = parse(text);
  if (!j) return std::unexpected(j.error());
  json_t* e = json_object_get(j->get(), "error");
  if (!e || !json_is_object(e)) return fail(Errc::invalid_argument, "not an error document");
  std::string code, message;
  SC_TRY(get_str(e, "code", code, true));
  SC_TRY(get_str(e, "message", message, false, 64 << 10));
  return Error{Errc::invalid_argument, code + ": " + message};
}

}  // namespace sc
