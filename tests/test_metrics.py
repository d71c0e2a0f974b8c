"""Metrics: computed from the store at scrape time, served over HTTP on 127.0.0.1.

A real poll (loopback feed, real model, real SMTP server) must move the counters a
scrape shows; counters written by several processes add up; the worker hook serves
the endpoint when the config asks for it.
"""

from __future__ import annotations

import multiprocessing
import re
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from newsalert import metrics
from newsalert.cli import main
from newsalert.config import load_config
from newsalert.pipeline import Pipeline
from newsalert.store import Store
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BALKANS
from tests.test_pipeline import write_config as pipeline_config

QUETTA = (
    b"<item><guid>quetta-1</guid><title>Gunmen storm police academy in Quetta</title>"
    b"<link>https://news.example.org/quetta-1</link><description>Gunmen stormed a police "
    b"training centre in Pakistan's Baluchistan province and detonated explosive vests, "
    b"killing at least 41 police trainees, authorities said.</description></item>"
)
SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"\\]*(\\.[^"\\]*)*",?)*\})? -?[0-9.e+]+$')


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return parse(text)


def parse(text: str) -> dict[str, float]:
    """name{labels} -> value; checks every line is valid exposition and typed once."""
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed, f"{name} typed twice"
            typed.add(name)
            continue
        if line.startswith("#") or not line:
            continue
        assert SAMPLE.match(line), line
        key, value = line.rsplit(" ", 1)
        family = re.sub(r"_(bucket|sum|count)$", "", key.split("{")[0])
        assert family in typed or key.split("{")[0] in typed, f"{key} has no TYPE"
        samples[key] = float(value)
    return samples


def write_config(
    tmp_path: Path, model_dir: Path, database_url: str, feeds: dict[str, str], mail_url: str
) -> Path:
    """tests/test_pipeline.py's config, with the metrics endpoint on (any free port)."""
    path = pipeline_config(tmp_path, model_dir, database_url, feeds, mail_url)
    path.write_text(path.read_text(encoding="utf-8") + "metrics: {host: 127.0.0.1, port: 0}\n")
    return path


def test_scrape_shows_counters_move_after_a_poll(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/balkans", body=BALKANS, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        {"balkans": feed_server.url("/balkans"), "missing": feed_server.url("/nothing-here")},
        smtp_server.url(),
    )
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url))
    server = metrics.MetricsServer(
        loaded.database_url, host="127.0.0.1", port=0, feed_names=["balkans", "missing"]
    ).start()
    try:
        before = scrape(server.url)
        assert before['newsalert_polls_total{status="ok"}'] == 0
        assert before['newsalert_items_total{feed="balkans"}'] == 0
        assert before['newsalert_deliveries{status="sent"}'] == 0
        assert before["newsalert_delivery_latency_seconds_count"] == 0
        assert before["newsalert_delivery_queue_depth"] == 0

        summary = pipeline.run_once()
        assert summary.new_items == 2 and len(smtp_server.messages) == 1

        after = scrape(server.url)
        assert after['newsalert_polls_total{status="ok"}'] == 1
        assert after['newsalert_polls_total{status="rejected"}'] == 1  # the 404
        assert after['newsalert_fetch_errors_total{kind="http_4xx"}'] == 1
        assert after['newsalert_items_total{feed="balkans"}'] == 2
        assert after['newsalert_alerts_total{feed="balkans"}'] == 1
        assert after['newsalert_items_total{feed="missing"}'] == 0
        assert after['newsalert_deliveries{status="sent"}'] == 1
        assert after["newsalert_deliveries_sent_total"] == 1
        assert after["newsalert_deliveries_created_total"] == 1
        assert after["newsalert_delivery_queue_depth"] == 0
        assert after["newsalert_delivery_latency_seconds_count"] == 1
        assert after['newsalert_delivery_latency_seconds_bucket{le="+Inf"}'] == 1
        assert after['newsalert_delivery_latency_seconds_bucket{le="60"}'] == 1  # sent at once
        assert 0 <= after["newsalert_delivery_latency_seconds_sum"] < 60
        assert after['newsalert_feed_error_streak{feed="missing"}'] == 1
        assert after['newsalert_feed_error_streak{feed="balkans"}'] == 0
        assert after['newsalert_feed_last_success_timestamp_seconds{feed="balkans"}'] > 0

        # a refusing SMTP server: the next alert waits in the queue, and the gauge shows it
        smtp_server.refuse()
        feed_server.route(
            "/balkans",
            body=BALKANS.replace(b"</channel>", QUETTA + b"</channel>"),
            headers={"Content-Type": "application/rss+xml"},
        )
        pipeline.poll_feed("balkans")
        pipeline.score_pending()
        pipeline.deliver_due()
        later = scrape(server.url)
        assert later['newsalert_polls_total{status="ok"}'] == 2
        assert later['newsalert_deliveries{status="failed"}'] == 1
        assert later["newsalert_delivery_queue_depth"] == 1
        assert later["newsalert_deliveries_sent_total"] == 1

        with urllib.request.urlopen(server.url.replace("/metrics", "/"), timeout=5) as r:
            assert b"/metrics" in r.read()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.url.replace("/metrics", "/other"), timeout=5)
        assert info.value.code == 404
    finally:
        server.close()
        pipeline.close()
        pipeline.store.close()


