#!/usr/bin/env bash
# Tracker benchmark: swarmcache-tracker beside opentracker (Debian package) on loopback, each
# pinned to one core, driven by wrk with the same announce mix (announce.lua): keep-alive and
# one request per connection. Prints one table with announces/s, p99 latency and our ratio.
# Usage: bench/tracker/run.sh [BUILD_DIR]   (env: DURATION=10s CONNS=64 TORRENTS=1000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
duration=${DURATION:-10s}
conns=${CONNS:-64}
export TORRENTS=${TORRENTS:-1000}
server_core=0
client_core=1

cmake --build "$build" --target swarmcache-tracker >/dev/null
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {  # wait_port PORT: until something accepts on 127.0.0.1:PORT (bounded)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on $1" >&2
  return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Ours: one worker thread on one core.
cat >"$work/tracker.yaml" <<YAML
metrics_addr: 127.0.0.1:0
http: {addr: 127.0.0.1:0, threads: 1}
udp: {addr: ""}
YAML
taskset -c $server_core "$build/services/tracker/swarmcache-tracker" --config "$work/tracker.yaml" >"$work/ours.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q http_port= "$work/ours.log" && break; sleep 0.05; done
ours_port=$(grep -o 'http_port=[0-9]*' "$work/ours.log" | cut -d= -f2)

# opentracker: Debian builds it whitelist-only, so list the benchmark's torrents.
mkdir -p "$work/ot"
python3 -c "
import sys
for i in range(1, int(sys.argv[1]) + 1): print(('%020d' % i).encode().hex())" "$TORRENTS" >"$work/ot/whitelist.txt"
ot_port=$(free_port)
taskset -c $server_core opentracker -i 127.0.0.1 -p "$ot_port" -P "$ot_port" -d "$work/ot" -u nobody -w whitelist.txt \
  >"$work/ot.log" 2>&1 &
pids+=($!)
wait_port "$ours_port"
wait_port "$ot_port"

run() {  # run PORT CLOSE → "req/s p99_ms"
  local out
  out=$(CLOSE=$2 taskset -c $client_core wrk -t1 -c"$conns" -d"$duration" --latency -s "$here/announce.lua" \
    "http://127.0.0.1:$1" 2>&1)
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "$rps $p99"
}

printf '%-22s %-12s %14s %10s\n' "tracker" "connections" "announces/s" "p99"
declare -A result
for mode in keepalive close; do
  close=0
  [[ $mode == close ]] && close=1
  read -r ours_rps ours_p99 < <(run "$ours_port" $close)
  read -r ot_rps ot_p99 < <(run "$ot_port" $close)
  printf '%-22s %-12s %14s %10s\n' "swarmcache-tracker" "$mode" "$ours_rps" "$ours_p99"
  printf '%-22s %-12s %14s %10s\n' "opentracker" "$mode" "$ot_rps" "$ot_p99"
  result[$mode]=$(python3 -c "print(f'{float($ours_rps)/float($ot_rps):.2f}')")
done
echo
echo "ours / opentracker: keep-alive ${result[keepalive]}x, one request per connection ${result[close]}x"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
