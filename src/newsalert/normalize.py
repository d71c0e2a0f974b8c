"""Normalize parsed entries: plain text, canonical http(s) links, UTC times, stable keys."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from newsalert.models import Item, ParsedFeed, RawEntry

MAX_TITLE = 1_000
MAX_SUMMARY = 20_000
MAX_CONTENT = 100_000

# query parameters that identify a click, not a document
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|ref_src|cmpid|ocid)$",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*")
MAX_LINK = 8192  # longer "links" are not links (and would bloat every row and message)
# C0/C1 controls (but not \t \n) and bidi overrides have no place in an alert
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template"})
    _BLOCK = frozenset(
        {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str, limit: int = MAX_CONTENT) -> str:
    """Plain text from (possibly broken) HTML: tags dropped, entities decoded, spaces folded."""
    if not markup:
        return ""
    markup = markup[: limit * 4]  # bound the parser's work on huge inputs
    if "<" in markup or "&" in markup:
        parser = _TextExtractor()
        try:
            parser.feed(markup)
            parser.close()
            text = "".join(parser.parts)
        except Exception:  # HTMLParser is lenient; be safe on pathological input
            text = re.sub(r"<[^>]*>", " ", html.unescape(markup))
    else:
        text = markup
    return clean_text(text, limit)


def clean_text(text: str, limit: int) -> str:
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()
    return text[:limit]


def canonical_link(link: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) link without fragment or tracking parameters, or None."""
    if not link:
        return None
    link = link.strip()
    if len(link) > MAX_LINK or _CONTROL.search(link):  # no real link has them (NUL, bidi)
        return None
    try:
        if base:
            link = urljoin(base, link)
        parts = urlsplit(link)
        port = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    netloc = host if port in (None, default) else f"{host}:{port}"
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", query, ""))


def language_tag(value: str | None) -> str | None:
    """A language tag ("en", "en-US", "sr_Latn"), or None for anything else: feeds fill
    xml:lang and <language> with what they like, and the store keeps 35 characters."""
    if not value:
        return None
    value = value.strip()
    return value if len(value) <= 35 and _LANGUAGE.fullmatch(value) else None


def item_key(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """Stable key: guid, else canonical link, else a hash of the content."""
    if guid:
        basis = "guid\0" + guid
    elif link:
        basis = "link\0" + link
    else:
        basis = "text\0" + title + "\0" + summary
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def normalize_entry(
    entry: RawEntry, feed: str, *, base_url: str | None = None, language: str | None = None
) -> Item:
    title = html_to_text(entry.title, MAX_TITLE)
    summary = html_to_text(entry.summary_html, MAX_SUMMARY)
    content = html_to_text(entry.content_html, MAX_CONTENT)
    if not summary and content:
        summary = content[:MAX_SUMMARY]
    link = canonical_link(entry.link, base_url)
    guid = clean_text(entry.guid, 2_000) if entry.guid else None
    return Item(
        key=item_key(guid, link, title, summary),
        feed=feed,
        title=title,
        summary=summary,
        link=link,
        published=entry.published,
        content=content if content != summary else "",
        language=language_tag(entry.language or language),
        guid=guid,
    )


def normalize(
    parsed: ParsedFeed, feed: str, *, base_url: str | None = None, limit: int | None = None
) -> list[Item]:
    """Normalize every entry; drop empty ones and repeats of a key within the feed."""
    items: list[Item] = []
    seen: set[str] = set()
    for entry in parsed.entries[:limit]:
        item = normalize_entry(entry, feed, base_url=base_url, language=parsed.language)
        if (item.title or item.summary) and item.key not in seen:
            seen.add(item.key)
            items.append(item)
    return items
