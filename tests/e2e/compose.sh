#!/usr/bin/env bash
# End-to-end test of compose.yaml: build the image from this tree, bring the whole topology up
# with 10 leechers on fresh sample data, wait until every leecher holds every torrent complete
# and every file inside every leecher container has the source's SHA-256, print how long it
# took, tear everything down (volumes too). On any error the services' logs are printed.
#
# Without a usable Docker it skips with a message, except under CI=true, where it installs
# docker.io, docker-compose and mmdebstrap, starts dockerd, and builds debian:bookworm-slim
# with mmdebstrap when no registry can be reached.
#
# Knobs: SC_E2E_LEECHERS (10), SC_E2E_SAMPLE_MB (64), SC_E2E_BUILD_JOBS (2),
# SC_E2E_SWARM_TIMEOUT (900 s), SC_E2E_UP_TIMEOUT (600 s), SC_E2E_BUILD_TIMEOUT (3000 s),
# SC_E2E_NO_CACHE (1 under CI: build every layer again), SC_E2E_KEEP (1: leave it running).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
leechers=${SC_E2E_LEECHERS:-10}
sample_mb=${SC_E2E_SAMPLE_MB:-64}
build_jobs=${SC_E2E_BUILD_JOBS:-2}
swarm_timeout=${SC_E2E_SWARM_TIMEOUT:-900}
up_timeout=${SC_E2E_UP_TIMEOUT:-600}
build_timeout=${SC_E2E_BUILD_TIMEOUT:-3000}
no_cache=${SC_E2E_NO_CACHE:-$([[ ${CI:-} == true ]] && echo 1 || echo 0)}
base_image=${SWARMCACHE_BASE_IMAGE:-debian:bookworm-slim}
# Seconds between progress lines while waiting, and between polls.
report_every=15
poll=2

