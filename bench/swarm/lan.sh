#!/usr/bin/env bash
# One file from one origin to N hosts on an emulated LAN: every host in its own network
# namespace, a veth pair into one bridge, and tc tbf at RATE both ways (the host end caps its
# upload, the bridge end its download). The same hosts run, one after the other:
#   swarmcache          redis, tracker, metastore and seeder on host 0, a leecher on hosts 1..N
#                       (phase swarmcache-warm, not run by default: the leechers already run)
#   opentracker+aria2c  opentracker and a seeding aria2c on host 0, aria2c on hosts 1..N
#   HTTP origin         python3's http.server on host 0, curl on hosts 1..N
#   chain               host 0 -> 1 -> ... -> N, each host writing and forwarding at once
#                       (socat | tee | socat): the floor this machine reaches for N hosts
# and prints one table: seconds until the last host has the file, that against the limit
# (SIZE / RATE: every host must receive every byte), copies the origin sent, least and most any
# receiving host sent, and all bytes sent per byte delivered. Bytes are counted on the wire
# (`ip -s link`: Ethernet, IP and TCP headers, ACKs and tracker traffic included, ~4-7% over
# payload); swarmcache's payload figures from libtorrent follow the table. Checks the sha256
# on every host, then removes every namespace and process (also on Ctrl-C). Needs root.
#   bench/swarm/lan.sh N SIZE_MIB RATE_MBIT
# Environment: SC_BUILD_DIR (default build/plain), LAN_PHASES (default "swarmcache aria2 http
# chain"), LAN_WORK (scratch directory, default /dev/shm), LAN_KEEP (a directory to keep
# swarmcache's logs and status documents in), SC_SEEDER_FLAGS / SC_LEECHER_FLAGS (extra flags
# to try), LAN_TRACE (seconds: print every host's rates over time, see lan_trace.py).
set -euo pipefail
n=${1:?usage: lan.sh N SIZE_MIB RATE_MBIT}
size_mib=${2:?usage: lan.sh N SIZE_MIB RATE_MBIT}
rate=${3:?usage: lan.sh N SIZE_MIB RATE_MBIT}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib/cpu.sh
. "$here/../lib/cpu.sh"
build=${SC_BUILD_DIR:-$here/../../build/plain}
phases=${LAN_PHASES:-swarmcache aria2 http chain}
bin() { echo "$build/services/$1/swarmcache-$1"; }
[[ $(id -u) -eq 0 ]] || { echo "lan.sh needs root (network namespaces, tc)"; exit 1; }
[[ $n -ge 1 && $n -le 200 ]] || { echo "N must be 1..200"; exit 1; }
swarmctl=$build/services/swarmctl/swarmctl
for s in tracker metastore seeder leecher; do [[ -x $(bin $s) ]] || { echo "build $s first ($(bin $s))"; exit 1; }; done
[[ -x $swarmctl ]] || { echo "build swarmctl first ($swarmctl)"; exit 1; }
for t in ip tc ss redis-server curl python3 sha256sum opentracker aria2c socat; do
  command -v $t >/dev/null || { echo "needs $t"; exit 1; }
done

tag=lan$$
hub=$tag-hub
host() { echo "$tag-h$1"; }
addr() { echo "198.18.$(($1 / 200)).$(($1 % 200 + 1))"; }  # 198.18.0.0/15 is for benchmarks
origin=$(addr 0)
work=$(mktemp -d "${LAN_WORK:-/dev/shm}/sc-lan.XXXXXX")
size=$((size_mib << 20))

