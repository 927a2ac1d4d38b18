#!/usr/bin/env bash
# Tracker benchmark: swarmcache-tracker beside opentracker (Debian package) on loopback, each
# pinned to one core, driven with the same announce mix: HTTP by wrk + announce.lua (keep-alive,
# and one request per connection), UDP by our udp_load. Each throughput cell runs ROUNDS times,
# ours and opentracker alternated (and which goes first alternated too), and the median is
# reported, because the machine is shared and single runs move 2x. Then, on fresh instances,
# resident memory per peer after loading LOAD_PEERS distinct peers over UDP (ΔVmRSS / peers).
# Prints one table: announces/s and p99 per tracker and mode, bytes/peer, and ours ÷ opentracker.
# Usage: bench/tracker/run.sh [BUILD_DIR]
#   env: DURATION=10s CONNS=64 TORRENTS=1000 UDP_WINDOW=64 LOAD_PEERS=1000000 LOAD_TORRENTS=10000
#        ROUNDS=3  MODES="ka close udp mem" (any subset)
#        TRACKER=path (another swarmcache-tracker binary, for A/B runs of one change)
#        PERF=1 (perf record our tracker during the throughput runs; report in $PERF_DATA)
#        BENCH_AUTOGROUP_NICE=-19 (the benchmark session's autogroup nice, see below)
# HTTP cells also run http_yardstick (a minimal epoll server: accept, read, one write, close),
# the ceiling the kernel's TCP path puts on one core, to show how far each tracker is from it.
set -euo pipefail
# Other sessions' compiles run in their own scheduler autogroups, where their nice 19 counts for
# nothing against us: without this, half of each core goes to them mid-run. The benchmark runs
# in a session of its own whose autogroup is raised (root only; else it runs as it is).
if [[ -z ${TRACKER_BENCH_SESSION:-} ]] && command -v setsid >/dev/null; then
  TRACKER_BENCH_SESSION=1 exec setsid -w "$0" "$@"
fi
echo "${BENCH_AUTOGROUP_NICE:--19}" 2>/dev/null >/proc/self/autogroup || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
duration=${DURATION:-10s}
conns=${CONNS:-64}
export TORRENTS=${TORRENTS:-1000}
udp_window=${UDP_WINDOW:-64}
load_peers=${LOAD_PEERS:-1000000}
# 100 peers per swarm: every (torrent, port) distinct from one source address, as both
# trackers identify a peer by address and port within its swarm.
load_torrents=${LOAD_TORRENTS:-10000}
perf_data=${PERF_DATA:-/tmp/tracker-bench.perf.data}
rounds=${ROUNDS:-3}
modes=" ${MODES:-ka close udp mem} "
server_core=0
client_core=1

cmake --build "$build" --target swarmcache-tracker udp_load http_yardstick >/dev/null
udp_load=$build/bench/tracker/udp_load
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
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, all threads, 1/100 s
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Ours: one HTTP worker and one UDP thread, the whole process on one core.
cat >"$work/tracker.yaml" <<YAML
metrics_addr: 127.0.0.1:0
http: {addr: 127.0.0.1:0, threads: 1}
udp: {addr: "127.0.0.1:0", threads: 1}
YAML
start_ours() {  # sets ours_pid ours_port ours_udp
  : >"$work/ours.log"
  taskset -c $server_core "${TRACKER:-$build/services/tracker/swarmcache-tracker}" --config "$work/tracker.yaml" \
    >"$work/ours.log" 2>&1 &
  ours_pid=$!
  pids+=("$ours_pid")
  for _ in $(seq 100); do grep -q http_port= "$work/ours.log" && break; sleep 0.05; done
  ours_port=$(grep -o 'http_port=[0-9]*' "$work/ours.log" | head -1 | cut -d= -f2)
  ours_udp=$(grep -o 'udp_port=[0-9]*' "$work/ours.log" | head -1 | cut -d= -f2)
  wait_port "$ours_port"
}

# opentracker: Debian builds it whitelist-only, so list every torrent the runs use.
mkdir -p "$work/ot"
python3 -c "
import sys
for i in range(1, int(sys.argv[1]) + 1): print(('%020d' % i).encode().hex())" \
  "$(( TORRENTS > load_torrents ? TORRENTS : load_torrents ))" >"$work/ot/whitelist.txt"
start_ot() {  # sets ot_pid ot_port (TCP and UDP)
  ot_port=$(free_port)
  taskset -c $server_core opentracker -i 127.0.0.1 -p "$ot_port" -P "$ot_port" -d "$work/ot" -u nobody \
    -w whitelist.txt >"$work/ot.log" 2>&1 &
  ot_pid=$!
  pids+=("$ot_pid")
  wait_port "$ot_port"
}

