#!/bin/bash
# One-shot step of the compose topology: create the bearer token that seeders, leechers and
# proxies send to the metastore (which accepts the tokens listed in the same file), once.
#   swarmcache-make-token [FILE]     (default /var/lib/swarmcache/secrets/token)
set -euo pipefail
file=${1:-/var/lib/swarmcache/secrets/token}
if [[ -s $file ]]; then
  echo "token: $file already exists"
  exit 0
fi
umask 077
tmp=$(mktemp "$file.XXXXXX")
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp"
echo >>"$tmp"
# Readable by the group: every swarmcache container runs as the same user and group.
chmod 0640 "$tmp"
mv "$tmp" "$file"
echo "token: wrote $file"
