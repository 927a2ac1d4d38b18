#!/usr/bin/env python3
"""Checks for tests/e2e/compose.sh, on JSON and sha256sum output the script gathers.

  check_swarm.py keys LIST_JSON...          print the torrent keys in metastore list pages
  check_swarm.py status KEYS_FILE STATUS_JSON
        exit 0 when the node's /v1/status shows every key in KEYS_FILE complete; otherwise
        print what is missing or incomplete (one line) and exit 1
  check_swarm.py dashboard KEYS_FILE OVERVIEW_JSON MIN_NODES
        exit 0 when the dashboard's /api/overview lists at least MIN_NODES nodes that it can
        reach, each holding every key in KEYS_FILE; otherwise print the shortfall, exit 1
  check_swarm.py files SOURCE_SUMS NODE_SUMS
        both are `sha256sum` output (paths relative to the data roots); exit 0 when every
        source file has a copy on the node with the same relative path suffix and digest, and
        no copy under such a path has another digest
"""
import json
import sys

# Status fields vary a little between node kinds; these are the spellings accepted.
_LIST_FIELDS = ("torrents", "items", "keys", "entries")
_DONE_STATES = {"seeding", "finished", "complete", "completed", "done", "seed"}


def _load(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return json.loads(text) if text.strip() else None


def _entries(doc):
    """The per-torrent objects of a list or status document, as (key, dict) pairs."""
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict):
        items = None
        for name in _LIST_FIELDS:
            if name in doc:
                items = doc[name]
                break
        if items is None:
            return []
    else:
        return []
    if isinstance(items, dict):
        return [(k, v if isinstance(v, dict) else {}) for k, v in items.items()]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("key"), str):
            out.append((item["key"], item))
    return out


def _complete(entry):
    if isinstance(entry.get("complete"), bool):
        return entry["complete"]
    state = str(entry.get("state", "")).lower()
    if state in _DONE_STATES:
        return True
    progress = entry.get("progress")
    if isinstance(progress, (int, float)):
        # progress is a fraction (0..1) or a percentage (0..100).
        return progress >= 1.0 if progress <= 1.0 else progress >= 100.0
    return bool(entry.get("complete") or entry.get("finished") or entry.get("seeding"))


def cmd_keys(paths):
    keys = set()
    for p in paths:
        keys.update(k for k, _ in _entries(_load(p)))
    for k in sorted(keys):
        print(k)
    return 0


def cmd_status(keys_file, status_path):
    with open(keys_file, encoding="utf-8") as f:
        wanted = [line.strip() for line in f if line.strip()]
    try:
        doc = _load(status_path)
    except (OSError, ValueError) as e:
        print(f"status unreadable: {e}")
        return 1
    have = dict(_entries(doc))
    missing = [k for k in wanted if k not in have]
    pending = [k for k in wanted if k in have and not _complete(have[k])]
    errors = [k for k in wanted if k in have and str(have[k].get("state", "")).lower() == "error"]
    if errors:
        print(f"error state: {errors[:5]}")
        return 2
    if missing or pending:
        def show(k):
            e = have.get(k, {})
            return f"{k}({e.get('state', '?')} {e.get('progress', '?')})"
        print(f"{len(wanted) - len(missing) - len(pending)}/{len(wanted)} complete;"
              f" missing {missing[:3]}{'...' if len(missing) > 3 else ''};"
              f" pending {[show(k) for k in pending[:3]]}{'...' if len(pending) > 3 else ''}")
        return 1
    return 0


def cmd_dashboard(keys_file, overview_path, min_nodes):
    with open(keys_file, encoding="utf-8") as f:
        wanted = len([line for line in f if line.strip()])
    try:
        doc = _load(overview_path) or {}
    except (OSError, ValueError) as e:
        print(f"overview unreadable: {e}")
        return 1
    nodes = doc.get("nodes") or []
    good = [n for n in nodes if not n.get("error") and int(n.get("torrents") or 0) >= wanted]
    if len(good) >= min_nodes:
        return 0
    bad = [f"{n.get('id')}({n.get('role')}: {n.get('error') or str(n.get('torrents')) + ' torrents'})"
           for n in nodes if n not in good]
    print(f"{len(good)}/{min_nodes} nodes seen with all {wanted} torrents; {len(nodes)} listed; others: {bad[:4]}")
    return 1


def _sums(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            digest, name = line.split(None, 1)
            name = name.lstrip("*")
            while name.startswith("./"):
                name = name[2:]
            out[name] = digest
    return out


def cmd_files(source_path, node_path):
    source = _sums(source_path)
    node = _sums(node_path)
    bad = []
    for rel, digest in sorted(source.items()):
        copies = [(p, d) for p, d in node.items() if p == rel or p.endswith("/" + rel)]
        if not copies:
            bad.append(f"{rel}: no copy")
            continue
        wrong = [p for p, d in copies if d != digest]
        if wrong:
            bad.append(f"{rel}: wrong digest at {wrong}")
    if bad:
        print("; ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""))
        return 1
    print(f"{len(source)} files match")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "keys":
        return cmd_keys(argv[1:])
    if len(argv) == 3 and argv[0] == "status":
        return cmd_status(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "dashboard":
        return cmd_dashboard(argv[1], argv[2], int(argv[3]))
    if len(argv) == 3 and argv[0] == "files":
        return cmd_files(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
