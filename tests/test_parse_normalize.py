"""Parsing bytes and normalizing entries: plain text, canonical links, UTC, stable keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsalert.errors import ParseError
from newsalert.normalize import (
    canonical_link,
    html_to_text,
    item_key,
    language_tag,
    normalize,
)
from newsalert.parse import parse

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Desk</title><language>en</language>
<item><guid isPermaLink="false">urn:desk:1</guid>
  <title>Armed attack on &lt;b&gt;Kosovo Police&lt;/b&gt; in Banjska</title>
  <link>https://Example.org/news/1?utm_source=rss&amp;id=7#top</link>
  <description>&lt;p&gt;Around 30 &lt;i&gt;armed&lt;/i&gt; attackers&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; police.&lt;/p&gt;</description>
  <pubDate>Sun, 24 Sep 2023 09:30:00 +0200</pubDate></item>
<item><title>No guid here</title><link>/relative/2</link><description>Text</description></item>
<item><title>Same again</title><link>/relative/2</link><description>Text</description></item>
<item><title></title><description></description></item>
<item><title>Bad link</title><link>javascript:alert(1)</link><description>x</description></item>
</channel></rss>"""


def test_rss_items_become_plain_text_with_utc_times_and_canonical_links() -> None:
    items = normalize(
        parse(RSS, url="https://example.org/feed.xml"),
        "desk",
        base_url="https://example.org/feed.xml",
    )
    assert [i.title for i in items] == [
        "Armed attack on Kosovo Police in Banjska",
        "No guid here",
        "Bad link",
    ]
    first = items[0]
    assert first.summary == "Around 30 armed attackers & police."
    assert first.link == "https://example.org/news/1?id=7"
    assert first.published == datetime(2023, 9, 24, 7, 30, tzinfo=UTC)
    assert first.guid == "urn:desk:1" and first.language == "en"
    assert items[1].link == "https://example.org/relative/2"
    assert items[2].link is None  # javascript: never becomes a link


def test_item_key_prefers_guid_then_link_then_content() -> None:
    assert item_key("g", "https://a/", "t", "s") == item_key("g", "https://b/", "x", "y")
    assert item_key(None, "https://a/", "t", "s") == item_key(None, "https://a/", "other", "text")
    assert item_key(None, None, "t", "s") != item_key(None, None, "t", "s2")
    assert (
        len(
            {
                item_key("g", None, "", ""),
                item_key(None, "g", "", ""),
                item_key(None, None, "g", ""),
            }
        )
        == 3
    )


def test_keys_are_stable_across_polls() -> None:
    once = [i.key for i in normalize(parse(RSS), "desk")]
    twice = [i.key for i in normalize(parse(RSS), "desk")]
    assert once == twice


def test_atom_with_content_and_updated_only() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
    <entry><id>tag:x,2023:1</id><title type="html">Bomb &lt;i&gt;blast&lt;/i&gt;</title>
    <updated>2023-09-24T07:30:00Z</updated><link href="https://x.org/1"/>
    <content type="html">&lt;p&gt;Full &lt;b&gt;content&lt;/b&gt;&lt;/p&gt;</content></entry></feed>"""
    [item] = normalize(parse(atom), "a")
    assert item.title == "Bomb blast"
    assert item.summary == "Full content"
    assert item.published == datetime(2023, 9, 24, 7, 30, tzinfo=UTC)


def test_not_a_feed_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse(b"<html><body>Service unavailable</body></html>")
    with pytest.raises(ParseError):
        parse(b"\x00\x01binary garbage\xff")


def test_parse_refuses_anything_but_bytes() -> None:
    with pytest.raises(TypeError):
        parse("https://example.org/feed.xml")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("HTTPS://Example.ORG:443/a?b=1&utm_medium=x&fbclid=y#frag", "https://example.org/a?b=1"),
        ("http://example.org:8080", "http://example.org:8080/"),
        ("ftp://example.org/x", None),
        ("data:text/html,hi", None),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://example.org:99999/", None),
        ("", None),
        ("https://example.org/a\x00b", None),  # PostgreSQL refuses NUL in text
        ("https://example.org/\u202eevil", None),
        ("https://example.org/" + "a" * 9000, None),
        ("http://[abc/x", None),
    ],
)
def test_canonical_link(link: str, expected: str | None) -> None:
    assert canonical_link(link) == expected


def test_html_to_text_drops_scripts_controls_and_folds_space() -> None:
    assert html_to_text("<style>p{}</style><p>a\u202e b</p>\r\n\t<div>c&nbsp;d</div>") == "a b c d"
    assert html_to_text("x" * 50, limit=10) == "x" * 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        (" en-US ", "en-US"),
        ("sr_Latn", "sr_Latn"),
        ("x" * 60, None),  # the store keeps 35 characters
        ("en\x00x", None),
        ("english please", None),
        ("", None),
        (None, None),
    ],
)
def test_language_tag(value: str | None, expected: str | None) -> None:
    assert language_tag(value) == expected


def test_a_reference_to_half_a_surrogate_pair_does_not_fail_the_feed() -> None:
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>1</guid><title>fine &#8217; quote</title></item>"
        b"<item><guid>2</guid><title>&#xD800; &#56320; &#x110000;</title></item>"
        b"</channel></rss>"
    )
    assert [e.title for e in parse(feed).entries] == ["fine \u2019 quote", "\ufffd \ufffd \ufffd"]


def test_a_missing_xml_driver_is_not_imported_at_every_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """feedparser's preferred SAX driver (drv_libxml2) is looked up once: a parse never
    tries to import a driver that is not installed; the strict parser still runs."""
    import builtins
    import importlib.util

    import feedparser.api

    from newsalert import parse as parse_module

    preferred = feedparser.api.PREFERRED_XML_PARSERS
    assert all(importlib.util.find_spec(name) is not None for name in preferred)
    monkeypatch.setattr(feedparser.api, "PREFERRED_XML_PARSERS", ["drv_libxml2", "no_such_drv"])
    parse_module._drop_missing_xml_drivers()
    assert feedparser.api.PREFERRED_XML_PARSERS == []
    tried: list[str] = []
    real_import = builtins.__import__

    def spy(name: str, *args: object, **kwargs: object) -> object:
        tried.append(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", spy)
    parsed = parse(RSS, url="https://example.org/feed.xml")
    monkeypatch.undo()
    assert not [name for name in tried if name.startswith(("drv_", "no_such"))]
    assert len(parsed.entries) == 5 and parsed.title == "Desk"


ATOM_BASES = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/news/">
<title>Bases</title>
<entry xml:base="world/"><id>a</id><title>One</title><link href="1.html"/>
  <content type="html" xml:base="../sport/">&lt;a href="x.html"&gt;two&lt;/a&gt; text</content></entry>
<entry xml:base="javascript:alert(1)"><id>b</id><title>Two</title><link href="2.html"/></entry>
<entry xml:base="//other.example.net/x/"><id>c</id><title>Three</title><link href="3"/></entry>
<entry><id>d</id><title>Four</title><link href="/4"/><summary>s</summary></entry>
</feed>"""


