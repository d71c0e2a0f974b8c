"""Property-based fuzzing of the untrusted-input path: parse -> normalize -> render.

Inputs: random bytes, feedparser's corpus feeds mutated at the byte level, and
well-formed feeds whose text fields are arbitrary (hostile) Unicode; and the
renderers alone (alerts, feed-health notices) on arbitrary field values. Every input must
either be refused with ParseError or come out of all four renderers (email, Slack,
Telegram, plain text) as a message that keeps the renderers' promises: within the
service's size limit, a one-line title, no markup but our own, only http(s) links.

Bounded and reproducible: ``derandomize=True`` (examples depend on the test only, the
same in every run and in CI), no example database, ~200 examples per test.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from newsalert import health
from newsalert.errors import ParseError
from newsalert.models import Alert, Item, Message, Reason
from newsalert.normalize import normalize
from newsalert.parse import parse
from newsalert.render import BODY_LIMITS, FAMILIES, LINK_LABEL, render
from newsalert.store import FeedNotice

from .conftest import ROOT

CORPUS = sorted(
    p
    for p in (ROOT / "tests" / "data" / "feedparser-tests").rglob("*.xml")
    if p.stat().st_size <= 32 * 1024  # the one 150 kB file only slows mutation down
)
# feedparser's files are named for what they test; these carry entries (more reach render)
WITH_ENTRIES = [p for p in CORPUS if re.search(r"item|entry|entries", p.name)]
BASE_URL = "http://127.0.0.1/feed"
MAX_ITEMS = 20  # per input: enough to exercise the renderers, bounded in time

pytestmark = pytest.mark.filterwarnings(
    "ignore:To avoid breaking existing software:DeprecationWarning"  # feedparser's own
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Inert formatting tags; anything else in a body (script, img, iframe, style, form...)
# came from feed text. Telegram's list is its whole HTML subset (it refuses others).
ALLOWED_TAGS = {
    "email": {"div", "span", "h1", "h2", "h3", "p", "br", "hr", "b", "strong", "i", "em",
              "small", "a", "ul", "ol", "li", "table", "tr", "td", "th", "blockquote"},
    "telegram": {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code",
                 "pre", "blockquote"},
}  # fmt: skip
_TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9:-]*)")
_HREF = re.compile(r"""href\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)  # onerror=, onclick=...


# --- the path under test, with its invariants ------------------------------------------------


def through_everything(content: bytes) -> int:
    """parse -> normalize -> render for every family; the number of messages rendered."""
    try:
        parsed = parse(content, url=BASE_URL)
    except ParseError:
        event("refused: ParseError")
        return 0
    items = normalize(parsed, "fuzz", base_url=BASE_URL, limit=MAX_ITEMS)
    rendered = 0
    for n, item in enumerate(items):
        check_item(item)
        alert = alert_from(n, item)
        for family in FAMILIES:
            check_message(render(alert, family), family, alert)
            rendered += 1
    event("rendered messages" if rendered else "parsed, no items")
    return rendered


def alert_from(n: int, item: Item) -> Alert:
    return Alert(
        item_id=n,
        title=item.title,
        source=item.feed,
        published=item.published,
        score=(n % 11) / 10,
        category="armed_conflict",
        # feed text in reasons too: rule labels quote what matched
        reasons=(Reason("rule", f'include "{item.title[:60]}"', 0.4), Reason("model", "x", 0.1)),
        link=item.link,
        summary=item.summary,
    )


def check_item(item: Item) -> None:
    assert item.title or item.summary
    assert item.link is None or item.link.startswith(("http://", "https://"))
    assert item.published is None or item.published.tzinfo is not None
    assert len(item.title) <= 1_000 and len(item.summary) <= 20_000


