"""The channel registry: one :class:`Channel` per family of apprise URLs newsalert renders
for (e-mail, Slack, Telegram, and plain text for every other service).

An entry says how a URL is recognised (schemes, and the http(s) hosts of a webhook), the
body and title limits the renderer fits, the default rate limits (the settings under
``delivery.rate_limits``) and whether a sent message can be answered (the API path of
its post: Telegram replies, Slack thread replies). Adding a channel is one entry here
plus its formatter in ``render`` (every family must have one: the render tests run over
:data:`FAMILIES`).

The config validates through this module (:func:`check_url`, :func:`url_label`,
:func:`check_template`, :func:`rate_limit_defaults`) instead of importing the delivery
and render internals. Imports nothing of newsalert at import time; the three checks
import ``delivery`` (apprise) and ``render`` when called.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A default rate limit: the setting ``delivery.rate_limits.<key>``."""

    key: str
    per_second: float
    per: str  # what one token bucket is for


@dataclass(frozen=True, slots=True)
class Channel:
    family: str
    body_limit: int  # characters of the final text the service sees
    title_limit: int | None  # None: no separate title (the headline is in the body)
    rate_limits: tuple[RateLimit, ...]  # the first: per target
    schemes: frozenset[str] = frozenset()  # apprise URL schemes of this family
    hosts: frozenset[str] = frozenset()  # http(s) webhook hosts of this family
    reply_post: str | None = None  # API path of a message post that can be answered


# apprise schemes whose plugin sends e-mail (HTML capable): SMTP and the mail APIs.
EMAIL_SCHEMES = frozenset(
    {
        "mailto",
        "mailtos",
        "azure",
        "brevo",
        "groundmail",
        "mailersend",
        "mailgun",
        "o365",
        "postmark",
        "resend",
        "sendgrid",
        "ses",
        "smtp2go",
        "sparkpost",
    }
)
SLACK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})

# Body limits in characters of the final text the service sees (see render's _measure_*).
# Telegram: 4096 per message. Slack: 3000 is the Block Kit section limit (apprise uses
# blocks with ?blocks=yes; legacy attachments allow far more), a sane size for a chat
# message either way. Email: generous. Text: unknown service; 2000 fits Discord & co.
# Title limits: e-mail subject, Slack header block (150 max), apprise's default 250.
CHANNELS: dict[str, Channel] = {
    c.family: c
    for c in (
        Channel(
            "email",
            body_limit=20_000,
            title_limit=200,
            rate_limits=(RateLimit("email", 5.0, "e-mail target"),),
            schemes=EMAIL_SCHEMES,
        ),
        Channel(
            "slack",
            body_limit=3_000,
            title_limit=150,
            rate_limits=(RateLimit("slack", 1.0, "Slack webhook"),),
            schemes=frozenset({"slack"}),
            hosts=SLACK_HOSTS,
            reply_post="/chat.postMessage",  # a bot token's message: thread replies
        ),
        Channel(
            "telegram",
            body_limit=4_096,
            title_limit=None,
            rate_limits=(
                RateLimit("telegram", 1.0, "Telegram chat"),
                RateLimit("telegram_bot", 30.0, "Telegram bot, across all its chats"),
            ),
            schemes=frozenset({"tgram"}),
            reply_post="/sendMessage",
        ),
        Channel(
            "text",
            body_limit=2_000,
            title_limit=250,
            rate_limits=(RateLimit("text", 1.0, "target of any other apprise service"),),
        ),
    )
}
FALLBACK = "text"  # the family of every URL no other entry recognises

FAMILIES: tuple[str, ...] = tuple(CHANNELS)
BODY_LIMITS: dict[str, int] = {f: c.body_limit for f, c in CHANNELS.items()}
TITLE_LIMITS: dict[str, int] = {
    f: c.title_limit for f, c in CHANNELS.items() if c.title_limit is not None
}
# the API method that posts a message, of the services whose messages can be answered
REPLY_POSTS: dict[str, str] = {f: c.reply_post for f, c in CHANNELS.items() if c.reply_post}


def channel_family(url: str) -> str:
    """Which renderer an apprise URL gets: "email", "slack", "telegram" or "text"."""
    scheme, sep, _ = url.strip().partition("://")
    if not sep:
        return FALLBACK
    scheme = scheme.lower()
    for channel in CHANNELS.values():
        if scheme in channel.schemes:
            return channel.family
    if scheme in ("http", "https"):
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError:
            return FALLBACK
        for channel in CHANNELS.values():
            if host in channel.hosts:
                return channel.family
    return FALLBACK


def rate_limit_defaults() -> dict[str, RateLimit]:
    """Every ``delivery.rate_limits`` setting with its default, in registry order."""
    return {r.key: r for c in CHANNELS.values() for r in c.rate_limits}


def check_url(url: str) -> str | None:
    """None if apprise can build a notifier from ``url``; else why not (never a secret)."""
    from newsalert.delivery import validate_url

    return validate_url(url)


def url_label(url: str) -> str:
    """``url`` with its secrets masked, as apprise shows it."""
    from newsalert.delivery import privacy_url

    return privacy_url(url)


def check_template(template: str) -> str | None:
    """None if an operator template can be filled; else what is wrong with it."""
    from newsalert.render import check_template

    return check_template(template)


def short_label(label: str) -> str:
    """A target as operators read it: apprise's privacy URL (secrets masked) without the
    ``?...`` settings it lists after it (overflow, retry, format...), which only repeat
    what every target has. The CLI and the console show targets this way."""
    return label.split("?", 1)[0].rstrip("/") or label
