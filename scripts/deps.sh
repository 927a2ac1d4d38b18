#!/usr/bin/env bash
# Installs every Debian package that building and testing swarmcache needs (idempotent).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache clang
  libevent-dev libevhtp-dev libtorrent-rasterbar-dev libhiredis-dev libssl-dev
  libjansson-dev libsystemd-dev libyaml-cpp-dev libgtest-dev libbenchmark-dev
  redis-server redis-sentinel systemd curl python3 openssl
  aria2 mktorrent opentracker qbittorrent-nox wrk
  clang-16 libclang-rt-16-dev
  python3-kubernetes python3-yaml
  docker-registry skopeo ostree nginx-light containerd
  chromium nodejs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (the dashboard's browser test installs playwright-core with `npm ci`): Debian packages it
# apart from nodejs; a nodejs from elsewhere brings its own.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
