"""Feed health: a feed failing for longer than fetch.unhealthy_after is marked unhealthy,
operators are told once (through the ordinary delivery path, to a real SMTP server),
and told once more when it recovers. The pipeline runs on an injected clock."""

from __future__ import annotations

import logging
import re
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from newsalert import health
from newsalert.cli import main
from newsalert.config import load_config
from newsalert.errors import ConfigError
from newsalert.models import Message
from newsalert.pipeline import Pipeline
from newsalert.render import FAMILIES
from newsalert.store import FeedNotice, FeedState, PlannedDelivery, Store
from tests.feedserver import FeedServer, Request, Response
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BUSINESS

OPS = "ops@example.org"
DESK = "duty@example.org"
# the clock starts in the (recent) past so that `newsalert feeds`, which uses the
# real time, shows sensible durations
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)


class Flaky:
    """A feed that fails (HTTP 503 or 410) or answers 200, as the test says."""

    def __init__(self, server: FeedServer) -> None:
        self.status = 200
        server.handler("/flaky", self)

    def __call__(self, _request: Request) -> Response:
        if self.status == 200:
            return Response(200, BUSINESS, {"Content-Type": "application/rss+xml"})
        return Response(self.status, b"down", {"Retry-After": "1"})


@pytest.fixture
def flaky(feed_server: FeedServer) -> Flaky:
    return Flaky(feed_server)


