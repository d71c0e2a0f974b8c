"""End to end: a loopback feed server, the real store, the real model, a real SMTP server.

`poll --once` must send exactly one email, about the seed article (the US asking
Serbia to withdraw troops after the armed attack in Banjska), and nothing about the
football result or the earnings report; a second poll sends nothing; a feed that
answers 304 is not parsed again; broken feeds and a refusing SMTP server are reported
and lose nothing.
"""

from __future__ import annotations

import html
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from newsalert.cli import main
from newsalert.config import load_config
from newsalert.errors import ModelError
from newsalert.models import Item
from newsalert.pipeline import Pipeline
from newsalert.store import Store
from tests.feedserver import FeedServer, Request, Response
from tests.smtpserver import SMTPServer

from .conftest import ROOT

SEED = (ROOT / "tests" / "data" / "banjska-kosovo-2023.txt").read_text(encoding="utf-8")
SEED_TITLE = "The US asks Serbia to withdraw military troops from the border with Kosovo"
SEED_SUMMARY = " ".join(SEED.split("\n\n")[4:7])


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>https://news.example.org/{guid}</link>"
        f"<description>{html.escape(summary)}</description>"
        "<pubDate>Fri, 29 Sep 2023 18:00:00 GMT</pubDate></item>"
        for guid, title, summary in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>{body}</channel></rss>'.encode()


BALKANS = rss(
    ("seed-1", SEED_TITLE, SEED_SUMMARY),
    (
        "sport-1",
        "Manchester United beat Chelsea 2-1 at Old Trafford",
        "Bruno Fernandes scored a late winner as United came from behind to beat Chelsea in the Premier League.",
    ),
)
BUSINESS = rss(
    (
        "biz-1",
        "Chipmaker reports record quarterly revenue",
        "Shares rose 4% after the company raised its full-year forecast on strong demand for data-centre chips.",
    ),
)


def write_config(
    tmp_path: Path, model_dir: Path, database_url: str, feeds: dict[str, str], mail_url: str
) -> Path:
    feed_yaml = "".join(
        f"  - name: {name}\n    url: {url}\n    allow_private: true\n"
        for name, url in feeds.items()
    )
    text = textwrap.dedent(
        f"""\
        storage:
          data_dir: {model_dir}
          database_url: {database_url}
        delivery:
          backoff_base: 60
        rules:
          exclude:
            - name: sport
              terms: [Premier League]
        subscribers:
          - name: duty-desk
            urls: ["{mail_url}"]
        feeds:
        """
    )
    path = tmp_path / "newsalert.yaml"
    path.write_text(text + feed_yaml, encoding="utf-8")
    return path


def open_pipeline(config: Path, **kwargs: Any) -> Pipeline:
    """The pipeline of a config file, on its own store."""
    loaded = load_config(config)
    return Pipeline(loaded, Store(loaded.database_url), **kwargs)


NO_MAIL = "mailto://127.0.0.1:9?from=a@example.org&to=b@example.org"  # nothing answers


