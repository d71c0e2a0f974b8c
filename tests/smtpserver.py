"""A real SMTP server on 127.0.0.1 (aiosmtpd, ephemeral port) for tests that send e-mail.

The ``smtp_server`` fixture is registered for the whole suite by
``pytest_plugins = ["tests.feedserver", "tests.smtpserver"]`` in tests/conftest.py. Usage::

    def test_something(smtp_server):
        url = smtp_server.url()  # mailto://127.0.0.1:PORT?from=...&to=...&mode=insecure
        ...send through apprise...
        [msg] = smtp_server.messages            # email.message.EmailMessage, policy=default
        assert msg["Subject"] == "..."
        assert smtp_server.envelopes[0].rcpt_tos == ["duty@example.org"]

        smtp_server.refuse()                    # answer DATA with 554 (or refuse(550, stage="rcpt"))
        smtp_server.accept()                    # back to normal
        smtp_server.stop()                      # connection refused from now on
        smtp_server.start()                     # same host and port again

        smtp_server.require_login("alerts", "s3cret")  # AUTH PLAIN/LOGIN over plain SMTP
        url = smtp_server.url(user="alerts", password="s3cret")

Messages are parsed with ``email.policy.default`` (so ``msg.get_body(("html",))`` and
``msg.iter_parts()`` work). A message is recorded before the server answers 250, so it is
visible as soon as the client's ``sendmail`` returns. Plain SMTP only (no TLS): apprise's
``mode=insecure`` (the default for ``mailto://``) neither tries STARTTLS nor SSL, and logs
in only when the URL has both a user and a password. aiosmtpd 1.4.6 emits a
DeprecationWarning ("Session.login_data is deprecated") on every successful AUTH; tests
that log in filter it (see tests/test_delivery.py).

``starttls_server`` is another server that requires STARTTLS, with a self-signed
certificate for 127.0.0.1 (made with ``openssl``): it yields its port and a handler whose
``messages`` (raw bytes) and ``peers`` (one per connection) record what was received.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
SENDER = "alerts@example.org"
RECIPIENT = "duty@example.org"


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: Any = None  # the client's (host, port): one per connection


class _Controller(Controller):
    """aiosmtpd's Controller, but on an ephemeral port (it would connect to port 0)."""

    def _trigger_server(self) -> None:
        if self.port == 0:
            assert self.server is not None
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []  # user names that authenticated
        self._lock = threading.Lock()
        self._refusal: tuple[str, str] | None = None  # (stage, SMTP reply)
        self._credentials: tuple[str, str] | None = None
        self._controller: _Controller | None = None
        self.hang_up_after: int | None = None  # close the connection after this many messages
        self.hang_up_in_data = False  # close the next connection at DATA, nothing accepted

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = _Controller(
            self,  # the handler: handle_RCPT / handle_DATA below
            hostname=self.host,
            port=self.port,  # 0 the first time; the same port after stop()
            authenticator=self._authenticate,
            auth_require_tls=False,
            auth_required=False,
            ready_timeout=5.0,
        )
        controller.start()
        self.port = controller.port
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    # --- behaviour -------------------------------------------------------------------

    def refuse(
        self, code: int = 554, text: str = "5.7.1 Message refused", *, stage: str = "data"
    ) -> None:
        """Answer ``stage`` ("data" or "rcpt") with ``code text`` until :meth:`accept`."""
        if stage not in ("data", "rcpt"):
            raise ValueError("stage must be 'data' or 'rcpt'")
        self._refusal = (stage, f"{code} {text}")

    def accept(self) -> None:
        self._refusal = None

    def require_login(self, user: str, password: str) -> None:
        """Only these credentials may AUTH (clients that do not AUTH are still served)."""
        self._credentials = (user, password)

    def url(
        self,
        *,
        to: str = RECIPIENT,
        sender: str = SENDER,
        user: str | None = None,
        password: str | None = None,
        **params: str,
    ) -> str:
        """The apprise URL for plain SMTP to this server, no TLS."""
        auth = ""
        if user is not None:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        query = urlencode({"from": sender, "to": to, "mode": "insecure", **params}, safe="@")
        return f"mailto://{auth}{self.host}:{self.port}?{query}"

    @property
    def connections(self) -> int:
        """How many client connections delivered the messages received so far."""
        with self._lock:
            return len({e.peer for e in self.envelopes})

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.logins.clear()

    # --- aiosmtpd handler hooks --------------------------------------------------------

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._refusal
        if refusal is not None and refusal[0] == "rcpt":
            return refusal[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal = self._refusal
        if refusal is not None and refusal[0] == "data":
            return refusal[1]
        if self.hang_up_in_data:
            self.hang_up_in_data = False
            server.transport.close()
            return "421 4.3.0 closing"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        message = email.message_from_bytes(data, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(
                Envelope(envelope.mail_from, list(envelope.rcpt_tos), data, session.peer)
            )
            self.messages.append(message)  # type: ignore[arg-type]
            hang_up = self.hang_up_after is not None and len(self.messages) == self.hang_up_after
        if hang_up:  # as a server that times out an idle client: after answering
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        if self._credentials is not None and (user, password) != self._credentials:
            return AuthResult(success=False, handled=False)
        with self._lock:
            self.logins.append(user)
        return AuthResult(success=True)


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """A running :class:`SMTPServer` on 127.0.0.1, stopped after the test."""
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class TLSCollect:
    """The STARTTLS server's handler: what it received, and from which connection."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.peers: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        self.peers.append(session.peer)
        return "250 OK"


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[tuple[int, TLSCollect]]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = TLSCollect()
    controller = _Controller(
        handler, hostname="127.0.0.1", port=0, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()
