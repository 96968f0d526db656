"""A FastAPI app whose /notes route needs a Gatehouse access token.

Run it with  uvicorn --factory app:create_app_from_env  (see README.md).
"""

import os
import re
from typing import Optional, Sequence

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from gatehouse_auth import InvalidToken, Verifier


class BearerError(Exception):
    """An RFC 6750 error: error is None when the request had no token."""

    def __init__(self, status: int, error: Optional[str], description: str):
        self.status, self.error, self.description = status, error, description


# RFC 6750 section 2.1: the scheme is case-insensitive, the token is b64token.
_bearer = re.compile(r"bearer ([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)


def create_app(verifier: Verifier, cors_origins: Sequence[str] = ()) -> FastAPI:
    """create_app returns the app, checking tokens with verifier. Browsers
    on cors_origins may call it with an Authorization header."""
    app = FastAPI()
    realm = verifier.audience
    if cors_origins:
        # Bearer tokens, not cookies: no credentials. Authorization is not a
        # CORS-safelisted header, so the preflight must allow it.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET"],
            allow_headers=["Authorization"],
            max_age=600,
        )

    @app.exception_handler(BearerError)
    def bearer_error(request: Request, e: BearerError) -> JSONResponse:
        challenge = f'Bearer realm="{realm}"'
        if e.error:
            challenge += f', error="{e.error}"'
        return JSONResponse(
            {"error": e.error or "unauthorized", "error_description": e.description},
            status_code=e.status,
            headers={"WWW-Authenticate": challenge},
        )

    def claims(request: Request) -> dict:
        """claims is the dependency of protected routes: the token's claims."""
        headers = request.headers.getlist("authorization")
        if not headers:
            raise BearerError(401, None, "an access token is required")
        if len(headers) > 1:
            raise BearerError(400, "invalid_request", "more than one Authorization header")
        m = _bearer.fullmatch(headers[0])
        if m is None:
            raise BearerError(401, "invalid_token", "not a bearer token")
        try:
            return verifier.verify(m.group(1))
        except InvalidToken as e:
            raise BearerError(401, "invalid_token", str(e))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/notes")
    def notes(response: Response, c: dict = Depends(claims)) -> dict:
        # One user's data: no cache may keep it.
        response.headers["Cache-Control"] = "no-store"
        return {"subject": c["sub"], "notes": [f"a note of {c['sub']}"]}

    return app


def create_app_from_env() -> FastAPI:
    """create_app_from_env configures the app from GATEHOUSE_ISSUER,
    GATEHOUSE_AUDIENCE and CORS_ORIGINS."""
    issuer = os.environ.get("GATEHOUSE_ISSUER", "http://localhost:8080")
    audience = os.environ.get("GATEHOUSE_AUDIENCE", issuer)
    origins = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
    return create_app(Verifier(issuer, audience), origins)
