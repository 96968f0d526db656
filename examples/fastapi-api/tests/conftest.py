"""Fixtures: real `gatehouse serve` processes and a fake issuer.

Gatehouse A is the issuer the app trusts. Gatehouse B shares A's database,
hence A's signing key, but has another public URL (so another iss) and
another audience: its tokens carry a key the app knows, so they reach the
iss and aud checks instead of stopping at an unknown kid.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[3]
OTHER_AUDIENCE = "http://other-app.test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def gatehouse_bin(tmp_path_factory) -> str:
    if os.environ.get("GATEHOUSE_BIN"):
        return os.environ["GATEHOUSE_BIN"]
    out = tmp_path_factory.mktemp("bin") / "gatehouse"
    subprocess.run(["go", "build", "-o", str(out), "./cmd/gatehouse"], cwd=REPO, check=True)
    return str(out)


def ok(r: httpx.Response) -> httpx.Response:
    assert r.status_code == 200, f"{r.request.url}: HTTP {r.status_code}: {r.text}"
    return r


class Gatehouse:
    """A running `gatehouse serve`, stopped by stop()."""

    def __init__(self, binary: str, data_dir: Path, **env: str):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        environ.update(
            GATEHOUSE_DATA_DIR=str(data_dir),
            GATEHOUSE_ADDR=f"127.0.0.1:{port}",
            GATEHOUSE_PUBLIC_URL=self.url,
            **env,
        )
        self.log = data_dir / f"gatehouse-{port}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([binary, "serve"], env=environ, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(self.url + "/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gatehouse did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def login(self, name: str = "Ada Lovelace", email: str = "ada@example.com") -> str:
        """login signs in through the development login, as the README's
        curl walkthrough does, and returns the access token."""
        with httpx.Client(base_url=self.url, follow_redirects=False) as c:
            url = ok(c.get("/auth/dev/login")).json()["url"]
            page = ok(c.get(url)).text
            request = re.search(r'name="request" value="([^"]+)"', page).group(1)
            r = c.post(
                "/dev-login/authorize",
                data={"request": request, "name": name, "email": email, "email_verified": "1", "action": "allow"},
            )
            assert r.status_code == 302, r.text
            q = parse_qs(urlsplit(r.headers["location"]).query)
            r = c.post("/auth/dev/authorize", json={"code": q["code"][0], "state": q["state"][0]})
            return ok(r).json()["access_token"]

    def me(self, token: str) -> dict:
        return ok(httpx.get(self.url + "/me", headers={"Authorization": "Bearer " + token})).json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def gatehouses(gatehouse_bin, tmp_path_factory):
    data = tmp_path_factory.mktemp("gatehouse")
    # A 1-minute TTL, Gatehouse's shortest, keeps the expiry test's numbers small.
    a = Gatehouse(gatehouse_bin, data, GATEHOUSE_ACCESS_TOKEN_TTL="1m")
    try:
        b = Gatehouse(gatehouse_bin, data, GATEHOUSE_AUDIENCE=OTHER_AUDIENCE)
    except Exception:
        a.stop()
        raise
    yield a, b
    b.stop()
    a.stop()


@pytest.fixture(scope="session")
def gatehouse(gatehouses):
    return gatehouses[0]


@pytest.fixture(scope="session")
def token(gatehouse) -> str:
    return gatehouse.login()


class FakeIssuer:
    """An issuer whose key the tests hold, for tokens Gatehouse never makes."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        self.kid = "fake-key-1"
        jwk.update(kid=self.kid, alg="ES256", use="sig")
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                docs = {
                    "/.well-known/openid-configuration": {"issuer": fake.url, "jwks_uri": fake.url + "/jwks"},
                    "/jwks": {"keys": [jwk]},
                }
                if self.path not in docs:
                    self.send_error(404)
                    return
                body = json.dumps(docs[self.path]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def fake_issuer():
    f = FakeIssuer()
    yield f
    f.server.shutdown()