def write_config(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_url: str,
    smtp: SMTPServer,
    *,
    operators: str = "[ops]",
    unhealthy_after: int = 3600,
) -> Path:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {model_dir}
              database_url: {database_url}
            fetch:
              unhealthy_after: {unhealthy_after}
            delivery:
              backoff_base: 60
            operators: {operators}
            subscribers:
              - name: duty-desk
                urls: ["{smtp.url(to=DESK)}"]
              - name: ops
                urls: ["{smtp.url(to=OPS)}"]
                keywords: [no-such-keyword-xyzzy]  # health notices only
            feeds:
              - name: flaky
                url: {feed_url}
                allow_private: true
            """
        ),
        encoding="utf-8",
    )
    return path


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> None:
        self.now = T0 + timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def pipeline_for(config: Path, clock: Clock, classifier: object) -> Pipeline:
    loaded = load_config(config)
    return Pipeline(
        loaded,
        Store(loaded.database_url),
        clock=clock,
        model_loader=lambda: classifier,  # type: ignore[arg-type,return-value]
    )


@pytest.fixture
def ops_pipeline(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    flaky: Flaky,
    smtp_server: SMTPServer,
    clock: Clock,
    classifier: object,
) -> Iterator[Pipeline]:
    config = write_config(tmp_path, model_dir, database_url, feed_server.url("/flaky"), smtp_server)
    pipeline = pipeline_for(config, clock, classifier)
    yield pipeline
    pipeline.close()


def to_ops(smtp: SMTPServer) -> list[str]:
    return [
        str(m["Subject"])
        for m, e in zip(smtp.messages, smtp.envelopes, strict=True)
        if e.rcpt_tos == [OPS]
    ]


# --- the pipeline on an injected clock ---------------------------------------------------------


def test_unhealthy_is_told_once_and_recovery_once(
    ops_pipeline: Pipeline,
    flaky: Flaky,
    smtp_server: SMTPServer,
    clock: Clock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = ops_pipeline.store
    flaky.status = 503
    first = ops_pipeline.run_once()
    assert first.feeds[0].status == "error" and first.feeds[0].health is None
    state = store.feed_state("flaky")
    assert state.failing_since == T0 and state.unhealthy_since is None

    clock.at(minutes=30)
    assert ops_pipeline.run_once().feeds[0].health is None
    clock.at(minutes=59, seconds=59)
    assert ops_pipeline.run_once().feeds[0].health is None
    assert to_ops(smtp_server) == []  # failing for less than an hour: not yet

    clock.at(hours=1, minutes=1)
    run = ops_pipeline.run_once()
    assert run.feeds[0].health == "unhealthy"
    assert len(run.feeds[0].notice_delivery_ids) == 1
    assert run.delivered == {"sent": 1}
    assert to_ops(smtp_server) == [
        "[newsalert] feed flaky is unhealthy: failing for 1h 1m",
    ]
    [message] = smtp_server.messages
    body = message.get_body(("plain",)).get_content()
    assert "HTTP 503" in body and "Failed polls in a row: 4" in body
    assert f"Failing since: {T0:%Y-%m-%d %H:%M} UTC" in body
    state = store.feed_state("flaky")
    assert state.unhealthy_since == clock.now and state.error_streak == 4

    # still failing: nothing more, however long it lasts
    for hours in (2, 3, 5):
        clock.at(hours=hours)
        assert ops_pipeline.run_once().feeds[0].health is None
    assert len(to_ops(smtp_server)) == 1

    # the operator's view
    assert main(["--config", str(ops_pipeline.loaded.path), "feeds"]) == 0
    out = capsys.readouterr().out
    header, _rule, row = out.splitlines()[:3]
    assert header.split()[:3] == ["feed", "health", "status"]
    # failing since T0, about 12 h before the real time the command uses
    assert re.match(r"flaky\s+UNHEALTHY 1[23]h( \d+m)?\s+error\s", row), row
    assert main(["--config", str(ops_pipeline.loaded.path), "deliveries", "list"]) == 0
    assert "feed notice 1" in capsys.readouterr().out

    # it recovers: told once
    flaky.status = 200
    clock.at(hours=6)
    run = ops_pipeline.run_once()
    assert run.feeds[0].status == "ok" and run.feeds[0].health == "recovered"
    assert to_ops(smtp_server)[1:] == [
        "[newsalert] feed flaky has recovered (was unhealthy for 4h 59m)",
    ]
    state = store.feed_state("flaky")
    assert state.unhealthy_since is None and state.failing_since is None
    clock.at(hours=7)
    assert ops_pipeline.run_once().feeds[0].health is None
    assert len(to_ops(smtp_server)) == 2

    # a new failure starts a new streak: unhealthy again only after another hour
    flaky.status = 503
    clock.at(hours=8)
    ops_pipeline.run_once()
    clock.at(hours=8, minutes=59)
    ops_pipeline.run_once()
    assert len(to_ops(smtp_server)) == 2
    clock.at(hours=9)
    assert ops_pipeline.run_once().feeds[0].health == "unhealthy"
    assert len(to_ops(smtp_server)) == 3
    # the alert subscriber never got a health notice (nor an alert: nothing relevant)
    assert all(e.rcpt_tos == [OPS] for e in smtp_server.envelopes)


def test_a_notice_is_retried_like_an_alert_and_sent_once(
    ops_pipeline: Pipeline, flaky: Flaky, smtp_server: SMTPServer, clock: Clock
) -> None:
    flaky.status = 500
    ops_pipeline.run_once()
    smtp_server.refuse()
    clock.at(hours=1)
    run = ops_pipeline.run_once()
    assert run.feeds[0].health == "unhealthy" and run.delivered == {"failed": 1}
    assert smtp_server.messages == []
    smtp_server.accept()
    clock.at(hours=1, seconds=10)
    assert ops_pipeline.deliver_due() == {}  # backing off
    clock.at(hours=1, minutes=5)
    assert ops_pipeline.deliver_due() == {"sent": 1}
    clock.at(hours=2)
    assert ops_pipeline.run_once().delivered == {}
    assert to_ops(smtp_server) == ["[newsalert] feed flaky is unhealthy: failing for 1h"]


def test_a_gone_feed_is_unhealthy_at_once(
    ops_pipeline: Pipeline, flaky: Flaky, smtp_server: SMTPServer, clock: Clock
) -> None:
    flaky.status = 410
    run = ops_pipeline.run_once()
    assert run.feeds[0].status == "gone" and run.feeds[0].health == "unhealthy"
    [subject] = to_ops(smtp_server)
    assert subject == "[newsalert] feed flaky is unhealthy: gone (HTTP 410), polling stopped"
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    assert "Fix its url in the config" in body
    clock.at(hours=5)
    assert ops_pipeline.run_once().feeds[0].status == "disabled"
    assert len(smtp_server.messages) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_operators_a_change_is_only_logged(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    flaky: Flaky,
    smtp_server: SMTPServer,
    clock: Clock,
    classifier: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(
        tmp_path,
        model_dir,
        database_url,
        feed_server.url("/flaky"),
        smtp_server,
        operators="[]",
        unhealthy_after=0,  # the first failure
    )
    pipeline = pipeline_for(config, clock, classifier)
    caplog.set_level(logging.INFO, logger="newsalert.health")
    flaky.status = 503
    run = pipeline.run_once()
    assert run.feeds[0].health == "unhealthy" and run.feeds[0].notice_delivery_ids == ()
    assert pipeline.store.feed_state("flaky").unhealthy_since == T0
    flaky.status = 200
    clock.at(minutes=5)
    assert pipeline.run_once().feeds[0].health == "recovered"
    pipeline.close()
    assert smtp_server.messages == []
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "newsalert.health"]
    assert logged == [
        (
            "WARNING",
            "feed flaky is unhealthy: failing for 0s (no `operators` configured: only logged)",
        ),
        (
            "INFO",
            "feed flaky has recovered (was unhealthy for 5m) "
            "(no `operators` configured: only logged)",
        ),
    ]


# --- the store: told once, even when several workers see the change ---------------------------


def test_a_change_is_recorded_once(database_url: str) -> None:
    store = Store(database_url)
    store.sync_feeds([("f", "https://example.org/feed")])
    fid = store.feed_state("f").id
    plans = [PlannedDelivery("ops", "t1", "mailto://***"), PlannedDelivery("ops", "t2", "x")]
    # not failing: neither change is due
    assert store.change_health(fid, unhealthy=True, now=T0, planned=plans) is None
    store.record_poll(fid, status="error", now=T0, next_poll_at=T0, error="HTTP 503")
    store.record_poll(
        fid, status="error", now=T0 + timedelta(minutes=5), next_poll_at=T0, error="e2"
    )
    assert store.feed_state("f").failing_since == T0  # the first failure of the streak
    later = T0 + timedelta(hours=1)
    done = store.change_health(fid, unhealthy=True, now=later, planned=plans)
    assert done is not None
    notice, ids = done
    assert (notice.kind, notice.since, notice.error, notice.error_streak) == (
        "unhealthy", T0, "e2", 2,
    )  # fmt: skip
    assert len(ids) == 2
    assert store.get_notice(notice.id) == notice
    # a second worker that saw the same state records nothing, sends nothing
    assert store.change_health(fid, unhealthy=True, now=later, planned=plans) is None
    assert store.change_health(fid, unhealthy=False, now=later, planned=plans) is None
    store.record_poll(fid, status="ok", now=later, next_poll_at=later)
    done = store.change_health(fid, unhealthy=False, now=later, planned=plans)
    assert done is not None and done[0].kind == "recovered" and done[0].since == later
    assert store.change_health(fid, unhealthy=False, now=later, planned=plans) is None
    rows = store.list_deliveries()
    assert len(rows) == 4 and all(r.item_id is None and r.notice_id for r in rows)
    store.close()


def test_an_old_database_gets_its_new_columns_and_names_what_it_cannot_add(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A store made by an older version: columns that may be NULL or have a constant
    default are added in place, its rows keep their values and take the defaults; a NOT
    NULL column with no default cannot be, and the warning names it."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE feeds (id INTEGER PRIMARY KEY, name TEXT, url TEXT)"))
        conn.execute(text("INSERT INTO feeds (id, name, url) VALUES (7, 'old', 'http://x/')"))
        conn.execute(text("CREATE TABLE stories (id INTEGER PRIMARY KEY, title TEXT)"))
    engine.dispose()
    caplog.set_level(logging.INFO, logger="newsalert.store")
    store = Store(database_url)
    [state] = store.feed_states()  # reads every column of feeds
    assert (state.id, state.name, state.error_streak, state.disabled) == (7, "old", 0, False)
    assert state.last_error is None and state.items_seen == 0
    store.record_poll(state.id, status="error", now=T0, next_poll_at=T0, error="e1")
    assert store.feed_states()[0].error_streak == 1
    assert "added column feeds.failing_since" in caplog.text
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "cannot be added in place" in warned[0]
    named = warned[0].split("lacks columns ")[1].split(", which")[0].split(", ")
    assert set(named) == {
        "stories.first_seen", "stories.last_seen", "stories.item_count", "stories.sources",
        "stories.category", "stories.peak_score", "stories.state",
    }  # fmt: skip
    store.close()
    caplog.clear()
    Store(database_url).close()  # the second start adds nothing and names the same
    assert "added column" not in caplog.text and "stories.peak_score" in caplog.text


# --- config ------------------------------------------------------------------------------------


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "newsalert.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_operators_must_name_subscribers(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """\
        operators: [ops, nobody]
        subscribers:
          - {name: ops, urls: ["mailto://127.0.0.1?from=a@example.org&to=a@example.org"]}
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    [problem] = info.value.problems
    assert (problem.file, problem.key) == (str(path), "operators[1]")
    assert "no subscriber named 'nobody'" in problem.message and "ops" in problem.hint


