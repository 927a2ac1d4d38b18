#!/usr/bin/env bash
# Starts the compose topology with whichever compose tool this machine has: the Docker CLI
# plugin (`docker compose`, v2) or the standalone `docker-compose` (v1, Debian 12's package).
# Arguments go to `up`, e.g. ./scripts/up.sh --build --scale leecher=10
set -euo pipefail
cd "$(dirname "$0")/.."
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
else
  echo "up.sh: neither 'docker compose' nor 'docker-compose' found;" \
       "on Debian 12: sudo apt-get install docker.io docker-compose" >&2
  exit 1
fi
echo "up.sh: using ${compose[*]}" >&2
exec "${compose[@]}" up "$@"
