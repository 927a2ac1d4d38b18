#!/usr/bin/python3
"""Offline schema and consistency check of Kubernetes manifests.

  k8s_check.py DIR                    check every *.yaml in DIR (and its kustomization.yaml)
  k8s_check.py --expect-fail FILE...  each FILE must be rejected (the checker's own test)

The schema is the Kubernetes API's own, as generated into Debian's python3-kubernetes
(client 22.6, API 1.22): every object is walked against its model's typed fields, so an
unknown or misspelt field, a wrong type or a missing required field is an error. On top of
that, the references a cluster would only reject at run time: selectors that match their pod
templates, Services that select some workload, named ports that exist, volumes that are
declared, ConfigMaps, claims and StatefulSet services that are defined, and the restricted
Pod Security settings every pod here promises. Nothing is downloaded.
"""
import glob
import os
import re
import sys

try:
    import yaml
    from kubernetes.client import Configuration, models
except ImportError as e:  # pragma: no cover - a missing package is a setup error, said plainly
    print(f"FAIL: {e}: install python3-kubernetes and python3-yaml (scripts/deps.sh)")
    sys.exit(1)

# kind -> the apiVersion it must carry here (the stable one).
API_VERSIONS = {
    "Namespace": "v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
    "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
    "Job": "batch/v1", "CronJob": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1", "PodDisruptionBudget": "policy/v1",
}
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
# Created by the operator, not shipped (a secret in git would be a leak): see deploy/README.md.
EXTERNAL_SECRETS = {"swarmcache-token"}
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

_validation = Configuration()
_validation.client_side_validation = True
_required_cache = {}


def required_attrs(cls):
    """Attributes whose generated setter refuses None: the API's required fields."""
    if cls not in _required_cache:
        req = []
        for attr in cls.openapi_types:
            inst = cls.__new__(cls)
            inst.local_vars_configuration = _validation
            try:
                setattr(inst, attr, None)
            except ValueError:
                req.append(attr)
        _required_cache[cls] = req
    return _required_cache[cls]


def check_type(value, type_name, path, errors):
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_type(item, type_name[5:-1], f"{path}[{i}]", errors)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append(f"{path}: key {k!r} is not a string")
            check_type(v, inner, f"{path}.{k}", errors)
        return
    if type_name == "str":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        return
    if type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{path}: expected an integer, got {value!r}")
        return
    if type_name == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: expected a number, got {value!r}")
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true/false, got {value!r}")
        return
    if type_name in ("object", "datetime", "date"):
        # IntOrString, raw JSON, timestamps: any scalar or structure the server parses itself.
        return
    cls = getattr(models, type_name, None)
    if cls is None:
        errors.append(f"{path}: checker has no model {type_name}")
        return
    check_object(value, cls, path, errors)


def check_object(value, cls, path, errors):
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a {cls.__name__} map, got {type(value).__name__}")
        return
    by_json = {json: attr for attr, json in cls.attribute_map.items()}
    for key, item in value.items():
        attr = by_json.get(key)
        if attr is None:
            errors.append(f"{path}.{key}: unknown field in {cls.__name__}")
            continue
        if item is None:
            continue
        check_type(item, cls.openapi_types[attr], f"{path}.{key}", errors)
    for attr in required_attrs(cls):
        if value.get(cls.attribute_map[attr]) is None:
            errors.append(f"{path}: missing required field {cls.attribute_map[attr]}")