def check_message(message: Message, family: str, alert: Alert) -> None:
    body = message.body
    assert isinstance(body, str) and body, family
    assert "\r" not in message.title and "\n" not in message.title
    if family == "telegram":
        # Telegram counts UTF-16 code units; apprise sends "\n" as "\r\n"
        assert len(body.encode("utf-16-le")) // 2 + body.count("\n") <= BODY_LIMITS["telegram"]
    else:
        assert len(body) <= BODY_LIMITS[family], (family, len(body))
    if family in ALLOWED_TAGS:
        tags = {t.lower() for t in _TAG.findall(body)}
        assert tags <= ALLOWED_TAGS[family], (family, tags - ALLOWED_TAGS[family])
        assert not _HANDLER.search(body), family
        for href in _HREF.findall(body):
            assert html.unescape(href).startswith(("http://", "https://")), href
        if message.attach_text is not None:
            assert "\r" not in message.attach_text
    if family == "slack":
        # our one link is "[Open article](<url>)"; anything else that could form Slack
        # markup (<!channel>, <@U1>, <url|label>, [label](url)) must be escaped
        rest = body
        if alert.link:
            rest = re.sub(r"\[" + re.escape(LINK_LABEL) + r"\]\(<[^>\s]*>\)", "", rest)
        assert not re.search(r"(?<!\\)[<>\[\]]", rest), rest[:500]


# --- strategies ----------------------------------------------------------------------------

TOKENS = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&lol;",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"-->",
    b"<!DOCTYPE rss [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
    b'<!ENTITY a "aaaaaaaaaaaaaaaa">',
    b"<script>alert(1)</script>",
    b"<a href='javascript:alert(1)'>x</a>",
    b"<img src=x onerror=alert(1)>",
    b"<!channel>",
    b"<@U123>",
    b"<https://evil.example|bank>",
    b"[label](https://evil.example)",
    b"\x00",
    b"\r\n",
    b"\xe2\x80\xae",  # RIGHT-TO-LEFT OVERRIDE
    b"\xef\xbb\xbf",  # BOM
    b"\xff\xfe",
    b"\xc3",  # a truncated UTF-8 sequence
    b'encoding="utf-16"',
    b'encoding="x-unknown"',
    b"<item>",
    b"</item>",
    b"<entry>",
    b"<title>",
    b"</title>",
    b"<link>javascript:alert(1)</link>",
    b"<link>file:///etc/passwd</link>",
    b"<pubDate>Fri, 31 Dec 9999 23:59:60 +9999</pubDate>",
    b"<updated>0000-00-00T00:00:00Z</updated>",
    b'xml:base="file:///"',
    b"x" * 5000,
]


@st.composite
def mutated_corpus_feed(draw: st.DrawFn) -> bytes:
    pool = draw(st.sampled_from([WITH_ENTRIES, WITH_ENTRIES, WITH_ENTRIES, CORPUS]))
    data = bytearray(pool[draw(st.integers(0, len(pool) - 1))].read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate", "splice"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))] * draw(st.integers(1, 4))
        elif op == "truncate":
            del data[at:]
        else:  # splice in a piece of another feed
            other = CORPUS[draw(st.integers(0, len(CORPUS) - 1))].read_bytes()
            start = draw(st.integers(0, len(other)))
            data[at:at] = other[start : start + draw(st.integers(1, 512))]
    return bytes(data)


# arbitrary Unicode, biased towards what breaks renderers and chat markup
HOSTILE_TEXT = st.lists(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(list("<>&\"'[]|!@#*_~`\\\r\n\t\u2028\u2029\u202e\u200b\ufeff\x85\x00\x1b"))
    | st.sampled_from(["<!channel>", "<@U1>", "https://", "javascript:", "&amp;", "]]>", "𝕏"]),
    max_size=120,
).map("".join)
LINKS = st.one_of(
    HOSTILE_TEXT,
    st.sampled_from(
        [
            "https://news.example.org/a?utm_source=x&id=1#frag",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "//evil.example/x",
            "http://user:pw@evil.example/",
            "https://[::1]:99999/",
            "/relative/path",
        ]
    ),
)


def _xml_text(text: str) -> str:
    """Text as XML character data: escaped, minus what XML 1.0 cannot carry at all."""
    text = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)
    return html.escape(text, quote=False)


