#!/usr/bin/python3
"""Static checks of compose.yaml and deploy/docker/Dockerfile, without a Docker daemon.

  compose_check.py SOURCE_DIR

The promises of the compose topology that a typo would silently break: the only external image
is the Debian base (every image is built here), one-shots finish before the daemons that need
them and daemons wait for healthy dependencies, leechers publish nothing (so they scale),
two seeders share the user's ./data read-only, the backend network is internal, published ports
listen on a configurable address. When docker-compose (or `docker compose`) is installed it must
also accept the file (`config -q`), which checks it against Compose's own schema.
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

ONE_SHOTS = {"token", "sample-data"}
DAEMONS = {"redis", "tracker", "metastore", "seeder", "leecher", "proxy", "dashboard"}
PUBLIC = {"tracker", "metastore", "proxy", "dashboard"}


def check_compose(path, errors):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if "name" in doc:
        errors.append("top-level `name` is not understood by docker-compose 1.29")
    services = doc.get("services") or {}
    missing = (ONE_SHOTS | DAEMONS) - set(services)
    if missing:
        errors.append(f"services missing: {sorted(missing)}")
    if not (doc.get("networks") or {}).get("backend", {}).get("internal"):
        errors.append("the backend network is not internal")
    for name, s in services.items():
        if "build" not in s:
            errors.append(f"{name}: no build: the only external image must be the Debian base")
        if name in ONE_SHOTS:
            if s.get("restart", "no") != "no":
                errors.append(f"{name}: a one-shot must not restart")
            continue
        if s.get("restart") not in ("unless-stopped", "always", "on-failure"):
            errors.append(f"{name}: restart policy {s.get('restart')!r}")
        for dep, cond in (s.get("depends_on") or {}).items():
            if dep not in services:
                errors.append(f"{name}: depends on unknown service {dep}")
                continue
            want = "service_completed_successfully" if dep in ONE_SHOTS else "service_healthy"
            if (cond or {}).get("condition") != want:
                errors.append(f"{name}: depends_on {dep} should use condition {want}")
        healthcheck = s.get("healthcheck") or {}
        if healthcheck.get("disable"):
            errors.append(f"{name}: a daemon's healthcheck is disabled")
        ports = s.get("ports") or []
        if ports and name not in PUBLIC:
            errors.append(f"{name}: publishes {ports}, but is not user-facing")
        for p in ports:
            if not str(p).startswith("${SWARMCACHE_BIND:-127.0.0.1}:"):
                errors.append(f"{name}: port {p} does not listen on ${{SWARMCACHE_BIND}}")
        nets = s.get("networks") or []
        if "backend" not in nets:
            errors.append(f"{name}: not on the backend network")
        if ("frontend" in nets) != (name in PUBLIC):
            errors.append(f"{name}: on the frontend network iff it is user-facing")
    seeder = services.get("seeder") or {}
    if ((seeder.get("deploy") or {}).get("replicas")) != 2:
        errors.append("seeder: deploy.replicas is not 2")
    if "${SWARMCACHE_DATA_DIR:-./data}:/data:ro" not in (seeder.get("volumes") or []):
        errors.append("seeder: does not mount ${SWARMCACHE_DATA_DIR:-./data} read-only at /data")
    sample = services.get("sample-data") or {}
    if "${SWARMCACHE_DATA_DIR:-./data}:/data" not in (sample.get("volumes") or []):
        errors.append("sample-data: does not fill the seeders' data directory")
    if "container_name" in str(services.get("leecher")):
        errors.append("leecher: container_name prevents --scale")


def check_dockerfile(path, errors):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines or not lines[0].startswith("ARG BASE_IMAGE="):
        errors.append("Dockerfile: the first instruction is not ARG BASE_IMAGE=...")
    froms = [line for line in lines if line.startswith("FROM ")]
    for line in froms:
        if not re.match(r"FROM \$\{BASE_IMAGE\} AS \w+$", line):
            errors.append(f"Dockerfile: '{line}' is not built on ${{BASE_IMAGE}}")
    if len(froms) < 3:
        errors.append("Dockerfile: expected redis, build and runtime stages")
    last_stage = text[text.rfind("\nFROM "):]
    if not re.search(r"^USER (?!root|0\b)\S+", last_stage, re.M):
        errors.append("Dockerfile: the runtime stage does not switch to a non-root USER")
    if "HEALTHCHECK" not in last_stage:
        errors.append("Dockerfile: the runtime stage has no HEALTHCHECK")
    if re.search(r"-dev\b", last_stage):
        errors.append("Dockerfile: the runtime stage installs -dev packages")
    if "# syntax=" in text:
        errors.append("Dockerfile: a syntax directive needs BuildKit and a registry; the legacy builder must work")


def dockerignore_regex(pattern):
    """A .dockerignore pattern as Docker's legacy builder reads it: the trailing slash is
    dropped (so "build*/" matches files too), ** spans path segments, * and ? stay within one,
    and a match on a directory takes everything below it."""
    p, out, i = pattern.rstrip("/"), "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(out + "(?:/.*)?$")


def check_dockerignore(path, errors):
    with open(path, encoding="utf-8") as f:
        entries = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    for want in (".git", "build", "**/build"):
        if want not in entries:
            errors.append(f".dockerignore: does not exclude {want}")
    # No source file the image is built from may be left out of the build context.
    root = os.path.dirname(os.path.abspath(path))
    listed = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    if listed.returncode != 0:
        return
    patterns = [(e, dockerignore_regex(e)) for e in entries if not e.startswith("!")]
    for source in listed.stdout.splitlines():
        for text, rx in patterns:
            if rx.match(source):
                errors.append(f".dockerignore: {text!r} drops the source file {source}")
                break


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 64
    src = argv[0]
    errors = []
    check_compose(os.path.join(src, "compose.yaml"), errors)
    check_dockerfile(os.path.join(src, "deploy/docker/Dockerfile"), errors)
    check_dockerignore(os.path.join(src, ".dockerignore"), errors)
    tool = None
    if shutil.which("docker-compose"):
        tool = ["docker-compose"]
    elif shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        tool = ["docker", "compose"]
    if tool:
        r = subprocess.run(tool + ["--project-directory", src, "-f", os.path.join(src, "compose.yaml"), "config", "-q"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            errors.append(f"{' '.join(tool)} config: {r.stderr.strip() or r.stdout.strip()}")
    for e in errors:
        print(f"FAIL: {e}")
    if not errors:
        print("PASS: compose.yaml, Dockerfile and .dockerignore"
              + (f" (and `{' '.join(tool)} config` accepts compose.yaml)" if tool else " (no compose tool here for its schema)"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
