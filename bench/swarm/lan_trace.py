#!/usr/bin/env python3
# Per-host rates over time for bench/swarm/lan.sh (LAN_TRACE=SECONDS): run in the hub namespace,
# it samples every bridge port's byte counters (port vI: rx = host I's upload, tx = its
# download) every INTERVAL seconds until SIGTERM or 900 s, then prints one line per step:
# the origin's upload and the least / mean / most any other host downloaded and uploaded,
# in Mbit/s, so an idle origin or a starved host shows where the time went.
#   lan_trace.py N INTERVAL
import signal
import sys
import time

n, step = int(sys.argv[1]), float(sys.argv[2])


def read(i, what):
    with open("/sys/class/net/v%d/statistics/%s_bytes" % (i, what)) as f:
        return int(f.read())


def sample():
    return [(read(i, "rx"), read(i, "tx")) for i in range(n + 1)]


stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
samples = [(time.monotonic(), sample())]
print("# tracing", flush=True)  # lan.sh starts the hosts only after this line
deadline = samples[0][0] + 900
while not stop and time.monotonic() < deadline:
    time.sleep(step)
    samples.append((time.monotonic(), sample()))

mbit = lambda b, dt: b * 8 / dt / 1e6
print("%6s %8s %23s %23s" % ("t s", "origin", "down min/mean/max", "up min/mean/max"))
t0 = samples[0][0]
for (ta, a), (tb, b) in zip(samples, samples[1:]):
    dt = tb - ta
    up = [mbit(b[i][0] - a[i][0], dt) for i in range(n + 1)]
    down = [mbit(b[i][1] - a[i][1], dt) for i in range(1, n + 1)]
    if max(down) < 1 and up[0] < 1:
        continue  # before the first request or after the last host finished
    print("%6.2f %8.0f %7.0f %7.0f %7.0f %7.0f %7.0f %7.0f" % (
        tb - t0, up[0], min(down), sum(down) / n, max(down), min(up[1:]), sum(up[1:]) / n, max(up[1:])))
