"""Console security: signed session cookies, CSRF tokens, login, response headers.

- Sessions: a cookie holding ``user|csrf`` signed with ``web.secret`` (purpose
  "session") and an expiry (``web.session_hours``); HttpOnly, SameSite=Lax, Secure when
  the console is served over https. Nothing is kept server-side.
- CSRF: every console form carries the session's random token; a POST without the
  same token is refused. The login form (no session yet) uses a double-submit cookie.
- Headers: a Content-Security-Policy without inline script (and no script at all:
  pages work without JavaScript), frame-ancestors 'none' and X-Frame-Options DENY,
  nosniff, no Referer (a feedback link must not leak through it), no caching.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsalert.errors import BadToken
from newsalert.passwords import DUMMY_HASH, verify_password
from newsalert.signing import Signer

SESSION_COOKIE = "newsalert_session"
LOGIN_COOKIE = "newsalert_login"
LOGIN_FORM_SECONDS = 3600.0

HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
    (b"cache-control", b"no-store"),
)


class SecurityHeaders:
    """ASGI middleware: the security headers on every response, errors included."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = list(HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf: str


class Guard:
    """Who is logged in, and whether a form is genuine."""

    def __init__(
        self, secret: str, users: dict[str, str], *, session_hours: float, secure: bool
    ) -> None:
        self.users = dict(users)
        self.seconds = session_hours * 3600
        self.secure = secure
        self._session = Signer(secret, "session")
        self._login = Signer(secret, "login")

    # --- sessions ---------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            payload = self._session.unsign(token)
        except BadToken:
            return None
        user, _, csrf = payload.partition("|")
        if user not in self.users or not csrf:  # a user removed from the config is out
            return None
        return Session(user, csrf)

    def log_in(self, response: Response, user: str) -> None:
        token = self._session.sign(
            f"{user}|{secrets.token_urlsafe(24)}", time.time() + self.seconds
        )
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self.seconds),
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        response.delete_cookie(LOGIN_COOKIE)

    def log_out(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=self.secure)

    def check_password(self, user: str, password: str) -> bool:
        hashed = self.users.get(user)
        ok = verify_password(password, hashed or DUMMY_HASH)  # same cost for unknown users
        return ok and hashed is not None

    # --- CSRF -------------------------------------------------------------------------

    @staticmethod
    def form_ok(session: Session, form_token: object) -> bool:
        return isinstance(form_token, str) and hmac.compare_digest(
            form_token.encode(), session.csrf.encode()
        )

    def login_token(self) -> str:
        return self._login.sign(secrets.token_urlsafe(16), time.time() + LOGIN_FORM_SECONDS)

    def set_login_cookie(self, response: Response, token: str) -> None:
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=int(LOGIN_FORM_SECONDS),
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )

    def login_form_ok(self, request: Request, form_token: object) -> bool:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not isinstance(form_token, str) or not cookie:
            return False
        if not hmac.compare_digest(cookie.encode(), form_token.encode()):
            return False
        try:
            self._login.unsign(cookie)
        except BadToken:
            return False
        return True


__all__ = ["HEADERS", "Guard", "SecurityHeaders", "Session"]