start_ys() {  # sets ys_pid ys_port: the minimal epoll server, for the HTTP cells
  taskset -c $server_core "$build/bench/tracker/http_yardstick" --seconds 3600 >"$work/ys.log" 2>&1 &
  ys_pid=$!
  pids+=("$ys_pid")
  for _ in $(seq 100); do grep -q port= "$work/ys.log" && break; sleep 0.05; done
  ys_port=$(grep -o 'port=[0-9]*' "$work/ys.log" | head -1 | cut -d= -f2)
  wait_port "$ys_port"
}

to_ms() {  # wrk latency "12.3ms" / "950.00us" / "1.02s" → milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else print "?" }'
}
http_run() {  # http_run PORT CLOSE → "req/s p99_ms"
  local out rps p99
  out=$(CLOSE=$2 taskset -c $client_core wrk -t1 -c"$conns" -d"$duration" --latency -s "$here/announce.lua" \
    "http://127.0.0.1:$1" 2>&1)
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  if grep -q 'Non-2xx' <<<"$out"; then echo "warning: non-2xx answers on port $1" >&2; fi
  echo "$rps $p99"
}
udp_run() {  # udp_run PORT → "ann/s p99_ms"
  local out secs=${duration%s}
  out=$(taskset -c $client_core "$udp_load" --port "$1" --mode mix --seconds "$secs" --torrents "$TORRENTS" \
    --window "$udp_window")
  echo "udp $1: $out" >>"$work/udp.txt"
  awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } printf "%s %.2f\n", v["announces_per_s"], v["p99_ms"]}' \
    <<<"$(head -1 <<<"$out")"
}
load_run() {  # load_run PID UDP_PORT → bytes per peer
  local before after
  before=$(rss_kb "$1")
  taskset -c $client_core "$udp_load" --port "$2" --mode load --peers "$load_peers" --torrents "$load_torrents" \
    --seconds 300 --window 256 >>"$work/load.txt"
  sleep 1  # let the server finish the last replies before reading its RSS
  after=$(rss_kb "$1")
  echo "rss $1: before ${before} kB after ${after} kB" >>"$work/load.txt"
  python3 -c "print(f'{($after - $before) * 1024 / $load_peers:.1f}')"
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
# cell MODE: runs MODE (ka | close | udp) ROUNDS times for both trackers (and, over HTTP, the
# yardstick), alternating who goes first; sets o_rps o_p99 t_rps t_p99 (y_rps y_p99) (medians)
# and appends every round to $work/rounds.txt.
cell() {
  local mode=$1 r o=() o99=() t=() t99=() y=() y99=() oc=() tc=() yc=() a b who order pid c0 us
  order="ours ot"
  [[ $mode != udp ]] && order="ours ot ys"
  for r in $(seq "$rounds"); do
    for who in $( ((r % 2)) && echo "$order" || tr ' ' '\n' <<<"$order" | tac); do
      local port
      case $who in
        ours) port=$([[ $mode == udp ]] && echo "$ours_udp" || echo "$ours_port") pid=$ours_pid ;;
        ot) port=$ot_port pid=$ot_pid ;;
        ys) port=$ys_port pid=$ys_pid ;;
      esac
      c0=$(cpu_ticks "$pid")
      case $mode in
        ka) read -r a b < <(http_run "$port" 0) ;;
        close) read -r a b < <(http_run "$port" 1) ;;
        udp) read -r a b < <(udp_run "$port") ;;
      esac
      # The server's CPU time per request: what a run costs the server even when the load
      # generator's core, not the server's, sets the rate.
      us=$(python3 -c "print(f'{($(cpu_ticks "$pid") - $c0) * 1e4 / max(1.0, $a * ${duration%s}):.1f}')")
      echo "round $r $mode $who: $a/s p99 $b ms, server CPU $us us/request" >>"$work/rounds.txt"
      case $who in
        ours) o+=("$a"); o99+=("$b"); oc+=("$us") ;;
        ot) t+=("$a"); t99+=("$b"); tc+=("$us") ;;
        ys) y+=("$a"); y99+=("$b"); yc+=("$us") ;;
      esac
    done
  done
  o_rps=$(median "${o[@]}"); o_p99=$(median "${o99[@]}"); t_rps=$(median "${t[@]}"); t_p99=$(median "${t99[@]}")
  o_cpu=$(median "${oc[@]}"); t_cpu=$(median "${tc[@]}")
  y_rps=-; y_p99=-; y_cpu=-
  if ((${#y[@]})); then y_rps=$(median "${y[@]}"); y_p99=$(median "${y99[@]}"); y_cpu=$(median "${yc[@]}"); fi
}

: >"$work/rounds.txt"
: >"$work/udp.txt"
: >"$work/load.txt"
start_ours
start_ot
start_ys
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ ${PERF:-0} == 1 ]]; then
  perf record -g -o "$perf_data" -p "$ours_pid" >/dev/null 2>&1 &
  perf_pid=$!
