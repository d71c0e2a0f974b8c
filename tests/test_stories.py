"""Stories: one alert per incident, then short updates; near-duplicates never alert again.

End to end: a loopback feed farm publishes one wire story on five feeds under different
titles and links (three carry the agency copy, two their own reports, later), plus an
unrelated incident the same day; a real SMTP server receives what two subscribers get.
Pure parts: MinHash, the clusterer on the labelled set, the update rule, the store index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import requests

from newsalert.cli import main
from newsalert.config import StoriesConfig, load_config
from newsalert.delivery import target_id
from newsalert.models import Alert, Score, StoryUpdate
from newsalert.pipeline import Pipeline
from newsalert.render import render_update
from newsalert.store import PlannedDelivery, Store
from newsalert.stories import (
    DUPLICATE,
    NEW,
    RELATED,
    Assignment,
    Clusterer,
    Incoming,
    MemoryIndex,
    MinHasher,
    Notice,
    Settings,
    StoryDesk,
    UpdatePolicy,
    names,
    route_story,
    shingles,
    similarity,
    stem,
    thread_id,
)
from tests.fakeapi import api_response
from tests.feedserver import FeedServer, Request, Response
from tests.smtpserver import SMTPServer

from .conftest import ROOT

pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

# simulated time, in the past so that `newsalert stories --hours 48` (real time) sees it
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)

WIRE = (
    "Gunmen attacked a police station in the northern Kosovo town of Zvecan early on "
    "Tuesday, killing two officers and wounding three before fleeing towards the Serbian "
    "border, Kosovo police said. The attackers used automatic rifles and hand grenades, and "
    "a manhunt involving special police units and KFOR peacekeepers was under way, a police "
    "spokesman told reporters in Pristina."
)
WIRE_TITLES = {
    "wire-a": "Gunmen kill two police officers in attack on Zvecan station",
    "wire-b": "Kosovo: two officers dead after armed attack on police in Zvecan",
    "wire-c": "Attack on northern Kosovo police station leaves two dead",
}
MOGADISHU = (
    "Car bomb kills six near police station in Mogadishu",
    "A car bomb exploded outside a police station in Mogadishu on Tuesday, killing six "
    "people and wounding more than a dozen; al-Shabab claimed the attack.",
)
MANHUNT = (
    "Zvecan police station attack: manhunt for gunmen continues",
    "Special police units and KFOR troops searched villages around Zvecan on Tuesday for "
    "the gunmen who attacked the town's police station at dawn, killing two officers. "
    "Kosovo's interior minister called the attack an act of terrorism.",
)
TOLL = (
    "Zvecan attack: death toll rises to three, two suspects arrested near border",
    "A third police officer wounded in Tuesday's attack on the police station in Zvecan "
    "has died in hospital, and police arrested two suspects near the Serbian border, "
    "Kosovo's interior minister said. The gunmen had attacked the station with rifles "
    "and grenades.",
)
# the wire-a article edited under a new guid: a few words changed, a sentence added
EDITED = (
    "UPDATED: Gunmen kill two police officers in Zvecan station attack",
    WIRE.replace("killing two officers", "killing two police officers").replace(
        "told reporters in Pristina.", "told reporters in Pristina on Tuesday. More follows."
    ),
)
NOTHING_NEW = (
    "Zvecan police station attack: two officers killed by gunmen",
    "Gunmen attacked the police station in Zvecan on Tuesday and killed two officers, "
    "police said; the search for the attackers continues.",
)


def rss(entries: list[tuple[str, str, str, datetime]]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>https://news.example.org/{guid}?utm_source=rss</link>"
        f"<description>{html.escape(summary)}</description>"
        f"<pubDate>{when.strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for guid, title, summary, when in entries
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{body}</channel></rss>'
    ).encode()


class Farm:
    """Feeds on the loopback feed server whose entries the test changes between polls."""

    NAMES = ("wire-a", "wire-b", "wire-c", "local-d", "local-e", "africa")

    def __init__(self, server: FeedServer) -> None:
        self.entries: dict[str, list[tuple[str, str, str, datetime]]] = {n: [] for n in self.NAMES}
        for name in self.NAMES:
            server.handler(f"/{name}", self._serve(name))
        self.server = server

    def _serve(self, name: str):  # type: ignore[no-untyped-def]
        def answer(_request: Request) -> Response:
            return Response(200, rss(self.entries[name]), {"Content-Type": "application/rss+xml"})

        return answer

    def publish(self, feed: str, guid: str, title: str, summary: str, when: datetime) -> None:
        self.entries[feed].insert(0, (guid, title, summary, when))


def write_config(
    tmp_path: Path,
    model_dir: Path,
    farm: Farm,
    smtp: SMTPServer | None = None,
    *,
    subscribers: str | None = None,
    update_interval: int = 60,
) -> Path:
    """The farm's feeds, and ``subscribers`` (YAML list items, indented four spaces)
    or by default two e-mail subscribers on ``smtp``: everyone and a Zvecan desk."""
    feeds = "".join(
        f"  - name: {n}\n    url: {farm.server.url('/' + n)}\n    allow_private: true\n"
        for n in Farm.NAMES
    )
    if subscribers is None:
        assert smtp is not None
        subscribers = f"""\
            - name: duty
              urls: ["{smtp.url(to="duty@example.org")}"]
              rate_limit: 100
            - name: kosovo-desk
              urls: ["{smtp.url(to="kosovo@example.org")}"]
              keywords: [Zvecan]
              rate_limit: 100
"""
    head = f"""\
        storage:
          data_dir: {model_dir}
          database_url: sqlite:///{tmp_path / "stories.db"}
        stories:
          update_interval_minutes: {update_interval}
        subscribers:
