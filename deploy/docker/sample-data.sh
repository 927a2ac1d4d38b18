#!/bin/bash
# One-shot step of the compose topology: fill the seeders' data directory with sample content
# when it is empty, so that `docker compose up` distributes something out of the box. A
# directory that already holds anything (the user's own files) is left untouched.
#   swarmcache-sample-data [DIR]      (default $SWARMCACHE_DATA)
# SWARMCACHE_SAMPLE_MB sets the total size (default 64): one file per "kind" of content the
# project moves (an ISO, two image layers, a dataset, small text), files and subdirectories.
set -euo pipefail
dir=${1:-${SWARMCACHE_DATA:?no data directory}}
total_mb=${SWARMCACHE_SAMPLE_MB:-64}
[[ $total_mb =~ ^[0-9]+$ ]] && ((total_mb >= 4 && total_mb <= 65536)) \
  || { echo "SWARMCACHE_SAMPLE_MB must be 4..65536, got '$total_mb'" >&2; exit 2; }

mkdir -p "$dir"
if [[ -n $(find "$dir" -mindepth 1 -maxdepth 1 ! -name 'lost+found' -print -quit) ]]; then
  echo "sample-data: $dir is not empty, leaving it as it is"
  exit 0
fi

# Write into a scratch directory first and move it in at the end, so a seeder never sees a
# half-written sample, and an interrupted run leaves the directory empty (and retried).
tmp=$(mktemp -d "$dir/.sample.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/iso" "$tmp/layers" "$tmp/datasets"
mib=$((1024 * 1024))
head -c $((total_mb * mib / 2)) /dev/urandom >"$tmp/iso/netinst.iso"
head -c $((total_mb * mib / 4)) /dev/urandom >"$tmp/layers/layer-1.tar"
head -c $((total_mb * mib / 8)) /dev/urandom >"$tmp/layers/layer-2.tar"
seq 1 200000 | awk '{ printf "%d,%d,%s\n", $1, ($1 * 7919) % 104729, ($1 % 3 ? "a" : "b") }' >"$tmp/datasets/table.csv"
echo "swarmcache sample data, made $(date -u +%FT%TZ)" >"$tmp/README.txt"

owner=$(stat -c %u:%g "$dir")
chmod -R a+rX "$tmp"
for entry in "$tmp"/*; do
  mv "$entry" "$dir/"
done
# The directory is usually the user's ./data: give the files to whoever owns it.
chown -R "$owner" "$dir" 2>/dev/null || true
echo "sample-data: wrote $(du -sh "$dir" | cut -f1) into $dir"
find "$dir" -type f -printf '  %P (%s bytes)\n' | sort
