#!/usr/bin/env python3
"""A misbehaving registry for the proxy's bad-input tests. The repository name picks the
behaviour; every request is logged as 'REQ <method> <path>' on stdout. Prints 'port=N'."""
import hashlib, http.server, json, socketserver, sys, threading, time

GOOD = b"authorized blob content\n" * 100
REDIRECTED = b"blob behind a redirect\n" * 100
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}).encode()
TOKEN = "tok-123"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=b"", ctype="application/octet-stream", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        p = self.path
        print("REQ", self.command, p, "auth=" + self.headers.get("Authorization", "-"), flush=True)
        port = self.server.server_address[1]
        if p == "/v2/":
            return self.send(200, b"{}", "application/json")
        if p.startswith("/token"):
            return self.send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode(), "application/json")
        if p.startswith("/storage/"):
            return self.send(200, REDIRECTED)
        if p.startswith("/v2/bad/notfound/"):
            return self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"x"}]}', "application/json")
        if p.startswith("/v2/bad/error/"):
            return self.send(500, b"boom", "text/plain")
        if p.startswith("/v2/bad/slow/"):
            time.sleep(4)
            return self.send(200, b"late")
        if p.startswith("/v2/bad/mismatch/"):
            return self.send(200, b"these are not the bytes you asked for" * 50)
        if p.startswith("/v2/bad/truncated/"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.close_connection = True
            return
        if p.startswith("/v2/bad/redirect-internal/"):
            return self.send(307, b"", extra={"Location": "http://127.0.0.2:%d/storage/blob" % port})
        if p.startswith("/v2/bad/redirect/"):
            return self.send(307, b"", extra={"Location": "http://127.0.0.1:%d/storage/blob" % port})
        if p.startswith("/v2/auth/"):
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                chal = 'Bearer realm="http://127.0.0.1:%d/token",service="fake",scope="repository:auth/x:pull"' % port
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}', "application/json",
                                 {"WWW-Authenticate": chal})
            return self.send(200, GOOD)
        if p.startswith("/v2/good/manifests/"):
            return self.send(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json",
                             {"Docker-Content-Digest": digest(MANIFEST)})
        if p.startswith("/v2/good/blobs/"):
            return self.send(200, GOOD)
        return self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"x"}]}', "application/json")


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "digests":
        print(json.dumps({"good": digest(GOOD), "redirected": digest(REDIRECTED), "manifest": digest(MANIFEST)}))
        sys.exit(0)
    s = S(("127.0.0.1", 0), H)
    print("port=%d" % s.server_address[1], flush=True)
    s.serve_forever()
