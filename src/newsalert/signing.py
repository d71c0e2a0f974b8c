"""Signed, expiring tokens (HMAC-SHA256, standard library): feedback links in alerts,
console sessions and form tokens.

A token is ``base64url(payload).base64url(mac)``; the key is derived from the
configured ``web.secret`` and a *purpose* ("feedback", "session", ...), so a token made
for one use is refused for every other. Payloads are short strings the caller lays out;
the expiry (Unix seconds) is part of what is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from newsalert.errors import BadToken


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str, purpose: str) -> None:
        if not secret:
            raise ValueError("an empty secret signs nothing")
        self._key = hmac.new(secret.encode(), b"newsalert:" + purpose.encode(), "sha256").digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def sign(self, payload: str, expires: float) -> str:
        """A token carrying ``payload`` until ``expires`` (Unix seconds)."""
        data = f"{int(expires)}|{payload}".encode()
        return f"{_b64(data)}.{_b64(self._mac(data))}"

    def unsign(self, token: str, now: float | None = None) -> str:
        """The payload of a valid token; BadToken ("tampered" or "expired") otherwise."""
        try:
            head, _, mac = token.partition(".")
            data, given = _unb64(head), _unb64(mac)
        except (ValueError, TypeError):
            raise BadToken("tampered") from None
        if not hmac.compare_digest(self._mac(data), given):
            raise BadToken("tampered")
        expires, _, payload = data.decode("utf-8", "replace").partition("|")
        if not expires.isdigit():
            raise BadToken("tampered")
        if int(expires) < (time.time() if now is None else now):
            raise BadToken("expired")
        return payload


__all__ = ["Signer"]
