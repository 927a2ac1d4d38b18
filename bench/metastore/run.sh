#!/usr/bin/env bash
# Metastore read throughput against raw Redis, same machine, same Redis, same run:
#   wrk on GET /v1/torrents/{key} (keep-alive, 50 connections) through swarmcache-metastore,
#   beside redis-benchmark GET of a value of the same size (50 clients).
# Prints a table with the ratio (goal: >= 0.5x). Usage:
#   bench/metastore/run.sh [BUILD_DIR] [SECONDS] [PIECES] [ROUNDS] [THREADS...]
# PIECES sets the torrent size (20 bytes of hashes per piece; 256 pieces ≈ 5.3 KB). The
# measurements alternate for ROUNDS rounds and medians are compared, so a busy machine skews
# every side alike. THREADS lists the metastore http.threads settings to measure (default
# "0 2"): one metastore per setting, on the same Redis, serving the same torrent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
secs=${2:-10}
pieces=${3:-256}
rounds=${4:-3}
shift $(( $# < 4 ? $# : 4 ))
settings=("$@")
((${#settings[@]})) || settings=(0 2)
conns=50
bin=$build/services/metastore/swarmcache-metastore
[[ -x $bin ]] || { echo "no $bin (build the swarmcache-metastore target)" >&2; exit 1; }
for t in redis-server redis-cli redis-benchmark wrk python3 curl; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for CMD... : polls up to 10 s
  for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for redis-cli -p "$rport" ping

declare -A mports
for t in "${settings[@]}"; do
  printf 'http:\n  threads: %s\n' "$t" >"$work/ms-$t.yaml"
  "$bin" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$rport/0" --log-level warn --config "$work/ms-$t.yaml" \
    >"$work/ms-$t.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do grep -q 'http_port=' "$work/ms-$t.log" && break; sleep 0.05; done
  mports[$t]=$(grep -o 'http_port=[0-9]*' "$work/ms-$t.log" | head -1 | cut -d= -f2)
  [[ -n ${mports[$t]} ]] || { cat "$work/ms-$t.log" >&2; exit 1; }
done

# A v1 torrent of PIECES pieces of 256 KiB (the bytes need not match any data).
python3 - "$pieces" >"$work/bench.torrent" <<'PY'
import sys
n = int(sys.argv[1]); plen = 262144
def b(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    if isinstance(x, dict): return b"d" + b"".join(b(k) + b(v) for k, v in sorted(x.items())) + b"e"
info = {b"length": n * plen, b"name": b"bench.bin", b"piece length": plen, b"pieces": bytes(range(20)) * n}
sys.stdout.buffer.write(b({b"announce": b"http://127.0.0.1:6969/announce", b"info": info}))
PY
size=$(stat -c %s "$work/bench.torrent")
url_path=/v1/torrents/files/bench.bin
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/x-bittorrent' \
  --data-binary @"$work/bench.torrent" "http://127.0.0.1:${mports[${settings[0]}]}$url_path")
[[ $code == 201 ]] || { echo "PUT failed: $code" >&2; exit 1; }

# Raw Redis: GET of one key holding a value of the same size (without -r, redis-benchmark's
# GET reads the literal key "key:__rand_int__").
head -c "$size" /dev/zero | tr '\0' x | redis-cli -p "$rport" -x set 'key:__rand_int__' >/dev/null

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
redis_runs=()
declare -A ms_runs ms_p99
non2xx=0
for r in $(seq "$rounds"); do
  rps=$(timeout $((secs * 3 + 30)) redis-benchmark -p "$rport" -c "$conns" -n $((secs * 40000)) -t get -q 2>/dev/null |
    tr '\r' '\n' | grep -E '^GET: [0-9.]+ requests per second' | tail -1 | awk '{print $2}')
  redis_runs+=("$rps")
  for t in "${settings[@]}"; do
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${mports[$t]}$url_path")
    ms_runs[$t]+="$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') "
    ms_p99[$t]+="$(echo "$out" | awk '$1 == "99%" {print $2}') "
    n=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    non2xx=$((non2xx + ${n:-0}))
  done
done
redis_rps=$(median "${redis_runs[@]}")

printf '\nmetastore GET vs raw Redis GET — value %s bytes, %s connections, %s rounds of %ss, %s cores, load %s\n\n' \
  "$size" "$conns" "$rounds" "$secs" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '| %-48s | %10s | %6s |\n' "what" "req/s" "ratio"
printf '|%s|%s|%s|\n' "--------------------------------------------------" "------------" "--------"
printf '| %-48s | %10.0f | %6s |\n' "redis-benchmark GET, 1 client thread (raw Redis)" "$redis_rps" "1.00"
for t in "${settings[@]}"; do
  # shellcheck disable=SC2086
  m=$(median ${ms_runs[$t]})
  ratio=$(python3 -c "print(f'{$m / $redis_rps:.2f}')")
  printf '| %-48s | %10.0f | %6s |\n' "wrk -t1 GET /v1/torrents/{key}, http.threads=$t" "$m" "$ratio"
done
printf '\nper round: redis-benchmark %s\n' "${redis_runs[*]}"
for t in "${settings[@]}"; do printf '           threads=%s: %s(p99 %s)\n' "$t" "${ms_runs[$t]}" "${ms_p99[$t]}"; done
printf 'non-2xx responses: %s (goal: ratio >= 0.5)\n' "$non2xx"
