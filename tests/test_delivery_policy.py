"""Delivery policy: quiet hours, digests, break-through, shared rate limits, partial
failures and Retry-After, with the real store, real SMTP and the real apprise plugins."""

from __future__ import annotations

import html
import json
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from newsalert.cli import main
from newsalert.config import SubscriberConfig, load_config
from newsalert.delivery import Notifier
from newsalert.holds import next_digest, quiet_until, release_time
from newsalert.models import Alert
from newsalert.pipeline import Pipeline
from newsalert.ratelimit import (
    Bucket,
    MemoryRateLimiter,
    RedisRateLimiter,
    StoreRateLimiter,
)
from newsalert.render import channel_family, render, render_digest
from newsalert.store import Store
from tests.fakeapi import api_response
from tests.feedserver import FeedServer, Request, Response
from tests.smtpserver import SMTPServer
from tests.test_pipeline import SEED_SUMMARY, SEED_TITLE, rss

from .conftest import REDIS_URL, service_unavailable

pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

BELGRADE = "Europe/Belgrade"
INCIDENTS = rss(
    ("seed-1", SEED_TITLE, SEED_SUMMARY),
    (
        "bomb-1",
        "Car bomb kills six near police station in Mogadishu",
        "A car bomb exploded outside a police station, killing six people; al-Shabab claimed the attack.",
    ),
    (
        "kidnap-1",
        "Gunmen kidnap 20 students from school in northern Nigeria",
        "Armed men stormed a boarding school overnight and abducted at least 20 students, police said.",
    ),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- quiet hours and digests (pure) ----------------------------------------------------


@pytest.mark.parametrize(
    ("now", "until"),
    [
        ("2026-10-24T19:59", None),  # 21:59 CEST: not yet
        ("2026-10-24T20:00", "2026-10-25T06:00"),  # 22:00 CEST; ends 07:00 CET after DST ends
        ("2026-10-25T04:00", "2026-10-25T06:00"),  # after midnight, same period
        ("2026-10-25T06:00", None),  # 07:00 CET: over
        ("2026-03-28T21:30", "2026-03-29T05:00"),  # 22:30 CET; ends 07:00 CEST after DST starts
        ("2026-07-01T12:00", None),
    ],
)
def test_quiet_hours_cross_midnight_and_follow_dst(now: str, until: str | None) -> None:
    assert quiet_until(f"22:00-07:00 {BELGRADE}", utc(now)) == (utc(until) if until else None)


def test_digest_times() -> None:
    assert next_digest("hourly", utc("2026-11-27T10:05")) == utc("2026-11-27T11:00")
    assert next_digest("daily", utc("2026-11-27T06:00"), "08:00", BELGRADE) == utc(
        "2026-11-27T07:00"
    )
    assert next_digest("daily", utc("2026-11-27T07:00"), "08:00", BELGRADE) == utc(
        "2026-11-28T07:00"
    )


def test_release_time_break_through_and_digest_inside_quiet_hours() -> None:
    sub = SubscriberConfig(
        name="s",
        urls=("json://127.0.0.1/x",),
        quiet_hours=f"22:00-07:00 {BELGRADE}",
        break_through=0.95,
    )
    night = utc("2026-11-27T23:00")  # 00:00 CET
    assert release_time(sub, 0.5, night) == utc("2026-11-28T06:00")
    assert release_time(sub, 0.97, night) is None
    assert release_time(sub, 0.5, utc("2026-11-27T12:00")) is None
    hourly = SubscriberConfig(
        name="h",
        urls=("json://127.0.0.1/x",),
        digest="hourly",
        quiet_hours=f"22:00-07:00 {BELGRADE}",
    )
    assert release_time(hourly, 0.9, utc("2026-11-27T12:10")) == utc("2026-11-27T13:00")
    # the hourly digest due at 23:00 UTC (midnight in Belgrade) waits for the quiet end
    assert release_time(hourly, 0.9, utc("2026-11-27T22:10")) == utc("2026-11-28T06:00")


def test_digest_of_200_alerts_fits_telegram_and_lists_every_alert_most_severe_first() -> None:
    alerts = [
        Alert(
            i,
            f"Incident <b>{i}</b> <!channel>",
            "desk",
            utc("2026-11-27T10:00"),
            (i % 100) / 100,
            "terrorism",
            (),
            f"https://e.org/{i}",
            "",
        )
        for i in range(200)
    ]
    messages = render_digest(alerts, "telegram", period="hourly digest")
    assert len(messages) > 1
    bodies = [m.body for m in messages]
    for body in bodies:
        assert len(body.encode("utf-16-le")) // 2 + body.count("\n") <= 4096
        assert "<b>" in body and "&lt;b&gt;" in body and "<!channel>" not in body
    text = "\n".join(bodies)
    for i in range(200):
        assert f'href="https://e.org/{i}"' in text
    first = bodies[0].split("\n")
    assert first[0].startswith("<b>200 alerts (20 HIGH), hourly digest (part 1/")
    assert "0.99" in first[1]


# --- shared rate limits --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
def limiters(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[object, object, Clock]:
    """Two limiters as two worker processes would hold them, sharing one backend."""
    clock = Clock()
    if request.param == "memory":
        one = MemoryRateLimiter(clock)
        return one, one, clock
    if request.param in ("sqlite", "postgresql"):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'limits.db'}"
        else:  # a database of its own: the server's `test` database is shared
            url = request.getfixturevalue("postgres_url")
        a, b = (
            StoreRateLimiter(Store(url), clock),
            StoreRateLimiter(Store(url, create=False), clock),
        )
        return a, b, clock
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", exc)
    prefix = f"newsalert-test:{request.node.name}:".replace("[", "(").replace("]", ")")
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)
    return (
        RedisRateLimiter(REDIS_URL, prefix, clock),
        RedisRateLimiter(REDIS_URL, prefix, clock),
        clock,
    )


