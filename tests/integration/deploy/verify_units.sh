#!/usr/bin/env bash
# Checks one daemon's systemd units (deploy/systemd/swarmcache-<daemon>.service and its
# .socket units): `systemd-analyze verify` must pass with no warning at all, the hardening
# the project promises must be there, the sockets and the service must name each other, and
# the offline exposure score must stay "OK" (at most 2.0 of 10).
#   verify_units.sh DAEMON BINARY      (BINARY empty: no such CMake target yet -> skip, 77)
set -euo pipefail
daemon=$1
binary=${2:-}
src=${SC_SOURCE_DIR:?set by CTest}/deploy/systemd
# systemd-analyze's exposure score is out of 100 here (shown as 0.0-10.0).
max_exposure=20

if [[ -z $binary ]]; then
  echo "SKIP: the build has no swarmcache-$daemon target yet"
  exit 77
fi
[[ -x $binary ]] || { echo "FAIL: $binary is a target of this build but was not built"; exit 1; }
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not installed (package systemd)"; exit 1; }

service=swarmcache-$daemon.service
shopt -s nullglob
sockets=("$src/swarmcache-$daemon.socket" "$src"/swarmcache-"$daemon"-*.socket)
fail=0
problem() { echo "FAIL: $*"; fail=1; }

[[ -f $src/$service ]] || { echo "FAIL: no $src/$service"; exit 1; }
for s in "${sockets[@]}"; do [[ -f $s ]] || problem "no $s"; done

get() { sed -n "s/^$2=//p" "$1"; }
svc=$src/$service
[[ $(get "$svc" Type) == notify ]] || problem "$service: Type= is not notify"
[[ -n $(get "$svc" WatchdogSec) ]] || problem "$service: no WatchdogSec="
[[ $(get "$svc" DynamicUser) == yes || -n $(get "$svc" User) ]] || problem "$service: neither DynamicUser=yes nor User="
[[ $(get "$svc" ProtectSystem) == strict ]] || problem "$service: ProtectSystem= is not strict"
[[ -n $(get "$svc" StateDirectory) ]] || problem "$service: no StateDirectory="
[[ $(get "$svc" NoNewPrivileges) == yes ]] || problem "$service: NoNewPrivileges= is not yes"
grep -qx 'CapabilityBoundingSet=' "$svc" || problem "$service: CapabilityBoundingSet= does not drop every capability"
grep -q "^ExecStart=/usr/local/bin/swarmcache-$daemon\b" "$svc" || problem "$service: ExecStart= does not run /usr/local/bin/swarmcache-$daemon"

# Every socket points at the service, the service lists every socket, and the names the
# daemon looks its listeners up by are there (tracker: http, udp, admin; others: http).
listed=" $(get "$svc" Sockets) "
names=()
for s in "${sockets[@]}"; do
  b=$(basename "$s")
  [[ $(get "$s" Service) == "$service" ]] || problem "$b: Service= is not $service"
  [[ $listed == *" $b "* ]] || problem "$service: Sockets= does not list $b"
  names+=("$(get "$s" FileDescriptorName)")
done
if [[ $daemon == tracker ]]; then want="admin http udp"; else want="http"; fi
have=$(printf '%s\n' "${names[@]}" | sort | xargs)
[[ $have == "$want" ]] || problem "FileDescriptorName= values are '$have', want '$want'"

# verify resolves ExecStart=, so the copies run the binary of this build.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$svc" "${sockets[@]}" "$tmp/"
sed -i "s|/usr/local/bin/swarmcache-$daemon|$binary|" "$tmp/$service"
if ! out=$(cd "$tmp" && systemd-analyze verify --man=no ./* 2>&1) || [[ -n $out ]]; then
  problem "systemd-analyze verify:"
  echo "$out"
fi
if ! out=$(cd "$tmp" && systemd-analyze security --offline=true --threshold=$max_exposure --no-pager "./$service" 2>&1); then
  problem "exposure above $((max_exposure / 10)).$((max_exposure % 10)):"
  echo "$out" | grep -E '✗|Overall'
else
  echo "$out" | tail -n 1
fi
((fail == 0)) && echo "PASS: $service and ${#sockets[@]} socket unit(s)"
exit $fail
