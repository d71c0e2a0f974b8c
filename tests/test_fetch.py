"""Tests for newsalert.fetch: limits, redirects, status mapping and the address policy.

Everything talks to a FeedServer on 127.0.0.1. Addresses that must be refused are
only ever *named* (in URLs or in a monkeypatched resolver); each such test also
asserts, through the ``loopback_only`` fixture, that no connection was attempted.
"""

from __future__ import annotations

import email.utils
import gzip
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsalert.errors import FeedGone, FeedRejected, TransientFetchError
from newsalert.fetch import (
    Fetcher,
    FetchLimits,
    check_url,
    is_public_address,
    parse_max_age,
    parse_retry_after,
    redact_url,
)
from tests import feedserver
from tests.feedserver import FeedServer, Request, Response

from .conftest import install_fake_dns

feed_server = feedserver.feed_server  # the fixture; see tests/feedserver.py

RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def loopback_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Address policy for tests: the loopback test server plays a public feed server."""
    return ip.is_loopback or is_public_address(ip)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    """A fetcher that may reach the loopback test server (private addresses allowed)."""
    with Fetcher(FetchLimits(deadline=10), allow_private_all=True) as f:
        yield f


@pytest.fixture
def public_fetcher() -> Iterator[Fetcher]:
    """Private addresses refused, but loopback counts as public (see loopback_is_public)."""
    with Fetcher(FetchLimits(deadline=10), address_policy=loopback_is_public) as f:
        yield f


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Map test host names to addresses; every other name goes to the real resolver."""
    table, _ = install_fake_dns(monkeypatch)
    return table


# --- success, validators, caching headers -------------------------------------------


