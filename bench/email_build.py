"""CPU of building one e-mail as apprise does and reading back its Message-ID, with the
patches of ``newsalert.patches`` (4: ``PlainHeaders``; 3: the header block alone) and with
the email package's own path, interleaved in one process (no sockets: the part of a send
that is pure CPU).

Usage (from the repository root)::

    .venv/bin/python bench/email_build.py
"""

from __future__ import annotations

import sys
import time
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import apprise.plugins.email.base as apprise_email  # noqa: E402

import newsalert.delivery  # noqa: E402, F401  (applies the patches)
from newsalert import patches  # noqa: E402
from newsalert.render import render  # noqa: E402
from tests.test_render import make_alert  # noqa: E402

MESSAGE = render(make_alert(), "email")
HEADERS = {"X-Application": "Apprise", "References": "<1.2.3@example.org>"}


def one(patched: bool) -> str | None:
    if patched:
        apprise_email.MIMEText = patches._MIMEText  # type: ignore[misc]
        apprise_email.MIMEMultipart = patches._MIMEMultipart  # type: ignore[misc]
    else:
        apprise_email.MIMEText, apprise_email.MIMEMultipart = MIMEText, MIMEMultipart  # type: ignore[misc]
    [email] = apprise_email.NotifyEmail.prepare_emails(
        subject=MESSAGE.title, body=MESSAGE.body, from_addr=("", "alerts@example.org"),
        to=[("", "duty@example.org")], headers=dict(HEADERS),
    )  # fmt: skip
    text = patches.header_block(email.body) if patched else email.body
    return HeaderParser().parsestr(text).get("Message-ID")


def main() -> None:
    n, rounds = 1500, 6
    spent: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for patched in (False, True):
            start = time.process_time()
            for _ in range(n):
                one(patched)
            spent[patched].append((time.process_time() - start) / n * 1000)
    for patched, label in ((False, "email package"), (True, "patched")):
        runs = sorted(spent[patched])
        print(f"{label:<14} ms CPU per e-mail: min {runs[0]:.3f}, median {runs[rounds // 2]:.3f}")


if __name__ == "__main__":
    main()