fi
o_ka=- o_ka99=- t_ka=- t_ka99=- o_cl=- o_cl99=- t_cl=- t_cl99=- o_udp=- o_udp99=- t_udp=- t_udp99=- o_bpp=- t_bpp=-
y_ka=- y_ka99=- y_cl=- y_cl99=-
o_kac=- t_kac=- y_kac=- o_clc=- t_clc=- y_clc=- o_udpc=- t_udpc=-
if [[ $modes == *" ka "* ]]; then
  cell ka; o_ka=$o_rps o_ka99=$o_p99 t_ka=$t_rps t_ka99=$t_p99 y_ka=$y_rps y_ka99=$y_p99 o_kac=$o_cpu t_kac=$t_cpu y_kac=$y_cpu
fi
if [[ $modes == *" close "* ]]; then
  cell close; o_cl=$o_rps o_cl99=$o_p99 t_cl=$t_rps t_cl99=$t_p99 y_cl=$y_rps y_cl99=$y_p99 o_clc=$o_cpu t_clc=$t_cpu y_clc=$y_cpu
fi
if [[ $modes == *" udp "* ]]; then cell udp; o_udp=$o_rps o_udp99=$o_p99 t_udp=$t_rps t_udp99=$t_p99 o_udpc=$o_cpu t_udpc=$t_cpu; fi
if [[ ${PERF:-0} == 1 ]]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
load_mid=$(cut -d' ' -f1-3 /proc/loadavg)

if [[ $modes == *" mem "* ]]; then
  # Memory on fresh instances, so the throughput runs' peers and buffers do not count.
  kill "$ours_pid" "$ot_pid"
  wait "$ours_pid" "$ot_pid" 2>/dev/null || true
  start_ours
  start_ot
  o_bpp=$(load_run "$ours_pid" "$ours_udp")
  t_bpp=$(load_run "$ot_pid" "$ot_port")
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { [[ $1 == - || $2 == - ]] && echo - || python3 -c "print(f'{float($1)/float($2):.2f}x')"; }
fmt='%-20s | %12s %8s | %12s %8s | %12s %8s | %10s\n'
echo
printf "$fmt" "tracker" "HTTP k-a/s" "p99 ms" "HTTP 1/conn" "p99 ms" "UDP ann/s" "p99 ms" "bytes/peer"
printf "$fmt" "swarmcache-tracker" "$o_ka" "$o_ka99" "$o_cl" "$o_cl99" "$o_udp" "$o_udp99" "$o_bpp"
printf "$fmt" "opentracker" "$t_ka" "$t_ka99" "$t_cl" "$t_cl99" "$t_udp" "$t_udp99" "$t_bpp"
printf "$fmt" "ours / opentracker" "$(ratio "$o_ka" "$t_ka")" "$(ratio "$o_ka99" "$t_ka99")" \
  "$(ratio "$o_cl" "$t_cl")" "$(ratio "$o_cl99" "$t_cl99")" "$(ratio "$o_udp" "$t_udp")" "$(ratio "$o_udp99" "$t_udp99")" \
  "$(ratio "$o_bpp" "$t_bpp")"
printf "$fmt" "yardstick (epoll)" "$y_ka" "$y_ka99" "$y_cl" "$y_cl99" - - -
printf "$fmt" "ours / yardstick" "$(ratio "$o_ka" "$y_ka")" - "$(ratio "$o_cl" "$y_cl")" - - - -
echo "ours keep-alive / opentracker one-per-connection: $(ratio "$o_ka" "$t_cl")"
echo
echo "server CPU per request, us (median): k-a ours $o_kac, opentracker $t_kac, yardstick $y_kac;" \
  "1/conn ours $o_clc, opentracker $t_clc, yardstick $y_clc; UDP ours $o_udpc, opentracker $t_udpc"
echo "requests per server CPU-second, ours ÷ opentracker: k-a $(ratio "$t_kac" "$o_kac")," \
  "1/conn $(ratio "$t_clc" "$o_clc"), UDP $(ratio "$t_udpc" "$o_udpc")"
echo
echo "goals (issue 12): HTTP 1/conn >= 1.30x, UDP >= 1.50x, ours <= 11 bytes/peer, keep-alive >= 4x opentracker's 1/conn"
echo "medians of $rounds alternated rounds; each server pinned to core $server_core, wrk/udp_load to core $client_core;"
echo "$duration per run, $conns wrk connections, UDP window $udp_window (connect before every 10th announce);"
echo "memory: $load_peers peers over $load_torrents torrents"
cat "$work/rounds.txt" "$work/udp.txt" "$work/load.txt"
echo "load average (1/5/15 min) at start: $load_start; after throughput runs: $load_mid; at end: $load_end; $(nproc) cores;"
echo "benchmark autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo none)"
