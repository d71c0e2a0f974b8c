"""Feed health: when a failing feed becomes unhealthy, and telling operators once.

A feed is *failing* from its first failed poll (any error, refusal or 410) until its
next successful one (200 or 304); the store keeps when that began
(``feeds.failing_since``). It becomes *unhealthy* once it has been failing for
``fetch.unhealthy_after`` seconds, or at once when it is gone (410: it is disabled
and will not be polled again until its URL changes). Health is judged when the
feed is polled, so the change shows on the first failed poll past the limit (polls
back off while a feed fails).

Each change (``unhealthy``, then ``recovered`` on the next success) is recorded once
(``feeds.unhealthy_since`` is flipped by a conditional update, so concurrent workers
cannot both win), as one row in ``feed_notices``, and told to the subscribers named
in the top-level ``operators`` list through the ordinary delivery path: one delivery
row per operator target, in the same transaction, sent, retried, dead-lettered and
replayed like an alert's (``deliveries.notice_id`` instead of ``item_id``). Without
operators the change is only logged.

Everything here is pure (plain data in, plain data out); the store and the pipeline
do the writing and the sending.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from newsalert.channels import BODY_LIMITS, FAMILIES, TITLE_LIMITS
from newsalert.fetch import redact_url
from newsalert.models import FeedNotice, FeedState, Message, PlannedDelivery
from newsalert.render import clean, cut, slack_escape
from newsalert.routing import Router

log = logging.getLogger(__name__)

UNHEALTHY, RECOVERED = "unhealthy", "recovered"
MAX_ERROR = 500  # characters of the feed's last error quoted in a notice
MAX_URL = 300


def transition(state: FeedState, now: datetime, unhealthy_after: float) -> str | None:
    """The health change a poll just made: UNHEALTHY, RECOVERED or None."""
    since = state.failing_since
    if state.unhealthy_since is not None:
        return RECOVERED if since is None else None
    if since is not None and (state.disabled or now - since >= timedelta(seconds=unhealthy_after)):
        return UNHEALTHY
    return None


def label(state: FeedState, now: datetime) -> str:
    """The ``newsalert feeds`` health column: healthy, failing 25m, UNHEALTHY 2h 5m."""
    if state.unhealthy_since is not None:
        return f"UNHEALTHY {duration(now - (state.failing_since or state.unhealthy_since))}"
    if state.failing_since is not None:
        return f"failing {duration(now - state.failing_since)}"
    if state.last_polled_at is None:
        return "unknown"
    return "healthy"


def duration(delta: timedelta) -> str:
    """A short human duration: 45s, 25m, 3h 5m, 2d 4h."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def plan(router: Router, operators: Sequence[str]) -> list[PlannedDelivery]:
    """One delivery per target of each operator subscriber (in config order)."""
    planned: list[PlannedDelivery] = []
    for route in router.routes:
        if route.subscriber.name in operators:
            planned.extend(
                PlannedDelivery(t.subscriber, t.target_id, t.label) for t in route.targets
            )
    return planned


def log_change(notice: FeedNotice, targets: int) -> None:
    told = (
        f"operators notified on {targets} target(s)"
        if targets
        else "no `operators` configured: only logged"
    )
    if notice.kind == UNHEALTHY:
        log.warning("%s (%s)", headline(notice), told)
    else:
        log.info("%s (%s)", headline(notice), told)


# --- the notice as a message -----------------------------------------------------------


def headline(notice: FeedNotice) -> str:
    feed = clean(notice.feed, single_line=True)
    if notice.kind == UNHEALTHY:
        if notice.disabled:
            return f"feed {feed} is unhealthy: gone (HTTP 410), polling stopped"
        failing = duration(notice.created_at - notice.since) if notice.since else "a while"
        return f"feed {feed} is unhealthy: failing for {failing}"
    was = duration(notice.created_at - notice.since) if notice.since else "a while"
    return f"feed {feed} has recovered (was unhealthy for {was})"