@pytest.fixture
def conditional_feed(feed_server: FeedServer) -> FeedServer:
    """/balkans honours If-None-Match; /business always answers 200."""

    def balkans(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        return Response(
            200, body=BALKANS, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
        )

    feed_server.handler("/balkans", balkans)
    feed_server.route("/business", body=BUSINESS, headers={"Content-Type": "application/rss+xml"})
    return feed_server


def test_poll_once_sends_one_email_about_the_seed_article_then_nothing(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    conditional_feed: FeedServer,
    smtp_server: SMTPServer,
    capsys: pytest.CaptureFixture[str],
    classifier: object,
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        {
            "balkans": conditional_feed.url("/balkans"),
            "business": conditional_feed.url("/business"),
        },
        smtp_server.url(),
    )
    assert main(["--config", str(config), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "3 new items, 3 scored, 1 relevant; 1 alerts queued, 1 sent" in out

    [message] = smtp_server.messages
    assert SEED_TITLE in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "https://news.example.org/seed-1" in text
    assert "balkans" in text  # the source
    for body in (text, message.get_body(("html",)).get_content()):
        assert "Manchester" not in body and "Chipmaker" not in body

    # a second poll: balkans answers 304 and is not parsed; business is parsed but
    # its item is known; nothing is sent again
    assert main(["--config", str(config), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    assert "0 new items" in out and "0 sent" in out
    assert len(smtp_server.messages) == 1
    balkans_requests = [r for r in conditional_feed.requests if r.path == "/balkans"]
    assert balkans_requests[1].headers.get("if-none-match") == '"v1"'
    store = Store(database_url, create=False)
    assert store.feed_state("balkans").last_status == "not_modified"
    assert store.feed_state("business").last_status == "ok"
    assert store.count_items() == 3
    store.close()


def test_broken_feeds_are_reported_and_the_poll_finishes(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    capsys: pytest.CaptureFixture[str],
    classifier: object,
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    feed_server.route(
        "/html",
        body=b"<html><body><h1>Gateway error</h1></body></html>",
        headers={"Content-Type": "text/html"},
    )
    closed = FeedServer()
    unreachable = closed.url("/feed")
    closed.close()
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {
            "balkans": feed_server.url("/balkans"),
            "not-xml": feed_server.url("/html"),
            "down": unreachable,
        },
        smtp_server.url(),
    )
    assert main(["--config", str(config), "poll", "--once"]) == 0
    out = capsys.readouterr().out
    lines = {
        line.split()[0]: line
        for line in out.splitlines()
        if line and not line.startswith(("feed", "-"))
    }
    assert "not-xml" in lines, out
    assert "error" in lines["not-xml"] and "not a feed" in lines["not-xml"]
    assert "error" in lines["down"] and "127.0.0.1" in lines["down"]
    assert "2 feed(s) failed" in out
    assert len(smtp_server.messages) == 1  # the healthy feed's alert still went out

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", create=False)
    down = store.feed_state("down")
    assert down.error_streak == 1 and down.next_poll_at is not None
    store.close()


def test_refusing_smtp_keeps_the_alert_pending_then_delivers_it_once(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        {"balkans": feed_server.url("/balkans")},
        smtp_server.url(),
    )
    now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    pipeline = open_pipeline(config, clock=lambda: now[0])

    smtp_server.refuse()
    summary = pipeline.run_once()
    assert summary.deliveries_created == 1 and summary.delivered == {"failed": 1}
    [delivery] = pipeline.store.list_deliveries()
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "554" in (delivery.last_error or "") or "refused" in (delivery.last_error or "").lower()
    assert smtp_server.messages == []

    # not due yet: the backoff holds it back even though the server is back
    smtp_server.accept()
    now[0] += timedelta(seconds=5)
    assert pipeline.deliver_due() == {}
    now[0] += timedelta(seconds=120)  # past backoff_base (60 s, jittered to 30..60 s)
    assert pipeline.deliver_due() == {"sent": 1}
    assert len(smtp_server.messages) == 1
    now[0] += timedelta(hours=1)
    assert pipeline.run_once().delivered == {}
    assert len(smtp_server.messages) == 1
    pipeline.close()


def test_unscored_items_wait_for_the_model_and_are_never_dropped(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"balkans": feed_server.url("/balkans")},
        smtp_server.url(),
    )
    # an explicit model path that does not exist: loading fails clearly
    text = config.read_text().replace(
        "storage:", f"model:\n  path: {tmp_path / 'missing.joblib'}\nstorage:"
    )
    config.write_text(text)
    pipeline = open_pipeline(config)
    summary = pipeline.run_once()
    assert summary.new_items == 2 and summary.scored == 0 and summary.unscored == 2
    assert "missing.joblib" in (summary.model_error or "")
    assert smtp_server.messages == []
    pipeline.close()

    # the operator fixes the config: the kept items are scored and the alert goes out
    config.write_text(text.replace(f"model:\n  path: {tmp_path / 'missing.joblib'}\n", ""))
    pipeline = open_pipeline(config)
    summary = pipeline.run_once()
    assert summary.new_items == 0 and summary.scored == 2 and summary.relevant == 1
    assert len(smtp_server.messages) == 1
    pipeline.close()


def test_malformed_config_exits_2_with_file_key_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsalert.yaml"
    config.write_text("feeds:\n  - name: x\n    url: gopher://example.org/\n    interval: ten\n")
    assert main(["--config", str(config), "poll", "--once"]) == 2
    err = capsys.readouterr().err
    assert f"{config}: feeds[0].url: scheme 'gopher' is not allowed" in err
    assert f"{config}: feeds[0].interval:" in err


def slow_batch(feed_server: FeedServer) -> tuple[dict[str, str], threading.Event, threading.Event]:
    """A batch of three feeds: "slow" holds its answer until ``release`` is set (it sets
    ``in_flight`` when asked), "balkans" answers at once, "gone" answers 410."""
    release = threading.Event()
    in_flight = threading.Event()

    def slow(_r: Request) -> Response:
        in_flight.set()
        release.wait(20)
        return Response(200, BUSINESS, {"Content-Type": "application/rss+xml"})

    feed_server.handler("/slow", slow)
    feed_server.route("/balkans", body=BALKANS, headers={"Content-Type": "application/rss+xml"})
    feed_server.route("/gone", status=410)
    feeds = {name: feed_server.url(f"/{name}") for name in ("slow", "balkans", "gone")}
    return feeds, in_flight, release


def test_a_batch_fetches_at_once_and_records_each_feed_as_it_comes_in(
    tmp_path: Path, model_dir: Path, database_url: str, feed_server: FeedServer
) -> None:
    """poll_feeds: one slow server holds up no other feed of its batch. The fast feeds
    are fetched while the slow one is still in flight and are in the store (items and
    feed row) before it answers; the outcomes come back in the order asked."""
    feeds, in_flight, release = slow_batch(feed_server)
    config = write_config(tmp_path, model_dir, database_url, feeds, NO_MAIL)
    loaded = load_config(config)
    store = Store(loaded.database_url)
    pipeline = Pipeline(loaded, store, model_loader=lambda: pytest.fail("no scoring here"))
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(pipeline.poll_feeds(list(feeds))))
    worker.start()
    try:
        assert in_flight.wait(10)
        checker = Store(loaded.database_url, create=False)
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        while checker.feed_state("balkans").last_status != "ok":
            assert datetime.now(UTC) < deadline, "balkans not recorded while slow was in flight"
            release.wait(0.02)
        assert checker.count_items() == 2  # its items too
        assert checker.feed_state("gone").disabled
        assert checker.feed_state("slow").last_status is None  # still in flight
        assert worker.is_alive()
        checker.close()
    finally:
        release.set()
        worker.join(30)
    [outcomes] = result
    assert [(o.feed, o.status) for o in outcomes] == [  # type: ignore[attr-defined]
        ("slow", "ok"),
        ("balkans", "ok"),
        ("gone", "gone"),
    ]
    assert store.feed_state("slow").last_status == "ok" and store.count_items() == 3
    pipeline.close()
    store.close()


def test_poll_feeds_settled_hands_over_each_group_while_a_slow_feed_is_in_flight(
    tmp_path: Path, model_dir: Path, database_url: str, feed_server: FeedServer
) -> None:
    """poll_feeds_settled yields the disabled feeds first, then each group of outcomes as
    soon as it is stored: the fast feed's new items can be scored while the slow one is
    still in flight. A caller that stops early leaves the slow feed unrecorded (its claim
    lapses and the next poll fetches it again) and cancels what has not started."""
    feeds, in_flight, release = slow_batch(feed_server)
    config = write_config(tmp_path, model_dir, database_url, feeds, NO_MAIL)
    loaded = load_config(config)
    store = Store(loaded.database_url)
    pipeline = Pipeline(loaded, store, model_loader=lambda: pytest.fail("no scoring here"))
    try:
        groups = pipeline.poll_feeds_settled(list(feeds))
        first = next(groups)
        seen = {o.feed: o for o in first}
        while "balkans" not in seen:  # "gone" may settle apart from it
            seen.update((o.feed, o) for o in next(groups))
        assert in_flight.is_set() and not release.is_set()  # slow is still in flight
        assert "slow" not in seen and seen["balkans"].status == "ok"
        assert len(seen["balkans"].new_item_ids) == 2
        assert store.count_items() == 2  # stored before the group was handed over
        groups.close()  # the caller stops early: nothing of slow is recorded
        assert store.feed_state("slow").last_status is None
    finally:
        release.set()
    pipeline.close()
    store.close()


HOSTILE_ENTRIES = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>odd</title><language>en&#0;x</language>
<item><guid>ok-1</guid><title>Police report quiet night in the capital</title>
  <link>https://news.example.org/ok-1</link></item>
<item><guid>lang-1</guid><title xml:lang="%s">Long language tag</title>
  <link>https://news.example.org/lang-1</link></item>
<item><guid>nul-1</guid><title>A link with a NUL</title>
  <link>https://news.example.org/a&#0;b</link></item>
<item><guid>sur-1</guid><title>Half a character &#xD800; here</title>
  <link>https://news.example.org/sur-1</link></item>
</channel></rss>""".replace(b"%s", b"x" * 60)


def test_odd_entries_are_stored_cleaned_and_the_feeds_polled_with_them_go_on(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    classifier: object,
) -> None:
    """A 60-character language tag, a NUL in a language and a link (PostgreSQL refuses
    both), a reference to half a surrogate pair (feedparser fails the whole feed on it):
    each entry is kept, cleaned, and the feeds polled in the same batch are stored too."""
    feed_server.route("/odd", body=HOSTILE_ENTRIES, headers={"Content-Type": "application/rss+xml"})
    feed_server.route("/business", body=BUSINESS, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        {"odd": feed_server.url("/odd"), "business": feed_server.url("/business")},
        NO_MAIL,
    )
    pipeline = open_pipeline(config)
    outcomes = pipeline.poll_feeds(["odd", "business"])
    assert [(o.feed, o.status, len(o.new_item_ids)) for o in outcomes] == [
        ("odd", "ok", 4),
        ("business", "ok", 1),
    ]
    # (feedparser resolves a guid like a link, against the feed's URL)
    items = {s.item.guid.rsplit("/")[-1]: s.item for s in pipeline.store.get_items(range(1, 6))}
    assert items["lang-1"].language is None and items["ok-1"].language is None
    assert items["nul-1"].link is None
    assert items["sur-1"].title == "Half a character \ufffd here"
    pipeline.close()
    pipeline.store.close()


def test_an_item_the_database_refuses_is_left_out_alone(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    classifier: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Should a value get through normalization that the database refuses, only that
    item is left out (and logged); the feed's other items are stored."""
    from sqlalchemy.exc import DataError

    feed_server.route("/odd", body=HOSTILE_ENTRIES, headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        {"odd": feed_server.url("/odd")},
        NO_MAIL,
    )
    pipeline = open_pipeline(config)
    add_items = pipeline.store.add_items

    def refusing(feed_id: int, items: list[Item], now: datetime) -> list[int]:
        if any(i.guid.endswith("/lang-1") for i in items):
            raise DataError("INSERT", {}, Exception("value too long for type varchar(35)"))
        return add_items(feed_id, items, now)

    with mock.patch.object(pipeline.store, "add_items", side_effect=refusing):
        [outcome] = pipeline.poll_feeds(["odd"])
    assert (outcome.status, len(outcome.new_item_ids)) == ("ok", 3)
    stored = {s.item.guid.rsplit("/")[-1] for s in pipeline.store.get_items(outcome.new_item_ids)}
    assert stored == {"ok-1", "nul-1", "sur-1"}
    assert "feed odd: item " in caplog.text and "value too long" in caplog.text
    # the operator sees it on the feed's row (`newsalert feeds`), but the feed is healthy
    [state] = pipeline.store.feed_states()
    assert (state.last_status, state.error_streak) == ("ok", 0)
    assert state.last_error is not None
    assert state.last_error.startswith("1 item(s) not stored, first: ")
    assert "/lang-1: value too long for type varchar(35)" in state.last_error
    # a 304 says nothing new about those items: the warning stays
    feed_server.route("/odd", status=304)
    [outcome] = pipeline.poll_feeds(["odd"])
    [state] = pipeline.store.feed_states()
    assert (outcome.status, state.error_streak) == ("not_modified", 0)
    assert state.last_error is not None and "/lang-1: value too long" in state.last_error
    # a poll that brings the feed and stores all of it clears the warning
    feed_server.route("/odd", body=HOSTILE_ENTRIES, headers={"Content-Type": "application/rss+xml"})
    [outcome] = pipeline.poll_feeds(["odd"])
    [state] = pipeline.store.feed_states()
    assert (outcome.status, state.last_error, state.error_streak) == ("ok", None, 0)
    pipeline.close()
    pipeline.store.close()


def test_an_item_that_fails_scoring_does_not_hold_up_its_batch(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Scoring fails on one item (a bug it triggers): its batch is scored in halves
    until that item is alone; it stays unscored, logged, and the others, the seed
    article's alert included, go through."""
    from newsalert.scoring import Scorer

    feed_server.route(
        "/feed",
        body=rss(
            ("seed-1", SEED_TITLE, SEED_SUMMARY),
            ("poison-1", "POISON", "An item the scorer trips on."),
            *((f"biz-{n}", f"Chipmaker {n} reports revenue", "Shares rose.") for n in range(5)),
        ),
    )
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'store.db'}",
        {"desk": feed_server.url("/feed")},
        smtp_server.url(),
    )
    pipeline = open_pipeline(config)
    score_batch = Scorer.score_batch

    def tripping(self: Scorer, items: list[Item]) -> list[object]:
        if any(i.title == "POISON" for i in items):
            raise ValueError("feature extraction failed")
        return score_batch(self, items)  # type: ignore[arg-type]

    with mock.patch.object(Scorer, "score_batch", tripping):
        summary = pipeline.run_once()
        assert (summary.scored, summary.relevant, summary.unscored) == (6, 1, 1)
        assert summary.delivered == {"sent": 1} and len(smtp_server.messages) == 1
        [poison] = pipeline.store.unscored_item_ids()
        assert pipeline.store.get_item(poison).item.title == "POISON"
        assert f"item {poison} cannot be scored" in caplog.text
        assert pipeline.run_once().unscored == 1  # tried again, still alone
    # the traceback once, then a line per try with the count
    assert caplog.text.count("Traceback") == 1
    assert f"item {poison} cannot be scored (2 times)" in caplog.text
    # an item that never failed goes before it, though newer: a pile of items that fail
    # cannot hold up new ones in the sweep's batches
    feed_server.route("/feed", body=rss(("later-1", "Later report", "Shares fell.")))
    [outcome] = pipeline.poll_feeds(["desk"])
    [later] = outcome.new_item_ids
    assert later > poison and pipeline.store.unscored_item_ids() == [later, poison]
    from newsalert.stats import item_totals

    totals = item_totals(pipeline.store)  # the metrics' newsalert_items_unscorable
    assert (totals["unscored"], totals["failing"]) == (2, 1)
    pipeline.close()
    pipeline.store.close()


def test_run_once_reports_the_time_it_took(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """The summary's elapsed time is the poll's wall time (a loop variable once overwrote the
    timer, and `poll --once` printed the machine's uptime)."""
    feed_server.route("/business", body=BUSINESS)
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"business": feed_server.url("/business"), "also": feed_server.url("/business")},
        NO_MAIL,
    )
    pipeline = open_pipeline(config)
    before = time.perf_counter()
    summary = pipeline.run_once()
    took = time.perf_counter() - before
    pipeline.close()
    assert 0 < summary.elapsed <= took


ONE_FEED = {"quiet": "http://127.0.0.1:9/feed"}  # never polled here


def test_warm_up_loads_model_and_gazetteer_on_a_thread_once(
    tmp_path: Path, model_dir: Path, classifier: object
) -> None:
    """poll --once loads the model, the language detector and the gazetteer while the
    feeds are polled: scorer() and geoparser() wait for that load, never load twice."""
    config = write_config(tmp_path, model_dir, f"sqlite:///{tmp_path / 's.db'}", ONE_FEED, NO_MAIL)
    loads: list[str] = []
    release = threading.Event()

    def loader() -> object:
        loads.append(threading.current_thread().name)
        assert release.wait(10)
        return classifier

    pipeline = open_pipeline(config, model_loader=loader)
    pipeline.warm_up()
    pipeline.warm_up()  # once
    deadline = time.monotonic() + 10
    while not loads and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    scorer = pipeline.scorer()  # waits for the warm-up's load
    assert loads == ["newsalert-warm-up"]
    assert pipeline.scorer() is scorer
    assert pipeline.geoparser() is pipeline.geoparser()
    assert loads == ["newsalert-warm-up"]


def test_warm_up_failure_is_reported_by_the_scorer_as_before(
    tmp_path: Path, model_dir: Path
) -> None:
    config = write_config(tmp_path, model_dir, f"sqlite:///{tmp_path / 's.db'}", ONE_FEED, NO_MAIL)
    calls: list[str] = []

    def broken() -> object:
        calls.append(threading.current_thread().name)
        raise ModelError("no model here")

    pipeline = open_pipeline(config, model_loader=broken)
    pipeline.warm_up()
    with pytest.raises(ModelError, match="no model here"):
        pipeline.scorer()
    assert calls == ["newsalert-warm-up", "MainThread"]
    outcome = pipeline.score_items([1])  # nothing stored: nothing to score, no error
    assert outcome.error is None


def test_run_once_warms_up_only_when_a_batch_brings_new_items(
    tmp_path: Path,
    model_dir: Path,
    conditional_feed: FeedServer,
    classifier: object,
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 's.db'}",
        {"balkans": conditional_feed.url("/balkans")},
        NO_MAIL,
    )
    loads: list[str] = []

    def loader() -> object:
        loads.append(threading.current_thread().name)
        return classifier

    first = open_pipeline(config, model_loader=loader)
    summary = first.run_once(warm_up=True)
    assert summary.new_items == summary.scored > 0
    assert loads == ["newsalert-warm-up"]  # loaded while polling, once
    again = open_pipeline(config, model_loader=loader)
    summary = again.run_once(warm_up=True)  # 304: nothing new, nothing to score
    assert summary.new_items == 0
    assert loads == ["newsalert-warm-up"]  # nothing loaded
    first.close()
    again.close()
