"""Prometheus metrics: computed from the store when scraped, served over HTTP.

Why from the store: a Celery worker runs its tasks in prefork children that come
and go, and several workers may run on several hosts. In-process counters would
each see a slice (and vanish with their child) unless every process wrote them
somewhere shared. The store already is that shared place: items, scores and
deliveries are rows with timestamps, so items, alerts, deliveries by status,
queue depth and fetch-to-send latency are aggregate queries at scrape time, the
same whichever process answers, and they survive restarts.

Polls are the one thing the store did not record as a count, so each poll adds
one to a row of ``metric_counters`` (one small UPDATE, shared by every process
and host, like the rest). No process-local counters are needed, hence no
``prometheus_client`` (and none of its multiprocess-mode files): the text
exposition format is written here, in a few lines.

Every worker exposing metrics computes the same numbers from the same store:
scrape one of them (or run ``newsalert metrics`` beside the service).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import BigInteger, Column, String, Table, bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from newsalert import stats
from newsalert.store import Store, metadata

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_PORT = 9464
DEFAULT_HOST = "127.0.0.1"
QUEUED = ("pending", "failed", "held", "sending")  # not yet sent, not dead

metric_counters = Table(
    "metric_counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("labels", String(255), primary_key=True),  # exposition form: k="v",k2="v2"
    Column("value", BigInteger, nullable=False),
)

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_schema(engine: Engine) -> None:
    if engine in _ready:
        return
    for attempt in range(3):
        try:
            metadata.create_all(engine, tables=[metric_counters])
            break
        except SQLAlchemyError as exc:  # processes starting together race to create it
            text = str(exc).lower()
            if attempt == 2 or not ("already exists" in text or "duplicate key" in text):
                raise
    _ready.add(engine)


# --- counters kept in the store ----------------------------------------------------


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))


def _escape(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def increment(store: Store, name: str, labels: dict[str, str], n: int = 1) -> None:
    """Add ``n`` to a counter row (created on first use); atomic across processes."""
    increment_many(store, {(name, _labels(labels)): n})


def increment_many(store: Store, counts: dict[tuple[str, str], int]) -> None:
    """Add to several counters ((name, rendered labels) -> n) in one transaction."""
    ensure_schema(store.engine)
    with store.begin() as conn:
        add_counts(conn, counts)


# Built once: every poll's transaction bumps its counters, and building the UPDATE (its
# coercions and cache key) cost SQLAlchemy more CPU than SQLite took to run it.
_BUMP = (
    update(metric_counters)
    .where(
        metric_counters.c.name == bindparam("b_name", type_=metric_counters.c.name.type),
        metric_counters.c.labels == bindparam("b_labels", type_=metric_counters.c.labels.type),
    )
    .values(value=metric_counters.c.value + bindparam("b_n", type_=metric_counters.c.value.type))
)


def add_counts(conn: Connection, counts: dict[tuple[str, str], int]) -> None:
    """Add to counters inside the caller's transaction (the table must exist)."""
    for (name, labels), n in sorted(counts.items()):  # one lock order for every writer
        key = labels[:255]
        bump = {"b_name": name, "b_labels": key, "b_n": n}
        if conn.execute(_BUMP, bump).rowcount:
            continue
        try:
            with conn.begin_nested():
                conn.execute(insert(metric_counters).values(name=name, labels=key, value=n))
        except IntegrityError:  # another process created it meanwhile
            conn.execute(_BUMP, bump)


def counters(store: Store) -> dict[str, dict[str, int]]:
    """name -> {labels: value} for every stored counter."""
    ensure_schema(store.engine)
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for name, labels, value in conn.execute(
            select(metric_counters.c.name, metric_counters.c.labels, metric_counters.c.value)
        ):
            out.setdefault(name, {})[labels] = int(value)
    return out


_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("timeout", r"deadline|timeout|timed out"),
        ("http_429", r"\bHTTP 429\b"),
        ("http_5xx", r"\bHTTP 5\d\d\b"),
        ("http_4xx", r"\bHTTP 4\d\d\b"),
        ("too_large", r"exceeds max_"),
        ("redirect", r"redirect"),
        ("address", r"not allowed|private|loopback|link-local|reserved|port .* out of range"),
        ("parse", r"not a feed|could not be parsed|could not decode"),
        ("connect", r"connection|could not resolve|network error|transfer failed|slot"),
        ("invalid_url", r"invalid URL"),
    )
)