"""
    text = textwrap.dedent(head) + textwrap.indent(textwrap.dedent(subscribers), "  ")
    path = tmp_path / "newsalert.yaml"
    path.write_text(text + "feeds:\n" + feeds, encoding="utf-8")
    return path


def mails(smtp: SMTPServer, to: str) -> list:  # type: ignore[type-arg]
    return [m for m, e in zip(smtp.messages, smtp.envelopes, strict=True) if to in e.rcpt_tos]


def test_five_feeds_one_incident_two_alerts_then_updates_by_the_rules(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    farm = Farm(feed_server)
    config = write_config(tmp_path, model_dir, farm, smtp_server)
    now = [T0]
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])

    # 06:00 the agency copy on three feeds under three titles, and an unrelated incident
    for n, (feed, title) in enumerate(WIRE_TITLES.items()):
        farm.publish(feed, f"{feed}-1", title, WIRE, T0 - timedelta(minutes=30 - n))
    farm.publish("africa", "africa-1", *MOGADISHU, T0 - timedelta(minutes=10))
    summary = pipeline.run_once()
    assert summary.new_items == 4 and summary.relevant == 4
    duty = mails(smtp_server, "duty@example.org")
    assert sorted(m["Subject"].split(": ", 1)[1] for m in duty) == sorted(
        [WIRE_TITLES["wire-a"], MOGADISHU[0]]
    )
    [desk] = mails(smtp_server, "kosovo@example.org")
    first = {m["Subject"]: m for m in duty}
    [zvecan] = [m for m in duty if "Zvecan" in m["Subject"]]
    thread = zvecan["References"]
    assert thread.startswith("<story-") and desk["References"] != thread  # per target
    [mogadishu] = [m for m in duty if "Mogadishu" in m["Subject"]]
    assert mogadishu["References"] != thread  # another story

    # 06:20 a local paper's own report: same story, but within the update interval
    now[0] = T0 + timedelta(minutes=20)
    farm.publish("local-d", "local-d-1", *MANHUNT, now[0] - timedelta(minutes=5))
    assert pipeline.run_once().new_items == 1
    assert len(smtp_server.messages) == 3

    # 07:10 another outlet: five sources now, and news (toll, arrests): one update each
    now[0] = T0 + timedelta(minutes=70)
    farm.publish("local-e", "local-e-1", *TOLL, now[0] - timedelta(minutes=5))
    assert pipeline.run_once().new_items == 1
    duty = mails(smtp_server, "duty@example.org")
    assert len(duty) == 3 and len(mails(smtp_server, "kosovo@example.org")) == 2
    update = duty[-1]
    assert update["Subject"] == f"Re: {zvecan['Subject']}"
    # it answers the e-mail the subscriber got; the story's id stays the thread's root
    assert update["In-Reply-To"] == zvecan["Message-ID"]
    assert update["References"] == f"{thread} {zvecan['Message-ID']}"
    text = update.get_body(("plain",)).get_content()
    assert "now 5 sources" in text and "arrested" in text
    assert TOLL[0] in text and "https://news.example.org/local-e-1" in text
    assert "wire-a, wire-b, wire-c, local-d, local-e" in text
    # the update says where, as the first alert did
    assert "Where: Zvečan, Kosovo" in text
    assert "Where: Zvečan, Kosovo" in zvecan.get_body(("plain",)).get_content()

    # 07:20 wire-a edits its article under a new guid: a near-duplicate, never an alert
    now[0] = T0 + timedelta(minutes=80)
    farm.publish("wire-a", "wire-a-2", *EDITED, now[0] - timedelta(minutes=1))
    assert pipeline.run_once().new_items == 1
    assert len(smtp_server.messages) == 5

    # 08:40 (past the interval) a report that adds nothing: no update
    now[0] = T0 + timedelta(minutes=160)
    farm.publish("local-d", "local-d-2", *NOTHING_NEW, now[0] - timedelta(minutes=1))
    assert pipeline.run_once().new_items == 1
    assert len(smtp_server.messages) == 5
    assert set(first) <= {m["Subject"] for m in smtp_server.messages}

    index = pipeline.stories.index
    story_id = int(thread.split("-")[1].split(".")[0])
    kinds = {row.feed + ":" + row.kind for row in index.members([story_id])[story_id]}
    assert kinds == {
        "wire-a:new",
        "wire-b:duplicate",
        "wire-c:duplicate",
        "local-d:related",
        "local-e:related",
        "wire-a:duplicate",
    }
    [story] = [s for s in index.recent(T0 - timedelta(hours=1)) if s.id == story_id]
    assert story.item_count == 7 and len(story.sources) == 5
    assert len(index.recent(T0 - timedelta(hours=1))) == 2
    pipeline.close()

    assert main(["--config", str(config), "stories", "--hours", "48"]) == 0
    out = capsys.readouterr().out
    assert f"story {story_id}" in out and "7 items, 5 sources" in out
    assert "wire-a, wire-b, wire-c, local-d, local-e" in out
    assert "duplicate" in out and MOGADISHU[0] in out


def test_updates_held_for_a_digest_say_they_are_updates(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """Quiet hours hold a story's first alert and its later update; the digest sent when
    they end lists the update as one, with what it adds, and counts it apart."""
    farm = Farm(feed_server)
    quiet = f"{(T0 - timedelta(minutes=5)):%H:%M}-{(T0 + timedelta(hours=2)):%H:%M} UTC"
    config = write_config(
        tmp_path,
        model_dir,
        farm,
        subscribers=f"""\
            - name: night
              urls: ["{smtp_server.url(to="night@example.org")}"]
              quiet_hours: "{quiet}"
              rate_limit: 100
