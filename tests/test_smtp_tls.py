"""E-mail over STARTTLS with newsalert's shared TLS contexts: verification stays on
unless the URL turns it off, and turning it off for one target never leaks to another."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsalert.delivery import Notifier
from newsalert.errors import TransientDeliveryError
from newsalert.models import Message
from tests.smtpserver import _Controller


class _Collect:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[tuple[int, _Collect]]:
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
    handler = _Collect()
    controller = _Controller(
        handler, hostname="127.0.0.1", port=0, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield controller.port, handler
    finally:
        controller.stop()


def send(port: int, verify: bool) -> None:
    url = f"mailtos://127.0.0.1:{port}?from=a@example.org&to=b@example.org&mode=starttls&verify={'yes' if verify else 'no'}"
    Notifier(timeout=5).send(url, Message(title="t", body="<p>b</p>", body_format="html"))


def test_self_signed_certificate_is_refused_unless_verify_is_off(
    starttls_server: tuple[int, _Collect],
) -> None:
    port, handler = starttls_server
    with pytest.raises(TransientDeliveryError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
        send(port, verify=True)
    send(port, verify=False)
    assert len(handler.messages) == 1
    # the non-verifying send did not weaken the shared verifying context
    with pytest.raises(TransientDeliveryError):
        send(port, verify=True)
    send(port, verify=False)
    assert len(handler.messages) == 2