def error_kind(status: str, error: str | None) -> str:
    """A small, fixed set of error kinds for a failed poll (a label must not be free text).

    ``gone`` (HTTP 410), ``timeout``, ``http_429``, ``http_5xx``, ``http_4xx``,
    ``too_large``, ``redirect``, ``address`` (refused by the address policy),
    ``parse``, ``connect``, ``invalid_url``; else the poll status (``error`` or
    ``rejected``).
    """
    if status == "gone":
        return "gone"
    text = error or ""
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return status


def poll_counts(polls: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str], int]:
    """The counter increments for polls (status, error): by outcome, errors by kind."""
    counts: Counter[tuple[str, str]] = Counter()
    for status, error in polls:
        counts["newsalert_polls_total", _labels({"status": status})] += 1
        if status in ("error", "rejected", "gone"):
            kind = error_kind(status, error)
            counts["newsalert_fetch_errors_total", _labels({"kind": kind})] += 1
    return dict(counts)


# --- exposition -----------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: dict[str, str] | str | None = None) -> None:
        text = labels if isinstance(labels, str) else _labels(labels or {})
        self.lines.append(
            f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}"
        )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def collect(store: Store, *, feed_names: Iterable[str] | None = None) -> str:
    """Every metric, in the Prometheus text exposition format (0.0.4)."""
    started = time.perf_counter()
    w = _Writer()
    stored = counters(store)

    w.family(
        "newsalert_polls_total",
        "counter",
        "Feed polls by outcome (ok, not_modified, error, rejected, gone).",
    )
    polls = stored.get("newsalert_polls_total", {})
    for status in ("ok", "not_modified", "error", "rejected", "gone"):
        polls.setdefault(_labels({"status": status}), 0)
    for labels, value in sorted(polls.items()):
        w.sample("newsalert_polls_total", value, labels)

    w.family("newsalert_fetch_errors_total", "counter", "Failed feed polls by kind of error.")
    for labels, value in sorted(stored.get("newsalert_fetch_errors_total", {}).items()):
        w.sample("newsalert_fetch_errors_total", value, labels)

    activity = stats.feed_activity(store)
    names = sorted(set(activity) | set(feed_names or ()))
    w.family(
        "newsalert_items_total", "counter", "New items stored (after deduplication), per feed."
    )
    for name in names:
        w.sample(
            "newsalert_items_total", activity[name].items if name in activity else 0, {"feed": name}
        )
    w.family("newsalert_alerts_total", "counter", "Items scored relevant (alerts), per feed.")
    for name in names:
        w.sample(
            "newsalert_alerts_total",
            activity[name].alerts if name in activity else 0,
            {"feed": name},
        )
    totals = stats.item_totals(store)
    w.family(
        "newsalert_items_unscored",
        "gauge",
        "Items waiting to be scored (kept while the model is unavailable).",
    )
    w.sample("newsalert_items_unscored", totals["unscored"])
    w.family(
        "newsalert_items_unscorable",
        "gauge",
        "Unscored items on which scoring itself failed (a bug they trigger; see the log).",
    )
    w.sample("newsalert_items_unscorable", totals["failing"])

    counts = stats.delivery_status_counts(store)
    ambiguous = counts.pop("ambiguous")
    w.family("newsalert_deliveries", "gauge", "Deliveries in the store by status.")
    for status, n in counts.items():
        w.sample("newsalert_deliveries", n, {"status": status})
    w.family(
        "newsalert_deliveries_created_total",
        "counter",
        "Deliveries created (one per alert and target).",
    )
    w.sample("newsalert_deliveries_created_total", sum(counts.values()))
    w.family("newsalert_deliveries_sent_total", "counter", "Deliveries sent.")
    w.sample("newsalert_deliveries_sent_total", counts.get("sent", 0))
    w.family(
        "newsalert_deliveries_ambiguous",
        "gauge",
        "Deliveries whose sender died between send and mark (may have arrived twice).",
    )
    w.sample("newsalert_deliveries_ambiguous", ambiguous)
    w.family(
        "newsalert_delivery_queue_depth",
        "gauge",
        "Deliveries not yet sent and not dead (pending, failed, held, sending).",
    )
    w.sample("newsalert_delivery_queue_depth", sum(counts.get(s, 0) for s in QUEUED))

    hist = stats.latency_histogram(store)
    name = "newsalert_delivery_latency_seconds"
    w.family(
        name,
        "histogram",
        "Seconds from an item being fetched to its alert being sent (held digests included).",
    )
    for bound, n in zip(hist.buckets, hist.counts, strict=True):
        w.sample(f"{name}_bucket", n, {"le": _number(bound)})
    w.sample(f"{name}_bucket", hist.count, {"le": "+Inf"})
    w.sample(f"{name}_sum", round(hist.total, 3))
    w.sample(f"{name}_count", hist.count)

    states = store.feed_states()
    wanted = set(feed_names) if feed_names is not None else None
    states = [s for s in states if wanted is None or s.name in wanted]
    w.family(
        "newsalert_feed_error_streak",
        "gauge",
        "Failed polls in a row, per feed (0: last poll worked).",
    )
    for s in states:
        w.sample("newsalert_feed_error_streak", s.error_streak, {"feed": s.name})
    w.family("newsalert_feed_disabled", "gauge", "1 when a feed is disabled (HTTP 410 Gone).")
    for s in states:
        w.sample("newsalert_feed_disabled", int(s.disabled), {"feed": s.name})
    w.family(
        "newsalert_feed_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful poll, per feed.",
    )
    for s in states:
        if s.last_success_at is not None:
            w.sample(
                "newsalert_feed_last_success_timestamp_seconds",
                round(s.last_success_at.timestamp(), 3),
                {"feed": s.name},
            )

    w.family(
        "newsalert_metrics_collect_seconds",
        "gauge",
        "Time taken to compute these metrics from the store.",
    )
    w.sample("newsalert_metrics_collect_seconds", round(time.perf_counter() - started, 6))
    return w.text()