def test_200_records_validators_and_caching(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route(
        "/feed.xml",
        RSS,
        headers={
            "ETag": '"v1"',
            "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "Content-Type": "application/rss+xml; charset=utf-8",
            "Cache-Control": "public, max-age=600",
        },
    )
    result = fetcher.fetch(feed_server.url("/feed.xml"))
    assert result.status == 200
    assert result.content == RSS
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.max_age == 600
    assert result.permanent_url is None
    assert result.url == feed_server.url("/feed.xml")
    assert not result.not_modified
    assert result.elapsed >= 0
    (req,) = feed_server.requests
    assert req.headers["user-agent"].startswith("newsalert/")
    assert "gzip" in req.headers["accept-encoding"]
    assert "br" not in req.headers["accept-encoding"]  # we cannot cap brotli output
    assert "if-none-match" not in req.headers


def test_conditional_get_sends_validators_and_304_is_not_modified(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    def conditional(req: Request) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        return Response(200, RSS, {"ETag": '"v1"'})

    feed_server.handler("/feed.xml", conditional)
    lm = "Wed, 21 Oct 2015 07:28:00 GMT"
    result = fetcher.fetch(feed_server.url("/feed.xml"), etag='"v1"', last_modified=lm)
    assert result.status == 304
    assert result.not_modified
    assert result.content == b""
    assert result.etag == '"v1"'
    assert result.last_modified == lm  # not repeated by the server: the one we sent holds
    (req,) = feed_server.requests
    assert req.headers["if-none-match"] == '"v1"'
    assert req.headers["if-modified-since"] == lm


def test_gzip_body_is_decoded(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/feed.xml", RSS * 100, gzip=True)
    result = fetcher.fetch(feed_server.url("/feed.xml"))
    assert result.content == RSS * 100


def test_multi_member_gzip_is_decoded(fetcher: Fetcher, feed_server: FeedServer) -> None:
    body = gzip.compress(b"<rss>") + gzip.compress(b"</rss>")
    feed_server.route("/feed.xml", body, headers={"Content-Encoding": "gzip"})
    assert fetcher.fetch(feed_server.url("/feed.xml")).content == b"<rss></rss>"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded(fetcher: Fetcher, feed_server: FeedServer, wbits: int) -> None:
    comp = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = comp.compress(RSS) + comp.flush()
    feed_server.route("/feed.xml", body, headers={"Content-Encoding": "deflate"})
    assert fetcher.fetch(feed_server.url("/feed.xml")).content == RSS


def test_unsupported_or_corrupt_encoding_is_rejected(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    feed_server.route("/br", b"\x1b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(FeedRejected, match="unsupported Content-Encoding 'br'"):
        fetcher.fetch(feed_server.url("/br"))
    feed_server.route("/bad", b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FeedRejected, match="could not decode"):
        fetcher.fetch(feed_server.url("/bad"))


# --- size limits and deadline ---------------------------------------------------------


def _gzip_bomb(total: int = 1 << 30) -> Iterator[bytes]:
    """1 GB of zeros, gzip-compressed lazily (only what the client reads is produced)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    for _ in range(total // len(zeros)):
        out = comp.compress(zeros)
        if out:
            yield out
    yield comp.flush()


def test_gzip_bomb_stops_at_max_decompressed_with_bounded_memory(
    feed_server: FeedServer,
) -> None:
    cap = 16 * 1024 * 1024
    feed_server.route("/bomb", _gzip_bomb(), headers={"Content-Encoding": "gzip"})
    limits = FetchLimits(max_decompressed=cap, deadline=10)
    with Fetcher(limits, allow_private_all=True) as fetcher:
        tracemalloc.start()
        try:
            started = time.monotonic()
            with pytest.raises(FeedRejected, match="max_decompressed") as info:
                fetcher.fetch(feed_server.url("/bomb"))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert peak < 2 * cap, f"peak {peak} bytes while decoding a bomb capped at {cap}"
    assert feed_server.url("/bomb") in str(info.value)


def _zeros(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    block = bytes(chunk)
    for _ in range(total // chunk):
        yield block


def test_body_over_max_bytes_is_cut_off(feed_server: FeedServer) -> None:
    # 200 MB streamed lazily, no Content-Length: only the cap tells us to stop.
    feed_server.route("/big", _zeros(200 * 1024 * 1024))
    with Fetcher(FetchLimits(max_bytes=1024 * 1024), allow_private_all=True) as fetcher:
        started = time.monotonic()
        with pytest.raises(FeedRejected, match=r"body exceeds max_bytes=1048576"):
            fetcher.fetch(feed_server.url("/big"))
    assert time.monotonic() - started < 5


def test_declared_content_length_over_max_bytes_is_rejected_before_reading(
    feed_server: FeedServer,
) -> None:
    feed_server.route(
        "/big", _zeros(200 * 1024 * 1024), headers={"Content-Length": str(200 * 1024 * 1024)}
    )
    with Fetcher(FetchLimits(max_bytes=1024 * 1024), allow_private_all=True) as fetcher:  # noqa: SIM117
        with pytest.raises(FeedRejected, match=r"Content-Length: 209715200"):
            fetcher.fetch(feed_server.url("/big"))


def test_slow_drip_body_hits_the_deadline(feed_server: FeedServer) -> None:
    feed_server.route("/slow", RSS, drip=1.0)  # one byte a second, well under read_timeout
    limits = FetchLimits(deadline=2.0, read_timeout=5.0)
    with Fetcher(limits, allow_private_all=True) as fetcher:
        started = time.monotonic()
        with pytest.raises(TransientFetchError, match="deadline of 2s") as info:
            fetcher.fetch(feed_server.url("/slow"))
        took = time.monotonic() - started
    assert took < 2.8, took
    assert info.value.retry_after is None


def test_slow_drip_headers_hit_the_deadline(feed_server: FeedServer) -> None:
    def drip_headers(h) -> None:  # status line and headers one byte at a time
        for i, byte in enumerate(b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 100):
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if i > 10 and not feed_server.sleep(0.2):
                return

    feed_server.raw("/slow", drip_headers)
    with Fetcher(FetchLimits(deadline=1.0), allow_private_all=True) as fetcher:
        started = time.monotonic()
        with pytest.raises(TransientFetchError, match="deadline of 1s"):
            fetcher.fetch(feed_server.url("/slow"))
    assert time.monotonic() - started < 1.6


# --- redirects -----------------------------------------------------------------------


def test_permanent_redirect_reports_new_url(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/new.xml", RSS)
    feed_server.redirect("/old.xml", "/new.xml", 301)
    feed_server.redirect("/older.xml", feed_server.url("/old.xml"), 308)
    result = fetcher.fetch(feed_server.url("/older.xml"))
    assert result.status == 200
    assert result.content == RSS
    assert result.url == feed_server.url("/new.xml")
    assert result.permanent_url == feed_server.url("/new.xml")
    assert [r.path for r in feed_server.requests] == ["/older.xml", "/old.xml", "/new.xml"]


def test_temporary_hop_means_no_permanent_url(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/new.xml", RSS)
    feed_server.redirect("/tmp", "/new.xml", 302)
    feed_server.redirect("/old.xml", "/tmp", 301)
    result = fetcher.fetch(feed_server.url("/old.xml"))
    assert result.url == feed_server.url("/new.xml")
    assert result.permanent_url is None


def test_validators_follow_redirects(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/new.xml", status=304)
    feed_server.redirect("/old.xml", "/new.xml", 301)
    result = fetcher.fetch(feed_server.url("/old.xml"), etag='"e"')
    assert result.not_modified
    assert result.permanent_url == feed_server.url("/new.xml")
    assert feed_server.requests[-1].headers["if-none-match"] == '"e"'


def test_cookies_are_never_kept_or_sent(fetcher: Fetcher, feed_server: FeedServer) -> None:
    """A feed (or a redirect on the way) cannot plant a cookie that later fetches,
    of it or of another feed, would carry."""
    cookie = {"Set-Cookie": "track=abc; Path=/"}
    feed_server.route("/a.xml", body=RSS, headers=cookie)
    feed_server.route("/b.xml", body=RSS)
    feed_server.route("/c.xml", status=302, headers={**cookie, "Location": "/b.xml"})
    for path in ("/a.xml", "/a.xml", "/c.xml", "/b.xml"):
        fetcher.fetch(feed_server.url(path))
    assert len(feed_server.requests) == 5
    assert all("cookie" not in r.headers for r in feed_server.requests)


def test_redirect_loop_is_rejected(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", "/a")
    with pytest.raises(FeedRejected, match="redirect loop"):
        fetcher.fetch(feed_server.url("/a"))
    assert len(feed_server.requests) == 2


def test_too_many_redirects(feed_server: FeedServer) -> None:
    for i in range(10):
        feed_server.redirect(f"/r{i}", f"/r{i + 1}", 302)
    feed_server.route("/r10", RSS)
    with Fetcher(FetchLimits(max_redirects=3), allow_private_all=True) as fetcher:
        with pytest.raises(FeedRejected, match=r"too many redirects.*max_redirects=3"):
            fetcher.fetch(feed_server.url("/r0"))
        assert len(feed_server.requests) == 4  # the original and three hops
        assert fetcher.fetch(feed_server.url("/r7")).content == RSS  # exactly 3 is fine


def test_redirect_without_location_is_rejected(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/r", status=302)
    with pytest.raises(FeedRejected, match="without a Location"):
        fetcher.fetch(feed_server.url("/r"))


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:70/"]
)
def test_redirect_to_other_scheme_is_rejected(
    fetcher: Fetcher, feed_server: FeedServer, target: str
) -> None:
    feed_server.redirect("/r", target)
    with pytest.raises(FeedRejected, match="is not allowed; only http and https"):
        fetcher.fetch(feed_server.url("/r"))
    assert len(feed_server.requests) == 1


# --- schemes and URL hygiene ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://127.0.0.1/feed.xml",
        "data:text/xml,<rss/>",
        "javascript:alert(1)",
        "/etc/passwd",
        "gopher://127.0.0.1/",
    ],
)
def test_non_http_schemes_are_rejected(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FeedRejected, match=r"only http and https|URL has no host|invalid URL"):
        fetcher.fetch(url)


def test_error_messages_do_not_leak_credentials(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/private.xml", status=403)
    url = feed_server.url("/private.xml").replace("://", "://alice:s3cret@") + "?token=abc123"
    with pytest.raises(FeedRejected) as info:
        fetcher.fetch(url)
    message = str(info.value)
    assert "403" in message
    assert "127.0.0.1" in message and "/private.xml" in message
    assert "s3cret" not in message and "alice" not in message and "abc123" not in message
    # the credentials were still used for the request
    assert feed_server.requests[0].headers["authorization"].startswith("Basic ")


def test_credentials_kept_on_same_origin_redirect_only(
    fetcher: Fetcher, feed_server: FeedServer
) -> None:
    other = FeedServer()
    try:
        other.route("/feed.xml", RSS)
        feed_server.redirect("/a", "/b")
        feed_server.redirect("/b", other.url("/feed.xml"))
        fetcher.fetch(feed_server.url("/a").replace("://", "://u:p@"))
        assert [r.headers.get("authorization") is not None for r in feed_server.requests] == [
            True,
            True,
        ]
        assert "authorization" not in other.requests[0].headers
    finally:
        other.close()


def test_redact_url() -> None:
    assert redact_url("https://u:pw@example.org:8443/f?token=x&page=2#frag") == (
        "https://example.org:8443/f?token=***&page=2"
    )
    assert redact_url("http://[::1]:8080/") == "http://[::1]:8080/"
    assert redact_url("file:///etc/passwd") == "file:///etc/passwd"
    assert redact_url("javascript:alert(1)") == "javascript:alert(1)"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.org/feed.xml", None),
        ("http://user:pw@example.org:8080/rss?x=1", None),
        ("http://10.0.0.1/feed", None),  # structural check only by default
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://example.org/feed", "scheme 'ftp' is not allowed"),
        ("example.org/feed", "no scheme"),
        ("http:///feed", "no host"),
        ("http://example.org:99999/", "port 99999 is out of range"),
        ("http://example.org:0/", "port 0 is out of range"),
        ("http://exa mple.org/", "whitespace"),
        ("http://exa%20mple.org/", "invalid host name"),
        ("http://xn--bcher-kva.de/feed", None),
        ("http://bücher.de/feed", None),
        ("", "empty"),
        (" http://example.org/", "whitespace"),
    ],
)
def test_check_url(url: str, problem: str | None) -> None:
    result = check_url(url)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


def test_check_url_can_flag_private_literals() -> None:
    assert "not a public address" in (check_url("http://10.0.0.1/", allow_private=False) or "")
    assert check_url("http://example.org/", allow_private=False) is None


# --- status mapping -------------------------------------------------------------------


def test_410_is_feed_gone(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/gone", status=410)
    with pytest.raises(FeedGone, match="410"):
        fetcher.fetch(feed_server.url("/gone"))


def test_429_retry_after_seconds(fetcher: Fetcher, feed_server: FeedServer) -> None:
    feed_server.route("/busy", status=429, headers={"Retry-After": "120"})
    with pytest.raises(TransientFetchError, match="429") as info:
        fetcher.fetch(feed_server.url("/busy"))
    assert info.value.retry_after == 120


def test_503_retry_after_http_date(fetcher: Fetcher, feed_server: FeedServer) -> None:
    when = email.utils.formatdate(time.time() + 300, usegmt=True)
    feed_server.route("/down", status=503, headers={"Retry-After": when})
    with pytest.raises(TransientFetchError, match="503") as info:
        fetcher.fetch(feed_server.url("/down"))
    assert info.value.retry_after is not None
    assert 295 <= info.value.retry_after <= 300


@pytest.mark.parametrize("status", [500, 502, 504])
def test_5xx_is_transient(fetcher: Fetcher, feed_server: FeedServer, status: int) -> None:
    feed_server.route("/err", status=status)
    with pytest.raises(TransientFetchError, match=str(status)):
        fetcher.fetch(feed_server.url("/err"))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 451])
def test_other_4xx_is_rejected(fetcher: Fetcher, feed_server: FeedServer, status: int) -> None:
    feed_server.route("/x", status=status)
    with pytest.raises(FeedRejected, match=str(status)) as info:
        fetcher.fetch(feed_server.url("/x"))
    assert not isinstance(info.value, FeedGone)


def test_connection_refused_is_transient(fetcher: Fetcher) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientFetchError, match="connection failed"):
        fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")


def test_unresolvable_host_is_transient(fetcher: Fetcher, fake_dns: dict[str, list[str]]) -> None:
    with pytest.raises(TransientFetchError, match=r"could not resolve nowhere\.test"):
        fetcher.fetch("http://nowhere.test/feed.xml")


def test_parse_helpers() -> None:
    assert parse_retry_after("0") == 0
    assert parse_retry_after("  42 ") == 42
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after(past) == 0
    assert parse_max_age("max-age=60, must-revalidate") == 60
    assert parse_max_age('max-age="30"') == 30
    assert parse_max_age("no-cache, max-age=60") is None
    assert parse_max_age("private") is None
    # digits str.isdigit takes but int() does not, and numbers too long for a float:
    # no value, or a capped one, never an exception that fails the feed's every poll
    assert parse_retry_after("\u00b2") is None and parse_max_age("max-age=\u00b2") is None
    assert parse_retry_after("9" * 5000) == parse_max_age("max-age=" + "9" * 400) == 1e10


# --- address policy -------------------------------------------------------------------

NON_PUBLIC = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "100.127.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "::",
    "::1",
    "fd00::1",
    "fc00::1",
    "fe80::1",
    "fe80::1%2",
    "fec0::1",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # RFC 8215 local-use NAT64 prefix
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo (client 10.0.0.1)
    "2001:db8::1",  # documentation
    "100::1",  # discard-only
    "::a00:1",  # deprecated IPv4-compatible
]
PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.128.0.1",  # just outside CGNAT
    "172.32.0.1",  # just outside 172.16/12
    "2606:4700:4700::1111",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8 (DNS64 networks)
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_is_public_address_refuses(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_is_public_address_allows(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


@pytest.fixture
def no_resolution(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and fail) any DNS lookup: literal addresses must be refused before it."""
    looked_up: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        raise AssertionError(f"getaddrinfo({host!r}) called")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed.xml",
        "https://[::ffff:10.0.0.1]/feed.xml",
        "http://[64:ff9b::a00:1]/feed.xml",
        "http://100.64.0.1/feed.xml",
        "http://[fd00::1]:8080/feed.xml",
        "http://[fe80::1%25eth0]/feed.xml",
        "http://127.0.0.1/feed.xml",
        "http://[::1]/feed.xml",
        "http://0.0.0.0/feed.xml",
    ],
)
def test_literal_private_addresses_refused_before_any_socket(
    url: str, loopback_only: list[str], no_resolution: list[str]
) -> None:
    with Fetcher() as fetcher, pytest.raises(FeedRejected, match=r"not a public address|invalid"):
        fetcher.fetch(url)
    assert loopback_only == []
    assert no_resolution == []


def test_hostname_resolving_to_private_is_refused_before_connect(
    public_fetcher: Fetcher, fake_dns: dict[str, list[str]], loopback_only: list[str]
) -> None:
    fake_dns["evil.test"] = ["10.0.0.1"]
    with pytest.raises(FeedRejected, match=r"evil\.test \(10\.0\.0\.1\): not a public address"):
        public_fetcher.fetch("http://evil.test/feed.xml")
    assert loopback_only == []


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f.1", "127.1"])
def test_names_for_loopback_refused_when_private_not_allowed(
    host: str, feed_server: FeedServer, loopback_only: list[str]
) -> None:
    feed_server.route("/feed.xml", RSS)
    with Fetcher() as fetcher, pytest.raises(FeedRejected, match="not a public address"):
        fetcher.fetch(feed_server.url("/feed.xml", host=host))
    assert feed_server.requests == []
    assert loopback_only == []


def test_any_private_answer_refuses_the_host(
    public_fetcher: Fetcher,
    feed_server: FeedServer,
    fake_dns: dict[str, list[str]],
    loopback_only: list[str],
) -> None:
    feed_server.route("/feed.xml", RSS)
    fake_dns["mixed.test"] = ["127.0.0.1", "10.0.0.1"]
    with pytest.raises(FeedRejected, match=r"10\.0\.0\.1"):
        public_fetcher.fetch(feed_server.url("/feed.xml", host="mixed.test"))
    assert feed_server.requests == []
    assert loopback_only == []


def test_connects_to_the_vetted_address_and_keeps_the_host_name(
    public_fetcher: Fetcher, feed_server: FeedServer, fake_dns: dict[str, list[str]]
) -> None:
    feed_server.route("/feed.xml", RSS)
    fake_dns["feeds.test"] = ["127.0.0.1"]
    result = public_fetcher.fetch(feed_server.url("/feed.xml", host="feeds.test"))
    assert result.content == RSS
    assert feed_server.requests[0].headers["host"] == f"feeds.test:{feed_server.port}"


def test_redirect_to_metadata_address_refused_before_connect(
    public_fetcher: Fetcher, feed_server: FeedServer, loopback_only: list[str]
) -> None:
    feed_server.redirect("/feed.xml", "http://169.254.169.254/latest/meta-data/", 302)
    with pytest.raises(FeedRejected, match=r"169\.254\.169\.254.*not a public address") as info:
        public_fetcher.fetch(feed_server.url("/feed.xml"))
    assert "redirected from" in str(info.value)
    assert loopback_only == []
    assert len(feed_server.requests) == 1


def test_redirect_to_private_hostname_refused_before_connect(
    public_fetcher: Fetcher,
    feed_server: FeedServer,
    fake_dns: dict[str, list[str]],
    loopback_only: list[str],
) -> None:
    fake_dns["internal.test"] = ["192.168.0.10"]
    feed_server.redirect("/feed.xml", "http://internal.test/admin", 301)
    with pytest.raises(FeedRejected, match=r"192\.168\.0\.10"):
        public_fetcher.fetch(feed_server.url("/feed.xml"))
    assert loopback_only == []


def test_dns_rebinding_is_caught_on_the_next_connection(
    public_fetcher: Fetcher,
    feed_server: FeedServer,
    fake_dns: dict[str, list[str]],
    loopback_only: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """First answer public, second private: every connection is vetted on its own."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    lookups: list[str] = []
    patched = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            lookups.append(host)
            fake_dns["rebind.test"] = next(answers)
        return patched(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    feed_server.redirect("/feed.xml", "/feed2.xml", 302)  # same host, new connection
    with pytest.raises(FeedRejected, match=r"rebind\.test \(10\.0\.0\.1\)"):
        public_fetcher.fetch(feed_server.url("/feed.xml", host="rebind.test"))
    assert lookups == ["rebind.test", "rebind.test"]  # resolved once per connection only
    assert loopback_only == []


def test_loopback_needs_allow_private(feed_server: FeedServer) -> None:
    feed_server.route("/feed.xml", RSS)
    with Fetcher() as fetcher:
        with pytest.raises(FeedRejected, match="not a public address"):
            fetcher.fetch(feed_server.url("/feed.xml"))
        assert feed_server.requests == []
        # per feed
        assert fetcher.fetch(feed_server.url("/feed.xml"), allow_private=True).content == RSS
        # and the next feed without it is refused again
        with pytest.raises(FeedRejected, match="not a public address"):
            fetcher.fetch(feed_server.url("/feed.xml"))
    with Fetcher(allow_private_all=True) as fetcher:
        assert fetcher.fetch(feed_server.url("/feed.xml")).content == RSS


def test_ipv6_loopback_server(fetcher: Fetcher) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = FeedServer(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server:
        server.route("/feed.xml", RSS)
        assert fetcher.fetch(server.url("/feed.xml")).content == RSS


# --- TLS: SNI and certificate checks use the host name, not the vetted IP -----------------


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=feeds.test", "-addext", "subjectAltName=DNS:feeds.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_https_uses_host_name_for_sni_and_verification(
    tls_cert: tuple[Path, Path], fake_dns: dict[str, list[str]], loopback_only: list[str]
) -> None:
    cert, key = tls_cert
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_ctx.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    fake_dns["feeds.test"] = ["127.0.0.1"]
    fake_dns["other.test"] = ["127.0.0.1"]
    with (
        FeedServer(tls=server_ctx) as server,
        Fetcher(address_policy=loopback_is_public, ssl_context=client_ctx) as fetcher,
    ):
        server.route("/feed.xml", RSS)
        result = fetcher.fetch(server.url("/feed.xml", host="feeds.test"))
        assert result.content == RSS
        assert sni == ["feeds.test"]
        # same IP, a name the certificate does not cover: verification must fail
        with pytest.raises(TransientFetchError, match=r"connection failed.*certificate"):
            fetcher.fetch(server.url("/feed.xml", host="other.test"))
    assert loopback_only == []
