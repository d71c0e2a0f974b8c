"""A small threaded HTTP(S) server on 127.0.0.1 for tests that fetch feeds.

Usage::

    def test_something(feed_server):
        feed_server.route("/feed.xml", body=RSS, headers={"ETag": '"v1"'})
        feed_server.route("/old", status=301, headers={"Location": "/feed.xml"})
        feed_server.redirect("/older", "/old")                       # same thing, shorter
        feed_server.route("/big", body=(b"x" * 65536 for _ in range(3000)))  # streamed
        feed_server.route("/slow", body=b"<rss/>", drip=1.0)         # one byte a second
        feed_server.handler("/cond", lambda req: Response(304) if req.headers.get(
            "if-none-match") == '"v1"' else Response(200, body=RSS))
        url = feed_server.url("/feed.xml")
        ...
        assert feed_server.requests[0].headers["user-agent"].startswith("newsalert/")

``body`` may be bytes, str (UTF-8) or an iterable of bytes (streamed without
Content-Length, connection closed at the end; generated lazily, so it can be far
bigger than memory). ``gzip=True`` compresses it and sets Content-Encoding. Header
names in ``requests`` are lower-cased. Unknown paths answer 404. For full control
of the wire (e.g. dripping the status line), ``raw(path, fn)`` hands ``fn`` the
:class:`http.server.BaseHTTPRequestHandler`.

``FeedServer(tls=ssl_context)`` serves HTTPS instead.
"""

from __future__ import annotations

import gzip as gziplib
import http.server
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest

Body = bytes | str | Iterable[bytes]


class RecordedRequest(NamedTuple):
    path: str  # path with query string, as sent
    headers: dict[str, str]  # lower-cased names


@dataclass
class Request:
    method: str
    path: str  # path with query string
    headers: dict[str, str]  # lower-cased names


@dataclass
class Response:
    status: int = 200
    body: Body = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    gzip: bool = False
    drip: float | None = None  # seconds between single bytes of the body


Handler = Callable[[Request], Response]
RawHandler = Callable[[http.server.BaseHTTPRequestHandler], None]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog is 5: a burst of concurrent connects would
    # overflow it and wait a SYN retransmit (1 s); real servers queue 128 or more
    request_queue_size = 128
    feed: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-body (limits, deadlines) are expected here.
        pass


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.feed._dispatch(self)

    do_HEAD = do_GET
    do_POST = do_GET


class FeedServer:
    """Threaded HTTP server on 127.0.0.1 with an ephemeral port and per-path routes."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self._routes: dict[str, Handler | tuple[str, RawHandler]] = {}
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.closing = threading.Event()
        self.scheme = "https" if tls else "http"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_cls = type("_BoundServer", (_Server,), {"address_family": family})
        self._httpd = server_cls((host, 0), _RequestHandler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )  # handshake in the handler thread, so a stalled client blocks nobody
        self._httpd.feed = self
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    # -- configuration ---------------------------------------------------------------

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """Absolute URL for ``path``; ``host`` overrides the host name (e.g. "feeds.test")."""
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{self.scheme}://{name}:{self.port}{path}"

    def route(
        self,
        path: str,
        body: Body = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        gzip: bool = False,
        drip: float | None = None,
    ) -> None:
        """Answer ``path`` (query ignored unless routed with it) with a fixed response."""
        fixed = dict(headers or {})
        if isinstance(body, (bytes, str)):
            response = Response(status, body, fixed, gzip, drip)
            self.handler(path, lambda _req: response)
        else:
            # Streamed: a list can be served again and again, a generator only once.
            items = body
            self.handler(path, lambda _req: Response(status, iter(items), fixed, gzip, drip))

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.route(path, status=status, headers={"Location": to})

    def handler(self, path: str, fn: Handler) -> None:
        """Answer ``path`` with ``fn(request) -> Response``, called once per request."""
        with self._lock:
            self._routes[path] = fn

    def raw(self, path: str, fn: RawHandler) -> None:
        """Let ``fn`` write the whole answer to the request handler's ``wfile`` itself."""
        with self._lock:
            self._routes[path] = ("raw", fn)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        self.closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sleep(self, seconds: float) -> bool:
        """Sleep in a handler; returns False (stop) when the server is closing."""
        return not self.closing.wait(seconds)

    # -- serving -----------------------------------------------------------------------

    def _dispatch(self, h: http.server.BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(h.path, headers))
            route = self._routes.get(h.path) or self._routes.get(h.path.split("?", 1)[0])
        h.close_connection = True
        try:
            if route is None:
                self._write(h, Response(404, b"not found"))
            elif isinstance(route, tuple):
                route[1](h)
            else:
                self._write(h, route(Request(h.command, h.path, headers)))
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            pass

    def _write(self, h: http.server.BaseHTTPRequestHandler, response: Response) -> None:
        body = response.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        header_names = {k.lower() for k in response.headers}
        if response.gzip:
            body = gziplib.compress(body) if isinstance(body, bytes) else _gzip_stream(body)
        h.send_response(response.status)
        for name, value in response.headers.items():
            h.send_header(name, value)
        if response.gzip and "content-encoding" not in header_names:
            h.send_header("Content-Encoding", "gzip")
        if isinstance(body, bytes) and "content-length" not in header_names:
            h.send_header("Content-Length", str(len(body)))
        h.send_header("Connection", "close")
        h.end_headers()
        if h.command == "HEAD" or response.status in (204, 304):
            return
        chunks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
        for chunk in chunks:
            if self.closing.is_set():
                return
            if response.drip is None:
                h.wfile.write(chunk)
                continue
            for i in range(len(chunk)):
                h.wfile.write(chunk[i : i + 1])
                h.wfile.flush()
                if not self.sleep(response.drip):
                    return


def _gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    import zlib

    comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = comp.compress(chunk)
        if out:
            yield out
    yield comp.flush()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A started :class:`FeedServer` on 127.0.0.1, closed after the test."""
    with FeedServer() as server:
        yield server
