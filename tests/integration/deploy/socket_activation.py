#!/usr/bin/env python3
"""Starts one swarmcache daemon the way systemd's .socket units do, and talks to it.

  socket_activation.py DAEMON BINARY [METASTORE_BINARY]
  socket_activation.py tracker-all BINARY

`systemd-socket-activate` holds the listening socket(s) on 127.0.0.1 with the names the
units give them (FileDescriptorName=: "http", and "admin" for the tracker) and executes the
daemon only on the first connection, with a NOTIFY_SOCKET this test reads. The test passes
when the daemon answers on the passed socket(s) (it never got a port of its own to bind,
so an answer proves it adopted them), sends READY=1, serves /healthz, /readyz and /metrics,
and on SIGTERM sends STOPPING=1 and exits 0.

`tracker-all` passes the tracker's three sockets at once, as its three .socket units do
(systemd-socket-activate cannot mix stream and datagram sockets): http and admin (TCP) and
udp, and checks a BEP 15 connect over the passed UDP socket too.

BINARY empty: the build has no such target yet, exit 77 (CTest SKIP_RETURN_CODE). Daemons that
need a metastore get a real one (on a real redis-server) when METASTORE_BINARY is given.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
# Generous: the first request also pays for the exec and start-up of a sanitizer build.
DEADLINE_S = 30.0


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, what, timeout=DEADLINE_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def http(port, path, method="GET", timeout=DEADLINE_S):
    """One HTTP/1.1 request on 127.0.0.1:port; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Connection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > 4 << 20:
                raise AssertionError(f"{path}: response larger than 4 MiB")
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = status_line.split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError(f"{path}: not an HTTP response: {data[:200]!r}")
    headers = head.decode(errors="replace").lower()
    if "transfer-encoding: chunked" in headers:
        body = dechunk(body)
    return int(parts[1]), body


def dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def listening(port):
    def pred():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                pass
            return True
        except OSError:
            return False
    return pred


class Notify:
    """The NOTIFY_SOCKET end: a Unix datagram socket collecting sd_notify messages."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.messages = []

    def _drain(self):
        while True:
            try:
                self.messages.extend(self.sock.recv(4096).decode(errors="replace").split("\n"))
            except BlockingIOError:
                return

    def saw(self, line):
        self._drain()
        return line in self.messages

    def close(self):
        self.sock.close()


class Daemon:
    """A child process killed (by pid) at the end if it is still running."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env)

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.log.close()

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


def start_metastore(binary, tmp, children):
    """A plain (not activated) metastore on a real redis-server, for the daemons that need one."""
    redis_port = free_port()
    redis = Daemon(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", tmp],
                   os.path.join(tmp, "redis.log"))
    children.append(redis)
    wait_until(listening(redis_port), "redis-server")
    port = free_port()
    ms = Daemon([binary, "--listen", f"127.0.0.1:{port}",
                 "--redis", f"redis://127.0.0.1:{redis_port}/0",
                 "--auth-tokens", os.path.join(tmp, "token"), "--log-level", "warn"],
                os.path.join(tmp, "metastore.log"))
    children.append(ms)
    wait_until(lambda: ms.running() and listening(port)(), "the helper metastore")
    return f"http://127.0.0.1:{port}"


def daemon_args(daemon, tmp, metastore_url):
    """Flags per /work/shared/design.md; listeners come from the passed sockets, not flags."""
    tracker = f"http://127.0.0.1:{free_port()}/announce"
    token = os.path.join(tmp, "token")
    if daemon == "tracker":
        # The configuration the units and the image ship. Its listen addresses are not the
        # test's ports: only an adopted socket answers there. UDP is not passed here
        # (systemd-socket-activate passes one socket type), so it goes to a free port.
        cfg = os.path.join(os.environ["SC_SOURCE_DIR"], "deploy", "config", "tracker.yaml")
        return ["--config", cfg, "--udp-listen", f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}"]
    if daemon == "metastore":
        return ["--redis", f"redis://127.0.0.1:{os.environ['SC_TEST_REDIS_PORT']}/0",
                "--auth-tokens", token]
    if daemon in ("seeder", "leecher"):
        data = os.path.join(tmp, "data")
        os.makedirs(data, exist_ok=True)
        if daemon == "seeder":
            with open(os.path.join(data, "hello.txt"), "w") as f:
                f.write("hello from the socket activation test\n")
        args = ["--data", data, "--state", os.path.join(tmp, "state"),
                "--metastore", metastore_url, "--tracker", tracker, "--token-file", token,
                "--peer-listen", "127.0.0.1:0"]
        if daemon == "leecher":
            # Ready once its first events long-poll returns; on an empty registry that takes
            # the whole wait (30 s by default).
            args += ["--events-wait", "2s"]
        return args
    if daemon == "proxy":
        return ["--state", os.path.join(tmp, "state"), "--cache", os.path.join(tmp, "cache"),
                "--metastore", metastore_url, "--tracker", tracker, "--token-file", token,
                "--peer-listen", "127.0.0.1:0", "--upstream", f"http://127.0.0.1:{free_port()}"]
    if daemon == "dashboard":
        return ["--metastore", metastore_url]
    raise SystemExit(f"unknown daemon {daemon}")


