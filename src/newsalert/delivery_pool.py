"""Connections kept open across one batch of deliveries: SMTP sessions and HTTP keep-alive.

Without it every delivery opens its own SMTP connection (TCP, EHLO, STARTTLS or TLS,
AUTH) and its own ``requests`` session; through a relay or a webhook host that is most of
what a message costs. Inside ``with connection_pool():`` (one batch of a worker, one
``poll --once``):

* apprise's SMTP controller borrows an open connection to the same server (host, port,
  security mode, user, password, certificate check) instead of connecting, and hands it
  back instead of quitting. apprise still builds every message (headers, MIME, Message-ID)
  and still calls ``sendmail`` once per delivery: one target per delivery row, each leased,
  sent and marked on its own, exactly as without the pool.
* ``requests.post`` / ``requests.request`` (what apprise's HTTP plugins call) go through
  one ``requests.Session`` per thread, so a second message to the same webhook host
  reuses its TCP/TLS connection. The session keeps no cookies: a send sees what it would
  have seen with a fresh session.

Never sent twice: a connection is handed back only when every ``sendmail`` on it
succeeded; one that failed (a refused recipient, a reset, a timeout) is closed, so a retry
of that delivery starts on a fresh connection. A borrowed connection is checked first: one
handed back moments ago (:data:`QUIET_REUSE`) with nothing to read on its socket is used as
it is (a server that closes a session sends 421 or FIN, which makes the socket readable:
the check urllib3 makes before reusing a connection, without a round trip); any other is
checked with NOOP. One the server closed while idle (its timeout, a restart) is replaced
before any message goes over it. A connection carries at most :data:`MAX_MESSAGES` messages (servers
cap messages per session) and is closed when the batch ends. Outside a pool nothing changes.

Connections are handed out one borrower at a time, so threads sending in parallel each
use their own. Nothing is logged here that could hold a secret: the key of a connection
stays in memory only.
"""

from __future__ import annotations

import contextlib
import functools
import http.cookiejar
import select
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import requests

__all__ = ["MAX_MESSAGES", "ConnectionPool", "connection_pool"]

# Many servers end a session after 100 messages (Postfix's smtpd_recipient_limit differs,
# Exchange's default is 20 per connection in some setups): stay under the common caps.
MAX_MESSAGES = 20
# A connection handed back less than this many seconds ago, with nothing waiting on its
# socket, is reused without NOOP (a round trip: a fifth of a loopback send's time).
QUIET_REUSE = 2.0

_ACTIVE: ContextVar[ConnectionPool | None] = ContextVar("newsalert_connection_pool", default=None)
_PATCH_LOCK = threading.Lock()
_MARK = "__newsalert_pooled__"


class _Pooled:
    """An open SMTP connection and how many messages went over it."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.sent = 0
        self.returned = 0.0  # time.monotonic() when last handed back


def _quiet(smtp: Any) -> bool:
    """Nothing to read on the connection (no 421, no FIN, no TLS bytes pending)."""
    sock = getattr(smtp, "sock", None)
    if sock is None:
        return False
    try:
        pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted and buffered
        if pending is not None and pending():
            return False
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


class ConnectionPool:
    """Open SMTP connections by server and one HTTP session per thread, for one batch."""

    def __init__(self, max_messages: int = MAX_MESSAGES) -> None:
        self.max_messages = max_messages
        self._idle: dict[tuple[Any, ...], list[_Pooled]] = {}
        self._sessions: dict[int, requests.Session] = {}
        self._lock = threading.Lock()
        self.opened = 0  # SMTP connections opened through this pool (for benches and tests)
        self.reused = 0  # SMTP sends on a connection that was already open

    # --- SMTP -----------------------------------------------------------------------------

    def borrow(self, key: tuple[Any, ...]) -> _Pooled | None:
        """An idle connection for ``key`` that still answers NOOP, else None."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                pooled = idle.pop()
            if time.monotonic() - pooled.returned < QUIET_REUSE and _quiet(pooled.socket):
                self.reused += 1
                return pooled
            try:
                code, _ = pooled.socket.noop()
            except Exception:  # closed by the server while idle: drop it, try the next
                code = 0
            if code == 250:
                self.reused += 1
                return pooled
            _close(pooled.socket, polite=False)

    def give_back(self, key: tuple[Any, ...], pooled: _Pooled) -> None:
        if pooled.sent >= self.max_messages:
            _close(pooled.socket, polite=True)
            return
        pooled.returned = time.monotonic()
        with self._lock:
            self._idle.setdefault(key, []).append(pooled)

    # --- HTTP -----------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """This thread's session (requests.Session is not meant to be shared by threads)."""
        ident = threading.get_ident()
        with self._lock:
            session = self._sessions.get(ident)
            if session is None:
                session = requests.Session()
                # a fresh session per send kept no cookies between sends: neither do we
                session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
                self._sessions[ident] = session
            return session

    def close(self) -> None:
        with self._lock:
            idle = [p for pooled in self._idle.values() for p in pooled]
            self._idle.clear()
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for pooled in idle:
            _close(pooled.socket, polite=True)
        for session in sessions:
            session.close()