@pytest.mark.parametrize("content", [RSS, ATOM_BASES])
def test_remembered_base_uris_give_the_same_feed(
    content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """feedparser's per-tag base URI goes through a cache of a pure function: every
    entry parses exactly as with feedparser's own function (xml:base relative,
    absolute, protocol-relative and a javascript: one it refuses)."""
    import feedparser
    import feedparser.mixin

    cached = feedparser.mixin.make_safe_absolute_uri
    assert hasattr(cached, "cache_info")
    headers = {"content-location": "https://example.org/feed.xml", "content-type": "text/xml"}
    with_cache = [feedparser.parse(content, response_headers=headers) for _ in range(2)]
    monkeypatch.setattr(feedparser.mixin, "make_safe_absolute_uri", cached.__wrapped__)
    without = feedparser.parse(content, response_headers=headers)
    assert with_cache[0] == without and with_cache[1] == without
    if content is ATOM_BASES:
        assert without.entries[0].link == "https://example.org/news/world/1.html"


ATOM_CONTENT = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr"><title type="html">A &amp;lt;b&amp;gt;</title>
<entry><id>1</id><title type="text">T</title><summary type="html">&lt;p&gt;s&lt;/p&gt;</summary>
  <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x <b>y</b></p></div></content>
  <content type="text/plain" mode="base64">aGVsbG8=</content><rights>r</rights></entry>
<entry xml:lang="de"><id>2</id><title>Zwei</title>
  <source><id>s</id><title>Quelle</title></source></entry>
</feed>"""


@pytest.mark.parametrize("content", [RSS, ATOM_BASES, ATOM_CONTENT])
def test_content_params_copied_cheaply_give_the_same_feed(
    content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """feedparser's per-element deep copy of ``contentparams`` goes through a copy of
    the same kind (a new FeedParserDict, items set as deepcopy sets them): every entry
    and ``*_detail`` is equal to feedparser's own, and no two share a dict."""
    import copy

    import feedparser
    import feedparser.mixin

    from newsalert import parse as parse_module

    assert feedparser.mixin.copy.deepcopy is parse_module._copy_content_params
    headers = {"content-location": "https://example.org/feed.xml", "content-type": "text/xml"}
    cheap = feedparser.parse(content, response_headers=headers)
    monkeypatch.setattr(feedparser.mixin, "copy", copy)
    deep = feedparser.parse(content, response_headers=headers)
    assert cheap == deep
    details = [v for e in cheap.entries for k, v in e.items() if k.endswith("_detail")]
    assert details and len({id(d) for d in details}) == len(details)
    deep_details = [v for e in deep.entries for k, v in e.items() if k.endswith("_detail")]
    assert [type(d) for d in details] == [type(d) for d in deep_details]


def test_content_params_copy_falls_back_to_deepcopy() -> None:
    """Only a FeedParserDict of immutable items is copied by hand; anything else (a
    nested list, another type) is deep-copied as before."""
    from feedparser.util import FeedParserDict

    from newsalert.parse import _copy_content_params

    flat = FeedParserDict({"type": "text/html", "language": None, "base": "b"})
    copied = _copy_content_params(flat)
    assert copied == flat and copied is not flat and type(copied) is FeedParserDict
    nested = FeedParserDict({"type": "text/html", "tags": [{"term": "x"}]})
    deep = _copy_content_params(nested)
    assert deep == nested and deep["tags"] is not nested["tags"]
    plain = {"a": [1]}
    assert _copy_content_params(plain)["a"] is not plain["a"]