def run(daemon, binary, metastore_binary):
    tmp = tempfile.mkdtemp(prefix=f"sc-sockact-{daemon}-")
    with open(os.path.join(tmp, "token"), "w") as f:
        f.write("socket-activation-test-token\n")
    children = []
    notify = Notify(os.path.join(tmp, "notify"))
    try:
        metastore_url = f"http://127.0.0.1:{free_port()}"
        if daemon == "metastore":
            redis_port = free_port()
            children.append(Daemon(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no", "--dir", tmp],
                                   os.path.join(tmp, "redis.log")))
            wait_until(listening(redis_port), "redis-server")
            os.environ["SC_TEST_REDIS_PORT"] = str(redis_port)
        elif daemon != "tracker" and metastore_binary:
            metastore_url = start_metastore(metastore_binary, tmp, children)

        ports = {"http": free_port()}
        if daemon == "tracker":
            ports["admin"] = free_port()
        health_port = ports.get("admin", ports["http"])
        argv = ["systemd-socket-activate"]
        for port in ports.values():
            argv += ["-l", f"127.0.0.1:{port}"]
        argv += ["--fdname=" + ":".join(ports), "-E", f"NOTIFY_SOCKET={notify.path}",
                 "-E", "SWARMCACHE_LOG_LEVEL=info"]
        # systemd-socket-activate passes on almost no environment: forward the sanitizers'.
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if var in os.environ:
                argv += ["-E", f"{var}={os.environ[var]}"]
        argv += [binary] + daemon_args(daemon, tmp, metastore_url) + ["--log-level", "info"]
        proc = Daemon(argv, os.path.join(tmp, f"{daemon}.log"))
        children.append(proc)

        try:
            wait_until(lambda: proc.running() and listening(health_port)(), "the activation socket")
            # This first connection is what makes systemd-socket-activate exec the daemon.
            status, body = http(health_port, "/healthz")
            assert status == 200, f"/healthz answered {status}: {body[:200]!r}"
            wait_until(lambda: notify.saw("READY=1"), "READY=1 on NOTIFY_SOCKET")
            status, body = wait_until(
                lambda: (lambda r: r if r[0] == 200 else None)(http(health_port, "/readyz")),
                "/readyz to answer 200")
            status, body = http(health_port, "/metrics")
            assert status == 200 and b"swarmcache_" in body, \
                f"/metrics answered {status} without swarmcache_ metrics: {body[:200]!r}"
            if daemon == "tracker":
                # The public socket is adopted too: an announce without parameters gets a
                # BitTorrent failure (bencoded), not a hang or a reset.
                status, body = http(ports["http"], "/announce")
                assert b"failure reason" in body, f"/announce answered {status}: {body[:200]!r}"
            proc.proc.send_signal(signal.SIGTERM)
            code = proc.proc.wait(timeout=DEADLINE_S)
            assert code == 0, f"exit status {code} after SIGTERM"
            assert notify.saw("STOPPING=1"), f"no STOPPING=1 (got {notify.messages})"
        except (AssertionError, OSError, subprocess.TimeoutExpired) as e:
            print(f"FAIL: {daemon}: {e}")
            print(f"--- {daemon} log ---\n{proc.tail()}")
            for c in children[:-1]:
                print(f"--- {os.path.basename(c.log_path)} ---\n{c.tail(15)}")
            return 1
        print(f"PASS: {daemon} started by systemd-socket-activate on "
              + ", ".join(f"{n}=127.0.0.1:{p}" for n, p in ports.items())
              + "; /healthz, /readyz, /metrics answered; READY=1 and STOPPING=1 seen; exit 0")
        return 0
    finally:
        for c in reversed(children):
            c.stop()
        notify.close()
        subprocess.run(["rm", "-rf", tmp], check=False)