def test_token_buckets_are_shared_between_processes(limiters: tuple[object, object, Clock]) -> None:
    a, b, clock = limiters
    chat, bot = Bucket("telegram:chat1", 1.0), Bucket("telegram-bot:b", 30.0, 30.0)
    assert a.acquire([chat, bot]) == 0  # type: ignore[attr-defined]
    wait = b.acquire([chat, bot])  # type: ignore[attr-defined]
    assert wait == pytest.approx(1.0, abs=0.01)
    clock.now += 0.5
    assert b.acquire([chat, bot]) == pytest.approx(0.5, abs=0.01)  # type: ignore[attr-defined]
    clock.now += 0.5
    assert b.acquire([chat, bot]) == 0  # type: ignore[attr-defined]
    # the bot bucket was charged twice, not three times: a refused acquire takes nothing
    other_chat = Bucket("telegram:chat2", 1.0)
    for _ in range(28):
        assert a.acquire([other_chat, bot]) == 0  # type: ignore[attr-defined]
        clock.now += 1.0
    # a 429 with Retry-After pauses the target for every process
    a.pause("telegram:chat1", 120)  # type: ignore[attr-defined]
    assert b.acquire([chat]) == pytest.approx(120, abs=0.01)  # type: ignore[attr-defined]
    clock.now += 121
    assert b.acquire([chat]) == 0  # type: ignore[attr-defined]


# --- through the pipeline --------------------------------------------------------------


def telegram_response(
    status: int, body: dict[str, object], headers: dict[str, str] | None = None
) -> requests.Response:
    return api_response(status, body, headers)