""",
        update_interval=30,
    )
    now = [T0]
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])
    for n, (feed, title) in enumerate(WIRE_TITLES.items()):
        farm.publish(feed, f"{feed}-1", title, WIRE, T0 - timedelta(minutes=30 - n))
    farm.publish("africa", "africa-1", *MOGADISHU, T0 - timedelta(minutes=10))
    pipeline.run_once()
    now[0] = T0 + timedelta(minutes=70)
    farm.publish("local-e", "local-e-1", *TOLL, now[0] - timedelta(minutes=5))
    pipeline.run_once()
    assert smtp_server.messages == []  # all held

    now[0] = T0 + timedelta(minutes=130)  # quiet hours are over
    pipeline.run_once()
    [digest] = smtp_server.messages
    assert "2 alerts (2 HIGH) and 1 update" in digest["Subject"]
    body = digest.get_body(("plain",)).get_content()
    assert f"Update: {TOLL[0]} (" in body and "arrested" in body.split(TOLL[0])[1]
    assert WIRE_TITLES["wire-a"] in body and MOGADISHU[0] in body
    assert f"Update: {WIRE_TITLES['wire-a']}" not in body
    pipeline.close()


TELEGRAM_BOT = "tgram://123456:ABCdef"


def test_telegram_updates_reply_to_the_first_alert_of_the_same_chat(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    classifier: object,
) -> None:
    """The story of the first test, told to two Telegram chats (Telegram's Bot API faked at
    the HTTP layer): each chat's update is a reply to that chat's first alert."""
    farm = Farm(feed_server)
    config = write_config(
        tmp_path,
        model_dir,
        farm,
        subscribers=f"""\
            - name: duty
              urls: ["{TELEGRAM_BOT}/987654"]
              rate_limit: 100
            - name: kosovo-desk
              urls: ["{TELEGRAM_BOT}/555"]
              keywords: [Zvecan]
              rate_limit: 100
""",
    )
    sent: list[dict[str, object]] = []  # each sendMessage payload; its message_id is 100 + n

    def telegram(url: str, data: str = "", **_: object) -> requests.Response:
        assert url == "https://api.telegram.org/bot123456:ABCdef/sendMessage"
        sent.append(json.loads(data))
        return api_response(
            200, {"ok": True, "result": {"message_id": 100 + len(sent), "chat": {"id": 1}}}
        )

    now = [T0]
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])
    with mock.patch("requests.post", side_effect=telegram):
        # 06:00 the agency copy on three feeds, and an unrelated incident
        for n, (feed, title) in enumerate(WIRE_TITLES.items()):
            farm.publish(feed, f"{feed}-1", title, WIRE, T0 - timedelta(minutes=30 - n))
        farm.publish("africa", "africa-1", *MOGADISHU, T0 - timedelta(minutes=10))
        pipeline.run_once()
        assert len(sent) == 3 and not any("reply_parameters" in p for p in sent)
        first = {  # chat -> message_id of its Zvecan alert
            p["chat_id"]: 101 + n for n, p in enumerate(sent) if "Mogadishu" not in str(p["text"])
        }
        assert set(first) == {987654, 555}
        assert len(set(first.values())) == 2
        # 06:20 a report within the update interval: nothing
        now[0] = T0 + timedelta(minutes=20)
        farm.publish("local-d", "local-d-1", *MANHUNT, now[0] - timedelta(minutes=5))
        pipeline.run_once()
        assert len(sent) == 3
        # 07:10 five sources and news: one update per chat, a reply to its own first alert
        now[0] = T0 + timedelta(minutes=70)
        farm.publish("local-e", "local-e-1", *TOLL, now[0] - timedelta(minutes=5))
        pipeline.run_once()
    pipeline.close()
    updates = assert_replies(sent[3:], {c: first[c] for c in (555, 987654)}, "now 5 sources")
    for update in updates:
        text = str(update["text"])
        assert f"<b>{TOLL[0]}</b>" in text and "https://news.example.org/local-e-1" in text


SLACK_BOT = "slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d"


def assert_replies(
    sent: list[dict[str, object]], replied: dict[int, int], what: str
) -> list[dict[str, object]]:
    """The Telegram updates, one per chat of ``replied`` (chat: the message id each must
    reply to), exactly as sent but for their text, which is an update saying ``what``."""
    updates = sorted(sent, key=lambda p: str(p["chat_id"]))
    assert [{k: v for k, v in p.items() if k != "text"} for p in updates] == [
        {
            "chat_id": chat,
            "parse_mode": "HTML",
            "disable_notification": False,
            "disable_web_page_preview": True,
            "reply_parameters": {"message_id": message, "allow_sending_without_reply": True},
        }
        for chat, message in sorted(replied.items(), key=lambda kv: str(kv[0]))
    ]
    for update in updates:
        text = str(update["text"])
        assert text.startswith("<b>Update:</b> ") and what in text
    return updates


def test_updates_answer_the_digest_that_carried_the_first_alert(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """A story's first alert goes out in a digest (after quiet hours; an hourly digest):
    its update answers the digest message that listed it. E-mail: that message's
    Message-ID; Telegram (two chats on one URL): in each chat, that chat's digest message;
    Slack (a bot token): the digest's thread. Both APIs are faked at the HTTP layer."""
    farm = Farm(feed_server)
    quiet = f"{(T0 - timedelta(minutes=5)):%H:%M}-{(T0 + timedelta(hours=1)):%H:%M} UTC"
    config = write_config(
        tmp_path,
        model_dir,
        farm,
        subscribers=f"""\
            - name: night
              urls:
                - "{smtp_server.url(to="night@example.org")}"
                - "{TELEGRAM_BOT}/987654/555"
                - "{SLACK_BOT}/#night?footer=no&image=no"
              quiet_hours: "{quiet}"
              rate_limit: 100
            - name: hourly
              urls: ["{TELEGRAM_BOT}/777"]
              digest: hourly
              rate_limit: 100
""",
        update_interval=30,
    )
    telegram: list[dict[str, object]] = []  # each sendMessage payload; message_id 100 + n
    slack: list[dict[str, object]] = []  # each chat.postMessage payload; ts 1700000000.n

    def fake_telegram(url: str, data: str = "", **_: object) -> requests.Response:
        assert url == "https://api.telegram.org/bot123456:ABCdef/sendMessage"
        telegram.append(json.loads(data))
        return api_response(200, {"ok": True, "result": {"message_id": 100 + len(telegram)}})

    def fake_slack(method: str, url: str, data: str = "", **_: object) -> requests.Response:
        assert (method, url) == ("post", "https://slack.com/api/chat.postMessage")
        slack.append(json.loads(data))
        return api_response(
            200, {"ok": True, "channel": "C0NIGHT", "ts": f"1700000000.{len(slack)}"}
        )

    now = [T0]
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])
    with (
        mock.patch("requests.post", side_effect=fake_telegram),
        mock.patch("requests.request", side_effect=fake_slack),
    ):
        # 06:00 the agency copy on three feeds, and an unrelated incident: all held
        for n, (feed, title) in enumerate(WIRE_TITLES.items()):
            farm.publish(feed, f"{feed}-1", title, WIRE, T0 - timedelta(minutes=30 - n))
        farm.publish("africa", "africa-1", *MOGADISHU, T0 - timedelta(minutes=10))
        pipeline.run_once()
        assert telegram == slack == smtp_server.messages == []
        # 07:05 quiet hours are over, and the hour's digest is due: one digest per target
        now[0] = T0 + timedelta(minutes=65)
        pipeline.run_once()
        assert all(str(p["text"]).startswith("<b>2 alerts (2 HIGH)") for p in telegram)
        digests = {p["chat_id"]: 101 + n for n, p in enumerate(telegram)}  # chat -> message_id
        assert set(digests) == {987654, 555, 777} and len(telegram) == 3
        [slack_digest] = slack
        [mail_digest] = smtp_server.messages
        assert "2 alerts (2 HIGH)" in mail_digest["Subject"]
        # 07:10 four sources and news: "night" gets the update at once, "hourly" at 08:00
        now[0] = T0 + timedelta(minutes=70)
        farm.publish("local-e", "local-e-1", *TOLL, now[0] - timedelta(minutes=5))
        pipeline.run_once()
        assert len(telegram) == 5 and len(slack) == 2 and len(smtp_server.messages) == 2
        now[0] = T0 + timedelta(minutes=125)
        pipeline.run_once()  # the hour's digest holds the update alone: sent as an update
    [story] = [
        s
        for s in pipeline.stories.index.recent(T0 - timedelta(hours=1))
        if s.title == WIRE_TITLES["wire-a"]
    ]
    pipeline.close()

    assert_replies(telegram[3:], {c: digests[c] for c in (555, 777, 987654)}, "now 4 sources")
    assert slack_digest["channel"] == "#night" and "thread_ts" not in slack_digest
    [slack_update] = slack[1:]
    assert {k: v for k, v in slack_update.items() if k != "attachments"} == {
        "mrkdwn": True,
        "channel": "#night",
        "thread_ts": "1700000000.1",
    }
    assert "now 4 sources" in json.dumps(slack_update["attachments"])
    root = thread_id(story, target_id(smtp_server.url(to="night@example.org")))
    update = smtp_server.messages[1]
    assert update["In-Reply-To"] == mail_digest["Message-ID"]
    assert update["References"] == f"{root} {mail_digest['Message-ID']}"
    assert "now 4 sources" in update.get_body(("plain",)).get_content()


