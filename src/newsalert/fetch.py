"""Fetch untrusted RSS/Atom feeds over HTTP(S), within limits.

Everything a hostile or broken feed server could do to us is bounded here:

* only ``http``/``https``; redirects are followed by hand, each hop re-checked;
* the address policy is enforced on the *resolved* address at *connect time*
  (a custom httpcore network backend resolves the host itself, refuses if any
  answer is non-public and connects to the vetted IP), so neither redirects nor
  DNS rebinding get around it; TLS still verifies and sends SNI for the hostname;
* an overall wall-clock deadline clamps every connect/read/write, so a server
  that drips one byte at a time (in headers or body) cannot hold us;
* the body is streamed raw and decoded here, with caps on bytes on the wire and
  on decoded bytes (gzip/deflate bombs); no keep-alive, no cookies, no proxies
  from the environment.

Callers get a :class:`~newsalert.models.FetchResult` or one of
:class:`~newsalert.errors.TransientFetchError` (retry later),
:class:`~newsalert.errors.FeedRejected` (policy or limits; retrying will not
help) and :class:`~newsalert.errors.FeedGone` (410: disable the feed).
"""

from __future__ import annotations

import contextvars
import functools
import http.cookiejar
import ipaddress
import math
import re
import socket
import ssl
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# httpx's __init__ imports its command-line client when click is installed (Celery
# brings it), and with it click and pygments' lexer table, even if rich is missing and
# the import then fails: a few hundredths of a second of every command's start-up, for
# a client newsalert never runs. A None entry makes that import fail at once, and httpx
# falls back to its stub ``main`` (the ``httpx`` command itself runs in its own process).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpcore
import httpx

from newsalert import __version__
from newsalert.errors import FeedGone, FeedRejected, TransientFetchError
from newsalert.models import FetchResult

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "FetchLimits",
    "Fetcher",
    "check_url",
    "default_ssl_context",
    "is_public_address",
    "non_public_host",
    "parse_max_age",
    "parse_retry_after",
    "redact_url",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]
"""Decides whether an address counts as public (True) or needs ``allow_private``."""

_ALLOWED_SCHEMES = ("http", "https")
_REDIRECT_STATUSES = (301, 302, 303, 307, 308)
_PERMANENT_REDIRECTS = (301, 308)
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
# Only encodings we can decode with a hard cap on output size. Brotli is left out
# on purpose: the ``brotli`` module's decompressor cannot bound its output per
# call, so a brotli bomb could not be stopped at ``max_decompressed``.
_ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # overall wall-clock per fetch, including slow-drip bodies
    max_bytes: int = 10 * 1024 * 1024  # on-the-wire body cap
    max_decompressed: int = 50 * 1024 * 1024  # after gzip/deflate decoding (bomb cap)
    max_redirects: int = 5
    user_agent: str = f"newsalert/{__version__} (+https://github.com/newsalert/newsalert)"


# --- address policy -------------------------------------------------------------

_V4_NON_PUBLIC = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # CGNAT shared space
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
    )
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_NAT64_WKP = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_V6_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use
_V6_6TO4 = ipaddress.IPv6Network("2002::/16")
_V6_TEREDO = ipaddress.IPv6Network("2001::/32")