def make_pipeline(
    tmp_path: Path,
    model_dir: Path,
    feed_url: str,
    subscribers: str,
    now: list[datetime],
    inline_wait: float = 2.0,
) -> Pipeline:
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage: {{data_dir: {model_dir}, database_url: "sqlite:///{tmp_path / "db.sqlite"}"}}
            delivery: {{backoff_base: 60, max_inline_wait: {inline_wait}}}
            feeds:
              - {{name: desk, url: "{feed_url}", allow_private: true}}
            subscribers:
            """
        )
        + textwrap.indent(textwrap.dedent(subscribers), "  ")
    )
    loaded = load_config(config)
    return Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])


def test_quiet_hours_hold_alerts_and_send_one_digest_with_break_through(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/feed", body=INCIDENTS)
    night = [utc("2026-11-27T23:30")]  # 00:30 in Belgrade
    pipeline = make_pipeline(
        tmp_path,
        model_dir,
        feed_server.url("/feed"),
        f"""\
        - name: night-desk
          urls: ["{smtp_server.url(to="night@example.org")}"]
          quiet_hours: "22:00-07:00 {BELGRADE}"
        - name: urgent
          urls: ["{smtp_server.url(to="urgent@example.org")}"]
          quiet_hours: "22:00-07:00 {BELGRADE}"
          break_through: 0.0
        """,
        night,
    )
    summary = pipeline.run_once()
    assert summary.relevant == 3 and summary.deliveries_created == 6
    # the break-through subscriber got all three now; the night desk got nothing
    assert sorted(m["To"] for m in smtp_server.messages) == ["urgent@example.org"] * 3
    assert {d.status for d in pipeline.store.list_deliveries() if d.subscriber == "night-desk"} == {
        "held"
    }

    night[0] = utc("2026-11-28T05:59")
    assert pipeline.send_digests() == {}
    night[0] = utc("2026-11-28T06:00")  # 07:00 in Belgrade
    assert pipeline.send_digests() == {"sent": 3}
    [digest] = [m for m in smtp_server.messages if m["To"] == "night@example.org"]
    assert "3 alerts" in digest["Subject"] and "quiet hours" in digest["Subject"]
    body = digest.get_body(("html",)).get_content()
    scores = [float(x.split("</b>")[0].split()[-1]) for x in body.split("<li><b>")[1:]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert html.escape(SEED_TITLE) in body
    assert pipeline.send_digests() == {}  # sent once
    pipeline.close()


def test_one_target_of_three_failing_only_it_is_retried(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/feed", body=rss(("seed-1", SEED_TITLE, SEED_SUMMARY)))
    hooks: list[dict[str, object]] = []
    lock = threading.Lock()

    def webhook(request: Request) -> Response:
        with lock:
            hooks.append({"path": request.path})
        return Response(200, body=b"{}")

    feed_server.handler("/hook", webhook)
    now = [utc("2026-11-27T12:00")]
    pipeline = make_pipeline(
        tmp_path,
        model_dir,
        feed_server.url("/feed"),
        f"""\
        - name: desk
          urls:
            - "{smtp_server.url()}"
            - "tgram://123456:AAHsecretBotToken0123456789abcdefgh/987654"
            - "json://127.0.0.1:{feed_server.port}/hook"
        """,
        now,
    )
    with mock.patch(
        "requests.post", return_value=telegram_response(500, {"ok": False})
    ) as telegram:
        summary = pipeline.run_once()
    assert summary.delivered == {"sent": 2, "failed": 1}
    assert len(smtp_server.messages) == 1 and len(hooks) == 1 and telegram.call_count == 1

    now[0] += timedelta(hours=1)
    with mock.patch(
        "requests.post",
        return_value=telegram_response(200, {"ok": True, "result": {"message_id": 1}}),
    ) as telegram:
        assert pipeline.deliver_due() == {"sent": 1}
    assert telegram.call_count == 1
    assert len(smtp_server.messages) == 1 and len(hooks) == 1  # the others were not sent again
    pipeline.close()


def test_429_retry_after_is_honoured_and_pauses_the_target(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    feed_server.route("/feed", body=INCIDENTS)
    now = [utc("2026-11-27T12:00")]
    pipeline = make_pipeline(
        tmp_path,
        model_dir,
        feed_server.url("/feed"),
        """\
        - name: desk
          urls: ["tgram://123456:AAHsecretBotToken0123456789abcdefgh/987654"]
        """,
        now,
        inline_wait=0,
    )
    limited = telegram_response(
        429, {"ok": False, "parameters": {"retry_after": 120}}, {"Retry-After": "120"}
    )
    with mock.patch("requests.post", return_value=limited) as telegram:
        summary = pipeline.run_once()
    # the first send hit the 429; the other two were not attempted: the chat is paused
    assert telegram.call_count == 1
    assert summary.delivered == {"failed": 1, "throttled": 2}
    rows = pipeline.store.list_deliveries()
    failed = [d for d in rows if d.status == "failed"]
    assert len(failed) == 1 and failed[0].next_attempt_at >= now[0] + timedelta(seconds=120)
    assert all(d.next_attempt_at >= now[0] + timedelta(seconds=100) for d in rows)
    assert {d.attempts for d in rows if d.status == "pending"} == {
        0
    }  # throttling is not a failed attempt
    pipeline.close()


def test_send_test_reports_each_target(
    tmp_path: Path, smtp_server: SMTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            subscribers:
              - name: desk
                urls: ["{smtp_server.url()}", "mailto://127.0.0.1:1?from=a@example.org&to=b@example.org"]
            """
        )
    )
    assert main(["--config", str(config), "send-test", "desk"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok      mailto://127.0.0.1:")
    assert out[1].startswith("FAILED  mailto://127.0.0.1:1") and "Connection refused" in out[1]
    [message] = smtp_server.messages
    # plainly a test, in the subject and the body, and no severity that could alarm anyone
    assert message["Subject"].startswith("[newsalert] TEST: ")
    assert "not an incident" in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "This is a TEST message" in body and "HIGH" not in body + message["Subject"]
    assert main(["--config", str(config), "send-test", "nobody"]) == 2


@pytest.mark.parametrize(
    ("score", "expected"), [(0.95, "failure"), (0.75, "warning"), (0.55, "info")]
)
def test_webhooks_are_told_how_serious_an_alert_is(
    score: float, expected: str, feed_server: FeedServer
) -> None:
    """apprise's notify type follows the severity: a JSON webhook gets "type": "failure" for a
    HIGH alert (it said "info" for everything), so services that route by type work."""
    posted: list[dict] = []

    def hook(h: Any) -> None:
        posted.append(json.loads(h.rfile.read(int(h.headers["Content-Length"]))))
        h.send_response(200)
        h.send_header("Content-Length", "0")
        h.end_headers()

    feed_server.raw("/hook", hook)
    url = feed_server.url("/hook").replace("http://", "json://")
    alert = Alert(
        item_id=3,
        title="Gunmen attack police station",
        source="wire",
        published=None,
        score=score,
        category="armed_conflict",
        reasons=(),
        link=None,
        summary="Three officers were killed.",
    )
    Notifier(timeout=5).send(url, render(alert, channel_family(url)))
    [payload] = posted
    assert payload["type"] == expected
    assert "Gunmen attack police station" in payload["title"] + payload["message"]


INCIDENT_LINK = "https://news.example.org/inc-"


def held_digest(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    now: list[datetime],
    rate_limit: float = 100,
    inline_wait: float = 2.0,
) -> tuple[Pipeline, list[int]]:
    """A Telegram subscriber on an hourly digest holding more alerts than one message
    carries (real incident reports from the packaged training data): the pipeline, and
    the ids of the held deliveries. The digest is due at 13:00."""
    import gzip

    data = Path(__file__).resolve().parent.parent / "src/newsalert/data/train.jsonl.gz"
    with gzip.open(data, "rt", encoding="utf-8") as f:
        rows = [r for r in map(json.loads, f) if r["label"] == 1 and r["title"]][:60]
    feed_server.route(
        "/feed", body=rss(*((f"inc-{n}", r["title"], r["summary"]) for n, r in enumerate(rows)))
    )
    now[0] = utc("2026-11-27T12:10")
    pipeline = make_pipeline(
        tmp_path,
        model_dir,
        feed_server.url("/feed"),
        f"""\
        - name: desk
          urls: ["tgram://123456:AAHsecretBotToken0123456789abcdefgh/987654"]
          digest: hourly
          rate_limit: {rate_limit}
        """,
        now,
        inline_wait=inline_wait,
    )
    pipeline.run_once()
    held = [d.id for d in pipeline.store.list_deliveries(limit=500) if d.status == "held"]
    assert len(held) >= 30  # more than one Telegram message holds
    now[0] = utc("2026-11-27T13:00")
    return pipeline, held


def statuses(pipeline: Pipeline, ids: list[int]) -> dict[str, int]:
    rows = {d.id: d for d in pipeline.store.list_deliveries(limit=500)}
    found: dict[str, int] = {}
    for i in ids:
        found[rows[i].status] = found.get(rows[i].status, 0) + 1
    return found


def listed(texts: list[str]) -> int:
    """How many alerts these Telegram digest messages list."""
    return sum(line.count(f'href="{INCIDENT_LINK}') for text in texts for line in text.split("\n"))


def assert_each_alert_sent_once(pipeline: Pipeline, texts: list[str], held: list[int]) -> None:
    """Every held delivery is sent, and these messages list each of its alerts once."""
    assert statuses(pipeline, held) == {"sent": len(held)}
    text = "\n".join(texts)
    counts = [text.count(f'href="{INCIDENT_LINK}{n}"') for n in range(60)]
    assert sum(counts) == len(held) and set(counts) <= {0, 1}


def test_a_digest_part_that_fails_is_retried_alone_and_the_parts_sent_are_not_sent_again(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """A digest too long for one Telegram message goes in parts; the second part fails
    (a 500). The alerts of the first part are sent and stay sent; the retry carries only
    the others. Every alert reaches the chat exactly once."""
    now = [utc("2026-11-27T12:00")]
    pipeline, held = held_digest(tmp_path, model_dir, feed_server, now)
    sent: list[str] = []  # the text of each message Telegram accepted
    answers = iter([(200, 101), (500, None)])

    def telegram(url: str, data: str = "", **_: object) -> requests.Response:
        status, message_id = next(answers, (200, 200 + len(sent)))
        if status != 200:
            return telegram_response(status, {"ok": False, "description": "Internal error"})
        sent.append(json.loads(data)["text"])
        return telegram_response(200, {"ok": True, "result": {"message_id": message_id}})

    with mock.patch("requests.post", side_effect=telegram) as post:
        counts = pipeline.send_digests()
        assert post.call_count == 2 and len(sent) == 1
        first = listed(sent)
        assert counts == {"sent": first, "held": len(held) - first}
        assert statuses(pipeline, held) == {"sent": first, "held": len(held) - first}
        # the retry, after its backoff: only what the first part did not carry
        now[0] += timedelta(hours=1)
        counts = pipeline.send_digests()
        assert counts == {"sent": len(held) - first} and len(sent) >= 2
    assert pipeline.send_digests() == {}
    assert_each_alert_sent_once(pipeline, sent, held)
    pipeline.close()


def test_a_slow_digest_keeps_its_lease_and_is_not_sent_again_alert_by_alert(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """Each part of a digest takes longer than the delivery lease (120 s). The lease is
    renewed before each part, so the sweep never finds the digest's deliveries due (it
    would send them again one by one) while the digest is still going out."""
    now = [utc("2026-11-27T12:00")]
    pipeline, held = held_digest(tmp_path, model_dir, feed_server, now)
    sent: list[str] = []
    due_meanwhile: list[int] = []

    def slow_telegram(url: str, data: str = "", **_: object) -> requests.Response:
        due_meanwhile.extend(set(pipeline.store.due_delivery_ids(now[0])) & set(held))
        sent.append(json.loads(data)["text"])
        now[0] += timedelta(seconds=150)  # the send outlasts a lease
        return telegram_response(200, {"ok": True, "result": {"message_id": len(sent)}})

    with mock.patch("requests.post", side_effect=slow_telegram):
        assert pipeline.send_digests() == {"sent": len(held)}
    assert len(sent) >= 2 and due_meanwhile == []
    assert_each_alert_sent_once(pipeline, sent, held)
    pipeline.close()


def test_a_digest_throttled_between_parts_holds_the_rest_without_counting_an_attempt(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """The chat's rate limit (one message a minute) would make the second part wait
    longer than the worker waits inline: the first part is sent, the rest is held again
    for when the bucket refills, not slept on past the lease."""
    now = [utc("2026-11-27T12:00")]
    pipeline, held = held_digest(tmp_path, model_dir, feed_server, now, rate_limit=1 / 60)
    sent: list[str] = []

    def telegram(url: str, data: str = "", **_: object) -> requests.Response:
        sent.append(json.loads(data)["text"])
        return telegram_response(200, {"ok": True, "result": {"message_id": len(sent)}})

    with mock.patch("requests.post", side_effect=telegram):
        counts = pipeline.send_digests()
    first = listed(sent)
    assert len(sent) == 1 and counts == {"sent": first, "throttled": len(held) - first}
    rows = {d.id: d for d in pipeline.store.list_deliveries(limit=500)}
    rest = [rows[i] for i in held if rows[i].status == "held"]
    assert len(rest) == len(held) - first and {d.attempts for d in rest} == {0}
    assert min(d.next_attempt_at for d in rest) >= now[0] + timedelta(seconds=30)
    pipeline.close()


def test_a_digest_interrupted_mid_way_marks_what_went_out_and_holds_the_rest(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """A task time limit or a signal between parts: the part sent is marked sent, the
    rest goes back to the hold, and the interruption still propagates."""
    now = [utc("2026-11-27T12:00")]
    pipeline, held = held_digest(tmp_path, model_dir, feed_server, now)
    sent: list[str] = []

    def telegram(url: str, data: str = "", **_: object) -> requests.Response:
        if sent:
            raise KeyboardInterrupt  # not an Exception: nothing on the way catches it
        sent.append(json.loads(data)["text"])
        return telegram_response(200, {"ok": True, "result": {"message_id": 1}})

    with mock.patch("requests.post", side_effect=telegram), pytest.raises(KeyboardInterrupt):
        pipeline.send_digests()
    first = listed(sent)
    assert statuses(pipeline, held) == {"sent": first, "held": len(held) - first}
    assert pipeline.store.due_delivery_ids(now[0] + timedelta(hours=1)) == []  # none leased
    pipeline.close()


def test_a_digest_whose_sender_died_rejoins_the_next_digest_not_sent_one_by_one(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """A worker takes the hourly digest and is killed before it sends (SIGKILL, a hard
    time limit). When its lease runs out, the sweep takes the deliveries back: they go
    back to the hold, flagged ambiguous, and the next digest run sends them as a digest
    again, not as one message per alert."""
    now = [utc("2026-11-27T12:00")]
    pipeline, held = held_digest(tmp_path, model_dir, feed_server, now)
    now[0] = utc("2026-11-27T13:00")  # the digest is due
    lease = pipeline.loaded.config.delivery.lease
    assert len(pipeline.store.lease_group(held, now[0], lease)) == len(held)  # then killed
    now[0] += timedelta(seconds=lease + 1)
    sent: list[str] = []

    def telegram(url: str, data: str = "", **_: object) -> requests.Response:
        sent.append(json.loads(data)["text"])
        return telegram_response(200, {"ok": True, "result": {"message_id": len(sent)}})

    with mock.patch("requests.post", side_effect=telegram):
        due = pipeline.store.due_delivery_ids(now[0], 1000)
        assert sorted(due) == sorted(held)
        assert {pipeline.deliver(i) for i in due} == {"held"} and sent == []
        assert pipeline.send_digests() == {"sent": len(held)}
    assert 2 <= len(sent) < 10  # parts of a digest, not 60 single alerts
    assert_each_alert_sent_once(pipeline, sent, held)
    rows = {d.id: d for d in pipeline.store.list_deliveries(limit=500)}
    # two attempts each: the dead sender's and the digest that went out
    assert {(rows[i].ambiguous, rows[i].attempts) for i in held} == {(True, 2)}
    pipeline.close()


def test_a_break_through_alert_whose_sender_died_is_sent_at_once_not_held(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """Only alerts that would be held now go back to the hold when taken back from a dead
    sender: a break-through alert in the quiet hours still goes out at once, alone."""
    feed_server.route("/feed", body=INCIDENTS)
    night = [utc("2026-11-27T23:30")]  # 00:30 in Belgrade: quiet
    pipeline = make_pipeline(
        tmp_path,
        model_dir,
        feed_server.url("/feed"),
        f"""\
        - name: urgent
          urls: ["{smtp_server.url(to="urgent@example.org")}"]
          quiet_hours: "22:00-07:00 {BELGRADE}"
          break_through: 0.0
        """,
        night,
    )
    pipeline.poll_feeds(["desk"])
    created = list(pipeline.score_pending().delivery_ids)
    assert len(created) == 3
    lease = pipeline.loaded.config.delivery.lease
    for i in created:  # a sender takes them and is killed before it sends
        assert pipeline.store.lease_delivery(i, night[0], lease) is not None
    night[0] += timedelta(seconds=lease + 1)
    assert [pipeline.deliver(i) for i in created] == ["sent"] * 3
    assert [m["To"] for m in smtp_server.messages] == ["urgent@example.org"] * 3
    pipeline.close()


def desk_pipeline(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, url: str, now: list[datetime]
) -> Pipeline:
    """A pipeline polling /feed for one subscriber, "desk", with one target."""
    return make_pipeline(
        tmp_path, model_dir, feed_server.url("/feed"), f"- name: desk\n  urls: [{url!r}]\n", now
    )


def test_a_delivery_that_cannot_be_rendered_is_dead_lettered_not_retried_forever(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rendering fails for one item (a bug, or an operator template that cannot take
    it): that delivery goes to the dead letters with the reason at once, instead of
    staying leased and being taken back after every lease; the others are sent."""
    import newsalert.pipeline as pipeline_module

    feed_server.route("/feed", body=INCIDENTS)
    now = [utc("2026-11-27T12:00")]
    pipeline = desk_pipeline(tmp_path, model_dir, feed_server, smtp_server.url(), now)
    real_render = pipeline_module.render

    def render(alert: Alert, *args: object, **kwargs: object) -> object:
        if "Mogadishu" in alert.title:
            raise IndexError("string index out of range")
        return real_render(alert, *args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(pipeline_module, "render", side_effect=render):
        summary = pipeline.run_once()
    assert summary.delivered == {"sent": 2, "dead": 1}
    [dead] = pipeline.store.list_deliveries("dead")
    assert dead.last_error == "cannot render: IndexError('string index out of range')"
    assert len(smtp_server.messages) == 2
    assert "cannot render" in caplog.text
    now[0] += timedelta(hours=3)
    assert pipeline.deliver_due() == {}  # not taken back after the lease
    pipeline.close()


def test_a_database_error_before_the_send_gives_the_delivery_back_and_propagates(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    """Reading the item fails (the database): the error goes up for the task to retry,
    and the delivery, never sent, is given back at once, not left leased until it is
    taken back as ambiguous."""
    from sqlalchemy.exc import OperationalError

    feed_server.route("/feed", body=rss(("seed-1", SEED_TITLE, SEED_SUMMARY)))
    now = [utc("2026-11-27T12:00")]
    pipeline = desk_pipeline(
        tmp_path,
        model_dir,
        feed_server,
        "mailto://127.0.0.1:9?from=a@example.org&to=b@example.org",
        now,
    )
    pipeline.poll_feeds(["desk"])
    [did] = pipeline.score_pending().delivery_ids
    down = OperationalError("SELECT", {}, Exception("database is locked"))
    with (
        mock.patch.object(pipeline.store, "get_item", side_effect=down),
        pytest.raises(OperationalError),
    ):
        pipeline.deliver(did)
    [row] = pipeline.store.list_deliveries()
    assert (row.status, row.attempts, row.ambiguous) == ("pending", 0, False)
    assert pipeline.store.due_delivery_ids(now[0]) == [did]
    pipeline.close()


def test_a_send_is_recorded_through_a_passing_database_error(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """The e-mail went out, then recording it fails once (the database was locked): the
    mark is tried again, so the row is not left leased to be sent a second time."""
    from sqlalchemy.exc import OperationalError

    feed_server.route("/feed", body=rss(("seed-1", SEED_TITLE, SEED_SUMMARY)))
    now = [utc("2026-11-27T12:00")]
    pipeline = desk_pipeline(tmp_path, model_dir, feed_server, smtp_server.url(), now)
    pipeline.poll_feeds(["desk"])
    [did] = pipeline.score_pending().delivery_ids
    real_mark = pipeline.store.mark_sent
    calls: list[int] = []

    def mark_sent(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        real_mark(*args, **kwargs)  # type: ignore[arg-type]

    with mock.patch.object(pipeline.store, "mark_sent", side_effect=mark_sent):
        assert pipeline.deliver(did) == "sent"
    assert len(calls) == 2 and len(smtp_server.messages) == 1
    [row] = pipeline.store.list_deliveries()
    assert (row.status, row.attempts) == ("sent", 1)
    now[0] += timedelta(hours=1)
    assert pipeline.deliver_due() == {} and len(smtp_server.messages) == 1
    pipeline.close()