def pod_spec(doc):
    spec = doc.get("spec") or {}
    if doc["kind"] in WORKLOADS:
        return (spec.get("template") or {}).get("spec") or {}
    return None


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_pod(doc, where, errors, defined):
    pod = pod_spec(doc)
    if pod is None:
        return
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    claim_templates = {((t.get("metadata") or {}).get("name"))
                       for t in (doc.get("spec") or {}).get("volumeClaimTemplates") or []}
    for name, vol in volumes.items():
        if "configMap" in vol and vol["configMap"].get("name") not in defined["ConfigMap"]:
            errors.append(f"{where}: volume {name} uses ConfigMap {vol['configMap'].get('name')}, not defined")
        if "persistentVolumeClaim" in vol and \
                vol["persistentVolumeClaim"].get("claimName") not in defined["PersistentVolumeClaim"]:
            errors.append(f"{where}: volume {name} uses claim {vol['persistentVolumeClaim'].get('claimName')}, not defined")
        if "secret" in vol:
            sname = vol["secret"].get("secretName")
            if sname not in defined["Secret"] and sname not in EXTERNAL_SECRETS:
                errors.append(f"{where}: volume {name} uses Secret {sname}, neither defined nor documented")
        if "hostPath" in vol:
            errors.append(f"{where}: volume {name} is a hostPath, which the restricted Pod Security Standard forbids")
    pod_sc = pod.get("securityContext") or {}
    if not pod_sc.get("runAsNonRoot"):
        errors.append(f"{where}: pod securityContext.runAsNonRoot is not true")
    if (pod_sc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        errors.append(f"{where}: pod seccompProfile is not RuntimeDefault")
    for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        cwhere = f"{where} container {c.get('name')}"
        if not c.get("image"):
            errors.append(f"{cwhere}: no image")
        ports = {p.get("name") for p in c.get("ports") or [] if p.get("name")}
        for pname in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c.get(pname) or {}
            for action in ("httpGet", "tcpSocket"):
                port = (probe.get(action) or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{cwhere}: {pname} uses port {port!r}, not a named port of the container")
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in volumes and m.get("name") not in claim_templates:
                errors.append(f"{cwhere}: mounts {m.get('name')!r}, not a volume of the pod")
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{cwhere}: allowPrivilegeEscalation is not false")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            errors.append(f"{cwhere}: capabilities are not dropped (drop: [ALL])")
        if not (c.get("resources") or {}).get("requests"):
            errors.append(f"{cwhere}: no resource requests")
        for p in c.get("ports") or []:
            if "hostPort" in p:
                errors.append(f"{cwhere}: hostPort {p['hostPort']} is forbidden by the restricted Pod Security Standard")


def check_dir(directory):
    errors = []
    docs = []
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    kustomization = os.path.join(directory, "kustomization.yaml")
    for path in files:
        if path == kustomization:
            continue
        with open(path, encoding="utf-8") as f:
            try:
                loaded = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                errors.append(f"{os.path.basename(path)}: not YAML: {e}")
                continue
        for i, d in enumerate(loaded):
            docs.append((f"{os.path.basename(path)}#{i + 1}", d))
    if os.path.exists(kustomization):
        with open(kustomization, encoding="utf-8") as f:
            k = yaml.safe_load(f) or {}
        listed = set(k.get("resources") or [])
        present = {os.path.basename(p) for p in files} - {"kustomization.yaml"}
        for name in sorted(listed - present):
            errors.append(f"kustomization.yaml: resource {name} does not exist")
        for name in sorted(present - listed):
            errors.append(f"kustomization.yaml: {name} is not listed in resources")
    return errors + check_docs(docs)


def check_docs(docs):
    errors = []
    defined = {kind: set() for kind in API_VERSIONS}
    for where, d in docs:
        if not isinstance(d, dict) or "kind" not in d or "apiVersion" not in d:
            errors.append(f"{where}: not a Kubernetes object (kind and apiVersion)")
            continue
        kind = d["kind"]
        if kind not in API_VERSIONS:
            errors.append(f"{where}: kind {kind} is not one this checker knows")
            continue
        if d["apiVersion"] != API_VERSIONS[kind]:
            errors.append(f"{where}: {kind} must be apiVersion {API_VERSIONS[kind]}, not {d['apiVersion']}")
            continue
        name = (d.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not DNS1123.match(name) or len(name) > 63:
            errors.append(f"{where}: metadata.name {name!r} is not a DNS-1123 label")
        version = d["apiVersion"].split("/")[-1]
        cls = getattr(models, version.capitalize() + kind)
        check_object(d, cls, f"{where} {kind}/{name}", errors)
        defined[kind].add(name)
    workloads = [(w, d) for w, d in docs if isinstance(d, dict) and d.get("kind") in WORKLOADS
                 and API_VERSIONS[d["kind"]] == d.get("apiVersion")]
    for where, d in docs:
        if not isinstance(d, dict) or API_VERSIONS.get(d.get("kind")) != d.get("apiVersion"):
            continue
        kind, name = d["kind"], (d.get("metadata") or {}).get("name")
        spec = d.get("spec") or {}
        label = f"{where} {kind}/{name}"
        if kind in WORKLOADS:
            tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            match = (spec.get("selector") or {}).get("matchLabels")
            if kind != "Job":
                if not match:
                    errors.append(f"{label}: selector.matchLabels is empty")
                elif not labels_match(match, tmpl_labels):
                    errors.append(f"{label}: selector {match} does not match the template labels {tmpl_labels}")
            if kind == "StatefulSet" and spec.get("serviceName") not in defined["Service"]:
                errors.append(f"{label}: serviceName {spec.get('serviceName')!r} is not a Service here")
            check_pod(d, label, errors, defined)
        if kind == "Service":
            selector = spec.get("selector") or {}
            targets = [w for _, w in workloads
                       if labels_match(selector, ((w.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})]
            if not targets:
                errors.append(f"{label}: selector {selector} matches no workload")
            for p in spec.get("ports") or []:
                tp = p.get("targetPort")
                if isinstance(tp, str):
                    names = {cp.get("name") for w in targets
                             for c in pod_spec(w).get("containers") or [] for cp in c.get("ports") or []}
                    if tp not in names:
                        errors.append(f"{label}: targetPort {tp!r} is not a named port of the selected pods")
        if kind == "NetworkPolicy":
            sel = (spec.get("podSelector") or {}).get("matchLabels") or {}
            if not any(labels_match(sel, ((w.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})
                       for _, w in workloads):
                errors.append(f"{label}: podSelector {sel} matches no workload")
    return errors


def main(argv):
    if len(argv) >= 2 and argv[0] == "--expect-fail":
        bad = 0
        for path in argv[1:]:
            with open(path, encoding="utf-8") as f:
                docs = [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d is not None]
            errors = check_docs(docs)
            # Each fixture names the error it must produce on its first line: "# expect: TEXT".
            with open(path, encoding="utf-8") as f:
                first = f.readline()
            want = first.split("expect:", 1)[1].strip() if "expect:" in first else ""
            if not errors or (want and not any(want in e for e in errors)):
                print(f"FAIL: {path} was not rejected with '{want}'; errors: {errors}")
                bad += 1
            else:
                print(f"ok: {os.path.basename(path)} rejected: {next(e for e in errors if want in e)}")
        print(f"{len(argv) - 1 - bad} passed, {bad} failed")
        return 1 if bad else 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 64
    errors = check_dir(argv[0])
    for e in errors:
        print(f"FAIL: {e}")
    n = len([p for p in glob.glob(os.path.join(argv[0], "*.yaml")) if not p.endswith("kustomization.yaml")])
    if not errors:
        print(f"PASS: {n} manifest files in {argv[0]} match the Kubernetes 1.22 API schema and their cross-references")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