def test_an_operator_without_secrets_is_a_warning(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        """\
        operators: [ops]
        fetch: {unhealthy_after: 600}
        subscribers:
          - {name: ops, urls: ["mailto://u:${SMTP_PASSWORD}@127.0.0.1?to=a@example.org"]}
        """,
    )
    loaded = load_config(path, environ={})
    assert loaded.config.fetch.unhealthy_after == 600
    # one warning for the subscriber losing its only target, one for the operator role
    assert [w.key for w in loaded.warnings] == ["subscribers[0].urls[0]", "operators[0]"]
    assert load_config(_config(tmp_path, "feeds: []\n"), environ={}).config.operators == ()


def test_unhealthy_after_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, "fetch: {unhealthy_after: -1}\n"), environ={})
    assert [p.key for p in info.value.problems] == ["fetch.unhealthy_after"]


# --- the pure parts ----------------------------------------------------------------------------


def state(**kw: object) -> FeedState:
    fields: dict[str, object] = {
        "id": 1, "name": "f", "url": "https://example.org/f", "etag": None,
        "last_modified": None, "next_poll_at": None, "last_polled_at": T0,
        "last_success_at": None, "last_status": "error", "last_error": "x",
        "error_streak": 1, "disabled": False, "items_seen": 0, "moved_to": None,
    }  # fmt: skip
    fields.update(kw)
    return FeedState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "minutes", "change"),
    [
        ({}, 10, None),  # healthy, not failing
        ({"failing_since": T0}, 59, None),
        ({"failing_since": T0}, 60, "unhealthy"),
        ({"failing_since": T0, "disabled": True}, 0, "unhealthy"),  # gone
        ({"failing_since": T0, "unhealthy_since": T0}, 600, None),  # already told
        ({"unhealthy_since": T0}, 600, "recovered"),
    ],
)
def test_transition(kw: dict[str, object], minutes: int, change: str | None) -> None:
    assert health.transition(state(**kw), T0 + timedelta(minutes=minutes), 3600) == change