log() { printf '[e2e %(%T)T] %s\n' -1 "$*"; }
die() { log "FAIL: $*"; exit 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

docker_usable() { timeout 20 docker info >/dev/null 2>&1; }

have_compose() {
  { command -v docker >/dev/null && timeout 20 docker compose version >/dev/null 2>&1; } \
    || command -v docker-compose >/dev/null
}

ensure_docker() {
  if [[ ${CI:-} != true ]]; then
    if ! command -v docker >/dev/null || ! docker_usable; then
      echo "SKIP: tests/e2e/compose.sh needs a usable Docker daemon (none here, or no permission on its socket); CI=true installs and starts one."
      exit 0
    fi
    have_compose || die "Docker works but neither 'docker compose' nor 'docker-compose' is installed"
    return 0
  fi
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  have_compose || need+=(docker-compose)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    as_root apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${need[@]}" >/dev/null
  fi
  if ! docker_usable; then
    if ! pgrep -x dockerd >/dev/null; then
      log "starting dockerd (log: /var/log/dockerd.log)"
      as_root setsid dockerd </dev/null >/var/log/dockerd.log 2>&1 &
    fi
    local deadline=$((SECONDS + 120))
    until docker_usable; do
      ((SECONDS < deadline)) || { tail -n 30 /var/log/dockerd.log >&2 || true; die "dockerd did not come up in 120 s"; }
      sleep 1
    done
  fi
}

ensure_base_image() {
  docker image inspect "$base_image" >/dev/null 2>&1 && return 0
  log "pulling $base_image"
  timeout 300 docker pull "$base_image" >/dev/null 2>&1 && return 0
  [[ $base_image == debian:bookworm-slim ]] || die "cannot pull $base_image"
  command -v mmdebstrap >/dev/null || die "no registry reachable and no mmdebstrap to build $base_image (apt-get install mmdebstrap)"
  log "no registry reachable: building $base_image with mmdebstrap"
  local tar
  tar=$(mktemp /tmp/bookworm.XXXXXX.tar)
  # Mirrors are given explicitly: with no terminal, mmdebstrap would read them from stdin.
  as_root mmdebstrap --quiet --variant=apt bookworm "$tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://security.debian.org/debian-security bookworm-security main" </dev/null \
    || { rm -f "$tar"; die "mmdebstrap failed"; }
  docker import "$tar" "$base_image" >/dev/null || { rm -f "$tar"; die "docker import failed"; }
  rm -f "$tar"
}

ensure_docker
ensure_base_image

if timeout 20 docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  compose_cmd=(docker-compose)
fi
# The legacy builder needs no buildx plugin; use BuildKit only when buildx is there.
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
fi

project="swarmcache-e2e-$$"
work=$(mktemp -d /tmp/swarmcache-e2e.XXXXXX)
mkdir -p "$work/data"
export SWARMCACHE_DATA_DIR="$work/data" SWARMCACHE_SAMPLE_MB="$sample_mb" \
  SWARMCACHE_BUILD_JOBS="$build_jobs" SWARMCACHE_TAG="e2e" SWARMCACHE_BIND=127.0.0.1 \
  SWARMCACHE_TRACKER_PORT=0 SWARMCACHE_METASTORE_PORT=0 SWARMCACHE_PROXY_PORT=0 \
  SWARMCACHE_DASHBOARD_PORT=0 SWARMCACHE_BASE_IMAGE="$base_image"
compose_args=(--project-directory "$root" -f "$root/compose.yaml" -p "$project")
compose() { "${compose_cmd[@]}" "${compose_args[@]}" "$@"; }
log "using '${compose_cmd[*]}' ($("${compose_cmd[@]}" version --short 2>/dev/null || echo ?)), project $project, $leechers leechers, ${sample_mb} MiB of sample data"

cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then
    log "failed (exit $rc): state and logs of every service follow"
    compose ps -a
    for c in $(compose ps -a -q 2>/dev/null); do
      docker inspect -f '{{.Name}} state={{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}} health={{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c"
    done
    compose logs --no-color --tail="${SC_E2E_LOG_LINES:-200}"
  fi
  if [[ ${SC_E2E_KEEP:-0} == 1 ]]; then
    log "SC_E2E_KEEP=1: leaving project $project up; data in $work"
  else
    compose down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    rm -rf "$work"
    # Untagged swarmcache images only: build stages and images this run's tags replaced.
    docker image prune -f --filter label=io.swarmcache.image >/dev/null 2>&1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The stored JSON or command output of one container, via the image's own HTTP helper (so
# this works where the host cannot reach container addresses, e.g. Docker Desktop).
http_get() { timeout 15 docker exec "$1" swarmcache-healthcheck "$2"; }

t_start=$SECONDS
log "building images"
build_args=()
[[ $no_cache == 1 ]] && build_args+=(--no-cache)
# Two images: every swarmcache service shares tracker's (swarmcache:e2e), redis has its own.
# Building per service would build the same image once per service (each from scratch with
# --no-cache); `up` then finds the images present and builds nothing.
timeout "$build_timeout" "${compose_cmd[@]}" "${compose_args[@]}" build "${build_args[@]}" redis tracker \
  || die "image build failed"
t_built=$SECONDS

log "starting the topology"
timeout "$up_timeout" "${compose_cmd[@]}" "${compose_args[@]}" up -d --scale leecher="$leechers" || die "compose up failed"
t_up=$SECONDS

# Every daemon container must be healthy (one-shots must have exited 0).
deadline=$((SECONDS + up_timeout))
while :; do
  unhealthy=()
  for c in $(compose ps -a -q); do
    read -r name status exit_code health < <(docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c") || continue
    if [[ $health == none ]]; then
      [[ $status == exited && $exit_code != 0 ]] && die "one-shot ${name#/} exited with $exit_code"
      [[ $status == exited ]] || unhealthy+=("${name#/}:$status")
    elif [[ $health != healthy ]]; then
      unhealthy+=("${name#/}:$health")
    fi
  done
  ((${#unhealthy[@]} == 0)) && break
  ((SECONDS < deadline)) || die "not healthy after ${up_timeout} s: ${unhealthy[*]}"
  sleep "$poll"
done
t_healthy=$SECONDS
log "all services healthy after $((t_healthy - t_up)) s"

(cd "$work/data" && find . -type f ! -path './.*' -exec sha256sum {} +) | sort -k2 >"$work/source.sums"
n_files=$(wc -l <"$work/source.sums")
bytes=$(du -sb "$work/data" | cut -f1)
((n_files > 0)) || die "sample-data left $work/data empty"
log "source: $n_files files, $((bytes / 1048576)) MiB"

# Wait until the seeders have registered a torrent for every source file; every key the
# metastore then lists is one the leechers must complete.
metastore=$(compose ps -q metastore)
deadline=$((SECONDS + 300))
while :; do
  if http_get "$metastore" "http://127.0.0.1:7070/v1/torrents?limit=1000" >"$work/list.json" 2>/dev/null \
    && python3 "$here/check_swarm.py" keys "$work/list.json" >"$work/keys" 2>/dev/null; then
    missing=0
    while read -r _ name; do
      grep -qxF "files/${name#./}" "$work/keys" || missing=$((missing + 1))
    done <"$work/source.sums"
    ((missing == 0)) && break
  fi
  ((SECONDS < deadline)) || die "the metastore does not list a files/ key for every source file after 300 s: $(head -c 600 "$work/list.json" 2>/dev/null)"
  sleep "$poll"
done
t_registered=$SECONDS
log "metastore lists $(wc -l <"$work/keys") torrents ($(grep -c '^files/' "$work/keys") files/, $(grep -c '^dirs/' "$work/keys") dirs/) after $((t_registered - t_healthy)) s"

mapfile -t leecher_ids < <(compose ps -q leecher)
((${#leecher_ids[@]} == leechers)) || die "expected $leechers leecher containers, found ${#leecher_ids[@]}"

deadline=$((SECONDS + swarm_timeout))
next_report=$((SECONDS + report_every))
while :; do
  done_count=0
  summary=""
  for i in "${!leecher_ids[@]}"; do
    c=${leecher_ids[$i]}
    if http_get "$c" "http://127.0.0.1:7880/v1/status" >"$work/status.$i" 2>/dev/null; then
      if line=$(python3 "$here/check_swarm.py" status "$work/keys" "$work/status.$i"); then
        done_count=$((done_count + 1))
      else
        [[ $? == 2 ]] && die "leecher $((i + 1)) reports an error: $line"
        summary="leecher $((i + 1)): $line"
      fi
    else
      summary="leecher $((i + 1)): /v1/status did not answer"
    fi
  done
  ((done_count == leechers)) && break
  ((SECONDS < deadline)) || die "after ${swarm_timeout} s only $done_count/$leechers leechers are complete; $summary"
  if ((SECONDS >= next_report)); then
    log "$done_count/$leechers leechers complete; $summary"
    next_report=$((SECONDS + report_every))
  fi
  sleep "$poll"
done
t_complete=$SECONDS

# The status is the nodes' word; the bytes on their disks are the proof.
for i in "${!leecher_ids[@]}"; do
  c=${leecher_ids[$i]}
  timeout 120 docker exec "$c" sh -c 'cd "$SWARMCACHE_DATA" && find . -type f -exec sha256sum {} +' \
    >"$work/node.$i.sums" || die "could not hash the files in leecher $((i + 1))"
  line=$(python3 "$here/check_swarm.py" files "$work/source.sums" "$work/node.$i.sums") \
    || die "leecher $((i + 1)) ($(docker inspect -f '{{.Name}}' "$c")): $line"
done
log "every leecher's files match the source SHA-256 ($n_files files each)"
t_hashed=$SECONDS

# The dashboard is the one front end for every node: it must see all of them, complete.
dashboard=$(compose ps -q dashboard)
min_nodes=$((leechers + 2))
deadline=$((SECONDS + 120))
line=""
until http_get "$dashboard" "http://127.0.0.1:8080/api/overview" >"$work/overview.json" 2>/dev/null \
  && line=$(python3 "$here/check_swarm.py" dashboard "$work/keys" "$work/overview.json" "$min_nodes"); do
  ((SECONDS < deadline)) || die "dashboard after 120 s: ${line:-/api/overview did not answer}"
  sleep "$poll"
done
t_dashboard=$SECONDS
log "the dashboard shows all $min_nodes nodes with every torrent"

# Nothing may have crashed and been restarted along the way.
for c in $(compose ps -q); do
  restarts=$(docker inspect -f '{{.RestartCount}}' "$c")
  ((restarts == 0)) || die "$(docker inspect -f '{{.Name}}' "$c") restarted $restarts times"
done

swarm_s=$((t_complete - t_registered))
mib=$((bytes / 1048576))
log "PASS"
printf '%-40s %s\n' \
  "build" "$((t_built - t_start)) s" \
  "compose up (+ healthy)" "$((t_up - t_built)) s (+$((t_healthy - t_up)) s)" \
  "seeders registered every file" "$((t_registered - t_healthy)) s" \
  "${leechers} leechers x ${mib} MiB complete" "${swarm_s} s ($((leechers * mib)) MiB delivered)" \
  "dashboard shows every node complete" "+$((t_dashboard - t_hashed)) s" \
  "total" "$((SECONDS - t_start)) s"