def is_public_address(ip: IPAddress) -> bool:
    """True if ``ip`` is a globally routable unicast address we may connect to.

    Non-public: loopback, RFC 1918, link-local (incl. 169.254.169.254), CGNAT,
    unspecified, multicast, reserved and documentation ranges, IPv6 ULA and
    link-local, anything outside 2000::/3, Teredo, the RFC 8215 local-use NAT64
    prefix, and IPv4-mapped / NAT64 (64:ff9b::/96) / 6to4 forms of a non-public
    IPv4 address.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        if any(ip in net for net in _V4_NON_PUBLIC):
            return False
        return ip.is_global and not (
            ip.is_private
            or ip.is_loopback
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    if ip.scope_id:
        ip = ipaddress.IPv6Address(ip.compressed.split("%")[0])
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return is_public_address(mapped)
    if ip in _V6_NAT64_WKP:
        return is_public_address(ipaddress.IPv4Address(ip.packed[-4:]))
    if ip in _V6_NAT64_LOCAL:
        # The translator's prefix length (and so where the IPv4 sits) is site-specific.
        return False
    if ip in _V6_6TO4:
        embedded = ip.sixtofour
        return embedded is not None and is_public_address(embedded)
    if ip in _V6_TEREDO:
        return False
    if ip not in _V6_GLOBAL_UNICAST:
        return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_site_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


# --- URL helpers ----------------------------------------------------------------

_SECRET_PARAM = re.compile(
    r"(token|key|secret|pass|pwd|auth|sig|session|sid|code|credential)", re.IGNORECASE
)


def redact_url(url: str | httpx.URL) -> str:
    """``url`` fit for logs and error messages: no userinfo, no fragment, and the
    values of query parameters that look like secrets (token, key, sig, ...) masked."""
    return _redact(str(url))


@functools.lru_cache(maxsize=4096)  # the same feed URLs come back every poll
def _redact(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    query = ""
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        masked = [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in pairs]
        query = urlencode(masked, safe="*/:,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


_HOST_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$")


def _host_problem(url: httpx.URL) -> str | None:
    """Why ``url``'s host cannot be connected to, or None."""
    if not url.host:
        return "URL has no host"
    raw = url.raw_host.decode("ascii", "replace")
    if _parse_ip(raw) is None and not _HOST_NAME.match(raw):
        return f"invalid host name {url.host!r}"
    return None


def check_url(url: str, *, allow_private: bool = True) -> str | None:
    """Static validation for configuration: an error message, or None if ``url`` is usable.

    Checks the scheme (http/https only), that a host is present and that the URL
    (port included) parses. Credentials in the URL are allowed. With
    ``allow_private=False`` a literal non-public IP address is reported too
    (hostnames can only be judged when resolved, at fetch time).
    """
    if not isinstance(url, str) or not url.strip():
        return "URL is empty"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "URL contains whitespace or control characters"
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        # httpx quotes the part it could not read: with credentials in the URL, that can
        # be a piece of the password ("Invalid port: 'Tr0ub4dor'"), so it is not repeated
        said = str(exc)
        kind = said.split(":", 1)[0] if ":" in said else "cannot be parsed"
        hint = " (percent-encode special characters in a password: / ? # @ :)" if "@" in url else ""
        return f"not a valid URL: {kind}{hint}"
    scheme = parsed.scheme.lower()
    if not scheme:
        return "URL has no scheme; use http:// or https://"
    if scheme not in _ALLOWED_SCHEMES:
        return f"scheme {scheme!r} is not allowed; only http and https feeds are fetched"
    problem = _host_problem(parsed)
    if problem:
        return problem
    port = parsed.port
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range"
    if not allow_private:
        ip = _parse_ip(parsed.host)
        if ip is not None and not is_public_address(ip):
            return f"{ip} is not a public address (set allow_private for this feed to fetch it)"
    return None


def non_public_host(url: str) -> str | None:
    """``url``'s host when the URL alone shows it is not public, so fetching it needs
    ``allow_private``: a literal non-public address, or ``localhost`` (RFC 6761: always
    loopback). Other names are judged when resolved, at fetch time; none is resolved here."""
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if host.lower().rstrip(".") == "localhost" or host.lower().rstrip(".").endswith(".localhost"):
        return f"{host} (loopback)"
    ip = _parse_ip(host)
    return str(ip) if ip is not None and not is_public_address(ip) else None


# --- connect-time address policy and deadline ------------------------------------------


class _Deadline:
    """Monotonic wall-clock budget for one fetch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.seconds - self.elapsed()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def clamp(self, timeout: float | None, exc: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left; raises ``exc`` when none is left."""
        left = self.remaining()
        if left <= 0:
            raise exc(f"deadline of {self.seconds:g}s exceeded")
        if timeout is None:
            return None if math.isinf(left) else left
        return min(timeout, left)


@dataclass(frozen=True)
class _Attempt:
    """Per-fetch state the network backend needs (it is shared by all fetches)."""

    is_allowed: AddressPolicy
    deadline: _Deadline


_ATTEMPT: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "newsalert_fetch_attempt", default=None
)


class AddressRefused(FeedRejected):
    """The host resolved to an address the policy refuses; no connection was made."""


