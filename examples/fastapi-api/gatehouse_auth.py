"""Checking Gatehouse access tokens with PyJWT.

A Verifier reads the issuer's discovery document and JSON Web Key Set once
at start, then checks each token the way Gatehouse itself does: the
algorithm comes from the JWK the token's kid names, never from the token;
typ must be at+jwt; iss, aud and the times are checked; every claim
Gatehouse sets must be there.
"""

import logging
import threading
import time
from typing import Callable, Optional

import httpx
import jwt

log = logging.getLogger("gatehouse_auth")

# The algorithms Gatehouse signs with (GATEHOUSE_JWT_ALG). A JWK naming any
# other (HS256 above all: its "key" would be public) is ignored.
ALGORITHMS = frozenset({"ES256", "EdDSA", "RS256"})
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid"]
MAX_TOKEN_LENGTH = 4096


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not meant for us. The
    message is safe to send back; it never contains the token."""


class Verifier:
    """Verifier checks Gatehouse access tokens for one issuer and audience.

    issuer is Gatehouse's GATEHOUSE_PUBLIC_URL; audience its
    GATEHOUSE_AUDIENCE (by default its GATEHOUSE_APP_URL, itself by default
    the public URL). now returns the time in seconds; tests inject a clock.
    It is safe to use from several threads.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        client: Optional[httpx.Client] = None,
        now: Callable[[], float] = time.time,
        leeway: float = 30,
        refetch_cooldown: float = 30,
        max_age: float = 300,
    ):
        self.issuer = issuer
        self.audience = audience
        self.now = now
        self.leeway = leeway
        # A token naming an unknown kid makes us fetch the key set again (that
        # is how a key rotation reaches us), but at most once per cool-down,
        # so made-up kids cannot make us hammer Gatehouse.
        self.refetch_cooldown = refetch_cooldown
        # Known keys are fetched again after max_age, so a retired key stops
        # working here too.
        self.max_age = max_age
        # Redirects are not followed: the keys come from where discovery says.
        self._client = client or httpx.Client(timeout=10, follow_redirects=False)
        self._lock = threading.Lock()
        self._keys: dict = {}
        self._fetched = float("-inf")  # last successful fetch
        self._attempted = float("-inf")  # last attempt, for the cool-down

        discovery = self._get_json(issuer + "/.well-known/openid-configuration")
        if discovery.get("issuer") != issuer:
            raise ValueError(f"discovery names issuer {discovery.get('issuer')!r}, not {issuer!r}")
        self.jwks_uri = discovery.get("jwks_uri")
        if not isinstance(self.jwks_uri, str):
            raise ValueError("discovery has no jwks_uri")
        self._fetch_keys()

    def _get_json(self, url: str) -> dict:
        r = self._client.get(url)
        r.raise_for_status()
        doc = r.json()
        if not isinstance(doc, dict):
            raise ValueError(f"{url}: not a JSON object")
        return doc

    def _fetch_keys(self) -> None:
        self._attempted = self.now()
        keys = {}
        for jwk in self._get_json(self.jwks_uri).get("keys", []):
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            alg, kid = jwk.get("alg"), jwk.get("kid")
            if alg not in ALGORITHMS or not isinstance(kid, str):
                continue
            try:
                keys[kid] = (jwt.PyJWK(jwk, alg), alg)
            except (jwt.PyJWKError, jwt.InvalidKeyError):
                continue
        self._keys = keys
        self._fetched = self.now()

    def _key(self, kid: str):
        now = self.now()
        if kid in self._keys and now - self._fetched < self.max_age:
            return self._keys[kid]
        with self._lock:
            # Another thread may have fetched while we waited for the lock;
            # the cool-down then holds us back.
            if self.now() - self._attempted >= self.refetch_cooldown:
                try:
                    self._fetch_keys()
                except (httpx.HTTPError, ValueError) as e:
                    # Keep the last good keys.
                    log.warning("fetching %s: %s", self.jwks_uri, e)
            return self._keys.get(kid)

    def verify(self, raw: str) -> dict:
        """verify checks raw and returns its claims, or raises InvalidToken."""
        if not raw or len(raw) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token length out of range")
        try:
            header = jwt.get_unverified_header(raw)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        # PyJWT has no option for typ (RFC 9068 access tokens): check it here.
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("typ is not at+jwt")
        # Gatehouse sets no critical extension; PyJWT knows one (b64, an
        # unencoded payload). Refuse them all.
        if "crit" in header:
            raise InvalidToken("crit header not allowed")
        kid = header.get("kid")
        found = self._key(kid) if isinstance(kid, str) else None
        if found is None:
            raise InvalidToken("unknown key")
        key, alg = found
        try:
            claims = jwt.decode(
                raw,
                key.key,
                # The algorithm is the key's: a header naming another one
                # (none, HS256, ...) is refused.
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                options={
                    "require": REQUIRED_CLAIMS,
                    # The times are checked below against self.now: PyJWT
                    # reads the system clock itself, and (before 2.10)
                    # does not refuse an iat in the future.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
        now = self.now()
        for name in ("exp", "nbf", "iat"):
            if isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)):
                raise InvalidToken(f"{name} is not a number")
        if claims["exp"] <= now - self.leeway:
            raise InvalidToken("token expired")
        if claims["nbf"] > now + self.leeway or claims["iat"] > now + self.leeway:
            raise InvalidToken("token not valid yet")
        for name in ("sub", "sid", "jti"):
            if not isinstance(claims[name], str) or not claims[name]:
                raise InvalidToken(f"{name} is not a non-empty string")
        return claims
