#!/usr/bin/env bash
# The image's HEALTHCHECK script (deploy/docker/healthcheck.sh) against a real HTTP server on
# 127.0.0.1: 2xx passes, 404 and a closed port fail, the URL is derived from the same
# environment variables compose sets, and URL mode prints the body.
set -euo pipefail
hc=${SC_SOURCE_DIR:?set by CTest}/deploy/docker/healthcheck.sh
tmp=$(mktemp -d)
server_pid=
cleanup() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/www/v1"
echo ready >"$tmp/www/readyz"
echo '{"torrents":[]}' >"$tmp/www/v1/status"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# A strict server: exactly these paths exist (no path normalisation that would hide "//readyz").
python3 - "$port" "$tmp/www" >"$tmp/server.log" 2>&1 <<'PY' &
import http.server, os, sys
port, root = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        # The raw request target: http.server itself collapses a leading "//".
        target = self.requestline.split(" ")[1]
        path = os.path.join(root, target.lstrip("/"))
        if target.startswith("//") or ".." in target or not os.path.isfile(path):
            self.send_response(404); self.end_headers(); return
        body = open(path, "rb").read()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
server_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

fail=0
expect() {  # expect RC DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  local got=0
  "$@" >"$tmp/out" 2>&1 || got=$?
  if [[ $want == ok && $got -ne 0 ]] || [[ $want == fail && $got -eq 0 ]]; then
    echo "FAIL: $what: exit $got; output: $(head -c 300 "$tmp/out")"
    fail=1
  else
    echo "ok: $what"
  fi
}
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

expect ok "SWARMCACHE_HEALTH_URL with a 200" -- env SWARMCACHE_HEALTH_URL="http://127.0.0.1:$port/readyz" bash "$hc"
expect fail "SWARMCACHE_HEALTH_URL with a 404" -- env SWARMCACHE_HEALTH_URL="http://127.0.0.1:$port/nothing" bash "$hc"
expect fail "a closed port" -- env SWARMCACHE_HEALTH_URL="http://127.0.0.1:$closed/readyz" bash "$hc"
expect ok "/readyz on SWARMCACHE_LISTEN=0.0.0.0:PORT" -- env -u SWARMCACHE_HEALTH_URL SWARMCACHE_LISTEN="0.0.0.0:$port" bash "$hc"
expect ok "SWARMCACHE_ADMIN_LISTEN wins over SWARMCACHE_LISTEN" -- \
  env SWARMCACHE_ADMIN_LISTEN="127.0.0.1:$port" SWARMCACHE_LISTEN="127.0.0.1:$closed" bash "$hc"
expect fail "only http:// URLs" -- bash "$hc" "https://127.0.0.1:$port/readyz"
body=$(bash "$hc" "http://127.0.0.1:$port/v1/status")
if [[ $body == '{"torrents":[]}' ]]; then echo "ok: URL mode prints the body"; else echo "FAIL: URL mode printed '$body'"; fail=1; fi

((fail == 0)) && echo "PASS: healthcheck.sh"
exit $fail