# --- near-duplicates ------------------------------------------------------------------------


def test_minhash_estimates_jaccard_and_bands_find_near_duplicates() -> None:
    hasher = MinHasher()
    edited = EDITED[0] + "\n" + EDITED[1]
    texts = [WIRE_TITLES["wire-a"] + "\n" + WIRE, edited, MANHUNT[0] + "\n" + MANHUNT[1]]
    sets = [shingles(t) for t in texts]
    sigs = hasher.signatures([*sets, np.zeros(0, dtype=np.uint64)])
    exact = len(set(sets[0]) & set(sets[1])) / len(set(sets[0]) | set(sets[1]))
    assert abs(similarity(sigs[0], sigs[1]) - exact) < 0.15 and exact > 0.6
    assert similarity(sigs[0], sigs[2]) < 0.2
    keys = hasher.band_keys(sigs)
    assert keys.shape == (4, 16) and keys.dtype == np.int64
    assert set(keys[0].tolist()) & set(keys[1].tolist())
    assert not set(keys[0].tolist()) & set(keys[2].tolist())
    # the same in every process: fixed seeds, crc32 word hashes
    assert MinHasher().signatures([sets[0]]).tolist() == sigs[:1].tolist()


def test_text_helpers() -> None:
    assert [stem(w) for w in ("attacks", "attacked", "attacking", "police's")] == [
        "attack",
        "attack",
        "attack",
        "police",
    ]
    found = names("ZVECAN, Kosovo (AP) - Gunmen attacked a station. Police said KFOR helped.")
    assert {"zvecan", "kosovo", "kfor"} <= found and "gunmen" not in found


def incoming(
    n: int, feed: str, title: str, summary: str, minutes: int = 0, link: str | None = None
) -> Incoming:
    return Incoming(
        n, feed, title, summary, link, T0 + timedelta(minutes=minutes), 0.9, "terrorism"
    )


def test_clusterer_duplicates_related_reports_other_incidents_and_the_window() -> None:
    clusterer = Clusterer()
    index = MemoryIndex()
    batch = [
        incoming(1, "wire-a", WIRE_TITLES["wire-a"], WIRE),
        incoming(2, "wire-b", WIRE_TITLES["wire-b"], WIRE, 1),
        incoming(3, "africa", *MOGADISHU, 2),
        incoming(4, "local-d", *MANHUNT, 20),
    ]
    out, changes = clusterer.assign(batch, index)
    index.apply(changes)
    assert [(a.kind, a.story_id) for a in out] == [(NEW, 1), (DUPLICATE, 1), (NEW, 3), (RELATED, 1)]
    assert out[1].duplicate_of == 1 and out[3].sources == ("wire-a", "wire-b", "local-d")
    # the same link on another feed is a duplicate whatever its text
    link = "https://news.example.org/x"
    out, changes = clusterer.assign(
        [incoming(5, "agg", "Flood warning on the Sava", "Levels rise.", 30, link)], index
    )
    index.apply(changes)
    assert out[0].kind == NEW
    out, _ = clusterer.assign([incoming(6, "agg2", "Other words", "Entirely.", 31, link)], index)
    assert (out[0].kind, out[0].duplicate_of) == (DUPLICATE, 5)
    # a later report of the story names what it adds (as its title wrote it)
    out, changes = clusterer.assign([incoming(7, "local-e", *TOLL, 70)], index)
    assert out[0].kind == RELATED and {"toll", "arrested", "suspects"} <= set(out[0].new_terms)
    index.apply(changes)
    # four days later, the same wire copy starts a new story: the window is 72 hours
    out, _ = clusterer.assign(
        [incoming(8, "wire-c", WIRE_TITLES["wire-c"], WIRE, 4 * 24 * 60)], index
    )
    assert out[0].kind == NEW


