#!/usr/bin/env bash
# One host, no Docker: starts redis-server, the tracker, the metastore, a seeder on FOLDER, a
# leecher and the dashboard from a build, prints their URLs, and runs until Ctrl-C (then stops
# everything it started). Every listener binds 127.0.0.1 on a free port.
#
#   scripts/quickstart.sh [FOLDER]      FOLDER defaults to ./data (created with a sample file)
#   SC_BUILD_DIR=build/plain            where the binaries are (default: build/plain, then build)
#   scripts/quickstart.sh --check DIR   self-test: seed a sample file, wait until the leecher has
#                                       it and the dashboard lists both nodes, then stop (exit 0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
folder=${1:-$root/data}
build=${SC_BUILD_DIR:-}
if [[ -z $build ]]; then
  for b in "$root/build/plain" "$root/build"; do [[ -x $b/services/tracker/swarmcache-tracker ]] && build=$b && break; done
fi
[[ -n $build && -x $build/services/tracker/swarmcache-tracker ]] ||
  { echo "quickstart: no build found; run: cmake -S . -B build -G Ninja && cmake --build build (or set SC_BUILD_DIR)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "quickstart: redis-server missing (apt-get install redis-server)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/swarmcache-quickstart.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD with its log in $work/NAME.log.
start() {
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
# port_of NAME KEY: waits (bounded) for KEY=N in NAME's log and prints N.
port_of() {
  local n
  for _ in $(seq 300); do
    n=$(grep -o "$2=[0-9]*" "$work/$1.log" 2>/dev/null | head -1 | cut -d= -f2)
    [[ -n $n && $n != 0 ]] && { echo "$n"; return; }
    sleep 0.1
  done
  echo "quickstart: $1 did not report $2:" >&2; cat "$work/$1.log" >&2; exit 1
}
wait_http() {  # URL: waits (bounded) for a 200
  for _ in $(seq 300); do curl -fsS -o /dev/null "$1" && return; sleep 0.1; done
  echo "quickstart: $1 not ready" >&2; exit 1
}

mkdir -p "$folder"
if [[ -z $(ls -A "$folder") ]]; then
  head -c 8000000 /dev/urandom >"$folder/sample.bin"
fi
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start redis redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no --dir "$work"
echo "quickstart-token" >"$work/token"
start tracker "$build/services/tracker/swarmcache-tracker" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --udp-listen ""
tracker_port=$(port_of tracker http_port)
tracker_admin=$(port_of tracker admin_port)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
start metastore "$build/services/metastore/swarmcache-metastore" --listen 127.0.0.1:0 \
  --redis "redis://127.0.0.1:$redis_port/0" --auth-tokens "$work/token"
meta_port=$(port_of metastore http_port)
wait_http "http://127.0.0.1:$meta_port/readyz"
common=(--metastore "http://127.0.0.1:$meta_port" --tracker "http://127.0.0.1:$tracker_port/announce"
        --token-file "$work/token" --listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --advertise 127.0.0.1
        --heartbeat-interval 2s)
start seeder "$build/services/seeder/swarmcache-seeder" "${common[@]}" --node-id seeder-1 \
  --data "$folder" --state "$work/seeder-state"
start leecher "$build/services/leecher/swarmcache-leecher" "${common[@]}" --node-id leecher-1 \
  --data "$work/leecher-data" --state "$work/leecher-state"
seeder_port=$(port_of seeder http_port)
leecher_port=$(port_of leecher http_port)
start dashboard "$build/services/dashboard/swarmcache-dashboard" --listen 127.0.0.1:0 \
  --metastore "http://127.0.0.1:$meta_port" --tracker-admin "http://127.0.0.1:$tracker_admin" --poll-interval 1s
dash_port=$(port_of dashboard http_port)

cat <<EOT
swarmcache is running (logs in $work):
  dashboard   http://127.0.0.1:$dash_port/
  metastore   http://127.0.0.1:$meta_port/v1/torrents   (token: $work/token)
  tracker     http://127.0.0.1:$tracker_port/announce   (metrics http://127.0.0.1:$tracker_admin/metrics)
  seeder      http://127.0.0.1:$seeder_port/v1/status   (seeding $folder)
  leecher     http://127.0.0.1:$leecher_port/v1/status   (downloads into $work/leecher-data)
  swarmctl    export SWARMCACHE_METASTORE=http://127.0.0.1:$meta_port SWARMCACHE_DASHBOARD=http://127.0.0.1:$dash_port
EOT

if ((check)); then
  # Every file of the folder arrives intact at the leecher, and the dashboard shows both nodes.
  for _ in $(seq 1200); do
    ok=1
    while IFS= read -r f; do
      cmp -s "$folder/$f" "$work/leecher-data/files/$f" || { ok=0; break; }
    done < <(cd "$folder" && find . -type f -printf '%P\n')
    overview=$(curl -fsS "http://127.0.0.1:$dash_port/api/overview" || true)
    if ((ok)) && [[ $overview == *'"seeder-1"'* && $overview == *'"leecher-1"'* ]]; then
      echo "quickstart check: ok"
      exit 0
    fi
    sleep 0.1
  done
  echo "quickstart check: the leecher or the dashboard did not get there" >&2
  tail -n 20 "$work"/*.log >&2
  exit 1
fi
echo "Ctrl-C stops everything."
wait