# --- HTTP ---------------------------------------------------------------------------


@functools.cache
def _http_classes() -> tuple[type, type]:
    """The handler and server classes, built on first use: ``http.server`` (and the
    ``socketserver`` under it) costs a command that never serves metrics, such as
    ``poll --once``, a noticeable part of its start-up."""
    import http.server

    class _Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics %s: " + format, self.client_address[0], *args)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    body = self.server.render().encode()  # type: ignore[attr-defined]
                    status, ctype = 200, CONTENT_TYPE
                except Exception as exc:  # the store is down: fail the scrape, keep serving
                    log.warning("metrics scrape failed: %s", exc)
                    body = f"metrics unavailable: {type(exc).__name__}\n".encode()
                    status, ctype = 503, "text/plain; charset=utf-8"
            elif path == "/":
                body = b"newsalert metrics: /metrics\n"
                status, ctype = 200, "text/plain; charset=utf-8"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

    class _Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        render: Callable[[], str]

    return _Handler, _Server


class MetricsServer:
    """``/metrics`` on ``host:port`` in a daemon thread (port 0: any free port).

    The store is opened on first scrape, in the serving process; a forked child
    (Celery's pool) drops its copy of the connections without closing them.
    """

    def __init__(
        self,
        database_url: str,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        feed_names: Iterable[str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.feed_names = None if feed_names is None else tuple(feed_names)
        self._store: Store | None = None
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        handler, server = _http_classes()
        server_cls = type("_BoundMetricsServer", (server,), {"address_family": family})
        self._httpd = server_cls((host, port), handler)
        self._httpd.render = self.render
        self.host = host
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_in_child(ref))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = Store(self.database_url)
            return self._store

    def render(self) -> str:
        return collect(self.store(), feed_names=self.feed_names)

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="newsalert-metrics", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.server_close()
        if self._store is not None:
            self._store.close()
            self._store = None


def _forget_in_child(ref: weakref.ref[MetricsServer]) -> None:
    server = ref()
    if server is None:
        return
    if server._store is not None:
        server._store.engine.dispose(close=False)  # the parent's connections stay the parent's
        server._store = None
    server._thread = None  # threads do not survive a fork


# --- the worker's hook ------------------------------------------------------------------

_running: list[MetricsServer] = []


def start_for_config(loaded: Any) -> MetricsServer | None:
    """Start the configured endpoint (``metrics:`` in the config); None when it is off."""
    settings = loaded.config.metrics
    if settings is None:
        return None
    try:
        server = MetricsServer(
            loaded.database_url,
            host=settings.host,
            port=settings.port,
            feed_names=[f.name for f in loaded.feeds],
        ).start()
    except OSError as exc:
        log.warning(
            "metrics endpoint not started on %s:%s: %s (another worker on this host may "
            "serve it already; every worker shows the same numbers)",
            settings.host,
            settings.port,
            exc,
        )
        return None
    _running.append(server)
    log.info("metrics at %s", server.url)
    return server


def on_worker_init(sender: Any = None, **_: Any) -> None:
    """Celery ``worker_init`` receiver: serve metrics from the worker's main process."""
    app = getattr(sender, "app", None)
    path = app.conf.get("newsalert_config_path") if app is not None else None
    if path is None:
        return
    from newsalert.config import load_config

    try:
        start_for_config(load_config(path))
    except Exception as exc:  # metrics must never stop the worker
        log.warning("metrics endpoint not started: %s", exc)
