#!/usr/bin/env bash
# bench/proxy/run.sh: cached-blob throughput of swarmcache-proxy beside nginx (sendfile on)
# serving the same file at the same URL path, and cold time-to-first-byte through the proxy
# (upstream miss) and through the swarm (second proxy, torrent registered by the first).
# Prints a table with ratios. Bounded: every wrk run is BENCH_SECONDS long.
# On a 2-core machine one 5 s run of the same server varies by ±20%, so each server is run
# BENCH_ROUNDS times, interleaved and in a rotating order (no server always first or last), and
# the table gives the medians; every round's figures follow the table. The CPU columns are the
# server's own CPU time (all its processes and threads) per GiB served over all rounds: what the
# server spends, which the throughput figures hide when the client (wrk) is the bottleneck.
#   SC_BUILD_DIR=build-proxy bench/proxy/run.sh
# Env: SC_BUILD_DIR (default build), BENCH_SECONDS (5), BENCH_CONNS (16), BENCH_SIZES_MIB ("1 64"),
# BENCH_ROUNDS (3).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench/lib/cpu.sh
. "$src/bench/lib/cpu.sh"
build=${SC_BUILD_DIR:-$src/build}
[[ $build = /* ]] || build=$src/$build
secs=${BENCH_SECONDS:-5}
conns=${BENCH_CONNS:-16}
sizes=${BENCH_SIZES_MIB:-"1 64"}
rounds=${BENCH_ROUNDS:-3}
for t in wrk nginx redis-server curl python3; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
proxy_bin=$build/services/proxy/swarmcache-proxy
meta_bin=$build/services/metastore/swarmcache-metastore
tracker_bin=$build/services/tracker/swarmcache-tracker
[[ -x $proxy_bin ]] || { echo "build swarmcache-proxy first ($proxy_bin)" >&2; exit 1; }

work=$(mktemp -d /tmp/sc-bench-proxy.XXXXXX)
chmod 755 "$work"  # nginx workers run as an unprivileged user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "timeout waiting for $1" >&2; return 1
}
port_from_log() {  # file key
  for _ in $(seq 1 200); do
    p=$(grep -o "$2=[0-9]*" "$1" 2>/dev/null | head -1 | cut -d= -f2) && [[ -n $p ]] && { echo "$p"; return 0; }
    sleep 0.05
  done
  echo "no $2 in $1" >&2; cat "$1" >&2; return 1
}
start_nginx() {  # name workers port
  local d=$work/nginx-$1
  mkdir -p "$d"
  cat > "$d/nginx.conf" <<CONF
worker_processes $2;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d; uwsgi_temp_path $d; scgi_temp_path $d;
  server { listen 127.0.0.1:$3; root $work/www; default_type application/octet-stream; }
}
CONF
  nginx -c "$d/nginx.conf" -p "$d" 2> "$d/stderr.log" &
  pids+=($!)
  server_pid[$1]=$!
  wait_http "http://127.0.0.1:$3/ok" || { cat "$d/stderr.log" "$d/error.log" >&2; return 1; }
}
wrk_run() {  # url → "req/s MiB/s"
  wrk -t2 -c"$conns" -d"${secs}s" --latency "$1" 2>&1 | python3 -c '
import re, sys
t = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", t)
mult = {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[m.group(2)]
print(f"{rps:.0f} {float(m.group(1)) * mult:.0f}")'
}

mkdir -p "$work/www"
echo ok > "$work/www/ok"
declare -A hex
for mib in $sizes; do
  f=$work/blob-$mib
  head -c $((mib << 20)) /dev/urandom > "$f"
  h=$(sha256sum "$f" | cut -d' ' -f1)
  hex[$mib]=$h
  mkdir -p "$work/www/v2/bench/b$mib/blobs" "$work/cache/blobs" "$work/cache/meta"
  cp "$f" "$work/www/v2/bench/b$mib/blobs/sha256:$h"
  cp "$f" "$work/cache/blobs/$h"   # the proxy indexes it at start (reconcile: size vs record)
  echo "$((mib << 20)) $h" > "$work/cache/meta/$h"
done

declare -A server_pid
# CPU clock ticks used so far by a process, its threads and its children (nginx's workers).
cpu_ticks() { cpu_ticks_of "$1" $(pgrep -P "$1" || true); }
nginx1=$(free_port); start_nginx one 1 "$nginx1"
nginx2=$(free_port); start_nginx auto auto "$nginx2"
"$proxy_bin" --listen 127.0.0.1:0 --upstream "http://127.0.0.1:$nginx1" --cache "$work/cache" --state "$work/state" \
  --peer-listen 127.0.0.1:0 --log-level warn > "$work/proxy.log" 2>&1 &
pids+=($!)
server_pid[proxy]=$!
pport=$(port_from_log "$work/proxy.log" http_port)
wait_http "http://127.0.0.1:$pport/healthz"

median() { python3 -c 'import statistics, sys; print(round(statistics.median(map(float, sys.argv[1].split()))))' "$1"; }
printf '\n## Cached blob throughput (wrk -t2 -c%s -d%ss, keep-alive; proxy: 1 loop thread; median of %s interleaved rounds)\n\n' \
  "$conns" "$secs" "$rounds"
printf '| blob | proxy req/s | proxy MiB/s | nginx 1 worker MiB/s | ratio | nginx auto MiB/s | ratio | CPU s/GiB: proxy / nginx 1 / nginx auto |\n|---|---|---|---|---|---|---|---|\n'
tck=$(getconf CLK_TCK)
# CPU seconds per GiB: ticks / CLK_TCK over (sum of the rounds' MiB/s × seconds) / 1024.
per_gib() {  # ticks "MiB/s MiB/s ..."
  python3 -c "import sys; print(f'{$1 / $tck / max(sum(map(float, sys.argv[1].split())) * $secs / 1024, 1e-9):.2f}')" "$2"
}
each_round=""
for mib in $sizes; do
  path=/v2/bench/b$mib/blobs/sha256:${hex[$mib]}
  # The first hit after start hashes the entry while serving it; later hits are plain sendfile.
  curl -sf -o /dev/null "http://127.0.0.1:$pport$path"
  declare -A mb=() ticks=() ; prps_all=()
  servers=(proxy nginx1 nginx2)
  declare -A url=([proxy]="http://127.0.0.1:$pport$path" [nginx1]="http://127.0.0.1:$nginx1$path"
                  [nginx2]="http://127.0.0.1:$nginx2$path")
  declare -A pid=([proxy]=${server_pid[proxy]} [nginx1]=${server_pid[one]} [nginx2]=${server_pid[auto]})
  for r in $(seq 0 $((rounds - 1))); do
    for k in 0 1 2; do
      s=${servers[$(((r + k) % 3))]}
      t0=$(cpu_ticks "${pid[$s]}")
      read -r rps v < <(wrk_run "${url[$s]}")
      ticks[$s]=$((${ticks[$s]:-0} + $(cpu_ticks "${pid[$s]}") - t0))
      [[ $s == proxy ]] && prps_all+=("$rps")
      mb[$s]="${mb[$s]:-} $v"
    done
  done
  prps=$(median "${prps_all[*]}")
  pmb=$(median "${mb[proxy]}"); n1mb=$(median "${mb[nginx1]}"); n2mb=$(median "${mb[nginx2]}")
  printf '| %s MiB | %s | %s | %s | %.2f | %s | %.2f | %s / %s / %s |\n' "$mib" "$prps" "$pmb" "$n1mb" \
    "$(python3 -c "print($pmb/max($n1mb,1))")" "$n2mb" "$(python3 -c "print($pmb/max($n2mb,1))")" \
    "$(per_gib "${ticks[proxy]}" "${mb[proxy]}")" "$(per_gib "${ticks[nginx1]}" "${mb[nginx1]}")" \
    "$(per_gib "${ticks[nginx2]}" "${mb[nginx2]}")"
  each_round+="${mib} MiB rounds, MiB/s: proxy${mb[proxy]}; nginx 1 worker${mb[nginx1]}; nginx auto${mb[nginx2]}"$'\n'
done
printf '\n%s' "$each_round"

# Cold time-to-first-byte: A misses (lease → upstream tee → torrent registered); B then gets
# the blob over the swarm from A. nginx (1 worker) is the upstream registry.
if [[ -x $meta_bin && -x $tracker_bin ]]; then
  rport=$(free_port)
  redis-server --port "$rport" --save '' --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  tport=$(free_port)
  "$tracker_bin" --http-listen "127.0.0.1:$tport" --admin-listen 127.0.0.1:0 --udp-listen 127.0.0.1:0 > "$work/tracker.log" 2>&1 &
  pids+=($!)
  echo bench-token > "$work/token"
  "$meta_bin" --listen 127.0.0.1:0 --redis "redis://127.0.0.1:$rport/0" --auth-tokens "$work/token" > "$work/meta.log" 2>&1 &
  pids+=($!)
  mport=$(port_from_log "$work/meta.log" http_port)
  for x in a b; do
    "$proxy_bin" --listen 127.0.0.1:0 --upstream "http://127.0.0.1:$nginx1" --cache "$work/cache-$x" \
      --state "$work/state-$x" --peer-listen 127.0.0.1:0 --metastore "http://127.0.0.1:$mport" \
      --tracker "http://127.0.0.1:$tport/announce" --token-file "$work/token" --log-level warn > "$work/proxy-$x.log" 2>&1 &
    pids+=($!)
  done
  pa=$(port_from_log "$work/proxy-a.log" http_port)
  pb=$(port_from_log "$work/proxy-b.log" http_port)
  # Time to the first *body* byte (headers can go out before any data), total time, body bytes.
  ttfb() {
    python3 - "$1" <<'PY'
import socket, sys, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
t0 = time.monotonic()
s = socket.create_connection((u.hostname, u.port))
s.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n\r\n".encode())
buf, first, body = b"", None, 0
while True:
    d = s.recv(1 << 20)
    if not d:
        break
    if first is None:
        buf += d
        i = buf.find(b"\r\n\r\n")
        if i >= 0 and len(buf) > i + 4:
            first = time.monotonic() - t0
            body = len(buf) - i - 4
    else:
        body += len(d)
print(f"{first or 0} {time.monotonic() - t0} {body}")
PY
  }
  printf '\n## Cold fetch (first request for the blob), seconds; TTFB = first body byte\n\n'
  printf '| blob | nginx direct TTFB / total | proxy A miss (upstream tee) TTFB / total | proxy B (swarm) TTFB / total | B TTFB / A TTFB |\n|---|---|---|---|---|\n'
  for mib in $sizes; do
    path=/v2/bench/b$mib/blobs/sha256:${hex[$mib]}
    read -r nt ntt _ < <(ttfb "http://127.0.0.1:$nginx1$path")
    read -r at att asz < <(ttfb "http://127.0.0.1:$pa$path")
    # B must find A's torrent: wait until A registered it.
    for _ in $(seq 1 200); do
      curl -sf -o /dev/null "http://127.0.0.1:$mport/v1/torrents/sha256%3A${hex[$mib]}" && break; sleep 0.05
    done
    read -r bt btt bsz < <(ttfb "http://127.0.0.1:$pb$path")
    [[ $asz == $((mib << 20)) && $bsz == $((mib << 20)) ]] || echo "warning: short download ($asz / $bsz bytes)" >&2
    printf '| %s MiB | %.4f / %.4f | %.4f / %.4f | %.4f / %.4f | %.1f |\n' "$mib" "$nt" "$ntt" "$at" "$att" "$bt" "$btt" \
      "$(python3 -c "print($bt/max($at,1e-6))")"
  done
  echo
  echo "proxy B served bytes by source:"
  curl -s "http://127.0.0.1:$pb/metrics" | grep '^swarmcache_proxy_served_bytes_total' || true
fi
