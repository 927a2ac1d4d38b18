#!/bin/bash
# Container health probe for every swarmcache daemon, with no HTTP client in the image:
# a plain HTTP/1.0 GET over bash's /dev/tcp. Exit 0 on a 2xx answer.
#   swarmcache-healthcheck            probe this container's daemon (see below)
#   swarmcache-healthcheck URL        GET URL and print the body (used by tests/e2e)
# Without URL it probes $SWARMCACHE_HEALTH_URL, else /readyz on $SWARMCACHE_ADMIN_LISTEN
# (tracker), else on $SWARMCACHE_LISTEN, else on 127.0.0.1:7880.
set -u
print_body=0
if (($# > 0)); then
  url=$1
  print_body=1
elif [[ -n ${SWARMCACHE_HEALTH_URL:-} ]]; then
  url=$SWARMCACHE_HEALTH_URL
else
  addr=${SWARMCACHE_ADMIN_LISTEN:-${SWARMCACHE_LISTEN:-127.0.0.1:7880}}
  host=${addr%:*}
  case $host in "" | 0.0.0.0 | "[::]" | "::" | "*") host=127.0.0.1 ;; esac
  url="http://$host:${addr##*:}/readyz"
fi

rest=${url#http://}
[[ $rest != "$url" ]] || { echo "only http:// URLs: $url" >&2; exit 2; }
hostport=${rest%%/*}
path=${rest#"$hostport"}
[[ $path == /* ]] || path=/$path
host=${hostport%:*}
port=${hostport##*:}
[[ $hostport == *:* ]] || port=80
host=${host#[}
host=${host%]}

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: swarmcache-healthcheck\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
IFS= read -r status <&3 || exit 1
code=$(echo "$status" | cut -d' ' -f2)
while IFS= read -r line <&3; do
  [[ $line == $'\r' || -z $line ]] && break
done
if ((print_body)); then
  cat <&3
else
  cat <&3 >/dev/null
fi
exec 3<&-
[[ $code == 2?? ]] || { echo "$url: $status" >&2; exit 1; }
