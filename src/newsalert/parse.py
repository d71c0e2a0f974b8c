"""Parse feed bytes with feedparser. Never hand feedparser a URL or a path:
it would fetch without our limits, or open a local file."""

from __future__ import annotations

import calendar
import copy
import functools
import importlib.util
import pyexpat
import re
import time
import types
from datetime import UTC, datetime
from typing import Any

import feedparser
from feedparser.util import FeedParserDict

from newsalert.errors import ParseError
from newsalert.models import ParsedFeed, RawEntry

# expat 2.7.2 fixed the last known amplification and memory-exhaustion cases
# (CVE-2025-59375); older builds still cap billion-laughs expansion (>= 2.4.0).
SAFE_EXPAT = (2, 7, 2)

# feedparser resolves relative links against this; it never fetches it
_NO_BASE = "http://invalid.invalid/"


def _drop_missing_xml_drivers() -> None:
    """feedparser 6 asks ``xml.sax.make_parser`` for the drivers in its
    ``PREFERRED_XML_PARSERS`` (``drv_libxml2``) before expat, at every parse. A driver
    that is not installed fails to import every time, and a failed import is not
    remembered: each searches the whole ``sys.path`` again (about 0.1 ms a parse here).
    Looked up once per process instead: a driver that is installed stays first."""
    preferred = getattr(feedparser.api, "PREFERRED_XML_PARSERS", None)
    if not isinstance(preferred, list):
        return
    preferred[:] = [name for name in preferred if _importable(name)]


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


_drop_missing_xml_drivers()


def _remember_base_uris() -> None:
    """feedparser works out the base URI again at every start tag
    (``make_safe_absolute_uri(self.baseuri, xml:base or self.baseuri)``: a ``urljoin``
    and a ``urlparse``), almost always from the same two strings: about a fifth of
    parsing a plain RSS feed. The function is pure (its arguments and feedparser's
    constant scheme list), so a small cache of its answers gives the same base URIs;
    only the tag-by-tag call in the mixin goes through it."""
    mixin = getattr(feedparser, "mixin", None)
    current = getattr(mixin, "make_safe_absolute_uri", None)
    if current is None or hasattr(current, "cache_info"):
        return
    mixin.make_safe_absolute_uri = functools.lru_cache(maxsize=64)(current)  # type: ignore[union-attr]


_remember_base_uris()

_IMMUTABLE = (str, int, float, bool, type(None))


def _copy_content_params(x: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` for feedparser's mixin. At every text element it closes,
    feedparser deep-copies its ``contentparams`` (type, language, base, value: strings)
    into the entry's ``*_detail``; a deep copy of a dict subclass goes through
    ``__reduce_ex__`` and a memo, about a fifth of parsing a plain RSS feed. A
    ``FeedParserDict`` holding only immutable keys and values gets the copy deepcopy
    would make, built the same way (a new ``FeedParserDict``, each item set through
    its ``__setitem__``): the values themselves are what deepcopy returns for them.
    Anything else goes to ``copy.deepcopy``."""
    if (
        type(x) is FeedParserDict
        and not x.__dict__
        and all(type(k) in _IMMUTABLE and type(v) in _IMMUTABLE for k, v in dict.items(x))
    ):
        y = FeedParserDict()
        for k, v in dict.items(x):
            y[k] = v
        return y
    return copy.deepcopy(x, memo)


def _copy_content_params_cheaply() -> None:
    mixin = getattr(feedparser, "mixin", None)
    if getattr(mixin, "copy", None) is copy:  # only the module it imported: nothing else
        names = {name: getattr(copy, name) for name in copy.__all__}
        names["deepcopy"] = _copy_content_params
        mixin.copy = types.SimpleNamespace(**names)  # type: ignore[union-attr]


_copy_content_params_cheaply()


def parse(content: bytes, *, content_type: str | None = None, url: str | None = None) -> ParsedFeed:
    """Parse bytes into entries. Raise ParseError if nothing feed-like was found."""
    if not isinstance(content, bytes | bytearray):
        raise TypeError("parse() takes bytes; fetch them first")
    headers = {"content-location": url or _NO_BASE}
    if content_type:
        headers["content-type"] = content_type
    content = bytes(content)
    if b"&#" in content:  # one reference to a surrogate would fail the whole feed
        content = _CHAR_REF.sub(_valid_reference, content)
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True)
    except Exception as exc:  # feedparser is lenient; anything escaping it is a bad feed
        raise ParseError(f"feed could not be parsed: {type(exc).__name__}: {exc}") from exc

    feed = parsed.get("feed", {})
    entries = tuple(_entry(e) for e in parsed.get("entries", ()))
    bozo = bool(parsed.get("bozo"))
    reason = str(parsed.get("bozo_exception")) if bozo else None
    if not entries and bozo and not feed.get("title") and not parsed.get("version"):
        raise ParseError(f"not a feed (no RSS/Atom found): {reason}")
    return ParsedFeed(
        title=str(feed.get("title", "")),
        entries=entries,
        bozo=bozo,
        bozo_reason=reason,
        language=feed.get("language") or None,
    )


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _valid_reference(match: re.Match[bytes]) -> bytes:
    """A character reference as it was, or U+FFFD for one naming no character (a
    surrogate, or beyond U+10FFFF): feedparser raises on those, losing every entry."""
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF else match[0]


def expat_warning(version: tuple[int, int, int] = pyexpat.version_info) -> str | None:
    """A warning when the XML parser Python links against is older than SAFE_EXPAT."""
    if version >= SAFE_EXPAT:
        return None
    have = ".".join(map(str, version))
    want = ".".join(map(str, SAFE_EXPAT))
    return (
        f"this Python reads XML with expat {have}; {want} or later fixes known ways for a "
        "hostile feed to make parsing use far more memory and CPU (CVE-2025-59375). "
        f"Feeds are still parsed. To fix: run newsalert on a Python that has expat {want} "
        "or later (a newer Python release, or your distribution's updated libexpat), then "
        "check with: python3 -c 'import pyexpat; print(pyexpat.EXPAT_VERSION)'. A "
        "distribution that backports the fix keeps the old number: if its security notes "
        "say so, you can ignore this"
    )


def _entry(entry: Any) -> RawEntry:
    content = entry.get("content") or ()
    content_html = " ".join(str(c.get("value", "")) for c in content if isinstance(c, dict))
    link = entry.get("link")
    guid = entry.get("id") or entry.get("guid")
    return RawEntry(
        guid=str(guid).strip() or None if guid else None,
        title=str(entry.get("title", "")),
        link=str(link) if link else None,
        summary_html=str(entry.get("summary", "")),
        content_html=content_html,
        published=_when(entry),
        language=_language(entry),
    )


def _when(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _language(entry: Any) -> str | None:
    detail = entry.get("title_detail") or entry.get("summary_detail")
    lang = detail.get("language") if isinstance(detail, dict) else None
    return str(lang) if lang else None
