"""Console users' password hashes: scrypt from the standard library, no dependency.

A hash is one string, ``scrypt$N$r$p$SALT$KEY`` (salt and key base64url), written into
the config (``web.users``) by ``newsalert web hash-password``; the password itself is
never stored. Verification is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # OWASP's scrypt floor; ~50 ms and 16 MiB per check
KEY_BYTES = 32
MAX_N = 2**20
_B64 = re.compile(r"[A-Za-z0-9_-]+")  # a config cannot make one login cost more than ~1 GiB


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(16)
    key = _derive(password, salt, n, r, p)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=256 * r * n + 2**20
    )


def _parse(hashed: str) -> tuple[int, int, int, bytes, bytes]:
    scheme, n, r, p, salt, key = hashed.split("$")
    if scheme != SCHEME:
        raise ValueError(scheme)
    n_, r_, p_ = int(n), int(r), int(p)
    if n_ < 2 or n_ & (n_ - 1) or n_ > MAX_N or not 1 <= r_ <= 32 or not 1 <= p_ <= 16:
        raise ValueError("parameters")
    if not (_B64.fullmatch(salt) and _B64.fullmatch(key)):
        raise ValueError("encoding")
    salt_, key_ = _unb64(salt), _unb64(key)
    if len(salt_) < 8 or len(key_) != KEY_BYTES:
        raise ValueError("lengths")
    return n_, r_, p_, salt_, key_


def check_hash(hashed: str) -> str | None:
    """What is wrong with a configured hash, or None (used by config validation)."""
    try:
        _parse(hashed)
    except (ValueError, TypeError):
        return (
            "not a password hash; make one with `newsalert web hash-password` and paste "
            "its output (scrypt$...) here or into the environment variable the config names"
        )
    return None


def verify_password(password: str, hashed: str) -> bool:
    try:
        n, r, p, salt, key = _parse(hashed)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


# verified against when the user name is unknown, so a wrong name costs as long as a
# wrong password (no user enumeration by timing)
DUMMY_HASH = f"{SCHEME}${N}${R}${P}${_b64(b'0' * 16)}${_b64(b'0' * KEY_BYTES)}"


__all__ = ["DUMMY_HASH", "check_hash", "hash_password", "verify_password"]
