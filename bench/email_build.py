"""CPU of building one e-mail as apprise does and reading back its Message-ID, interleaved
in one process (no sockets: the part of a send that is pure CPU), four ways:

* ``email package``: apprise's own path (no patch of ``newsalert.patches``);
* ``main 12-06``: patches 3 (the header block alone) and 4 (``PlainHeaders``), the email
  package's ``as_string`` (a regex compiled per e-mail for its boundary) and
  ``set_param``, apprise's HTML-to-text conversion of every body, its header charset test
  and a record per DEBUG line;
* ``now``: all of this branch's (patches 4 to 6, ``delivery._skipping_debug``), every
  e-mail a new body (an alert storm: one target per item);
* ``now, body seen``: the same body as the e-mail before (an alert to a second target).

Usage (from the repository root)::

    .venv/bin/python bench/email_build.py
"""

from __future__ import annotations

import sys
import time
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import apprise.plugins.email.base as apprise_email  # noqa: E402

from newsalert import delivery, patches  # noqa: E402  (delivery applies the patches)
from newsalert.render import render  # noqa: E402
from tests.test_render import make_alert  # noqa: E402

MESSAGE = render(make_alert(), "email")
HEADERS = {"X-Application": "Apprise", "References": "<1.2.3@example.org>"}


# what this branch changed in a send, and what each was before (main 2026-12-06)
LOGGER = delivery._apprise_logger
CHANGED: list[tuple[object, str, object]] = [
    (apprise_email, "convert_between", getattr(apprise_email.convert_between, "__wrapped__", None)),
    (patches._MIMEMultipart, "as_string", Message.as_string),
    (patches._MIMEText, "set_param", Message.set_param),
    (apprise_email.NotifyEmail, "_get_charset", getattr(patches, "_APPRISE_GET_CHARSET", None)),
    (LOGGER, "debug", getattr(LOGGER.debug, "__wrapped__", None)),
]
CHANGED = [(o, n, before) for o, n, before in CHANGED if before is not None and n in vars(o)]
NOW = {(id(o), n): vars(o)[n] for o, n, _ in CHANGED}
WAYS = ("email package", "main 12-06", "now", "now, body seen")


def setup(way: str) -> None:
    patched = way != "email package"
    if patched:
        apprise_email.MIMEText = patches._MIMEText  # type: ignore[misc]
        apprise_email.MIMEMultipart = patches._MIMEMultipart  # type: ignore[misc]
    else:
        apprise_email.MIMEText, apprise_email.MIMEMultipart = MIMEText, MIMEMultipart  # type: ignore[misc]
    now = way.startswith("now")
    for owner, name, before in CHANGED:
        value = NOW[(id(owner), name)] if now else before
        if isinstance(owner, type) and name == "_get_charset" and not now:
            value = staticmethod(before)  # type: ignore[arg-type]
        setattr(owner, name, value)


def one(way: str, body: str) -> str | None:
    [email] = apprise_email.NotifyEmail.prepare_emails(
        subject=MESSAGE.title, body=body, from_addr=("", "alerts@example.org"),
        to=[("", "duty@example.org")], headers=dict(HEADERS),
    )  # fmt: skip
    text = email.body if way == "email package" else patches.header_block(email.body)
    return HeaderParser().parsestr(text).get("Message-ID")


def main() -> None:
    n, rounds = 1500, 6
    spent: dict[str, list[float]] = {way: [] for way in WAYS}
    serial = 0
    for _ in range(rounds):
        for way in WAYS:
            setup(way)
            bodies = []
            for _ in range(n):  # a new body per e-mail (a storm), but for "body seen"
                serial += 1
                bodies.append(f"<p>{serial}</p>{MESSAGE.body}")
            if way == "now, body seen":
                bodies = [bodies[0]] * n
            start = time.process_time()
            for body in bodies:
                one(way, body)
            spent[way].append((time.process_time() - start) / n * 1000)
    setup("now")
    for way in WAYS:
        runs = sorted(spent[way])
        print(f"{way:<15} ms CPU per e-mail: min {runs[0]:.3f}, median {runs[rounds // 2]:.3f}")


if __name__ == "__main__":
    main()
