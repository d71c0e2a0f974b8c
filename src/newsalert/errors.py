"""One exception tree for the whole package, named for intent.

Callers catch the narrowest class that tells them what to do next:
``TransientError`` means "retry later", ``PermanentError`` means "retrying will
not help, report it".
"""

from __future__ import annotations


class NewsalertError(Exception):
    """Root of every error newsalert raises on purpose."""


class TransientError(NewsalertError):
    """Retrying later may succeed (network hiccup, 5xx, 429, SMTP down)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(NewsalertError):
    """Retrying will not help until someone changes something."""


# --- configuration -----------------------------------------------------------


class ConfigError(PermanentError):
    """The configuration is invalid. ``problems`` holds every finding."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigProblem:
    """One configuration finding: where it is, what is wrong, how to fix it."""

    __slots__ = ("file", "hint", "key", "message")

    def __init__(self, file: str, key: str, message: str, hint: str = "") -> None:
        self.file = file
        self.key = key
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.file}: {self.key}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return f"ConfigProblem({self.file!r}, {self.key!r}, {self.message!r})"


# --- fetching ----------------------------------------------------------------


class FetchError(NewsalertError):
    """Base for feed fetch failures."""


class TransientFetchError(FetchError, TransientError):
    """The feed could not be fetched now (timeout, connection refused, 5xx, 429)."""


class FeedRejected(FetchError, PermanentError):
    """The feed was refused by policy or limits (scheme, private address, size, redirects)."""


class FeedGone(FeedRejected):
    """The server answered 410 Gone: the feed should be disabled."""


# --- parsing -----------------------------------------------------------------


class ParseError(PermanentError):
    """The fetched bytes are not a feed feedparser can read."""


# --- model -------------------------------------------------------------------


class ModelError(PermanentError):
    """The classifier model is missing, corrupt or built by an incompatible version."""


# --- locations ---------------------------------------------------------------


class GeoDataError(PermanentError):
    """A data file the geoparser ships with (the re-ranker's weights) is missing or
    unreadable: a packaging fault, fixed by reinstalling, never by retrying."""


# --- delivery ----------------------------------------------------------------


class DeliveryError(NewsalertError):
    """Base for delivery failures."""


class TransientDeliveryError(DeliveryError, TransientError):
    """The target did not take the message now; retry with backoff."""


class PermanentDeliveryError(DeliveryError, PermanentError):
    """The target URL is invalid or refused for good; retrying will not help."""


# --- storage -----------------------------------------------------------------


class StoreError(NewsalertError):
    """The store cannot be reached or is inconsistent."""


class BadToken(NewsalertError):
    """A signed token (a feedback link, a session) that was altered ("tampered") or is
    too old ("expired"); ``str(exc)`` is which."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of what ``exc`` says, for a log line or a stored error: a
    database error's own words (``orig``, without SQLAlchemy's statement dump), else
    its class name."""
    said = str(getattr(exc, "orig", None) or exc).strip()
    return (said.splitlines() or [type(exc).__name__])[0][:limit]


def is_transient(exc: BaseException) -> bool:
    """Retrying later may succeed: ours (``TransientError``, ``StoreError``), the OS's
    (connection refused, timeouts) and the database's (out of reach, connection closed
    or invalidated, pool exhausted); never a value the database refused (``DataError``,
    ``IntegrityError``: the same next time). One list, for the pipeline's fallbacks
    and the tasks' retries alike."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc, (TransientError, StoreError, OSError, OperationalError, InterfaceError, PoolTimeout)
    )