def labelled() -> list[dict[str, str]]:
    path = ROOT / "tests" / "data" / "stories" / "labelled.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_labelled_reports_cluster_within_the_measured_error() -> None:
    """Regression guard on the labelled set (bench/stories.py prints the full table)."""
    rows = labelled()
    clusterer = Clusterer()
    index = MemoryIndex()
    story: dict[int, int] = {}
    for start in range(0, len(rows), 50):
        batch = [
            Incoming(i, f"f{i % 7}", rows[i]["title"], rows[i]["summary"], None, T0)
            for i in range(start, min(start + 50, len(rows)))
        ]
        out, changes = clusterer.assign(batch, index)
        index.apply(changes)
        story.update({a.item_id: a.story_id for a in out})
    same = wrong = missed = 0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            a, b = rows[i], rows[j]
            if a["event"] == b["event"]:
                same += 1
                missed += story[i] != story[j]
            elif not (a["thread"] and a["thread"] == b["thread"]):
                wrong += story[i] == story[j]
    # bench/stories.py, similarity 0.4 (the default), mean of three orders: 88.7 of 170
    # same-event pairs missed, 11 different-event pairs merged
    assert same == 170
    assert missed <= 110, missed
    assert wrong <= 25, wrong


# --- the update rule ------------------------------------------------------------------------


def assignment(
    kind: str = RELATED, sources: int = 2, new_terms: tuple[str, ...] = ()
) -> Assignment:
    feeds = tuple(f"feed{i}" for i in range(sources))
    return Assignment(9, 1, kind, 0.5, None, "Story", feeds, sources, new_terms)


PLANS = [
    PlannedDelivery("duty", "t1", "mailto://***"),
    PlannedDelivery("duty", "t2", "tgram://***"),
]


def test_update_rule() -> None:
    policy = UpdatePolicy()
    now = T0 + timedelta(hours=2)
    told = Notice(1, "duty", 1, T0, sources=2, score=0.8)
    # first relevant item of the story for this subscriber: an alert on every target
    keep, notices = route_story(assignment(NEW, 1), 0.8, PLANS, {}, now, policy)
    assert [(p.kind, p.story_id) for p in keep] == [("alert", 1), ("alert", 1)]
    assert notices["duty"].first_item_id == 9 and notices["duty"].sources == 1
    # a near-duplicate: never again (no update, whatever it adds) ...
    dup = assignment(DUPLICATE, 9, ("toll", "arrested"))
    assert route_story(dup, 1.0, PLANS, {"duty": told}, now, policy) == ([], {})
    # ... but the first time for a subscriber whose filters let the original pass by
    assert [p.kind for p in route_story(dup, 1.0, PLANS, {}, now, policy)[0]] == ["alert"] * 2
    # nothing new: no update
    assert route_story(assignment(sources=2), 0.85, PLANS, {"duty": told}, now, policy)[0] == []
    # a milestone, a higher score, new words: each is news
    for a, score, change in [
        (assignment(sources=3), 0.8, "now 3 sources"),
        (assignment(sources=2), 0.95, "score up from 0.80 to 0.95"),
        (assignment(new_terms=("toll", "arrested")), 0.8, "new: toll, arrested"),
    ]:
        keep, notices = route_story(a, score, PLANS, {"duty": told}, now, policy)
        assert [p.kind for p in keep] == ["update", "update"] and keep[0].changes == (change,)
        assert notices["duty"].last_at == now and notices["duty"].updates == 1
    # but never twice within the interval
    recent = Notice(1, "duty", 1, now - timedelta(minutes=59), sources=2, score=0.8)
    assert route_story(assignment(sources=10), 1.0, PLANS, {"duty": recent}, now, policy)[0] == []
    # another subscriber not told yet gets the alert
    other = [PlannedDelivery("desk", "t3", "x")]
    keep, _ = route_story(assignment(sources=2), 0.8, other, {"duty": told}, now, policy)
    assert [p.kind for p in keep] == ["alert"]


def test_update_messages_fit_each_family_and_neutralise_feed_text() -> None:
    alert = Alert(
        7,
        "Toll rises <b>\r\nBcc: x@y",
        "local-e",
        T0,
        0.93,
        "terrorism",
        (),
        "https://e.org/a",
        "word " * 3000,
    )
    update = StoryUpdate(
        alert, 1, "Zvecan <!channel>", ("a", "b"), 4, ("now 5 sources",), "[newsalert] X"
    )
    email = render_update(update, "email")
    assert email.title == "Re: [newsalert] X" and "\n" not in email.title
    assert "&lt;b&gt;" in email.body and "now 5 sources" in (email.attach_text or "")
    assert len(render_update(update, "telegram").body) < 4096
    slack = render_update(update, "slack")
    assert "<!channel>" not in slack.body and len(slack.body) < 3000
    assert render_update(update, "text").title == "[newsalert] Update: Zvecan <!channel>"


# --- the store --------------------------------------------------------------------------------