def _bump(url: str, n: int) -> None:
    store = Store(url)
    for _ in range(n):
        metrics.increment(store, "newsalert_polls_total", {"status": "ok"})
    store.close()


def test_counters_written_by_several_processes_add_up(tmp_path: Path) -> None:
    """Celery's prefork children each count in the store: nothing is lost between them."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    Store(url).close()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(url, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    store = Store(url)
    assert metrics.counters(store)["newsalert_polls_total"]['status="ok"'] == 120
    assert parse(metrics.collect(store))['newsalert_polls_total{status="ok"}'] == 120
    store.close()


def test_worker_hook_serves_metrics_only_when_configured(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"balkans": feed_server.url("/balkans")},
        "json://127.0.0.1:9/x",
    )
    sender = SimpleNamespace(app=SimpleNamespace(conf={"newsalert_config_path": str(config)}))
    running = len(metrics._running)
    metrics.on_worker_init(sender=sender)
    assert len(metrics._running) == running + 1
    server = metrics._running.pop()
    try:
        samples = scrape(server.url)
        assert samples['newsalert_items_total{feed="balkans"}'] == 0
    finally:
        server.close()

    config.write_text(config.read_text().replace("metrics: {host: 127.0.0.1, port: 0}\n", ""))
    metrics.on_worker_init(sender=sender)
    assert len(metrics._running) == running  # off unless the config has `metrics:`
    metrics.on_worker_init(sender=SimpleNamespace(app=SimpleNamespace(conf={})))


def test_the_celery_app_connects_the_hook() -> None:
    from celery import signals

    import workers.app  # noqa: F401

    receivers = [r() if callable(r) else r for _, r in signals.worker_init.receivers]
    assert metrics.on_worker_init in receivers


def test_metrics_command_prints_once(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"desk": "http://127.0.0.1:9/feed"},
        "json://127.0.0.1:9/x",
    )
    assert main(["--config", str(config), "metrics", "--once"]) == 0
    samples = parse(capsys.readouterr().out)
    assert samples['newsalert_items_total{feed="desk"}'] == 0
    assert samples['newsalert_deliveries{status="dead"}'] == 0


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        ("gone", "https://x/: HTTP 410 Gone; the feed was removed, disable it", "gone"),
        ("error", "https://x/: deadline of 60s exceeded", "timeout"),
        ("error", "https://x/: read timeout (20s)", "timeout"),
        ("error", "https://x/: HTTP 503 Service Unavailable, retry after 30s", "http_5xx"),
        ("error", "https://x/: HTTP 429 Too Many Requests", "http_429"),
        ("rejected", "https://x/: HTTP 404 Not Found", "http_4xx"),
        ("error", "https://x/: connection failed: [Errno 111] Connection refused", "connect"),
        ("rejected", "https://x/: body exceeds max_bytes=10 (Content-Length: 99)", "too_large"),
        ("rejected", "https://x/: too many redirects (more than max_redirects=5)", "redirect"),
        ("rejected", "https://x/: 10.0.0.1 is a private address: not allowed", "address"),
        ("error", "not a feed (no RSS/Atom found): mismatched tag", "parse"),
        ("error", "something new", "error"),
        ("rejected", None, "rejected"),
    ],
)
def test_error_kinds_are_a_small_fixed_set(status: str, error: str | None, kind: str) -> None:
    assert metrics.error_kind(status, error) == kind


def test_stats_and_feeds_show_activity_per_hour_subscriber_and_feed(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.route("/balkans", body=BALKANS, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"balkans": feed_server.url("/balkans")},
        smtp_server.url(),
    )
    assert main(["--config", str(config), "stats"]) == 0
    assert "no deliveries in the period" in capsys.readouterr().out
    assert main(["--config", str(config), "poll", "--once"]) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "stats", "--hours", "3"]) == 0
    out = capsys.readouterr().out
    table = [line.split() for line in out.splitlines() if line[:2] in ("20", "to", "du")]
    hours = [row for row in table if row[0].startswith("20")]
    assert len(hours) == 3
    # hour, items, alerts, deliveries, sent, pending, held, sending, failed, dead
    assert hours[-1][2:] == ["2", "1", "1", "1", "0", "0", "0", "0", "0"]
    assert ["total", "2", "1", "1", "1", "0", "0", "0", "0", "0"] in table
    assert ["duty-desk", "1", "1", "0", "0", "0", "0", "0", "0"] in table
    assert main(["--config", str(config), "stats", "--hours", "0"]) == 2
    capsys.readouterr()

    assert main(["--config", str(config), "feeds"]) == 0
    out = capsys.readouterr().out
    header, _, row = out.splitlines()[:3]
    assert "next in" in header and "alerts" in header and "items" in header
    assert row.startswith("balkans")
    columns = [c.strip() for c in header.split("  ") if c.strip()]
    values = [c.strip() for c in row.split("  ") if c.strip()]
    got = dict(zip(columns, values, strict=False))
    assert got["items"] == "2" and got["alerts"] == "1", got
    assert got["next in"].endswith(("s", "m")), got


def _add_counts_before(conn: Any, counts: dict[tuple[str, str], int]) -> None:
    """add_counts as it was before its UPDATE was built once (the statement per call)."""
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError

    table = metrics.metric_counters
    for (name, labels), n in sorted(counts.items()):
        key = labels[:255]
        where = (table.c.name == name, table.c.labels == key)
        bump = update(table).where(*where).values(value=table.c.value + n)
        if conn.execute(bump).rowcount:
            continue
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(name=name, labels=key, value=n))
        except IntegrityError:
            conn.execute(bump)


def test_counters_add_up_as_before_with_the_update_built_once(
    database_url: str, tmp_path: Path
) -> None:
    """The prepared UPDATE bumps, and creates, the same counters as the statement built per
    call did, labels cut at 255 characters included, on SQLite and PostgreSQL."""
    long = 'feed="' + "x" * 300 + '"'
    rounds = [
        {("newsalert_polls_total", 'status="ok"'): 3, ("newsalert_items_total", ""): 30},
        {("newsalert_polls_total", 'status="ok"'): 2, ("newsalert_polls_total", long): 1},
        {("newsalert_polls_total", long): 4, ("newsalert_items_total", ""): 1},
    ]
    now = Store(database_url)
    before = Store(f"sqlite:///{tmp_path / 'before.db'}")
    for store in (now, before):
        metrics.ensure_schema(store.engine)
    for counts in rounds:
        with now.begin() as conn:
            metrics.add_counts(conn, counts)
        with before.begin() as conn:
            _add_counts_before(conn, counts)
    got = metrics.counters(now)
    assert got == metrics.counters(before)
    assert got["newsalert_polls_total"] == {'status="ok"': 5, long[:255]: 5}
    assert got["newsalert_items_total"] == {"": 31}
    now.close()
    before.close()
