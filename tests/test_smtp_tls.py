"""E-mail over STARTTLS with newsalert's shared TLS contexts: verification stays on
unless the URL turns it off, and turning it off for one target never leaks to another."""

from __future__ import annotations

import pytest

from newsalert.delivery import Notifier
from newsalert.errors import TransientDeliveryError
from newsalert.models import Message
from tests.smtpserver import TLSCollect


def send(port: int, verify: bool) -> None:
    url = f"mailtos://127.0.0.1:{port}?from=a@example.org&to=b@example.org&mode=starttls&verify={'yes' if verify else 'no'}"
    Notifier(timeout=5).send(url, Message(title="t", body="<p>b</p>", body_format="html"))


def test_self_signed_certificate_is_refused_unless_verify_is_off(
    starttls_server: tuple[int, TLSCollect],
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