def test_only_items_that_can_alert_join_stories_and_the_earliest_starts_one(
    tmp_path: Path,
) -> None:
    """An item neither relevant nor routed to anyone is not clustered (no story, no
    rows); among the others the earliest report starts the story, whatever order the
    batch came in (feeds of one batch are fetched at once and finish in any order)."""
    from newsalert.models import Item

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.sync_feeds([(n, f"https://{n}.example/rss") for n in ("wire-b", "wire-a", "sport")])
    ids = [
        store.add_items(store.feed_state(feed).id, [Item(key, feed, title, text, None, when)], T0)[
            0
        ]
        for feed, key, title, text, when in [
            ("wire-b", "b1", WIRE_TITLES["wire-b"], WIRE, T0 - timedelta(minutes=5)),
            ("sport", "s1", "Late winner for United", "United beat Chelsea 2-1.", T0),
            ("wire-a", "a1", WIRE_TITLES["wire-a"], WIRE, T0 - timedelta(minutes=30)),
        ]
    ]
    desk = StoryDesk(store, Settings(window=timedelta(hours=72)))
    hot, cold = Score(0.9, True, "terrorism", 0.9), Score(0.05, False, "none", 0.05)
    route = [PlannedDelivery("duty", "t1", "x")]
    stored = store.get_items(ids)
    plan = desk.plan(stored, [hot, cold, hot], [route, [], route], T0)
    # what a worker prepares before the lock plans the same
    prepared = desk.prepare(stored, [hot, cold, hot], [route, [], route], T0)
    assert prepared is not None and prepared.chosen == [2, 0]
    again = desk.plan(stored, [hot, cold, hot], [route, [], route], T0, prepared)
    assert again.assignments == plan.assignments and again.deliveries == plan.deliveries
    assert desk.prepare(stored, [cold, cold, cold], [[], [], []], T0) is None
    by_item = {a.item_id: a for a in plan.assignments}
    assert set(by_item) == {ids[0], ids[2]}  # the sports item is in no story
    assert by_item[ids[2]].kind == NEW and by_item[ids[0]].kind == DUPLICATE  # wire-a first
    assert by_item[ids[0]].story_id == ids[2]
    assert [[p.kind for p in d] for d in plan.deliveries] == [[], [], ["alert"]]
    assert all(item != ids[1] for _, item, _, _ in plan.changes.keys)
    store.close()