def test_label_and_duration() -> None:
    now = T0 + timedelta(hours=2, minutes=5)
    assert health.label(state(last_polled_at=None), now) == "unknown"
    assert health.label(state(), now) == "healthy"
    assert health.label(state(failing_since=T0), now) == "failing 2h 5m"
    assert health.label(state(failing_since=T0, unhealthy_since=now), now) == "UNHEALTHY 2h 5m"
    assert [health.duration(timedelta(seconds=s)) for s in (-5, 45, 60, 3600, 90000)] == [
        "0s", "45s", "1m", "1h", "1d 1h",
    ]  # fmt: skip


HOSTILE_ERROR = (
    "http://evil.example/: HTTP 500 <!channel> <script>alert(1)</script> [x](javascript:y)"
    " &amp; \r\nSubject: injected\u202e"
)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_notice_escapes_what_the_feed_server_said(family: str) -> None:
    notice = FeedNotice(
        id=1, feed="flaky", kind="unhealthy", created_at=T0 + timedelta(hours=1), since=T0,
        error=HOSTILE_ERROR * 20, error_streak=3, disabled=False,
        url="https://user:pw@evil.example/feed?token=s3cret",
    )  # fmt: skip
    message: Message = health.render_notice(notice, family)
    for part in (message.title, message.body, message.attach_text or ""):
        assert "s3cret" not in part and "pw@" not in part  # the URL is redacted
        assert "\r" not in part and "\u202e" not in part
    assert "\n" not in message.title
    assert "failing for 1h" in (message.title or message.body)
    if family in ("email", "telegram"):  # HTML: only our own tags
        assert set(re.findall(r"<\s*/?\s*([a-z0-9]+)", message.body)) <= {
            "div",
            "h2",
            "p",
            "br",
            "b",
        }
    if family == "slack":  # no Slack markup can form: every < > [ ] escaped
        assert not re.search(r"(?<!\\)[<>\[\]]", message.body)
    if family != "email":
        assert message.body.count("\n") < 20 and len(message.body) < 4096