def run_tracker_all(binary):
    """Like systemd with swarmcache-tracker{,-udp,-admin}.socket: fds 3, 4, 5 named http, udp, admin."""
    tmp = tempfile.mkdtemp(prefix="sc-sockact-tracker-all-")
    notify = Notify(os.path.join(tmp, "notify"))
    socks = []
    for name, kind in (("http", socket.SOCK_STREAM), ("udp", socket.SOCK_DGRAM), ("admin", socket.SOCK_STREAM)):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            s.listen(128)
        socks.append((name, s))
    ports = {name: s.getsockname()[1] for name, s in socks}
    # Move the sockets out of the way first, so that placing them at 3, 4, 5 never overwrites one.
    high = [os.dup(s.fileno()) for _, s in socks]
    high = [os.dup2(fd, 200 + i) or (200 + i) for i, fd in enumerate(high)]

    def place_fds():
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
            os.set_inheritable(3 + i, True)

    env = dict(os.environ, LISTEN_FDS=str(len(socks)), LISTEN_FDNAMES=":".join(n for n, _ in socks),
               NOTIFY_SOCKET=notify.path, SWARMCACHE_LOG_LEVEL="info")
    cfg = os.path.join(os.environ["SC_SOURCE_DIR"], "deploy", "config", "tracker.yaml")
    log_path = os.path.join(tmp, "tracker.log")
    log = open(log_path, "wb")
    # LISTEN_PID must be the daemon's pid: the shell sets it to its own, then execs the daemon.
    proc = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', "sh",
                             binary, "--config", cfg],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            preexec_fn=place_fds, pass_fds=(3, 4, 5))
    for fd in high:
        os.close(fd)
    try:
        status, body = http(ports["admin"], "/healthz")
        assert status == 200, f"/healthz answered {status}"
        wait_until(lambda: notify.saw("READY=1"), "READY=1 on NOTIFY_SOCKET")
        status, body = http(ports["http"], "/announce")
        assert b"failure reason" in body, f"/announce answered {status}: {body[:200]!r}"
        # BEP 15 connect: protocol id, action 0, transaction id -> action 0, same id, connection id.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.settimeout(2.0)
        txid = 0x5C0FFEE
        reply = None
        for _ in range(5):  # UDP may drop; retry like a client would
            udp.sendto(struct.pack(">QII", 0x41727101980, 0, txid), ("127.0.0.1", ports["udp"]))
            try:
                reply = udp.recv(2048)
                break
            except socket.timeout:
                continue
        udp.close()
        assert reply is not None, "no answer to a UDP connect on the passed udp socket"
        assert len(reply) >= 16 and struct.unpack(">II", reply[:8]) == (0, txid), \
            f"UDP connect answered {reply[:32]!r}"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=DEADLINE_S)
        assert code == 0, f"exit status {code} after SIGTERM"
        assert notify.saw("STOPPING=1"), f"no STOPPING=1 (got {notify.messages})"
    except (AssertionError, OSError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: tracker (three sockets): {e}")
        log.flush()
        with open(log_path, "rb") as f:
            print(f.read()[-4000:].decode(errors="replace"))
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        for _, s in socks:
            s.close()
        notify.close()
        subprocess.run(["rm", "-rf", tmp], check=False)
    print("PASS: tracker given http, udp and admin sockets like its three units; HTTP announce, "
          "admin /healthz and a UDP connect answered on them; READY=1, STOPPING=1, exit 0")
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    daemon, binary = argv[0], argv[1]
    metastore_binary = argv[2] if len(argv) > 2 else ""
    if not binary:
        print(f"SKIP: the build has no swarmcache-{daemon.removesuffix('-all')} target yet")
        return SKIP
    if not os.access(binary, os.X_OK):
        print(f"FAIL: {binary} is a target of this build but was not built")
        return 1
    if daemon == "tracker-all":
        return run_tracker_all(binary)
    return run(daemon, binary, metastore_binary)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
