"""A registry token server for the bearer-token tests: the Docker token flow that Docker Hub,
GHCR, Harbor and the CNCF distribution server's `auth.token` use.

    token_server.py CERT KEY USER PASSWORD SERVICE ISSUER

Listens on 127.0.0.1 (a free port, printed as the first line of stdout). `GET /token` with
the user's basic credentials answers a JWT (ES256, the signing certificate in `x5c`) that
grants the repository actions the `scope` parameters ask for; wrong or missing credentials
get a 401. Every token issued is logged to stderr as `issued <scope>…`, so a test can see
that the bearer flow, not basic auth, carried the requests.
"""

import base64
import json
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

cert_path, key_path, user, password, service, issuer = sys.argv[1:7]
cert = x509.load_pem_x509_certificate(open(cert_path, "rb").read())
key = serialization.load_pem_private_key(open(key_path, "rb").read(), password=None)
x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
    claims = {
        "iss": issuer,
        "sub": user,
        "aud": service,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/token":
            return self.answer(404, {"error": "not found"})
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "wrong credentials"}]})
        access = []
        scopes = parse_qs(url.query).get("scope", [])
        for scope in scopes:
            for one in scope.split(" "):
                kind, _, rest = one.partition(":")
                name, _, actions = rest.rpartition(":")
                if kind == "repository" and name:
                    access.append({"type": kind, "name": name, "actions": actions.split(",")})
        print(f"issued {' '.join(scopes) or '(no scope)'}", file=sys.stderr, flush=True)
        jwt = token(access)
        self.answer(200, {"token": jwt, "access_token": jwt, "expires_in": 300})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