def _facts(notice: FeedNotice, max_error: int) -> list[tuple[str, str]]:
    when = "%Y-%m-%d %H:%M UTC"
    rows = [
        ("Feed", notice.feed),
        ("Status", notice.kind),
        ("At", notice.created_at.strftime(when)),
    ]
    if notice.kind == UNHEALTHY:
        if notice.since:
            rows.append(("Failing since", notice.since.strftime(when)))
        rows.append(("Failed polls in a row", str(notice.error_streak)))
        if notice.error and max_error:
            rows.append(("Last error", cut(clean(notice.error, single_line=True), max_error)))
    elif notice.since:
        rows.append(("Unhealthy since", notice.since.strftime(when)))
    facts = [(k, clean(v, single_line=True)) for k, v in rows]
    # the feed's own URL comes from the config (validated, secrets masked here): kept
    # clickable and copyable, unlike URLs in text from the feed server
    url = cut(redact_url(notice.url), MAX_URL)
    facts.insert(1, ("URL", url if url.isprintable() and " " not in url else clean(url)))
    return facts


def _advice(notice: FeedNotice) -> str:
    if notice.kind == RECOVERED:
        return "The feed answers again; its new items are scored and alerted as usual."
    if notice.disabled:
        return (
            "The server says the feed was removed. Fix its url in the config (that re-enables "
            "it) or remove the feed."
        )
    return (
        "No alerts come from this feed while it fails. Check its URL and error with "
        "`newsalert feeds`; you will be told once more when it recovers."
    )


def render_notice(notice: FeedNotice, family: str) -> Message:
    """A health notice for one channel family (see render.py for the families).

    Every field is bounded (feed names by the config, the URL and the error are cut),
    and the error is cut further should a body still exceed the service's limit.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown channel family {family!r}; expected one of {FAMILIES}")
    for max_error in (MAX_ERROR, 100, 0):
        message = _render(notice, family, max_error)
        if _size(message.body, family) <= BODY_LIMITS[family]:
            break
    return message


def _render(notice: FeedNotice, family: str, max_error: int) -> Message:
    head = clean(headline(notice), single_line=True)
    facts = _facts(notice, max_error)
    advice = _advice(notice)
    extra = {"family": family, "kind": notice.kind}
    if family == "email":
        e = html.escape
        rows = "<br>".join(f"<b>{e(k)}:</b> {e(v)}" for k, v in facts)
        body = (
            f'<div style="font-family:sans-serif"><h2>{e(head)}</h2><p>{rows}</p>'
            f"<p>{e(advice)}</p></div>"
        )
        text = "\n".join([head, "", *(f"{k}: {v}" for k, v in facts), "", advice])
        title = _title(f"[newsalert] {head}", family)
        return Message(title, body, "html", attach_text=text, extra=extra)
    if family == "slack":
        s = slack_escape
        body = "\n".join([f"**{s(head)}**", *(f"{s(k)}: {s(v)}" for k, v in facts), "", s(advice)])
        return Message(_title(head, family), body, "markdown", extra=extra)
    if family == "telegram":
        e = html.escape
        body = "\n".join(
            [f"<b>{e(head)}</b>", *(f"{e(k)}: {e(v)}" for k, v in facts), "", e(advice)]
        )
        return Message("", body, "html", extra=extra)
    body = "\n".join([head, "", *(f"{k}: {v}" for k, v in facts), "", advice])
    return Message(_title(f"[newsalert] {head}", family), body, "text", extra=extra)


def _title(text: str, family: str) -> str:
    return cut(" ".join(text.split()), TITLE_LIMITS.get(family, 200))


def _size(body: str, family: str) -> int:
    """What the service counts (as render.py measures it)."""
    if family == "telegram":  # UTF-16 code units; apprise sends "\n" as "\r\n"
        return len(body.encode("utf-16-le")) // 2 + body.count("\n")
    if family == "slack":  # apprise turns & into &amp; and \< \> into &lt; &gt;
        return len(body) + 4 * body.count("&") + 2 * (body.count("\\<") + body.count("\\>"))
    return len(body)