class _DeadlineStream(httpcore.NetworkStream):
    """Delegating stream whose every blocking call is clamped to the fetch deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself, vets every address, connects to a vetted IP.

    httpcore still uses the URL's hostname for TLS (SNI and certificate
    verification); only the TCP connection goes to the IP we checked, so a second
    DNS answer (rebinding) is never used.
    """

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        attempt = _ATTEMPT.get()
        if attempt is None:  # used outside Fetcher.fetch: public addresses only
            attempt = _Attempt(is_public_address, _Deadline(float("inf")))
        deadline = attempt.deadline
        addresses = _resolve(host, port)
        for _family, _sockaddr, ip in addresses:
            if not attempt.is_allowed(ip):
                raise AddressRefused(
                    f"refusing to connect to {host} ({ip}): not a public address "
                    "(set allow_private for this feed if it is meant to be internal)"
                )
        last: Exception | None = None
        for family, sockaddr, _ip in addresses:
            try:
                stream = super().connect_tcp(
                    sockaddr[0] if family == socket.AF_INET else _v6_literal(sockaddr),
                    port,
                    timeout=deadline.clamp(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            return _DeadlineStream(stream, deadline)
        assert last is not None
        raise last


def _v6_literal(sockaddr: tuple[Any, ...]) -> str:
    addr, _port, _flow, scope = sockaddr[:4]
    if scope and "%" not in addr:
        return f"{addr}%{scope}"
    return addr


def _resolve(host: str, port: int) -> list[tuple[int, tuple[Any, ...], IPAddress]]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
    seen: set[tuple[Any, ...]] = set()
    out: list[tuple[int, tuple[Any, ...], IPAddress]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6) or sockaddr in seen:
            continue
        ip = _parse_ip(str(sockaddr[0]))
        if ip is None:
            continue
        seen.add(sockaddr)
        out.append((family, sockaddr, ip))
    if not out:
        raise httpcore.ConnectError(f"could not resolve {host}: no IPv4/IPv6 address")
    return out


class _NoCookieJar(httpx.Cookies):
    """Feeds get no cookies and keep none; skipping the jar also skips building a
    urllib request per response just to be told no (a third of a 304's cost)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


# --- body decoding ------------------------------------------------------------------


class _TooBig(Exception):
    pass


class _BadEncoding(Exception):
    pass


class _ZlibStage:
    """One gzip or deflate layer; never produces more than ``limit`` bytes in total."""

    def __init__(self, kind: str, limit: int) -> None:
        self.kind = kind
        self.limit = limit
        self.total = 0
        self._started = False
        self._pending = b""
        self._d = self._new()

    def _new(self) -> Any:
        wbits = 16 + zlib.MAX_WBITS if self.kind == "gzip" else zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def _take(self, piece: bytes) -> bytes:
        self.total += len(piece)
        if self.total > self.limit:
            raise _TooBig
        return piece

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        data = self._pending + data
        self._pending = b""
        while data:
            if self._d.eof:
                # gzip may hold several members; anything else after the end is ignored
                if self.kind != "gzip":
                    break
                if len(data) < 2:
                    self._pending = data
                    break
                if data[:2] != b"\x1f\x8b":
                    break
                self._d = self._new()
            room = self.limit - self.total + 1  # produce at most one byte past the cap
            try:
                piece = self._d.decompress(data, room)
            except zlib.error as exc:
                if self.kind == "deflate" and not self._started:
                    # "deflate" is meant to be zlib-wrapped; some servers send raw deflate
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise _BadEncoding(f"invalid {self.kind} data: {exc}") from exc
            self._started = True
            out.append(self._take(piece))
            # Output below ``room`` means all input was consumed, unless the stream ended.
            data = self._d.unused_data if self._d.eof else self._d.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        if self._d.eof:
            return b""
        try:
            return self._take(self._d.flush())
        except zlib.error as exc:  # pragma: no cover - flush rarely raises
            raise _BadEncoding(f"invalid {self.kind} data: {exc}") from exc


class _Decoder:
    """Undoes Content-Encoding layers (applied left to right, so undone right to left)."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self.stages: list[_ZlibStage] = []
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        for coding in reversed(codings):
            if coding in ("identity", ""):
                continue
            if coding in ("gzip", "x-gzip"):
                self.stages.append(_ZlibStage("gzip", limit))
            elif coding == "deflate":
                self.stages.append(_ZlibStage("deflate", limit))
            else:
                raise _BadEncoding(f"unsupported Content-Encoding {coding!r}")

    def feed(self, data: bytes) -> bytes:
        for stage in self.stages:
            if not data:
                break
            data = stage.feed(data)
        return self._count(data)

    def finish(self) -> bytes:
        data = b""
        for stage in self.stages:
            data = stage.feed(data) if data else b""
            data += stage.finish()
        return self._count(data)

    def _count(self, data: bytes) -> bytes:
        self.total += len(data)
        if self.total > self.limit:
            raise _TooBig
        return data


# --- header parsing -----------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return _seconds(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def parse_max_age(value: str | None) -> float | None:
    """``max-age`` seconds from a Cache-Control header; None if absent or ``no-cache``."""
    if not value:
        return None
    max_age: float | None = None
    for directive in value.split(","):
        name, _, arg = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return None
        if name == "max-age":
            arg = arg.strip().strip('"')
            if arg.isdigit():
                max_age = _seconds(arg)
    return max_age


def _seconds(digits: str) -> float | None:
    """A header's delta-seconds: ASCII digits only (``isdigit`` also takes "²"), and
    no more than ten of them (longer ones overflow; callers cap the wait anyway)."""
    if not digits.isascii() or not digits.isdigit():
        return None
    return float(int(digits)) if len(digits) <= 10 else 1e10


# --- the fetcher ----------------------------------------------------------------------


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle), made once per process and
    shared by its fetchers. Loading the bundle costs about 3 MiB: a worker makes it
    before forking its pool (its warm-up pipeline), so the pool processes share it instead
    of each loading its own; a context is safe to use from several threads and fetchers."""
    return httpx.create_ssl_context()


class Fetcher:
    """Fetches feeds under :class:`FetchLimits` and the address policy.

    ``allow_private_all`` lets every feed reach non-public addresses (e.g. an
    all-internal deployment); ``allow_private`` on :meth:`fetch` does it per feed.
    ``address_policy`` replaces :func:`is_public_address` as the test of "public"
    (tests use it to treat the loopback test server as a public feed).
    ``ssl_context`` replaces the default (certifi) TLS context, e.g. for a private CA.
    """

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        *,
        allow_private_all: bool = False,
        address_policy: AddressPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits
        self.allow_private_all = allow_private_all
        self._is_public: AddressPolicy = address_policy or is_public_address
        ctx = ssl_context if ssl_context is not None else default_ssl_context()
        transport = httpx.HTTPTransport(verify=ctx, retries=0)
        # Same settings httpx would use, plus our backend; keep-alive off so every
        # request opens (and vets) a fresh connection within the current fetch.
        transport._pool.close()
        transport._pool = httpcore.ConnectionPool(
            ssl_context=ctx,
            max_connections=100,
            max_keepalive_connections=0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_GuardedBackend(),
        )
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            trust_env=False,  # no proxies from the environment: they would bypass the policy
            cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
            headers={
                "User-Agent": limits.user_agent,
                "Accept": _ACCEPT,
                "Accept-Encoding": _ACCEPT_ENCODING,
            },
        )
        # httpx wraps whatever jar it is given in a plain Cookies; ours replaces it
        self._client._cookies = _NoCookieJar(http.cookiejar.CookieJar(policy=_NoCookies()))

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- public ------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
    ) -> FetchResult:
        """GET ``url`` (conditionally, with the given validators), following redirects."""
        allow = allow_private or self.allow_private_all
        is_public = self._is_public

        def is_allowed(ip: IPAddress) -> bool:
            return allow or is_public(ip)

        deadline = _Deadline(self.limits.deadline)
        token = _ATTEMPT.set(_Attempt(is_allowed, deadline))
        try:
            return self._fetch(url, etag, last_modified, is_allowed, deadline)
        finally:
            _ATTEMPT.reset(token)

    # -- internals -----------------------------------------------------------------------

    def _fetch(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        is_allowed: AddressPolicy,
        deadline: _Deadline,
    ) -> FetchResult:
        limits = self.limits
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        current = self._check_hop(url, is_allowed, url)
        seen: set[str] = set()  # filled on the first redirect: most fetches have none
        all_permanent = True
        hops = 0
        while True:
            response = self._send(current, headers, deadline)
            try:
                status = response.status_code
                if status in _REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise FeedRejected(
                            f"{redact_url(current)}: HTTP {status} redirect without a Location"
                        )
                    hops += 1
                    if hops > limits.max_redirects:
                        raise FeedRejected(
                            f"{redact_url(url)}: too many redirects "
                            f"(more than max_redirects={limits.max_redirects})"
                        )
                    all_permanent = all_permanent and status in _PERMANENT_REDIRECTS
                    nxt = self._check_hop(_join(current, location, url), is_allowed, url)
                    nxt = _carry_credentials(current, nxt)
                    seen.add(_loop_key(current))
                    if _loop_key(nxt) in seen:
                        raise FeedRejected(f"{redact_url(url)}: redirect loop at {redact_url(nxt)}")
                    seen.add(_loop_key(nxt))
                    current = nxt
                    continue
                return self._finish(
                    response, current, hops, all_permanent, etag, last_modified, deadline
                )
            finally:
                response.close()

    def _check_hop(
        self, target: str | httpx.URL, is_allowed: AddressPolicy, origin: str
    ) -> httpx.URL:
        """Scheme and literal-address checks, before any socket is opened."""
        where = redact_url(target)
        via = "" if str(target) == origin else f" (redirected from {redact_url(origin)})"
        if isinstance(target, str):
            scheme = target.split(":", 1)[0].lower() if ":" in target else ""
            if scheme and scheme not in _ALLOWED_SCHEMES:
                raise FeedRejected(
                    f"{where}{via}: scheme {scheme!r} is not allowed; "
                    "only http and https feeds are fetched"
                )
            try:
                target = httpx.URL(target)
            except (httpx.InvalidURL, ValueError, TypeError) as exc:
                raise FeedRejected(f"{where}{via}: invalid URL: {exc}") from exc
        scheme = target.scheme.lower()
        if scheme not in _ALLOWED_SCHEMES:
            raise FeedRejected(
                f"{where}{via}: scheme {scheme or '(none)'!r} is not allowed; "
                "only http and https feeds are fetched"
            )
        problem = _host_problem(target)
        if problem:
            raise FeedRejected(f"{where}{via}: {problem}")
        if target.port is not None and not 0 < target.port < 65536:
            raise FeedRejected(f"{where}{via}: port {target.port} is out of range")
        ip = _parse_ip(target.host)
        if ip is not None and not is_allowed(ip):
            raise AddressRefused(
                f"{where}{via}: refusing to connect to {ip}: not a public address "
                "(set allow_private for this feed if it is meant to be internal)"
            )
        return target

    def _send(self, url: httpx.URL, headers: dict[str, str], deadline: _Deadline) -> httpx.Response:
        limits = self.limits
        where = redact_url(url)
        left = deadline.remaining()
        if left <= 0:
            raise TransientFetchError(f"{where}: deadline of {limits.deadline:g}s exceeded")
        timeout = httpx.Timeout(
            connect=min(limits.connect_timeout, left),
            read=min(limits.read_timeout, left),
            write=min(limits.read_timeout, left),
            pool=min(limits.connect_timeout, left),
        )
        try:
            request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
            return self._client.send(request, stream=True)
        except AddressRefused as exc:
            raise AddressRefused(f"{where}: {exc}") from None
        except Exception as exc:
            raise self._map_error(exc, where, deadline) from exc

    def _map_error(self, exc: Exception, where: str, deadline: _Deadline) -> Exception:
        if deadline.expired():
            return TransientFetchError(
                f"{where}: deadline of {self.limits.deadline:g}s exceeded "
                f"after {deadline.elapsed():.1f}s"
            )
        if isinstance(exc, httpx.ConnectTimeout):
            return TransientFetchError(
                f"{where}: connect timeout ({self.limits.connect_timeout:g}s)"
            )
        if isinstance(exc, httpx.PoolTimeout):
            return TransientFetchError(
                f"{where}: no free connection slot (too many fetches at once)"
            )
        if isinstance(exc, httpx.TimeoutException):
            return TransientFetchError(f"{where}: read timeout ({self.limits.read_timeout:g}s)")
        if isinstance(exc, httpx.ConnectError):
            return TransientFetchError(f"{where}: connection failed: {exc}")
        if isinstance(exc, httpx.TransportError):
            return TransientFetchError(f"{where}: transfer failed: {exc}")
        if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
            return FeedRejected(f"{where}: invalid URL: {exc}")
        if isinstance(exc, OSError):
            return TransientFetchError(f"{where}: network error: {exc}")
        return FeedRejected(f"{where}: request failed: {type(exc).__name__}: {exc}")

    def _finish(
        self,
        response: httpx.Response,
        url: httpx.URL,
        hops: int,
        all_permanent: bool,
        sent_etag: str | None,
        sent_last_modified: str | None,
        deadline: _Deadline,
    ) -> FetchResult:
        status = response.status_code
        where = redact_url(url)
        h = dict(response.headers.items())  # lower-cased names; httpx re-decodes per lookup
        retry_after = parse_retry_after(h.get("retry-after"))
        if status == 410:
            raise FeedGone(f"{where}: HTTP 410 Gone; the feed was removed, disable it")
        if status in (429, 503) or status >= 500 or status == 408:
            reason = response.reason_phrase or "error"
            hint = f", retry after {retry_after:g}s" if retry_after is not None else ""
            raise TransientFetchError(
                f"{where}: HTTP {status} {reason}{hint}", retry_after=retry_after
            )
        if status != 304 and not 200 <= status < 300:
            reason = response.reason_phrase or "error"
            raise FeedRejected(f"{where}: HTTP {status} {reason}")

        permanent_url = str(url) if hops and all_permanent else None
        common: dict[str, Any] = {
            "url": str(url),
            "content_type": h.get("content-type"),
            "etag": h.get("etag"),
            "last_modified": h.get("last-modified"),
            "permanent_url": permanent_url,
            "retry_after": retry_after,
            "max_age": parse_max_age(h.get("cache-control")),
        }
        if status == 304:
            # Servers should repeat the validators on 304; when they don't, the ones we
            # sent are still current.
            common["etag"] = common["etag"] or sent_etag
            common["last_modified"] = common["last_modified"] or sent_last_modified
            return FetchResult(status=304, content=b"", elapsed=deadline.elapsed(), **common)
        content = self._read_body(response, h, where, deadline)
        return FetchResult(status=status, content=content, elapsed=deadline.elapsed(), **common)

    def _read_body(
        self, response: httpx.Response, h: dict[str, str], where: str, deadline: _Deadline
    ) -> bytes:
        limits = self.limits
        declared = h.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limits.max_bytes:
            raise FeedRejected(
                f"{where}: body exceeds max_bytes={limits.max_bytes} "
                f"(Content-Length: {int(declared)})"
            )
        try:
            decoder = _Decoder(h.get("content-encoding"), limits.max_decompressed)
        except _BadEncoding as exc:
            raise FeedRejected(f"{where}: {exc}") from None
        body = bytearray()
        raw = 0
        try:
            for chunk in response.iter_raw():
                raw += len(chunk)
                if raw > limits.max_bytes:
                    raise FeedRejected(
                        f"{where}: body exceeds max_bytes={limits.max_bytes} "
                        f"(stopped after {raw} bytes on the wire)"
                    )
                body += decoder.feed(chunk)
                if deadline.expired():
                    raise TransientFetchError(
                        f"{where}: deadline of {limits.deadline:g}s exceeded while "
                        f"reading the body ({raw} bytes in {deadline.elapsed():.1f}s)"
                    )
            body += decoder.finish()
        except _TooBig:
            raise FeedRejected(
                f"{where}: decoded body exceeds max_decompressed={limits.max_decompressed} "
                f"(after {raw} compressed bytes; a compression bomb?)"
            ) from None
        except _BadEncoding as exc:
            raise FeedRejected(f"{where}: could not decode body: {exc}") from None
        except (httpx.HTTPError, OSError) as exc:
            raise self._map_error(exc, where, deadline) from exc
        return bytes(body)


def _loop_key(url: httpx.URL) -> str:
    return str(url.copy_with(fragment=None))


def _join(current: httpx.URL, location: str, origin: str) -> str | httpx.URL:
    """The redirect target; a string if it names another scheme (checked by the caller)."""
    location = location.strip()
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", location)
    if match and match.group(1).lower() not in _ALLOWED_SCHEMES:
        return location
    try:
        return current.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FeedRejected(
            f"{redact_url(origin)}: invalid redirect Location {location[:200]!r}: {exc}"
        ) from None


def _carry_credentials(previous: httpx.URL, nxt: httpx.URL) -> httpx.URL:
    """Keep URL credentials on same-origin hops only (as browsers and httpx do)."""
    if nxt.userinfo or not previous.userinfo:
        return nxt
    same_origin = (previous.scheme, previous.host, previous.port) == (
        nxt.scheme,
        nxt.host,
        nxt.port,
    )
    return nxt.copy_with(userinfo=previous.userinfo) if same_origin else nxt