def test_two_workers_scoring_one_incident_at_once_start_one_story(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    classifier: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers (two pipelines, two stores, one database) score two reports of one
    incident at the same moment. Each plans its batch and then waits for the other at a
    barrier before writing: without the store's story lock both find no story, both
    start one and the subscriber is alerted twice. With it the second waits, plans
    after the first committed and joins its story."""
    import threading

    from newsalert.models import Item

    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {model_dir}
              database_url: {database_url}
            subscribers:
              - name: duty
                urls: ["mailto://127.0.0.1:9?from=a@example.org&to=duty@example.org"]
            feeds:
              - name: wire-a
                url: https://a.example/rss
              - name: wire-b
                url: https://b.example/rss
            """
        ),
        encoding="utf-8",
    )
    loaded = load_config(config)
    pipelines = [Pipeline(loaded, Store(loaded.database_url)) for _ in range(2)]
    store = pipelines[0].store
    ids = [
        store.add_items(
            store.feed_state(feed).id,
            [Item(f"{feed}-1", feed, WIRE_TITLES[feed], WIRE, None, T0 - timedelta(minutes=m))],
            T0,
        )[0]
        for feed, m in (("wire-a", 30), ("wire-b", 29))
    ]
    for p in pipelines:
        p.scorer()  # load the model before the race
    barrier = threading.Barrier(2)
    plan = StoryDesk.plan

    def plan_then_meet(self: StoryDesk, *args: object, **kwargs: object) -> object:
        planned = plan(self, *args, **kwargs)  # type: ignore[arg-type]
        # broken when the other worker is waiting for the lock instead of here
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        return planned

    monkeypatch.setattr(StoryDesk, "plan", plan_then_meet)
    # features and signatures are computed before the lock: the other worker need not wait
    locked: set[int] = set()
    exclusive, features_of = Store.exclusive, Clusterer.features_of
    featured_under_lock: list[bool] = []

    @contextlib.contextmanager
    def exclusive_noted(self: Store, name: str) -> Iterator[None]:
        with exclusive(self, name):
            locked.add(threading.get_ident())
            try:
                yield
            finally:
                locked.discard(threading.get_ident())

    def features_noted(self: Clusterer, texts: object) -> object:
        featured_under_lock.append(threading.get_ident() in locked)
        return features_of(self, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "exclusive", exclusive_noted)
    monkeypatch.setattr(Clusterer, "features_of", features_noted)
    outcomes: list[object] = []
    threads = [
        threading.Thread(target=lambda p=p, i=i: outcomes.append(p.score_items([i])))
        for p, i in zip(pipelines, ids, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2
    assert sum(len(o.delivery_ids) for o in outcomes) == 1  # type: ignore[attr-defined]
    stories = pipelines[0].stories.index.recent(T0 - timedelta(hours=1))
    assert len(stories) == 1 and stories[0].item_count == 2
    assert featured_under_lock == [False, False]
    for p in pipelines:
        p.close()
        p.store.close()


def test_story_index_in_the_store_round_trips_and_prunes(database_url: str) -> None:
    from newsalert.models import Item

    store = Store(database_url)
    store.sync_feeds([("wire-a", "https://a.example/rss"), ("local-d", "https://d.example/rss")])
    ids = store.add_items(
        store.feed_state("wire-a").id,
        [Item("k1", "wire-a", WIRE_TITLES["wire-a"], WIRE, "https://a.example/1", T0)],
        T0,
    ) + store.add_items(
        store.feed_state("local-d").id,
        [Item("k2", "local-d", *MANHUNT, "https://d.example/2", T0)],
        T0,
    )
    desk = StoryDesk(store, Settings(window=timedelta(hours=72)))
    score = Score(0.9, True, "terrorism", 0.9)
    stored = store.get_items(ids)
    plans = [[PlannedDelivery("duty", "t1", "x")], [PlannedDelivery("duty", "t1", "x")]]
    plan = desk.plan(stored, [score, score], plans, T0)
    assert [a.kind for a in plan.assignments] == [NEW, RELATED]
    assert [[p.kind for p in d] for d in plan.deliveries] == [["alert"], []]
    created = store.save_scores(
        [(s.id, score, d) for s, d in zip(stored, plan.deliveries, strict=True)],
        T0,
        also=plan.write,
    )
    assert len(created) == 1
    assert desk.index.delivery_story(created[0]) == (ids[0], "alert", ())
    [state] = desk.index.stories([ids[0]]).values()
    assert state.sources == ["wire-a", "local-d"] and state.item_count == 2
    assert desk.index.notices([ids[0]])[ids[0]]["duty"].first_item_id == ids[0]
    # a fresh index (another process) finds the story by its keys
    hits = desk.index.lookup([k for k, *_ in plan.changes.keys], T0 - timedelta(hours=1))
    assert {h.story_id for found in hits.values() for h in found} == {ids[0]}
    assert set(desk.index.signatures(ids)) == {ids[0], ids[1]}
    # a worker that planned the same story as new, after another had written it: its
    # member rows (already there) are skipped and the story row becomes an update, in
    # one transaction that still commits (PostgreSQL inserts by COPY: a failed COPY
    # must leave the transaction usable)
    again = dataclasses.replace(state, item_count=3, peak_score=0.95, created=True)
    with store.begin() as conn:
        desk.index.write(
            conn,
            plan.changes.__class__(members=plan.changes.members, stories={ids[0]: again}),
            [],
            set(ids),
            T0,
        )
    [state] = desk.index.stories([ids[0]]).values()
    assert (state.item_count, state.peak_score) == (3, 0.95)
    with store.begin() as conn:
        kinds = conn.exec_driver_sql("SELECT item_id, kind FROM story_items").all()
    assert sorted(kinds) == sorted((m.item_id, m.kind) for m in plan.changes.members)
    # keys older than the window are pruned on the next write
    later = T0 + timedelta(hours=80)
    with store.begin() as conn:
        desk.index._pruned_at = None
        desk.index.write(conn, plan.changes.__class__(), [], set(), later)
    assert desk.index.lookup([k for k, *_ in plan.changes.keys], T0 - timedelta(days=9)) == {}
    store.close()


def test_remote_id_is_written_with_mark_sent_and_found_for_the_same_target(
    database_url: str,
) -> None:
    from sqlalchemy import select

    from newsalert.models import Item
    from newsalert.store import sent_messages

    store = Store(database_url)
    store.sync_feeds([("wire-a", "https://a.example/rss")])
    fid = store.feed_state("wire-a").id
    first, later, other = store.add_items(
        fid,
        [
            Item("k1", "wire-a", WIRE_TITLES["wire-a"], WIRE, "https://a.example/1", T0),
            Item("k2", "wire-a", *TOLL, "https://a.example/2", T0),
            Item("k3", "wire-a", *MOGADISHU, "https://a.example/3", T0),
        ],
        T0,
    )
    score = Score(0.9, True, "terrorism", 0.9)
    story, elsewhere = first, other  # a story's id is its first item's

    def plan(target: str, kind: str = "alert", story_id: int = story) -> PlannedDelivery:
        return PlannedDelivery("duty", target, "tgram://***", story_id=story_id, kind=kind)

    alert_t1, alert_t2, alert_t3, desk_t1 = store.save_scores(
        [
            (
                first,
                score,
                [
                    plan("t1"),
                    plan("t2"),
                    plan("t3"),
                    PlannedDelivery("desk", "t1", "x", story_id=story),
                ],
            )
        ],
        T0,
    )
    update_t1, update_t2 = store.save_scores(
        [(later, score, [plan("t1", "update"), plan("t2", "update")])], T0
    )
    [other_t1] = store.save_scores([(other, score, [plan("t1", story_id=elsewhere)])], T0)
    index = StoryDesk(store).index

    def send(delivery_id: int, remote_id: str | None) -> None:
        assert store.lease_delivery(delivery_id, T0, lease=60) is not None
        store.mark_sent(delivery_id, T0, remote_id=remote_id)

    assert index.first_alert_remote_id(story, "duty", "t1") is None  # not sent yet
    send(alert_t1, "101")
    send(alert_t2, None)  # a service that gives no id
    send(desk_t1, "301")
    send(update_t1, "999")  # an update is not what later updates answer...
    send(update_t2, "998")  # ...even when the alert has no id
    send(other_t1, "401")
    # a sender's lease runs out and another takes the row and marks it: the late mark of
    # the first changes nothing
    assert store.lease_delivery(alert_t3, T0, lease=60) is not None
    assert store.lease_delivery(alert_t3, T0 + timedelta(seconds=61), lease=60) is not None
    store.mark_sent(alert_t3, T0, remote_id="202")
    store.mark_sent(alert_t3, T0, remote_id="201")
    store.mark_sent(alert_t1, T0, remote_id="102")  # marked twice: the first mark stands

    assert index.first_alert_remote_id(story, "duty", "t1") == "101"
    assert index.first_alert_remote_id(story, "duty", "t2") is None
    assert index.first_alert_remote_id(story, "duty", "t3") == "202"
    assert index.first_alert_remote_id(story, "desk", "t1") == "301"
    assert index.first_alert_remote_id(story, "desk", "t2") is None
    assert index.first_alert_remote_id(elsewhere, "duty", "t1") == "401"
    with store.engine.connect() as conn:
        rows = conn.execute(select(sent_messages.c.delivery_id, sent_messages.c.remote_id))
        found = sorted(tuple(r) for r in rows)
    assert found == sorted(
        [
            (alert_t1, "101"),
            (alert_t3, "202"),
            (desk_t1, "301"),
            (update_t1, "999"),
            (update_t2, "998"),
            (other_t1, "401"),
        ]
    )
    store.close()


def test_digest_sent_keeps_the_id_of_the_message_each_delivery_went_in(
    database_url: str,
) -> None:
    from newsalert.models import Item

    store = Store(database_url)
    store.sync_feeds([("wire-a", "https://a.example/rss")])
    fid = store.feed_state("wire-a").id
    items = store.add_items(
        fid,
        [
            Item("k1", "wire-a", WIRE_TITLES["wire-a"], WIRE, "https://a.example/1", T0),
            Item("k2", "wire-a", *MOGADISHU, "https://a.example/2", T0),
            Item("k3", "wire-a", *TOLL, "https://a.example/3", T0),
        ],
        T0,
    )
    score = Score(0.9, True, "terrorism", 0.9)
    held = [PlannedDelivery("night", "t1", "x", hold_until=T0, story_id=item) for item in items]
    ids = store.save_scores([(i, score, [d]) for i, d in zip(items, held, strict=True)], T0)
    assert [r.id for r in store.lease_group(ids, T0, lease=60)] == ids
    # a digest in two parts; the third id is too long for the column: a cut one would name
    # another message, so it is left out
    parts = {ids[0]: '{"987654":101,"555":102}', ids[1]: "103", ids[2]: "9" * 129}
    store.mark_group_sent(ids, T0, remote_ids=parts)
    index = StoryDesk(store).index
    found = [index.first_alert_remote_id(item, "night", "t1") for item in items]
    assert found == ['{"987654":101,"555":102}', "103", None]
    store.close()


def test_stories_config_defaults() -> None:
    cfg = StoriesConfig()
    assert (cfg.window_hours, cfg.update_interval_minutes) == (72.0, 60.0)
    assert 0 < cfg.duplicate_similarity <= 1 and 0 < cfg.similarity <= 1


def _module_sources(name: str) -> list[Path]:
    """The source files of module ``name``, or of every module of package ``name``."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    if spec.submodule_search_locations:
        return sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py"))
    return [Path(spec.origin)]


def test_stories_do_not_import_the_pipeline() -> None:
    """The pipeline imports stories; stories never import the pipeline back, not even
    inside a function (a cycle that works only while nobody imports stories first)."""
    import ast
    import subprocess
    import sys

    for source in _module_sources("newsalert.stories"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                named = [f"{node.module}.{a.name}" for a in node.names] + [str(node.module)]
            elif isinstance(node, ast.Import):
                named = [a.name for a in node.names]
            else:
                continue
            assert "newsalert.pipeline" not in named, f"{source}:{node.lineno}"
    fresh = subprocess.run(
        [sys.executable, "-c", "import sys, newsalert.stories; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "'newsalert.pipeline'" not in fresh.stdout and "'newsalert.stories'" in fresh.stdout


def _story_pipeline(tmp_path: Path, model_dir: Path) -> tuple[Pipeline, list[int]]:
    """A pipeline on SQLite with one subscriber, and three stored reports: the wire story
    on wire-a, its copy on wire-b half a minute later, and the Mogadishu bombing."""
    from newsalert.models import Item

    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {model_dir}
              database_url: sqlite:///{tmp_path / "stories.db"}
            subscribers:
              - name: duty
                urls: ["mailto://127.0.0.1:9?from=a@example.org&to=duty@example.org"]
            feeds:
              - name: wire-a
                url: https://a.example/rss
              - name: wire-b
                url: https://b.example/rss
            """
        ),
        encoding="utf-8",
    )
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url))
    store = pipeline.store
    ids = [
        store.add_items(
            store.feed_state(feed).id,
            [Item(key, feed, title, text, None, T0 - timedelta(minutes=m))],
            T0,
        )[0]
        for feed, key, title, text, m in (
            ("wire-a", "a1", WIRE_TITLES["wire-a"], WIRE, 30),
            ("wire-b", "b1", WIRE_TITLES["wire-b"], WIRE, 29),
            ("wire-b", "b2", *MOGADISHU, 28),
        )
    ]
    return pipeline, ids