@contextlib.contextmanager
def connection_pool(max_messages: int = MAX_MESSAGES) -> Iterator[ConnectionPool]:
    """Share connections among the sends made in this block (this context and the threads
    that copy it); every connection is closed when it ends."""
    _install()
    pool = ConnectionPool(max_messages)
    token = _ACTIVE.set(pool)
    try:
        yield pool
    finally:
        _ACTIVE.reset(token)
        pool.close()


def _close(socket: Any, *, polite: bool) -> None:
    with contextlib.suppress(Exception):
        if polite:
            socket.quit()
        else:
            socket.close()


# --- hooks into apprise's SMTP controller and requests' session factory ------------------------


def _install() -> None:
    with _PATCH_LOCK:
        _pool_smtp()
        _pool_http()


def _smtp_key(controller: Any) -> tuple[Any, ...]:
    return (
        controller.host,
        controller.port,
        controller.secure_mode,
        controller.user,
        controller.password,
        bool(controller.verify_certificate),
    )


def _pool_smtp() -> None:
    try:
        from apprise.plugins.email.smtp import AppriseSMTPController
    except ImportError:  # another apprise layout: a connection per send, as before
        return
    if getattr(AppriseSMTPController.__enter__, _MARK, False):
        return
    enter, exit_, sendmail = (
        AppriseSMTPController.__enter__,
        AppriseSMTPController.__exit__,
        AppriseSMTPController.sendmail,
    )

    @functools.wraps(enter)
    def pooled_enter(self: Any) -> Any:
        pool = _ACTIVE.get()
        self._newsalert_pool = pool
        self._newsalert_failed = False
        if pool is None:
            return enter(self)
        key = _smtp_key(self)
        pooled = pool.borrow(key)
        if pooled is None:
            enter(self)  # connects, secures, logs in; raises as it always did
            pool.opened += 1
            pooled = _Pooled(self._socket)
        self._socket = pooled.socket
        self._newsalert_pooled = (key, pooled)
        return self

    @functools.wraps(sendmail)
    def pooled_sendmail(self: Any, *args: Any, **kwargs: Any) -> bool:
        ok = sendmail(self, *args, **kwargs)
        held = getattr(self, "_newsalert_pooled", None)
        if held is not None:
            held[1].sent += 1
            if not ok:  # whatever went wrong, the next send starts on a fresh connection
                self._newsalert_failed = True
        return ok

    @functools.wraps(exit_)
    def pooled_exit(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
        held = getattr(self, "_newsalert_pooled", None)
        pool = getattr(self, "_newsalert_pool", None)
        if held is None or pool is None:
            return exit_(self, exc_type, exc, tb)
        self._newsalert_pooled = None
        key, pooled = held
        if exc_type is None and not self._newsalert_failed:
            pool.give_back(key, pooled)
            return None
        _close(pooled.socket, polite=False)
        return None

    for function in (pooled_enter, pooled_sendmail, pooled_exit):
        setattr(function, _MARK, True)
    AppriseSMTPController.__enter__ = pooled_enter  # type: ignore[method-assign]
    AppriseSMTPController.__exit__ = pooled_exit  # type: ignore[method-assign]
    AppriseSMTPController.sendmail = pooled_sendmail  # type: ignore[method-assign]


class _Borrowed:
    """What ``with sessions.Session() as session`` in ``requests.api.request`` gets while
    a pool is active: the pool's session, not closed on the way out."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session

    def __enter__(self) -> requests.Session:
        return self.session

    def __exit__(self, *_: object) -> None:
        return None


class _SessionsModule:
    """``requests.sessions`` as ``requests.api`` sees it: Session() is the pool's, if any."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def Session(self) -> Any:
        pool = _ACTIVE.get()
        if pool is None:
            return self._real.Session()
        return _Borrowed(pool.session())


def _pool_http() -> None:
    # requests.post / requests.request (apprise's calls, wrapped by delivery's recorder)
    # both end in requests.api.request, which makes a session per call from this global
    api = requests.api
    if not isinstance(api.sessions, _SessionsModule):
        api.sessions = _SessionsModule(api.sessions)  # type: ignore[assignment]