@st.composite
def feed_with_hostile_text(draw: st.DrawFn) -> bytes:
    atom = draw(st.booleans())
    raw = draw(st.booleans())  # unescaped: the text may break the XML itself
    text = (lambda s: s) if raw else _xml_text
    entries = []
    for n in range(draw(st.integers(1, 4))):
        title, summary, link = draw(HOSTILE_TEXT), draw(HOSTILE_TEXT), draw(LINKS)
        if atom:
            entries.append(
                f"<entry><id>urn:fuzz:{n}</id><title type='html'>{text(title)}</title>"
                f'<link href="{_xml_text(link).replace(chr(34), "&quot;")}"/>'
                f"<summary type='html'>{text(summary)}</summary>"
                "<updated>2023-09-29T14:05:00Z</updated></entry>"
            )
        else:
            entries.append(
                f"<item><guid>fuzz-{n}</guid><title>{text(title)}</title>"
                f"<link>{text(link)}</link><description>{text(summary)}</description>"
                "<pubDate>Fri, 29 Sep 2023 14:05:00 GMT</pubDate></item>"
            )
    if atom:
        doc = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>{"".join(entries)}</feed>'
    else:
        doc = f'<rss version="2.0"><channel><title>f</title>{"".join(entries)}</channel></rss>'
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + doc).encode("utf-8", "surrogatepass")


# --- the tests -----------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(content: bytes) -> None:
    through_everything(content)


SOUP_PREFIXES = [
    b'<?xml version="1.0"?><rss version="2.0"><channel>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><item><description>',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">',
    b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div>',
]


SOUP_SUFFIXES = [
    b"",
    b" words</title><description>Gunmen attacked a border post.</description></item>",
    b" words</title></entry></feed>",
]


@FUZZ
@given(
    st.sampled_from(SOUP_PREFIXES),
    st.lists(st.sampled_from(TOKENS) | st.binary(max_size=32), max_size=40).map(b"".join),
    st.sampled_from(SOUP_SUFFIXES),
)
def test_random_token_soup(prefix: bytes, content: bytes, suffix: bytes) -> None:
    through_everything(prefix + content + suffix)


@FUZZ
@given(mutated_corpus_feed())
def test_mutated_corpus_feeds(content: bytes) -> None:
    through_everything(content)


@FUZZ
@given(feed_with_hostile_text())
def test_feeds_with_hostile_text(content: bytes) -> None:
    through_everything(content)


@FUZZ
@given(
    title=HOSTILE_TEXT,
    summary=st.text(max_size=12_000) | HOSTILE_TEXT,
    source=HOSTILE_TEXT,
    link=LINKS | st.none(),
    score=st.floats(0, 1),
    published=st.none() | st.datetimes(timezones=st.just(UTC)),
    labels=st.lists(HOSTILE_TEXT, max_size=12),
)
def test_render_any_alert(
    title: str,
    summary: str,
    source: str,
    link: str | None,
    score: float,
    published: datetime | None,
    labels: list[str],
) -> None:
    """The renderers on their own: any text in any field (what normalize would never pass)."""
    alert = Alert(
        item_id=1,
        title=title,
        source=source,
        published=published,
        score=score,
        category="other_security",
        reasons=tuple(Reason("rule" if i % 2 else "model", s, 0.1) for i, s in enumerate(labels)),
        link=link,
        summary=summary,
    )
    for family in FAMILIES:
        check_message(render(alert, family), family, alert)


@FUZZ
@given(
    kind=st.sampled_from([health.UNHEALTHY, health.RECOVERED]),
    error=st.none() | HOSTILE_TEXT | st.text(max_size=3000),
    url=LINKS,
    streak=st.integers(0, 10**6),
    disabled=st.booleans(),
    hours=st.floats(0, 10_000),
)
def test_render_any_feed_notice(
    kind: str, error: str | None, url: str, streak: int, disabled: bool, hours: float
) -> None:
    """Health notices quote the feed server's error: the same promises as alerts."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    notice = FeedNotice(
        id=1,
        feed="feed-1",
        kind=kind,
        created_at=now,
        since=now - timedelta(hours=hours),
        error=error,
        error_streak=streak,
        disabled=disabled,
        url=url,
    )
    for family in FAMILIES:
        message = health.render_notice(notice, family)
        alert = Alert(1, "", "", None, 0.0, "", (), None, "")  # no link: none expected
        check_message(message, family, alert)


def test_the_corpus_is_there() -> None:
    assert len(CORPUS) > 2000 and len(WITH_ENTRIES) > 300