def test_a_passing_database_error_while_planning_stories_is_retried_not_alerted_again(
    tmp_path: Path, model_dir: Path, classifier: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The story index cannot be read for a moment while a copy of a story already
    alerted is scored: the error reaches the task (which retries), nothing of the batch
    is saved, and the retry finds the story: one alert, not two."""
    from sqlalchemy.exc import OperationalError

    from newsalert.stories import StoryStore

    pipeline, (first, copy, _) = _story_pipeline(tmp_path, model_dir)
    assert len(pipeline.score_items([first]).delivery_ids) == 1
    notices, calls = StoryStore.notices, []

    def flaky(self: StoryStore, story_ids: list[int]) -> object:
        calls.append(story_ids)
        if len(calls) == 1:
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return notices(self, story_ids)

    monkeypatch.setattr(StoryStore, "notices", flaky)
    with pytest.raises(OperationalError):
        pipeline.score_items([copy])
    assert pipeline.store.get_item(copy).score is None  # left for the retry
    again = pipeline.score_items([copy])  # the task's retry
    assert (again.scored, again.delivery_ids) == (1, ())
    assert len(pipeline.store.list_deliveries()) == 1
    pipeline.close()
    pipeline.store.close()


def test_a_story_bug_on_one_item_keeps_it_unscored_and_alerts_nothing_twice(
    tmp_path: Path, model_dir: Path, classifier: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clustering fails (a bug, not the database) on one item of a batch: routed without
    stories, the batch's copy of a story already alerted would alert again. Instead the
    pipeline isolates the item, as any scoring failure: the copy joins its story
    silently, the item stays unscored (counted) and is scored once the bug is gone."""
    pipeline, (first, copy, bombing) = _story_pipeline(tmp_path, model_dir)
    assert len(pipeline.score_items([first]).delivery_ids) == 1
    assign = Clusterer.assign

    def broken(self: Clusterer, batch: object, index: object) -> object:
        if any(i.item_id == bombing for i in batch.batch):  # type: ignore[attr-defined]
            raise ValueError("a bug in clustering")
        return assign(self, batch, index)  # type: ignore[arg-type]

    monkeypatch.setattr(Clusterer, "assign", broken)
    out = pipeline.score_items([copy, bombing])
    assert (out.scored, out.pending, out.delivery_ids) == (1, 1, ())
    assert pipeline.store.get_item(bombing).score is None
    monkeypatch.setattr(Clusterer, "assign", assign)  # the fix is deployed
    assert len(pipeline.score_items([bombing]).delivery_ids) == 1
    alerted = sorted(d.item_id for d in pipeline.store.list_deliveries())
    assert alerted == [first, bombing]
    pipeline.close()
    pipeline.store.close()
