#!/usr/bin/python3
"""Offline check of deploy/k8s/monitoring and of the scrape set-up of deploy/k8s.

  monitoring_check.py SOURCE_DIR

- podmonitor.yaml is a monitoring.coreos.com/v1 PodMonitor with only the fields this check
  knows (a misspelt one is an error), whose selector matches the daemons' pods, and whose
  endpoint port names each exist on some selected pod;
- grafana-dashboard.json parses, every panel has a query, and every metric a query names
  exists in the source tree (so a renamed metric breaks this check, not the dashboard);
- the kustomization lists the PodMonitor and generates the dashboard's ConfigMap from the file;
- every daemon pod in deploy/k8s carries prometheus.io/scrape, port and path annotations whose
  port is one of its containers' ports, and the swarm nodes advertise status.podIP.
Nothing is downloaded.
"""
import glob
import json
import os
import re
import sys

import yaml

PODMONITOR_FIELDS = {
    "": {"apiVersion", "kind", "metadata", "spec"},
    "metadata": {"name", "namespace", "labels", "annotations"},
    "spec": {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel", "podTargetLabels"},
    "selector": {"matchLabels", "matchExpressions"},
    "endpoint": {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings", "metricRelabelings", "honorLabels"},
}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# Pods without an HTTP /metrics of their own (redis) or that run once (the sample-data Job).
NOT_SCRAPED = {"redis"}
# Swarm nodes whose control URL other pods dial (the dashboard) or whose peers must reach them.
ADVERTISING = {"seeder", "leecher"}
PROMQL_WORDS = {"sum", "rate", "increase", "by", "le", "histogram_quantile", "without", "avg", "max", "min",
                "count", "irate", "topk", "bottomk", "on", "ignoring", "group_left", "group_right"}


def unknown_fields(obj, allowed, where, errors):
    for k in obj:
        if k not in allowed:
            errors.append(f"{where}: unknown field {k!r}")


def check_podmonitor(pm, pods, errors):
    unknown_fields(pm, PODMONITOR_FIELDS[""], "PodMonitor", errors)
    if pm.get("apiVersion") != "monitoring.coreos.com/v1" or pm.get("kind") != "PodMonitor":
        errors.append("podmonitor.yaml: not a monitoring.coreos.com/v1 PodMonitor")
    unknown_fields(pm.get("metadata") or {}, PODMONITOR_FIELDS["metadata"], "PodMonitor.metadata", errors)
    spec = pm.get("spec") or {}
    unknown_fields(spec, PODMONITOR_FIELDS["spec"], "PodMonitor.spec", errors)
    sel = (spec.get("selector") or {})
    unknown_fields(sel, PODMONITOR_FIELDS["selector"], "PodMonitor.spec.selector", errors)
    want = sel.get("matchLabels") or {}
    selected = [p for p in pods if all(p["labels"].get(k) == v for k, v in want.items())]
    if not selected:
        errors.append("PodMonitor selects no pod of deploy/k8s")
    ports = {name for p in selected for name in p["ports"]}
    endpoints = spec.get("podMetricsEndpoints") or []
    if not endpoints:
        errors.append("PodMonitor has no podMetricsEndpoints")
    for i, ep in enumerate(endpoints):
        unknown_fields(ep, PODMONITOR_FIELDS["endpoint"], f"PodMonitor endpoint {i}", errors)
        if ep.get("port") not in ports:
            errors.append(f"PodMonitor endpoint {i}: no selected pod has a port named {ep.get('port')!r}")
    scraped = {p["component"] for p in selected if ports & set(p["ports"]) and p["component"] not in NOT_SCRAPED}
    for p in selected:
        if p["component"] in NOT_SCRAPED:
            continue
        if not any(ep.get("port") in p["ports"] for ep in endpoints):
            errors.append(f"PodMonitor scrapes no port of {p['component']}")
    return scraped


def metric_exists(name, source):
    for base in (name, re.sub(r"_(bucket|sum|count)$", "", name)):
        if base in source["all"]:
            return True
        m = re.match(r"swarmcache_(seeder|leecher)_(.+)$", base)
        if m and f'"{m.group(2)}"' in source["node"]:
            return True  # SwarmNode's metrics: "swarmcache_" + role + "_" + suffix
    return False


def check_dashboard(path, source, errors):
    with open(path, encoding="utf-8") as f:
        try:
            dash = json.load(f)
        except json.JSONDecodeError as e:
            errors.append(f"{path}: not JSON: {e}")
            return
    for key in ("title", "uid", "panels", "schemaVersion"):
        if key not in dash:
            errors.append(f"grafana dashboard: no {key}")
    for panel in dash.get("panels", []):
        targets = panel.get("targets") or []
        if not targets:
            errors.append(f"panel {panel.get('title')!r}: no query")
        for t in targets:
            expr = t.get("expr", "")
            expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", expr)
            for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
                if word in PROMQL_WORDS or not ("_" in word):
                    continue
                if not metric_exists(word, source):
                    errors.append(f"panel {panel.get('title')!r}: metric {word} exists nowhere in the source")


def daemon_pods(k8s_dir, errors):
    pods = []
    for path in sorted(glob.glob(os.path.join(k8s_dir, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            for d in yaml.safe_load_all(f):
                if not isinstance(d, dict) or d.get("kind") not in WORKLOADS:
                    continue
                tmpl = d["spec"]["template"]
                meta = tmpl.get("metadata") or {}
                labels = meta.get("labels") or {}
                containers = tmpl["spec"]["containers"]
                ports = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", []) if "name" in p}
                env = {e["name"]: e for c in containers for e in c.get("env", [])}
                component = labels.get("app.kubernetes.io/component", "?")
                pods.append({"component": component, "labels": labels, "ports": ports})
                where = f"{os.path.basename(path)} {d['kind']}/{d['metadata']['name']}"
                if component not in NOT_SCRAPED:
                    ann = meta.get("annotations") or {}
                    if ann.get("prometheus.io/scrape") != "true":
                        errors.append(f"{where}: no prometheus.io/scrape: \"true\" annotation")
                    if str(ann.get("prometheus.io/port")) not in {str(p) for p in ports.values()}:
                        errors.append(f"{where}: prometheus.io/port {ann.get('prometheus.io/port')} is no container port")
                    if ann.get("prometheus.io/path") != "/metrics":
                        errors.append(f"{where}: prometheus.io/path is not /metrics")
                if component in ADVERTISING:
                    ref = ((env.get("SWARMCACHE_ADVERTISE") or {}).get("valueFrom") or {}).get("fieldRef") or {}
                    if ref.get("fieldPath") != "status.podIP":
                        errors.append(f"{where}: SWARMCACHE_ADVERTISE must come from status.podIP")
    return pods


def main(root):
    errors = []
    k8s = os.path.join(root, "deploy", "k8s")
    mon = os.path.join(k8s, "monitoring")
    source = {"all": "", "node": open(os.path.join(root, "common/swarm/node.cc"), encoding="utf-8").read()}
    for pattern in ("services/**/*.cc", "common/**/*.cc"):
        for p in glob.glob(os.path.join(root, pattern), recursive=True):
            with open(p, encoding="utf-8") as f:
                source["all"] += f.read()
    source["all"] += source["node"]
    pods = daemon_pods(k8s, errors)
    with open(os.path.join(mon, "podmonitor.yaml"), encoding="utf-8") as f:
        check_podmonitor(yaml.safe_load(f), pods, errors)
    check_dashboard(os.path.join(mon, "grafana-dashboard.json"), source, errors)
    with open(os.path.join(mon, "kustomization.yaml"), encoding="utf-8") as f:
        kust = yaml.safe_load(f)
    if "podmonitor.yaml" not in (kust.get("resources") or []):
        errors.append("monitoring/kustomization.yaml: podmonitor.yaml not in resources")
    gens = [g for g in kust.get("configMapGenerator") or [] if "grafana-dashboard.json" in (g.get("files") or [])]
    if not gens:
        errors.append("monitoring/kustomization.yaml: no ConfigMap generated from grafana-dashboard.json")
    for e in errors:
        print("FAIL:", e)
    if errors:
        return 1
    print(f"ok: {len(pods)} workloads, PodMonitor and Grafana dashboard consistent with the source")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
