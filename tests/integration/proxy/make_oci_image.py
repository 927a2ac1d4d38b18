#!/usr/bin/env python3
"""Writes a small OCI image layout (no network): N layers of pseudo-random bytes, a config,
a manifest and index.json, tagged TAG. Usage: make_oci_image.py DIR TAG LAYER_KIB [LAYER_KIB...]"""
import gzip, hashlib, io, json, os, random, sys, tarfile


def blob(root, data):
    d = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256", d)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


def layer(kib, seed):
    rnd = random.Random(seed)
    payload = bytes(rnd.getrandbits(8) for _ in range(kib * 1024))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(f"data/file{seed}.bin")
        info.size = len(payload)
        info.mtime = 0
        t.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    gz = gzip.compress(tar_bytes, mtime=0)
    return gz, "sha256:" + hashlib.sha256(tar_bytes).hexdigest()


def main():
    root, tag, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    layers, diff_ids = [], []
    for i, kib in enumerate(sizes):
        gz, diff = layer(kib, i + 1)
        d, n = blob(root, gz)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n})
        diff_ids.append(diff)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cd, cn = blob(root, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                           "layers": layers}).encode()
    md, mn = blob(root, manifest)
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                       "digest": md, "size": mn,
                                                       "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(json.dumps({"manifest": md, "layers": [l["digest"] for l in layers], "config": cd}))


main()
