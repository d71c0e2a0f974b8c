"""Signed feedback links: signing, passwords, how each channel shows the links, the
Telegram inline keyboard, and muting a story."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

from newsalert.delivery import Notifier
from newsalert.errors import BadToken
from newsalert.feedback_links import LinkSigner
from newsalert.passwords import check_hash, hash_password, verify_password
from newsalert.render import render, render_digest
from newsalert.signing import Signer
from newsalert.store import PlannedDelivery, Store
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_delivery import TELEGRAM, sent_json, telegram_sent
from tests.test_render import make_alert

SECRET = "s" * 40
BASE = "https://alerts.example.org"
NOW = 1_700_000_000.0


def signer() -> LinkSigner:
    return LinkSigner(SECRET, BASE, days=30)


def test_a_link_names_subscriber_item_and_answer_and_expires() -> None:
    token = signer().token("duty-desk", 7, "not_relevant", now=NOW)
    claim = signer().verify(token, now=NOW + 29 * 86_400)
    assert (claim.subscriber, claim.item_id, claim.action) == ("duty-desk", 7, "not_relevant")
    assert claim.words == "Not relevant"
    with pytest.raises(BadToken, match="expired"):
        signer().verify(token, now=NOW + 31 * 86_400)


def test_changed_links_and_other_purposes_are_refused() -> None:
    token = signer().token("duty-desk", 7, "relevant", now=NOW)
    head, mac = token.split(".")
    other = signer().token("duty-desk", 8, "relevant", now=NOW).split(".")[0]
    for bad in (f"{other}.{mac}", f"{head}.{mac[:-1]}A", "x", "", f"{head}.", "..."):
        with pytest.raises(BadToken, match="tampered"):
            signer().verify(bad, now=NOW)
    with pytest.raises(BadToken):  # another secret
        LinkSigner("t" * 40, BASE).verify(token, now=NOW)
    # a session token is no feedback link, though both are signed with the same secret
    session = Signer(SECRET, "session").sign("r|7|duty-desk", NOW + 60)
    with pytest.raises(BadToken, match="tampered"):
        signer().verify(session, now=NOW)


def test_password_hashes() -> None:
    hashed = hash_password("pw one", n=2**10)
    assert hashed.startswith("scrypt$1024$") and check_hash(hashed) is None
    assert verify_password("pw one", hashed)
    assert not verify_password("pw two", hashed)
    assert hash_password("pw one", n=2**10) != hashed  # salted
    for bad in ("plain-password", "scrypt$3$8$1$AA$AA", "scrypt$1024$8$1$!!$AA", ""):
        assert check_hash(bad) is not None
        assert not verify_password("x", bad)


def _alert() -> object:
    return signer().with_actions(make_alert(subscriber="duty-desk"), now=NOW)


WORDS = ("Relevant", "Not relevant", "Duplicate", "Mute this story")


def test_email_slack_text_show_each_answer_by_name() -> None:
    alert = _alert()
    urls = [url for _, url in alert.actions]  # type: ignore[attr-defined]
    assert [w for w, _ in alert.actions] == list(WORDS)  # type: ignore[attr-defined]
    email = render(alert, "email").body  # type: ignore[arg-type]
    slack = render(alert, "slack").body  # type: ignore[arg-type]
    text = render(alert, "text").body  # type: ignore[arg-type]
    for words, url in zip(WORDS, urls, strict=True):
        assert f'<a href="{url}">{words}</a>' in email
        assert f"[{words}](<{url}>)" in slack
        assert f"{words}: {url}" in text
    # without a subscriber (send-test, `explain`): no links
    assert "Relevant" not in render(make_alert(), "email").body


def test_wrong_place_is_offered_only_where_the_alert_says_where() -> None:
    located = signer().with_actions(
        make_alert(subscriber="duty-desk", where="Banjska, Kosovo"), now=NOW
    )
    words = [w for w, _ in located.actions]
    assert words == ["Relevant", "Not relevant", "Duplicate", "Wrong place", "Mute this story"]
    url = dict(located.actions)["Wrong place"]
    claim = signer().verify(url.rsplit("/", 1)[1], now=NOW)
    assert (claim.action, claim.subscriber, claim.item_id) == ("wrong_place", "duty-desk", 7)
    for family in ("email", "slack", "text"):
        assert url in render(located, family).body
    telegram = render(located, "telegram")
    assert ("Wrong place", url) in telegram.buttons
    [digest] = render_digest([located, _alert()], "email")  # type: ignore[list-item]
    assert f'<a href="{url}">Wrong place</a>' in digest.body
    # unlocated: not offered anywhere
    assert "Wrong place" not in [w for w, _ in _alert().actions]  # type: ignore[attr-defined]


def test_telegram_gets_url_buttons_in_the_exact_payload() -> None:
    message = render(_alert(), "telegram")  # type: ignore[arg-type]
    assert "/feedback/" not in message.body  # buttons, not links in the text
    with mock.patch("requests.post", return_value=telegram_sent(5)) as post:
        Notifier().send(TELEGRAM, message)
    payload = sent_json(post.call_args)
    urls = [url for _, url in _alert().actions]  # type: ignore[attr-defined]
    assert payload["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Relevant", "url": urls[0]}, {"text": "Not relevant", "url": urls[1]}],
            [{"text": "Duplicate", "url": urls[2]}, {"text": "Mute this story", "url": urls[3]}],
        ]
    }
    # a message without buttons is sent as before
    with mock.patch("requests.post", return_value=telegram_sent(6)) as post:
        Notifier().send(TELEGRAM, replace(message, buttons=()))
    assert "reply_markup" not in sent_json(post.call_args)


def test_digest_lines_carry_their_own_links() -> None:
    a = _alert()
    b = signer().with_actions(make_alert(item_id=8, subscriber="duty-desk"), now=NOW)
    [message] = render_digest([a, b], "email")  # type: ignore[list-item]
    for alert in (a, b):
        for _, url in alert.actions:  # type: ignore[attr-defined]
            assert f'href="{url}"' in message.body


def test_templates_without_the_placeholder_still_get_the_links() -> None:
    message = render(_alert(), "email", templates={"email": "<p>{title}</p>"})  # type: ignore[arg-type]
    assert message.body.startswith("<p>Troops cross border</p>")
    assert ">Not relevant</a>" in message.body
    placed = render(_alert(), "slack", templates={"slack": "{feedback} / {title}"})  # type: ignore[arg-type]
    assert placed.body.startswith("Feedback: [Relevant](<") and placed.body.count("[Relevant]") == 1


def test_drop_muted_keeps_other_subscribers_and_stories(tmp_path: object) -> None:
    from sqlalchemy import insert

    from newsalert import answers
    from newsalert.store import feeds, items

    store = Store(f"sqlite:///{tmp_path}/s.db")  # type: ignore[str-format]
    answers.ensure_schema(store.engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with store.begin() as conn:
        conn.execute(
            insert(feeds).values(
                id=1,
                name="f",
                url="https://f.example/",
                error_streak=0,
                disabled=False,
                items_seen=0,
            )
        )
        conn.execute(
            insert(items).values(id=5, feed_id=1, key="k", title="t", summary="s", fetched_at=now)
        )
        conn.execute(
            insert(answers.story_mutes).values(
                story_id=5, subscriber="a", item_id=5, created_at=now
            )
        )

    def d(sub: str, story: int | None) -> PlannedDelivery:
        return PlannedDelivery(sub, "t", "t", story_id=story)

    planned = [[d("a", 5), d("b", 5)], [d("a", 6), d("a", None)]]
    assert answers.drop_muted(store, planned) == [[d("b", 5)], [d("a", 6), d("a", None)]]


def test_a_muted_story_sends_no_update_to_that_subscriber_only(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    from datetime import timedelta

    from newsalert import answers
    from newsalert.config import load_config
    from newsalert.pipeline import Pipeline
    from tests.test_stories import T0, TOLL, WIRE, WIRE_TITLES, Farm, mails, write_config

    farm = Farm(feed_server)
    config = write_config(tmp_path, model_dir, farm, smtp_server)
    with config.open("a", encoding="utf-8") as f:
        f.write(f"web:\n  base_url: {BASE}\n  secret: {SECRET}\n")
    loaded = load_config(config)
    now = [T0]
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])
    for n, (feed, title) in enumerate(WIRE_TITLES.items()):
        farm.publish(feed, f"{feed}-1", title, WIRE, T0 - timedelta(minutes=30 - n))
    pipeline.run_once()
    [alert] = mails(smtp_server, "duty@example.org")
    assert len(mails(smtp_server, "kosovo@example.org")) == 1
    item_id = int(alert.get_body(("plain",)).get_content().split("ref: item ")[1].split()[0])
    answers.record(pipeline.store, item_id, "mute", given_by="subscriber:duty", subscriber="duty")

    # the toll and the arrests: an update for the desk, none for the muted subscriber
    now[0] = T0 + timedelta(minutes=70)
    farm.publish("local-e", "local-e-1", *TOLL, now[0] - timedelta(minutes=5))
    pipeline.run_once()
    update = mails(smtp_server, "kosovo@example.org")[-1]
    assert update["Subject"].startswith("Re: ")
    # the update carries the desk's own answers, "Mute this story" among them
    body = update.get_body(("html",)).get_content()
    [mute] = re.findall(r'<a href="([^"]+)">Mute this story</a>', body)
    claim = signer().verify(mute.rsplit("/", 1)[1])
    assert (claim.subscriber, claim.action) == ("kosovo-desk", "mute")
    assert claim.item_id != item_id  # the update's own item
    assert len(mails(smtp_server, "duty@example.org")) == 1
    pipeline.close()


def test_web_hash_password_and_web_without_a_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from newsalert.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert main(["web", "hash-password"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert check_hash(hashed) is None and verify_password("s3cret pass", hashed)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["web", "hash-password"]) == 2
    config = tmp_path / "c.yaml"
    config.write_text(f"storage:\n  database_url: sqlite:///{tmp_path / 's.db'}\n")
    assert main(["--config", str(config), "web"]) == 2
    assert "no `web:` section" in capsys.readouterr().err


def test_web_config_errors_name_the_key(tmp_path: Path) -> None:
    from newsalert.config import load_config
    from newsalert.errors import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text(
        "web:\n  secret: short\n  base_url: javascript:alert(1)\n  users:\n    ops: hunter2\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, environ={})
    text = str(caught.value)
    for key in ("web.secret", "web.base_url", "web.users"):
        assert key in text, text
    assert "hash-password" in text
