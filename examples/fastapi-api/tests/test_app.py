"""The app against real `gatehouse serve` processes (see conftest.py)."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from app import create_app
from conftest import OTHER_AUDIENCE
from gatehouse_auth import Verifier

SPA = "http://localhost:5173"


class Clock:
    def __init__(self, t=None):
        self.t = time.time() if t is None else t

    def __call__(self):
        return self.t


def client_for(issuer, audience, **kw):
    return TestClient(create_app(Verifier(issuer, audience, **kw), [SPA]))


def get_notes(client, token):
    return client.get("/notes", headers={"Authorization": "Bearer " + token})


def assert_invalid(r):
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].endswith(', error="invalid_token"'), r.headers["www-authenticate"]
    assert r.json()["error"] == "invalid_token"


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def unverified(token):
    return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})


def test_public_route(gatehouse):
    r = client_for(gatehouse.url, gatehouse.url).get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_valid_token(gatehouse, token):
    r = get_notes(client_for(gatehouse.url, gatehouse.url), token)
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == gatehouse.me(token)["id"]


def test_no_token(gatehouse):
    r = client_for(gatehouse.url, gatehouse.url).get("/notes")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == f'Bearer realm="{gatehouse.url}"'


@pytest.mark.parametrize("value", ["Bearer", "Bearer not-a-jwt", "Basic YTpi", "Bearer a b"])
def test_malformed_header(gatehouse, value):
    assert_invalid(client_for(gatehouse.url, gatehouse.url).get("/notes", headers={"Authorization": value}))


def test_two_authorization_headers(gatehouse, token):
    # TestClient joins repeated headers into one; uvicorn does not. Talk ASGI.
    app = create_app(Verifier(gatehouse.url, gatehouse.url))
    auth = ("Bearer " + token).encode()
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/notes",
             "raw_path": b"/notes", "query_string": b"", "root_path": "", "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"authorization", auth), (b"authorization", auth)]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b'error="invalid_request"' in dict(sent[0]["headers"])[b"www-authenticate"]
    # Joined, as a proxy may join them, they are no bearer token.
    r = client_for(gatehouse.url, gatehouse.url).get(
        "/notes", headers=[("Authorization", auth.decode()), ("Authorization", auth.decode())])
    assert_invalid(r)


def test_other_issuer_and_audience(gatehouses, token):
    a, b = gatehouses
    token_b = b.login()
    # Same key: these tokens get past the signature and fail on iss or aud only.
    assert unverified(token_b)[0]["kid"] == unverified(token)[0]["kid"]
    assert get_notes(client_for(b.url, OTHER_AUDIENCE), token_b).status_code == 200
    # A's token at an app trusting B with A's audience: only iss is wrong.
    r = get_notes(client_for(b.url, a.url), token)
    assert_invalid(r)
    assert "issuer" in r.json()["error_description"]
    # B's token at the same app: iss is right, aud is wrong.
    r = get_notes(client_for(b.url, a.url), token_b)
    assert_invalid(r)
    assert "audience" in r.json()["error_description"]


def test_key_published_nowhere(gatehouse, token):
    header, claims = unverified(token)
    key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "made-up", "typ": "at+jwt"})
    # Same kid as Gatehouse's key: the signature fails.
    forged_same_kid = jwt.encode(claims, key, algorithm="ES256", headers={"kid": header["kid"], "typ": "at+jwt"})
    c = client_for(gatehouse.url, gatehouse.url)
    assert_invalid(get_notes(c, forged))
    assert_invalid(get_notes(c, forged_same_kid))


@pytest.mark.parametrize("alg", ["none", "None", "RS256", "ES384", "EdDSA", "HS256"])
def test_alg_not_the_keys(gatehouse, token, alg):
    # The JWK says ES256; whatever the header says instead is refused.
    header, claims = unverified(token)
    c = client_for(gatehouse.url, gatehouse.url)
    signature = token.rsplit(".", 1)[1]
    for sig in ("", signature):
        assert_invalid(get_notes(c, ".".join([b64({**header, "alg": alg}), b64(claims), sig])))
    assert_invalid(get_notes(c, ".".join([b64({"alg": alg, "typ": "at+jwt"}), b64(claims), ""])))


def test_alg_hs256_with_public_key(gatehouse, token):
    # The classic confusion: the public key as an HMAC secret.
    header, claims = unverified(token)
    jwks = httpx.get(gatehouse.url + "/.well-known/jwks.json").json()
    secret = json.dumps(jwks["keys"][0]).encode()
    h = b64({"alg": "HS256", "kid": header["kid"], "typ": "at+jwt"})
    signing_input = h + "." + b64(claims)
    sig = base64.urlsafe_b64encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert_invalid(get_notes(client_for(gatehouse.url, gatehouse.url), signing_input + "." + sig.decode()))


@pytest.mark.parametrize("after_exp, ok", [(29, True), (31, False)])
def test_expiry_with_leeway(gatehouse, token, after_exp, ok):
    # Gatehouse A's tokens live 1 minute; the app's clock, not the test, moves.
    _, claims = unverified(token)
    assert claims["exp"] - claims["iat"] == 60
    r = get_notes(client_for(gatehouse.url, gatehouse.url, now=Clock(claims["exp"] + after_exp)), token)
    if ok:
        assert r.status_code == 200, r.text
    else:
        assert_invalid(r)
        assert "expired" in r.json()["error_description"]


@pytest.mark.parametrize("before_iat, ok", [(29, True), (31, False)])
def test_not_valid_yet_with_leeway(gatehouse, token, before_iat, ok):
    _, claims = unverified(token)
    r = get_notes(client_for(gatehouse.url, gatehouse.url, now=Clock(claims["iat"] - before_iat)), token)
    if ok:
        assert r.status_code == 200, r.text
    else:
        assert_invalid(r)


def fake_token(fake, claims_change=None, header_change=None):
    now = int(time.time())
    claims = {"iss": fake.url, "sub": "u1", "aud": "api", "iat": now, "nbf": now, "exp": now + 60,
              "jti": "j1", "sid": "s1"}
    claims.update(claims_change or {})
    claims = {k: v for k, v in claims.items() if v is not None}
    header = {"kid": fake.kid, "typ": "at+jwt"}
    header.update(header_change or {})
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(claims, fake.key, algorithm="ES256", headers=header)


@pytest.mark.parametrize(
    "claims_change, header_change",
    [
        pytest.param(None, {"typ": None}, id="no typ"),
        pytest.param(None, {"typ": "JWT"}, id="typ JWT"),
        pytest.param(None, {"crit": ["exp"]}, id="crit exp"),
        pytest.param({"aud": ["x", "y"]}, None, id="aud list without ours"),
        pytest.param({"sub": ""}, None, id="empty sub"),
        pytest.param({"sub": 7}, None, id="numeric sub"),
        pytest.param({"iat": "now"}, None, id="iat a string"),
        pytest.param({"iat": int(time.time()) + 120}, None, id="iat in the future"),
        pytest.param({"nbf": int(time.time()) + 120}, None, id="nbf in the future"),
    ]
    + [pytest.param({c: None}, None, id=f"no {c}") for c in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid"]],
)
def test_tokens_gatehouse_never_makes(fake_issuer, claims_change, header_change):
    c = client_for(fake_issuer.url, "api")
    assert get_notes(c, fake_token(fake_issuer)).status_code == 200
    assert get_notes(c, fake_token(fake_issuer, header_change={"typ": "application/AT+JWT"})).status_code == 200
    assert get_notes(c, fake_token(fake_issuer, {"aud": ["x", "api"]})).status_code == 200
    assert_invalid(get_notes(c, fake_token(fake_issuer, claims_change, header_change)))


def test_unknown_kid_storm(gatehouse, token):
    fetches = []
    http = httpx.Client(event_hooks={"request": [lambda req: fetches.append(req.url.path)]})
    clock = Clock()
    c = client_for(gatehouse.url, gatehouse.url, client=http, now=clock)
    jwks_fetches = lambda: fetches.count("/.well-known/jwks.json")
    assert jwks_fetches() == 1
    _, claims = unverified(token)
    key = ec.generate_private_key(ec.SECP256R1())
    for _ in range(50):
        t = jwt.encode(claims, key, algorithm="ES256", headers={"kid": uuid.uuid4().hex, "typ": "at+jwt"})
        assert_invalid(get_notes(c, t))
        # The known key keeps working and costs no fetch.
        assert get_notes(c, token).status_code == 200
    # The fetch at start began the cool-down.
    assert jwks_fetches() == 1, "no refetch within the cool-down"
    clock.t += 31
    for _ in range(10):
        t = jwt.encode(claims, key, algorithm="ES256", headers={"kid": uuid.uuid4().hex, "typ": "at+jwt"})
        assert_invalid(get_notes(c, t))
    assert jwks_fetches() == 2, "one refetch after the cool-down"


def test_cors(gatehouse, token):
    c = client_for(gatehouse.url, gatehouse.url)
    r = c.options("/notes", headers={"Origin": SPA, "Access-Control-Request-Method": "GET",
                                     "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SPA
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in r.headers
    r = c.get("/notes", headers={"Origin": SPA, "Authorization": "Bearer " + token})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == SPA
    r = c.options("/notes", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET",
                                     "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in r.headers
