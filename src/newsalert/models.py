"""Plain data passed between pipeline stages. Frozen: stages never mutate input."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What ``fetch`` hands to ``parse``: bytes and caching metadata, never a live response."""

    url: str  # final URL after redirects
    status: int  # 200, or 304 for "not modified" (then ``content`` is empty)
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    # set when every redirect hop was permanent (301/308): the feed's new URL
    permanent_url: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    max_age: float | None = None  # seconds, from Cache-Control: max-age
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One feed entry as feedparser gave it, reduced to the fields we use."""

    guid: str | None
    title: str
    link: str | None
    summary_html: str
    content_html: str
    published: datetime | None  # UTC, aware
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    entries: tuple[RawEntry, ...]
    bozo: bool = False  # feedparser found the XML ill-formed but recovered
    bozo_reason: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A normalized news item: plain text, canonical http(s) link, UTC time."""

    key: str  # stable: guid, else canonical link, else content hash
    feed: str  # feed name
    title: str
    summary: str  # plain text
    link: str | None  # http(s) only
    published: datetime | None  # UTC, aware
    content: str = ""  # plain text of full content when the feed carries it
    language: str | None = None
    guid: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.summary}"


@dataclass(frozen=True, slots=True)
class Language:
    """The language an item was judged in (newsalert.language) and what decided it."""

    code: str  # ISO 639-1 ("en", "sr"), or the feed's declared tag ("sr-Latn")
    confidence: float  # 1.0 for "feed" and "words"; a probability for "script" and "langid"
    method: str  # "feed", "words", "script", "langid" or "default" (no letters: English)

    @property
    def english(self) -> bool:
        return is_english(self.code)


def is_english(code: str | None) -> bool:
    """Whether a language code or tag is English; None (not detected) reads as English,
    as the scorer does."""
    return not code or code.lower() == "en" or code.lower().startswith(("en-", "en_"))


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to a score, shown to operators and in alerts."""

    kind: str  # "rule", "model" or "language" (not English: rules only)
    label: str  # human-readable: 'include "armed attack" (title)' or 'term "troops"'
    weight: float  # signed contribution to the score


@dataclass(frozen=True, slots=True)
class Prediction:
    """The classifier's view of one text."""

    probability: float  # calibrated P(relevant)
    category: str  # one of CATEGORIES, or "none"
    terms: tuple[tuple[str, float], ...] = ()  # (term, signed contribution), strongest first


@dataclass(frozen=True, slots=True)
class Score:
    score: float  # final score in 0..1
    relevant: bool
    category: str
    model_probability: float | None
    reasons: tuple[Reason, ...] = ()
    vetoed: bool = False  # an exclude rule fired
    arithmetic: str = ""  # how rules and model combined, for ``explain``
    language: Language | None = None  # what the item was judged in (None: not detected)


@dataclass(frozen=True, slots=True)
class Alert:
    """Everything a renderer needs; built from a stored item and its score."""

    item_id: int
    title: str
    source: str  # feed name
    published: datetime | None
    score: float
    category: str
    reasons: tuple[Reason, ...]
    link: str | None
    summary: str
    subscriber: str = ""
    # set when the alert is an update on a story the subscriber was told of: what it adds
    update: tuple[str, ...] | None = None
    test: bool = False  # `newsalert send-test`: says TEST where an alert shows its severity
    # one-click feedback links, (words, url), when the console is configured (feedback_links)
    actions: tuple[tuple[str, str], ...] = ()
    # where the event happened ("Banjska, Kosovo (8 km from mitrovica-office)") and an
    # OpenStreetMap link to it; "" and None when the text names no place
    where: str = ""
    map_url: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered message for one target: apprise title, body and body format."""

    title: str
    body: str
    body_format: str  # "text", "html" or "markdown"
    attach_text: str | None = None  # plain-text alternative (email)
    extra: dict[str, str] = field(default_factory=dict)
    # extra e-mail headers (threading: In-Reply-To, References); other services ignore them
    headers: dict[str, str] = field(default_factory=dict)
    # the remote id of the message this one answers (a Telegram message_id, a Slack ts; of
    # several chats, a JSON object by chat): Telegram replies to it, Slack bot tokens thread
    # under it; other services ignore it
    reply_to: str | None = None
    # apprise's notify type (info / warning / failure): services that colour or route by
    # type (JSON and form webhooks, Discord, Teams...) see how serious an alert is
    notify_type: str = "info"
    # URL buttons under a Telegram message, (words, url): its inline keyboard
    buttons: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StoryUpdate:
    """A later report of a story a subscriber was already alerted to (see stories.py)."""

    alert: Alert  # the new report
    story_id: int
    story_title: str
    sources: tuple[str, ...]  # every feed that reported the story so far
    item_count: int
    changes: tuple[str, ...]  # what the report adds: "now 5 sources", "new: hostages, claimed"
    reply_subject: str | None = None  # e-mail: the first alert's subject, answered with "Re:"


CATEGORIES: tuple[str, ...] = (
    "armed_conflict",
    "terrorism",
    "violent_crime",
    "civil_unrest",
    "military_posture",
    "kidnapping",
    "cyber",
    "other_security",
)


# --- what the store hands out (newsalert.store) -----------------------------------------


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_streak: int
    disabled: bool
    items_seen: int
    moved_to: str | None
    failing_since: datetime | None = None  # first failure of the current streak
    unhealthy_since: datetime | None = None  # None: healthy (see health.py)


@dataclass(frozen=True, slots=True)
class FeedNotice:
    """A feed-health change told to operators (see health.py)."""

    id: int
    feed: str
    kind: str  # unhealthy, recovered
    created_at: datetime
    since: datetime | None  # unhealthy: failing since; recovered: unhealthy since
    error: str | None
    error_streak: int
    disabled: bool  # gone (410)
    url: str


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    feed: str
    item: Item
    score: Score | None


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """A delivery the router decided on, before it has a row."""

    subscriber: str
    target_id: str
    target_label: str
    hold_until: datetime | None = None  # quiet hours or digest: sent together then
    story_id: int | None = None  # set by stories.py: the story this delivery tells of
    kind: str = "alert"  # "alert", or "update" on a story already alerted
    changes: tuple[str, ...] = ()  # what an update adds


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    item_id: int | None  # None for a feed-health notice (then notice_id is set)
    subscriber: str
    target_id: str
    target_label: str
    status: str
    attempts: int
    ambiguous: bool
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    notice_id: int | None = None
    lease_until: datetime | None = None  # while sending: the sender's lease, its fence
    taken_back: bool = False  # leased from a sender that died (or outlasted its lease)
