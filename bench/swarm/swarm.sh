#!/usr/bin/env bash
# Time for one file to reach N leechers through swarmcache, on loopback, with every node's
# link emulated by libtorrent's rate limits (upload and download capped at RATE each way, IP
# overhead included), against the physical limit SIZE / RATE (the origin must send every byte
# at least once). The emulated-LAN run (netns + tc) is the real measure; this one is quick and
# needs no privileges. Prints a table.
#   bench/swarm/swarm.sh [BUILD_DIR] [LEECHERS] [SIZE_MIB] [RATE_MIB_PER_S]
set -euo pipefail
build=${1:-${SC_BUILD_DIR:-$(dirname "$0")/../../build}}
n=${2:-10}
size_mib=${3:-64}
rate_mib=${4:-8}
bin() { echo "$build/services/$1/swarmcache-$1"; }
for s in tracker metastore seeder leecher; do [[ -x $(bin $s) ]] || { echo "build $s first"; exit 1; }; done
command -v redis-server >/dev/null && command -v curl >/dev/null && command -v python3 >/dev/null || { echo "needs redis-server, curl, python3"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_for() {  # wait_for LOGFILE KEY -> number after KEY=
  for _ in $(seq 300); do
    v=$(grep -o "$2=[0-9]*" "$1" 2>/dev/null | head -1 | cut -d= -f2) && [[ -n $v ]] && { echo "$v"; return; }
    sleep 0.1
  done
  echo "timeout waiting for $2 in $1" >&2; cat "$1" >&2; exit 1
}

rp=$(free_port)
redis-server --port "$rp" --save "" --appendonly no >"$work/redis.log" 2>&1 & pids+=($!)
echo secret >"$work/token"
"$(bin metastore)" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$rp/0" --auth-tokens "$work/token" --log-level warn >"$work/meta.log" 2>&1 & pids+=($!)
"$(bin tracker)" --http-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/tracker.log" 2>&1 & pids+=($!)
mp=$(wait_for "$work/meta.log" http_port)
tp=$(wait_for "$work/tracker.log" http_port)
for _ in $(seq 100); do curl -sf "127.0.0.1:$mp/readyz" >/dev/null && break; sleep 0.1; done

mkdir -p "$work/data"
head -c $((size_mib << 20)) /dev/urandom >"$work/data/payload.bin"
rate=$((rate_mib << 20))
common=(${SC_BENCH_EXTRA:-} --metastore "http://127.0.0.1:$mp" --tracker "http://127.0.0.1:$tp/announce" --token-file "$work/token"
        --listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 --upload-rate-limit "$rate" --download-rate-limit "$rate"
        --log-level warn)
"$(bin seeder)" "${common[@]}" ${SC_BENCH_SEEDER_FLAGS:-} --data "$work/data" --state "$work/seeder-state" >"$work/seeder.log" 2>&1 & pids+=($!)
sp=$(wait_for "$work/seeder.log" control_port)
for _ in $(seq 600); do curl -sf "127.0.0.1:$sp/readyz" >/dev/null && break; sleep 0.1; done

ports=()
t0=$(date +%s.%N)
for i in $(seq "$n"); do
  "$(bin leecher)" "${common[@]}" --data "$work/l$i" --state "$work/l$i-state" >"$work/l$i.log" 2>&1 & pids+=($!)
done
for i in $(seq "$n"); do ports+=("$(wait_for "$work/l$i.log" control_port)"); done
deadline=$(( $(date +%s) + 600 ))
while :; do
  done_count=0
  for p in "${ports[@]}"; do
    curl -s "127.0.0.1:$p/v1/status" | python3 -c 'import json,sys
d=json.load(sys.stdin); t=[x for x in d["torrents"] if x["key"]=="files/payload.bin"]
sys.exit(0 if t and t[0]["complete"] else 1)' && done_count=$((done_count + 1))
  done
  if [[ -n ${SC_BENCH_TRACE:-} ]]; then
    for p in "$sp" "${ports[@]}"; do
      curl -s "127.0.0.1:$p/v1/status" | python3 -c 'import json,sys
d=json.load(sys.stdin); t=[x for x in d["torrents"] if x["key"]=="files/payload.bin"]
print(d["node"]["role"][0], "%.2f" % t[0]["progress"] if t else "-", t[0]["download_rate"]>>10 if t else 0, t[0]["upload_rate"]>>10 if t else 0, t[0]["peers"] if t else 0, end=" | ")' || true
    done
    echo
  fi
  [[ $done_count -eq $n ]] && break
  [[ $(date +%s) -lt $deadline ]] || { echo "timed out: $done_count/$n complete"; exit 1; }
  sleep 0.2
done
t1=$(date +%s.%N)

limit=$(echo "$size_mib $rate_mib" | awk '{print $1/$2}')
origin=$(curl -s "127.0.0.1:$sp/v1/status" | python3 -c 'import json,sys
d=json.load(sys.stdin); t=[x for x in d["torrents"] if x["key"]=="files/payload.bin"][0]
print("%.2f" % (t["uploaded"] / t["size"]))')
took=$(echo "$t0 $t1" | awk '{print $2-$1}')
printf '%-34s %8s %9s %9s %10s %7s\n' "run" leechers "size MiB" "MiB/s/host" "seconds" "x limit"
printf '%-34s %8d %9d %9d %10.2f %7.2f\n' "swarmcache (loopback, rate caps)" "$n" "$size_mib" "$rate_mib" "$took" "$(echo "$took $limit" | awk '{print $1/$2}')"
printf '%-34s %8d %9d %9d %10.2f %7.2f\n' "physical limit (size / link rate)" "$n" "$size_mib" "$rate_mib" "$limit" 1
echo "origin sent $origin copies of the file (ideal: 1.00)"
echo "goal: 1.25x; measured elsewhere on an emulated LAN: aria2c+opentracker 2.0x, rtorrent 10.8x, one HTTP origin 10.5x"
