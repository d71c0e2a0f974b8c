"""CPU of building one HTML e-mail as apprise's e-mail plugin does (``prepare_emails`` +
``as_string``) and reading its Message-ID back with ``HeaderParser``, interleaved in one
process: the text/plain part from apprise's conversion of our HTML (a new body each e-mail:
an alert storm) against the renderer's own text (``Seen.plain``, issue 19).
``thread_time``, median of the rounds, ms per e-mail.

Usage (from the repository root)::

    .venv/bin/python bench/email_text.py [--n 600] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from email.parser import HeaderParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from apprise import NotifyFormat  # noqa: E402
from apprise.plugins.email import NotifyEmail  # noqa: E402

from newsalert import delivery, patches  # noqa: E402, F401  (applies the patches)
from newsalert.render import render  # noqa: E402
from tests.test_render import make_alert  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--n", type=int, default=600)
ap.add_argument("--rounds", type=int, default=7)
args = ap.parse_args()

messages = [
    render(make_alert(title=f"Storm {k} hits the coast", summary=f"Item {k}. " * 40), "email")
    for k in range(args.n)
]


def build(ours: bool) -> list[str]:
    out = []
    for m in messages:
        token = patches.SEEN.set(patches.Seen())
        seen = patches.SEEN.get()
        if ours and seen is not None:
            seen.plain = (m.body, m.attach_text or "")
        try:
            (email,) = NotifyEmail.prepare_emails(
                subject="Alert",
                body=m.body,
                notify_format=NotifyFormat.HTML,
                from_addr=[False, "alerts@example.org"],
                to=[(False, "duty@example.org")],
            )
        finally:
            patches.SEEN.reset(token)
        out.append(email.body)
    return out


def timed(function, *a):  # type: ignore[no-untyped-def]
    start = time.thread_time()
    result = function(*a)
    return (time.thread_time() - start) * 1000 / args.n, result


figures: dict[str, list[float]] = {k: [] for k in ("apprise text", "our text", "parser")}
for _ in range(args.rounds):
    for ours, key in ((False, "apprise text"), (True, "our text")):
        ms, texts = timed(build, ours)
        figures[key].append(ms)
    ms, a = timed(
        lambda ts: [HeaderParser().parsestr(patches.header_block(t)).get("Message-ID") for t in ts],
        texts,
    )
    figures["parser"].append(ms)
    assert all(a)
for key, values in figures.items():
    print(
        f"{key:13s} median {statistics.median(values):.3f}  range {min(values):.3f}-{max(values):.3f} ms/e-mail"
    )