# Every process in hosts FIRST..LAST (all started by this script), waited for so that bash
# does not report each kill.
kill_hosts() {
  local pids=""
  for i in $(seq "$1" "$2"); do pids+=" $(ip netns pids "$(host "$i")" 2>/dev/null || true)"; done
  [[ -n ${pids// /} ]] || return 0
  kill -9 $pids 2>/dev/null || true
  wait $pids 2>/dev/null || true
}
cleanup() {
  trap - EXIT INT TERM
  kill_hosts 0 "$n"
  for i in $(seq 0 "$n"); do ip netns del "$(host "$i")" 2>/dev/null || true; done
  ip netns del "$hub" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the LAN -------------------------------------------------------------------------------
ip netns add "$hub"
ip -n "$hub" link add br0 type bridge
ip -n "$hub" link set br0 up
for i in $(seq 0 "$n"); do
  h=$(host "$i")
  ip netns add "$h"
  ip -n "$h" link set lo up
  ip -n "$h" link add eth0 type veth peer name "v$i" netns "$hub"
  ip -n "$h" addr add "$(addr "$i")/15" dev eth0
  ip -n "$h" link set eth0 up
  ip -n "$hub" link set "v$i" master br0 up
  tc -n "$h" qdisc add dev eth0 root tbf rate "${rate}mbit" burst 256kb latency 50ms
  tc -n "$hub" qdisc add dev "v$i" root tbf rate "${rate}mbit" burst 256kb latency 50ms
done
# CPU ticks (user + system) used so far by every process in hosts FIRST..LAST.
cpu_ticks() {
  local pids=""
  for i in $(seq "$1" "$2"); do pids+=" $(ip netns pids "$(host "$i")" 2>/dev/null || true)"; done
  cpu_ticks_of $pids
}
# cpu_since TICKS: CPU seconds every host used since cpu_ticks 0 N read TICKS.
cpu_since() { ticks_to_seconds $(($(cpu_ticks 0 "$n") - $1)); }
tx_bytes() { ip -n "$(host "$1")" -s -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["bytes"])'; }
snapshot() { for i in $(seq 0 "$n"); do tx_bytes "$i"; done; }
now() { date +%s.%N; }
# The polls while clients run fork nothing: a fork of this shell costs ~20 ms of CPU here
# (copy-on-write faults), and `$(grep | wc)` plus `sleep 1` once a second took ~3 % of both
# cores from the hosts at N = 20. pause waits on a FIFO nobody writes.
mkfifo "$work/pause"
exec 8<>"$work/pause"
pause() { read -r -t "$1" -u 8 _ || true; }
# wait_logged DIR TEXT: polls once a second until every leecher's log in DIR has TEXT.
wait_logged() {
  local deadline=$((SECONDS + 900)) count f lines
  while :; do
    count=0
    for f in "$1"/leecher*.log; do
      mapfile -t lines <"$f"
      [[ ${lines[*]} == *"$2"* ]] && count=$((count + 1))
    done
    [[ $count -ge $n ]] && return
    [[ $SECONDS -lt $deadline ]] || { echo "swarmcache: $count/$n leechers logged $2 after 900 s" >&2; tail -5 "$1/leecher1.log" >&2; exit 1; }
    pause 1
  done
}
# LAN_TRACE=SECONDS: sample every bridge port's counters during a run (lan_trace.py) and print
# the origin's upload and the hosts' rates over time under the table.
trace_pid=""
trace_start() {
  [[ -n ${LAN_TRACE:-} ]] || return 0
  ip netns exec "$hub" python3 "$here/lan_trace.py" "$n" "$LAN_TRACE" >"$work/trace.txt" &
  trace_pid=$!
  for _ in $(seq 100); do [[ -s $work/trace.txt ]] && return; sleep 0.1; done
}
trace_stop() {  # trace_stop NAME
  [[ -n $trace_pid ]] || return 0
  kill -TERM "$trace_pid"
  wait "$trace_pid" || true
  trace_pid=""
  notes+=("$1, Mbit/s every ${LAN_TRACE} s:"$'\n'"$(cat "$work/trace.txt")")
}
# The clients of a run are spawned into their namespaces before the clock starts and held at a
# gate, a FIFO this shell keeps open: one write of N newlines releases them all. The clock then
# counts each client's own start (exec, loading, connecting) but not this shell forking itself
# and `ip netns exec` for it, ~30 ms of CPU per client that the 2 cores shared with the running
# clients (0.3-0.4 s of a swarmcache run at N = 10, more with N; aria2c's runs alike).
gate_open() {  # gate_open DIR: a fresh gate in DIR
  mkdir -p "$1/ready"
  mkfifo "$1/gate"
  exec 9<>"$1/gate"
}
gated() {  # gated DIR HOST_INDEX CMD...: CMD in the host's namespace once the gate in DIR opens
  local g=$1 i=$2
  shift 2
  ip netns exec "$(host "$i")" sh -c 'd=$0 i=$1; shift; : >"$d/ready/$i"; read -r _ <"$d/gate"; exec "$@"' \
    "$g" "$i" "$@" 8>&- 9>&-
}
gate_release() {  # gate_release DIR [COUNT]: once COUNT (default N) clients wait, sets t0 and lets them go
  local ready=() n=${2:-$n}
  for _ in $(seq 600); do
    ready=("$1"/ready/*)
    [[ -e ${ready[0]} && ${#ready[@]} -ge $n ]] && break
    ready=()
    sleep 0.05
  done
  [[ ${#ready[@]} -ge $n ]] || { echo "not all $n clients started within 30 s" >&2; exit 1; }
  t0=$(now)
  printf '%*s' "$n" '' | tr ' ' '\n' >&9
  exec 9>&-
}
wait_http() {  # wait_http HOST_INDEX URL
  for _ in $(seq 600); do ip netns exec "$(host "$1")" curl -sf -o /dev/null "$2" && return; sleep 0.1; done
  echo "timeout waiting for $2 on host $1" >&2; exit 1
}
wait_listen() {  # wait_listen HOST_INDEX PORT
  for _ in $(seq 200); do [[ -n $(ip netns exec "$(host "$1")" ss -Hltn "sport = :$2") ]] && return; sleep 0.05; done
  echo "timeout waiting for a listener on port $2 on host $1" >&2; exit 1
}

mkdir -p "$work/origin"
head -c "$size" /dev/urandom >"$work/origin/payload.bin"
touch -d '1 hour ago' "$work/origin/payload.bin"  # settled: the seeder publishes it at once
want=$(sha256sum <"$work/origin/payload.bin" | cut -d' ' -f1)
limit=$(awk -v s="$size" -v r="$rate" 'BEGIN{print s * 8 / (r * 1e6)}')

rows=()
notes=()
# record NAME T0 END_TIMES_FILE BEFORE_SNAPSHOT CPU_SECONDS: one table row from per-host end
# times and the tx counters before and now; checks every host's copy (paths in $work/copies).
record() {
  local name=$1 t0=$2 ends=$3 before=$4 cpu=$5 after
  after=$(snapshot)
  local bad=0
  while read -r f; do [[ $(sha256sum <"$f" | cut -d' ' -f1) == "$want" ]] || { echo "$name: bad sha256: $f" >&2; bad=$((bad + 1)); }; done <"$work/copies"
  [[ $(wc -l <"$work/copies") -eq $n ]] || { echo "$name: $(wc -l <"$work/copies") copies for $n hosts" >&2; bad=1; }
  rows+=("$(python3 - "$name" "$t0" "$size" "$limit" "$n" "$bad" "$ends" "$cpu" <<EOF
import sys
name, t0, size, limit, n, bad, ends, cpu = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], sys.argv[8]
before = [int(x) for x in """$before""".split()]
after = [int(x) for x in """$after""".split()]
sent = [a - b for a, b in zip(after, before)]
took = max(float(x) for x in open(ends).read().split()) - t0
leech = sent[1:] or [0]
print("%-23s %4d %9.1f %8.2f %8.2f %9.1f %9.1f %10.2f %7s %s" % (name, n, took, took / limit, sent[0] / size,
      min(leech) / 2**20, max(leech) / 2**20, sum(sent) / (n * size), cpu, "" if bad == 0 else "SHA256 MISMATCH"))
EOF
)")
}

# --- swarmcache ----------------------------------------------------------------------------
# swarmcache: every leecher starts at the clock (what a first pull on fresh hosts costs).
# swarmcache-warm: the leechers already run, following the metastore, as deployed; the clock
# starts the seeder with the file in its data directory, so it counts the origin's start, its
# hashing the file and registering it, and every leecher learning of it from its event stream.
run_swarmcache-warm() { run_swarmcache warm; }
run_swarmcache() {
  local mode=${1:-cold} h0 d before t0 ticks0 name=swarmcache clients=$n
  [[ $mode == warm ]] && name="swarmcache, warm" clients=1
  h0=$(host 0)
  d=$work/sc
  mkdir -p "$d/data0" "$d/ends"
  ln "$work/origin/payload.bin" "$d/data0/payload.bin"
  echo secret >"$d/token"
  ip netns exec "$h0" redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no >"$d/redis.log" 2>&1 &
  ip netns exec "$h0" "$(bin metastore)" --listen "$origin:7070" --redis redis://127.0.0.1:6379/0 \
    --auth-tokens "$d/token" --log-level warn >"$d/metastore.log" 2>&1 &
  ip netns exec "$h0" "$(bin tracker)" --http-listen "$origin:6969" --udp-listen "" \
    --admin-listen 127.0.0.1:6880 --log-level warn >"$d/tracker.log" 2>&1 &
  wait_http 0 "http://$origin:7070/readyz"
  local common=(--metastore "http://$origin:7070" --tracker "http://$origin:6969/announce" --token-file "$d/token"
                --listen 127.0.0.1:7880 --log-level info)
  # Every namespace has the same hostname: distinct node ids keep the peer ids distinct.
  local seeder=("$(bin seeder)" "${common[@]}" ${SC_SEEDER_FLAGS:-} --peer-listen "$origin:6881" --node-id h0
                --data "$d/data0" --state "$d/state0")
  local leecher=()
  leecher_of() {  # leecher_of I: host I's leecher command line, in the array leecher
    leecher=("$(bin leecher)" "${common[@]}" ${SC_LEECHER_FLAGS:-} --peer-listen "$(addr "$1"):6881" --node-id "h$1"
             --data "$d/data$1" --state "$d/state$1")
  }
  gate_open "$d"
  if [[ $mode == warm ]]; then
    for i in $(seq "$n"); do
      leecher_of "$i"
      ip netns exec "$(host "$i")" "${leecher[@]}" >"$d/leecher$i.log" 2>&1 &
    done
    wait_logged "$d" listening
    pause 1  # each leecher's first long-poll of the metastore is in flight
    gated "$d" 0 "${seeder[@]}" >"$d/seeder.log" 2>&1 &
  else
    ip netns exec "$h0" "${seeder[@]}" >"$d/seeder.log" 2>&1 &
    wait_http 0 http://127.0.0.1:7880/readyz
    for i in $(seq "$n"); do
      leecher_of "$i"
      gated "$d" "$i" "${leecher[@]}" >"$d/leecher$i.log" 2>&1 &
    done
  fi
  ticks0=$(cpu_ticks 0 "$n")
  before=$(snapshot)
  trace_start
  gate_release "$d" "$clients"
  wait_logged "$d" 'msg="complete" key=files/payload.bin'
  # Log timestamps (ms, UTC) of each leecher's completion line.
  for i in $(seq "$n"); do
    grep -m1 'msg="complete".*key=files/payload.bin' "$d/leecher$i.log" | grep -o 'ts=[^ ]*' | cut -d= -f2 |
      python3 -c 'import sys,datetime; print(datetime.datetime.strptime(sys.stdin.read().strip(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp())'
  done >"$d/ends.txt"
  for i in $(seq "$n"); do echo "$d/data$i/files/payload.bin"; done >"$work/copies"
  record "$name" "$t0" "$d/ends.txt" "$before" "$(cpu_since "$ticks0")"
  trace_stop "$name"
  # libtorrent's own payload counts: what left the origin, what every node sent, and blocks
  # received in all (above 1.00 is blocks received twice or in pieces that failed their check).
  for i in $(seq 0 "$n"); do ip netns exec "$(host "$i")" curl -s http://127.0.0.1:7880/v1/status; echo; done >"$d/status.jsonl"
  notes+=("$(python3 - "$d/status.jsonl" "$size" "$n" <<'EOF'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
size, n = int(sys.argv[2]), int(sys.argv[3])
t = [next((x for x in d["torrents"] if x["key"] == "files/payload.bin"), {}) for d in docs]
up = [x.get("uploaded", 0) for x in t]
down = sum(x.get("downloaded", 0) for x in t[1:])
print("swarmcache payload: origin %.2f copies; all hosts sent %.3f and received %.3f per byte delivered"
      % (up[0] / size, sum(up) / (n * size), down / (n * size)))
EOF
)")
  kill_hosts 0 "$n"
  if [[ -n ${LAN_KEEP:-} ]]; then mkdir -p "$LAN_KEEP" && cp "$d"/*.log "$d/status.jsonl" "$LAN_KEEP"/ && echo "$t0" >"$LAN_KEEP/t0"; fi
  rm -rf "$d"
}

# --- opentracker + aria2c ------------------------------------------------------------------
run_aria2() {
  local h0 d before t0 ih ticks0
  h0=$(host 0)
  d=$work/aria
  mkdir -p "$d/ot" "$d/data0" "$d/ends"
  ln "$work/origin/payload.bin" "$d/data0/payload.bin"
  # Made by swarmctl create, so aria2c gets the same pieces as the swarmcache seeder makes
  # (torrent_maker.h auto_piece_length), v1 like mktorrent's.
  "$swarmctl" create -a "http://$origin:6970/announce" -o "$d/payload.torrent" "$d/data0/payload.bin" >/dev/null
  ih=$(python3 - "$d/payload.torrent" <<'EOF'
import hashlib, sys
b = open(sys.argv[1], "rb").read()
def end(i):  # index just past the bencoded value at i
    c = b[i:i+1]
    if c == b"i": return b.index(b"e", i) + 1
    if c in (b"l", b"d"):
        i += 1
        while b[i:i+1] != b"e": i = end(i)
        return i + 1
    colon = b.index(b":", i)
    return colon + 1 + int(b[i:colon])
k = b.index(b"4:infod") + 6
print(hashlib.sha1(b[k:end(k)]).hexdigest())
EOF
)
  echo "$ih" >"$d/ot/whitelist.txt"
  chmod -R a+rX "$d/ot"
  ip netns exec "$h0" opentracker -i "$origin" -p 6970 -P 6970 -d "$d/ot" -u nobody -w whitelist.txt >"$d/ot.log" 2>&1 &
  cat >"$d/hook.sh" <<EOF
#!/bin/sh
date +%s.%N >"$d/ends/\$(basename "\$(dirname "\$3")")"
EOF
  chmod +x "$d/hook.sh"
  local a2=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --seed-ratio=0.0 --file-allocation=none
            --summary-interval=0 --console-log-level=warn --listen-port=6881 --bt-max-peers=0)
  ip netns exec "$h0" aria2c "${a2[@]}" --bt-seed-unverified=true -d "$d/data0" "$d/payload.torrent" >"$d/seed.log" 2>&1 &
  # Until the tracker knows the seed (scrape: complete=1).
  local q
  q=$(python3 -c "import sys,urllib.parse; print(urllib.parse.quote(bytes.fromhex('$ih')))")
  for _ in $(seq 300); do
    ip netns exec "$h0" curl -s "http://$origin:6970/scrape?info_hash=$q" | grep -q 'completei1e' && break
    sleep 0.1
  done
  gate_open "$d"
  for i in $(seq "$n"); do
    gated "$d" "$i" aria2c "${a2[@]}" --on-bt-download-complete="$d/hook.sh" -d "$d/data$i" "$d/payload.torrent" \
      >"$d/a$i.log" 2>&1 &
  done
  ticks0=$(cpu_ticks 0 "$n")
  before=$(snapshot)
  trace_start
  gate_release "$d"
  local deadline=$((SECONDS + 900)) ends=()
  while ends=("$d"/ends/*); [[ ! -e ${ends[0]} || ${#ends[@]} -lt $n ]]; do
    [[ $SECONDS -lt $deadline ]] || { echo "aria2c: not all $n complete after 900 s" >&2; exit 1; }
    pause 1
  done
  cat "$d"/ends/* >"$d/ends.txt"
  for i in $(seq "$n"); do echo "$d/data$i/payload.bin"; done >"$work/copies"
  record "opentracker+aria2c" "$t0" "$d/ends.txt" "$before" "$(cpu_since "$ticks0")"
  trace_stop "opentracker+aria2c"
  kill_hosts 0 "$n"
  rm -rf "$d"
}

# --- one HTTP origin -----------------------------------------------------------------------
run_http() {
  local h0 d before t0
  h0=$(host 0)
  d=$work/http
  mkdir -p "$d/ends"
  ip netns exec "$h0" python3 -m http.server --bind "$origin" --directory "$work/origin" 8000 >"$d/http.log" 2>&1 &
  wait_http 0 "http://$origin:8000/"
  gate_open "$d"
  local curls=()
  for i in $(seq "$n"); do
    (gated "$d" "$i" curl -sf --max-time 1800 -o "$d/copy$i" "http://$origin:8000/payload.bin" &&
       date +%s.%N >"$d/ends/$i") &
    curls+=($!)
  done
  before=$(snapshot)
  gate_release "$d"
  wait "${curls[@]}"
  cat "$d"/ends/* >"$d/ends.txt"
  for i in $(seq "$n"); do echo "$d/copy$i"; done >"$work/copies"
  record "HTTP origin (curl)" "$t0" "$d/ends.txt" "$before" -
  kill_hosts 0 0
  rm -rf "$d"
}

# --- store-and-forward chain: the floor ----------------------------------------------------
# Host 0 streams the file to host 1; every host i writes what it receives AND forwards it at
# once to host i+1 (tee between two socats: block copies, no per-byte shell work); host N only
# writes. Every host then downloads at RATE and uploads at RATE once, which is the physical
# optimum of any broadcast (SIZE / RATE + N hops of latency) at almost no CPU, so this row is
# what tc, veth, the bridge and the 2 cores let N hosts reach on this machine in this run.
run_chain() {
  local d before t0 a f pids=() cpu0 st
  d=$work/chain
  mkdir -p "$d/ends"
  # 128 KiB per step instead of socat's 8 KiB, and a hop woken only once 16 KiB are in
  # (SO_RCVLOWAT, inherited by the accepted socket) rather than per packet: half the CPU at
  # N=30 and 20 Mbit (14.4 -> 7.7 s), for at most 16 KiB / RATE more per hop (1.3 ms at 100
  # Mbit). Bounded without a polling loop: a listener gives up after 60 s without a
  # connection, a transfer after 60 s without data.
  local sc=(socat -u -b 131072 -T 60) listen="TCP-LISTEN:7100,reuseaddr,accept-timeout=60,rcvlowat=16384,bind"
  # From host N down to 1, each listening before the one before it starts: host i's forwarder
  # connects to host i+1 at start, so every hop is connected before the clock starts.
  for i in $(seq "$n" -1 1); do
    a=$(addr "$i") f=$d/copy$i
    if [[ $i -eq $n ]]; then
      (ip netns exec "$(host "$i")" "${sc[@]}" "$listen=$a" "CREATE:$f" && date +%s.%N >"$d/ends/$i") &
    else
      ip netns exec "$(host "$i")" sh -c 'l=$1 a=$2 f=$3 e=$4 next=$5; shift 5
        "$@" "$l=$a" - | { tee "$f" && date +%s.%N >"$e"; } | "$@" - "TCP:$next:7100"' \
        sh "$listen" "$a" "$f" "$d/ends/$i" "$(addr $((i + 1)))" "${sc[@]}" &
    fi
    pids+=($!)
    wait_listen "$i" 7100
  done
  before=$(snapshot)
  t0=$(now)
  # The hosts' processes have exited by the time the row is made, so their CPU seconds are
  # this shell's reaped children's (cutime + cstime in /proc/$$/stat) after minus before.
  read -r -a st </proc/$$/stat
  cpu0=$((st[15] + st[16]))
  ip netns exec "$(host 0)" "${sc[@]}" "OPEN:$work/origin/payload.bin" "TCP:$(addr 1):7100" &
  pids+=($!)
  wait "${pids[@]}" || true
  read -r -a st </proc/$$/stat
  local ends=("$d"/ends/*)
  [[ -e ${ends[0]} && ${#ends[@]} -eq $n ]] || { echo "chain: not all $n hosts complete" >&2; exit 1; }
  cat "$d"/ends/* >"$d/ends.txt"
  for i in $(seq "$n"); do echo "$d/copy$i"; done >"$work/copies"
  record "store-and-forward chain" "$t0" "$d/ends.txt" "$before" \
    "$(ticks_to_seconds $((st[15] + st[16] - cpu0)))"
  kill_hosts 0 "$n"
  rm -rf "$d"
}

for p in $phases; do "run_$p"; done

echo "$n hosts + origin, $size_mib MiB, ${rate} Mbit/s each way; limit $(printf '%.2f' "$limit") s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-23s %4s %9s %8s %8s %9s %9s %10s %7s\n' run N seconds "x limit" "origin" "up min" "up max" "sent/" "CPU"
printf '%-23s %4s %9s %8s %8s %9s %9s %10s %7s\n' "" "" "" "" "copies" "MiB" "MiB" "delivered" "s"
for r in "${rows[@]}"; do echo "$r"; done
for r in "${notes[@]}"; do echo "$r"; done
