"""Delivery through the real apprise plugins: e-mail to a real SMTP server on loopback,
Slack and Telegram intercepted at the HTTP layer (the calls their plugins make:
``requests.request`` for Slack, ``requests.post`` for Telegram), or served on loopback."""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, ClassVar
from unittest import mock
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsalert.delivery import Notifier, privacy_url, target_id, validate_url
from newsalert.errors import PermanentDeliveryError, TransientDeliveryError
from newsalert.models import Message, Reason
from newsalert.render import channel_family, render
from tests.fakeapi import api_response
from tests.smtpserver import SMTPServer
from tests.test_render import HOSTILE_TITLE, LINK, make_alert

# The smtp_server fixture comes from tests/smtpserver.py (pytest_plugins in conftest.py).

# aiosmtpd 1.4.6 warns about its own use of a deprecated attribute on every AUTH.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

BOT_ID = "123456"
BOT_SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM = f"tgram://{BOT_ID}:{BOT_SECRET}/987654"
SLACK_A, SLACK_B, SLACK_C = "T0SECRETA", "B0SECRETB", "XoXoSecretTokenCCCCCCCC"
SLACK = f"slack://{SLACK_A}/{SLACK_B}/{SLACK_C}"
SLACK_PLAIN = f"{SLACK}/?footer=no&image=no"  # no icon, footer or timestamp: exact payloads
SLACK_HOOK = f"https://hooks.slack.com/services/{SLACK_A}/{SLACK_B}/{SLACK_C}"
SMTP_PASSWORD = "Pa55-w0rd!SMTP"
SECRETS = (BOT_SECRET, f"{BOT_ID}:{BOT_SECRET}", SLACK_A, SLACK_B, SLACK_C, SMTP_PASSWORD)


def response(
    status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None
) -> requests.Response:
    return api_response(status, body, headers)


def slack_ok() -> requests.Response:
    return response(200, b"ok")  # what a Slack webhook answers


def telegram_ok() -> requests.Response:
    return response(200, b'{"ok":true,"result":{"message_id":1}}')


def sent_json(call: Any) -> dict[str, Any]:
    return json.loads(call.kwargs["data"])


@pytest.fixture
def notifier() -> Notifier:
    return Notifier(timeout=5.0)


# --- ids, privacy, validation -----------------------------------------------------------------


def test_target_id_is_short_stable_and_distinct() -> None:
    assert target_id(TELEGRAM) == target_id(TELEGRAM)
    assert re.fullmatch(r"[0-9a-f]{16}", target_id(TELEGRAM))
    assert target_id(TELEGRAM) != target_id(SLACK)


@pytest.mark.parametrize(
    ("url", "start"),
    [
        (TELEGRAM, "tgram://1...w/987654"),
        (SLACK, "slack://T...A/B...B/X...C"),
        (SLACK_HOOK, "slack://T...A/B...B/X...C"),
        (
            f"mailto://alerts:{SMTP_PASSWORD}@127.0.0.1:2525?from=a@example.org&to=b@example.org",
            "mailto://alerts:****@127.0.0.1:2525/",
        ),
        ("tgram://not-a-token-but-secret/1", "tgram://****"),
        ("garbage-with-secret", "****"),
    ],
)
def test_privacy_url_never_shows_secrets(url: str, start: str) -> None:
    shown = privacy_url(url)
    assert shown.startswith(start)
    for secret in (*SECRETS, "not-a-token-but-secret", "garbage-with-secret"):
        assert secret not in shown


@pytest.mark.parametrize(
    "url",
    [
        TELEGRAM,
        SLACK,
        SLACK_HOOK,
        "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org&mode=insecure",
    ],
)
def test_validate_url_accepts_what_apprise_can_build(url: str) -> None:
    assert validate_url(url) is None


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("garbage", "not an apprise URL"),
        ("", "empty URL"),
        ("nosuchservice://x/y", "unsupported scheme nosuchservice://"),
        ("https://example.com/hook", "no apprise service recognises this https:// URL"),
        ("tgram://not-a-bot-token-SECRETISH/1", "Telegram"),
        (f"mailto://u:{SMTP_PASSWORD}@127.0.0.1?from=a@example.org&mode=bogusmode", "E-Mail"),
    ],
)
def test_validate_url_explains_without_secrets(url: str, hint: str) -> None:
    message = validate_url(url)
    assert message is not None
    assert hint in message
    assert "SECRETISH" not in message
    assert SMTP_PASSWORD not in message


def test_garbage_url_is_permanent_and_nothing_is_sent(notifier: Notifier) -> None:
    with mock.patch("requests.post") as post, mock.patch("requests.request") as request:
        for url in ("garbage", "nosuchservice://x", "tgram://bad-SECRETISH/1"):
            with pytest.raises(PermanentDeliveryError) as caught:
                notifier.send(url, render(make_alert(), channel_family(url)))
            assert "SECRETISH" not in str(caught.value)
    post.assert_not_called()
    request.assert_not_called()


# --- e-mail through a real SMTP server --------------------------------------------------------


def html_and_text(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    return html_part.get_content(), text_part.get_content()


def test_email_end_to_end(smtp_server: SMTPServer, notifier: Notifier) -> None:
    notifier.send(smtp_server.url(), render(make_alert(), "email"))
    [message] = smtp_server.messages
    assert message["Subject"] == "[newsalert] HIGH 0.93 armed_conflict: Troops cross border"
    assert message["From"] == "alerts@example.org"
    assert message["To"] == "duty@example.org"
    assert smtp_server.envelopes[0].rcpt_tos == ["duty@example.org"]
    html, text = html_and_text(message)
    assert "Fighting &lt;b&gt;erupted&lt;/b&gt; &amp; spread." in html
    assert f'<a href="{LINK.replace("&", "&amp;")}">' in html
    for needle in (
        "Troops cross border",
        "Reuters",
        "2023-09-29 14:05 UTC",
        "armed_conflict",
        'rule include "armed attack" (title); word: troops',
        LINK,
        "Fighting <b>erupted</b> & spread.",
    ):
        assert needle in text


def test_email_header_injection_adds_no_header(smtp_server: SMTPServer, notifier: Notifier) -> None:
    alert = make_alert(title="x\r\nBcc: victim@example.org\r\nX-Evil: 1\n\nbody?")
    notifier.send(smtp_server.url(), render(alert, "email"))
    [message] = smtp_server.messages
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["Subject"] == (
        "[newsalert] HIGH 0.93 armed_conflict: x Bcc: victim@example.org X-Evil: 1 body?"
    )
    assert smtp_server.envelopes[0].rcpt_tos == ["duty@example.org"]
    raw_headers = smtp_server.envelopes[0].data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^(Bcc|X-Evil):", raw_headers, re.MULTILINE | re.IGNORECASE)


_HEADER_TEXT = st.text(
    alphabet=st.sampled_from(
        [*"aZ09 ;,:.<>@=?\"'()[]\\-_", "\t", "\r", "\n", "\x00", "\x7f", "é", "–", "\u2028"]
    ),
    max_size=120,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(_HEADER_TEXT, min_size=1, max_size=4),
    charset=st.sampled_from([None, "us-ascii", "utf-8", "iso-8859-1"]),
)
def test_plain_headers_write_what_compat32_writes(values: list[str], charset: str | None) -> None:
    """patches.PlainHeaders writes every header of apprise's messages byte for byte as the
    email package's compat32 would: plain values as they are, anything else (CR/LF, control
    characters, non-ASCII, an RFC 2047 charset) through the email package's own path."""
    from email import policy as email_policy
    from email.header import Header
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    from newsalert.patches import PLAIN_HEADERS

    def build(policy: Any) -> MIMEMultipart:
        base = MIMEMultipart("alternative", boundary="==b==", policy=policy)
        base.attach(MIMEText("text é", "plain", "utf-8", policy=policy))
        base.attach(MIMEText("<p>html</p>", "html", "utf-8", policy=policy))
        for n, value in enumerate(values):
            base[f"X-Str-{n}"] = value
            try:
                header = Header(value, charset)
            except UnicodeError:  # not in that charset
                continue
            base[f"X-Header-{n}"] = header
        return base

    def flat(message: MIMEMultipart, how: str) -> str | bytes | type[Exception]:
        try:
            if how == "bytes":  # BytesGenerator: folds at 78
                return bytes(message)
            return message.as_string(**({"maxheaderlen": 78} if how == "78" else {}))
        except Exception as exc:  # the email package refuses an embedded header
            return type(exc)

    for how in ("as_string", "78", "bytes"):
        assert flat(build(PLAIN_HEADERS), how) == flat(build(email_policy.compat32), how)


def test_apprise_builds_e_mails_on_plain_headers() -> None:
    from apprise.plugins.email import base as apprise_email

    from newsalert.patches import PlainHeaders

    [message] = apprise_email.NotifyEmail.prepare_emails(
        subject="Subject é", body="<p>x</p>", from_addr=("", "a@example.org"),
        to=[("", "b@example.org")], headers={"In-Reply-To": "<a@b>"},
    )  # fmt: skip
    assert isinstance(apprise_email.MIMEText("x").policy, PlainHeaders)
    assert isinstance(apprise_email.MIMEMultipart().policy, PlainHeaders)
    assert "\nIn-Reply-To: <a@b>\n" in message.body
    assert "\nSubject: =?utf-8?q?Subject_=C3=A9?=\n" in message.body


def test_two_emails_in_a_row_do_not_wait_for_apprise_throttle(
    smtp_server: SMTPServer, notifier: Notifier
) -> None:
    # apprise's e-mail plugin sleeps 5.5 s between two sends on one instance.
    message = render(make_alert(), "email")
    started = time.monotonic()
    notifier.send(smtp_server.url(), message)
    notifier.send(smtp_server.url(), message)
    elapsed = time.monotonic() - started
    assert len(smtp_server.messages) == 2
    assert elapsed < 3.0


@pytest.mark.parametrize("stage", ["data", "rcpt"])
def test_rejecting_smtp_server_is_transient(
    smtp_server: SMTPServer, notifier: Notifier, stage: str
) -> None:
    smtp_server.refuse(554 if stage == "data" else 550, "5.7.1 Go away", stage=stage)
    with pytest.raises(TransientDeliveryError) as caught:
        notifier.send(smtp_server.url(), render(make_alert(), "email"))
    assert caught.value.retry_after is None
    assert "E-Mail" in str(caught.value)
    assert smtp_server.messages == []
    smtp_server.accept()
    notifier.send(smtp_server.url(), render(make_alert(), "email"))
    assert len(smtp_server.messages) == 1


def test_stopped_smtp_server_is_transient(smtp_server: SMTPServer, notifier: Notifier) -> None:
    url = smtp_server.url()
    smtp_server.stop()
    with pytest.raises(TransientDeliveryError, match="E-Mail"):
        notifier.send(url, render(make_alert(), "email"))
    smtp_server.start()  # same port again
    notifier.send(url, render(make_alert(), "email"))
    assert len(smtp_server.messages) == 1


def test_smtp_login_and_password_never_logged(
    smtp_server: SMTPServer, notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1)  # everything, apprise's TRACE (level 9) included
    smtp_server.require_login("alerts", SMTP_PASSWORD)
    notifier.send(
        smtp_server.url(user="alerts", password=SMTP_PASSWORD), render(make_alert(), "email")
    )
    assert smtp_server.logins == ["alerts"]
    smtp_server.require_login("alerts", "another password")
    with pytest.raises(TransientDeliveryError) as caught:
        notifier.send(
            smtp_server.url(user="alerts", password=SMTP_PASSWORD), render(make_alert(), "email")
        )
    assert SMTP_PASSWORD not in str(caught.value)
    assert quote(SMTP_PASSWORD, safe="") not in str(caught.value)
    assert any(r.name == "apprise" and r.levelno <= logging.DEBUG for r in caplog.records)
    assert_no_secret_logged(caplog)


# --- Slack ---------------------------------------------------------------------------------------


def test_slack_exact_payload(notifier: Notifier) -> None:
    with mock.patch("requests.request", return_value=slack_ok()) as request:
        notifier.send(SLACK_PLAIN, render(make_alert(), "slack"))
    request.assert_called_once()
    assert request.call_args.args == (
        "post",
        f"https://hooks.slack.com/services/{SLACK_A}/{SLACK_B}/{SLACK_C}",
    )
    assert sent_json(request.call_args) == {
        "mrkdwn": True,
        "attachments": [
            {
                "title": "HIGH 0.93 armed_conflict: Troops cross border",
                "text": (
                    "*Troops cross border*\n"
                    "*HIGH 0.93* · armed_conflict · Reuters · 2023-09-29 14:05 UTC\n"
                    'Why: rule include "armed attack" (title); word: troops\n'
                    "<https://news.example.org/story?id=1&amp;lang=en|Open article>\n"
                    "ref: item 7 · newsalert feedback 7 yes|no\n"
                    "\n"
                    "Fighting &lt;b&gt;erupted&lt;/b&gt; &amp; spread."
                ),
                "color": "#A32037",  # a HIGH alert: apprise colours "failure" red
            }
        ],
    }


def test_slack_blocks_payload_and_webhook_url_form(notifier: Notifier) -> None:
    with mock.patch("requests.request", return_value=slack_ok()) as request:
        notifier.send(f"{SLACK_HOOK}?blocks=yes&footer=no&image=no", render(make_alert(), "slack"))
    payload = sent_json(request.call_args)
    [attachment] = payload["attachments"]
    header, section = attachment["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "HIGH 0.93 armed_conflict: Troops cross border",
            "emoji": True,
        },
    }
    assert section["type"] == "section"
    assert section["text"]["type"] == "mrkdwn"
    assert section["text"]["text"].startswith("*Troops cross border*\n*HIGH 0.93*")
    assert (
        "<https://news.example.org/story?id=1&amp;lang=en|Open article>" in section["text"]["text"]
    )


SLACK_CONTROL = re.compile(r"<[^>]*>")  # anything Slack would parse as a link or mention


@pytest.mark.parametrize("url", [SLACK, f"{SLACK}/?blocks=yes"])
def test_slack_hostile_text_is_inert_in_the_final_payload(notifier: Notifier, url: str) -> None:
    alert = make_alert(
        title=HOSTILE_TITLE,
        summary=(
            "<script>alert(1)</script> [Bank](https://evil.example/login) <https://evil.example> "
            "<!subteam^S1|team> `<!here>` \\<!channel\\> !channel> @U123| see https://evil.example"
        ),
        source="<@U777>",
        reasons=(Reason("model", "term <!channel>", 0.3),),
    )
    with mock.patch("requests.request", return_value=slack_ok()) as request:
        notifier.send(url, render(alert, "slack"))
    payload = sent_json(request.call_args)
    texts = [s for s in _strings(payload) if s not in ("post",)]
    controls = [m for text in texts for m in SLACK_CONTROL.findall(text)]
    assert controls == ["<https://news.example.org/story?id=1&amp;lang=en|Open article>"]
    wire = json.dumps(payload, ensure_ascii=False)
    for needle in (
        "<!",
        "<@",
        "<#",
        "!channel",
        "!here",
        "!everyone",
        "@U123",
        "@U777",
        "https://evil",
        "<script",
    ):
        assert needle not in wire
    assert "&lt;script&gt;" in wire


def test_slack_feed_text_cannot_set_bold_italics_strike_or_headings(notifier: Notifier) -> None:
    """apprise turns CommonMark emphasis and headings into Slack mrkdwn: from feed text
    they arrive as look-alike characters, so nothing in them formats."""
    alert = make_alert(
        title="Hello **BOLD** _it_ ~st~ *x*",
        summary="line\n# HEADING\n  ## two\n**URGENT: click** ~~gone~~ __under__",
    )
    with mock.patch("requests.request", return_value=slack_ok()) as request:
        notifier.send(SLACK, render(alert, "slack"))
    [attachment] = sent_json(request.call_args)["attachments"]
    text = attachment["text"]
    feed_lines = [line for line in text.split("\n") if "BOLD" in line or "HEADING" in line]
    feed_lines += [line for line in text.split("\n") if "URGENT" in line or "two" in line]
    assert len(feed_lines) == 4
    for line in feed_lines:
        inner = (
            line[1:-1] if line.startswith("*") and line.endswith("*") else line
        )  # our bold title
        assert not re.search(r"[*_~]", inner), line
        assert not line.lstrip().startswith("#")
    assert "\u2217\u2217URGENT: click\u2217\u2217" in text and "\uff03 HEADING" in text


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_slack_sends_back_to_back_without_throttle(notifier: Notifier) -> None:
    # apprise's Slack plugin sleeps 1.2 s between two sends on one instance.
    started = time.monotonic()
    with mock.patch("requests.request", return_value=slack_ok()) as request:
        for _ in range(3):
            notifier.send(SLACK, render(make_alert(), "slack"))
    assert request.call_count == 3
    assert time.monotonic() - started < 1.0


# --- Telegram ----------------------------------------------------------------------------------


def test_telegram_exact_payload(notifier: Notifier) -> None:
    with mock.patch("requests.post", return_value=telegram_ok()) as post:
        notifier.send(TELEGRAM, render(make_alert(title="<script>alert(1)</script>"), "telegram"))
    post.assert_called_once()
    assert post.call_args.args == (
        f"https://api.telegram.org/bot{BOT_ID}:{BOT_SECRET}/sendMessage",
    )
    assert sent_json(post.call_args) == {
        "chat_id": 987654,
        "parse_mode": "HTML",
        "disable_notification": False,
        "disable_web_page_preview": True,
        "text": (
            "<b>HIGH 0.93 armed_conflict</b>\r\n"
            "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>\r\n"
            "Reuters · 2023-09-29 14:05 UTC\r\n"
            '<i>Why:</i> rule include "armed attack" (title); word: troops\r\n'
            '<a href="https://news.example.org/story?id=1&amp;lang=en">Open article</a>\r\n'
            "ref: item 7 · newsalert feedback 7 yes|no\r\n"
            "\r\n"
            "Fighting &lt;b&gt;erupted&lt;/b&gt; &amp; spread."
        ),
    }


def test_telegram_long_summary_fits_4096_and_keeps_link(notifier: Notifier) -> None:
    summary = ("Shelling <i>continued</i> & spread across the region. " * 400)[:20_000]
    assert len(summary) == 20_000
    with mock.patch("requests.post", return_value=telegram_ok()) as post:
        notifier.send(TELEGRAM, render(make_alert(summary=summary), "telegram"))
    post.assert_called_once()  # one message, not split
    text = sent_json(post.call_args)["text"]
    assert len(text) <= 4096
    assert len(text) > 3500
    assert '<a href="https://news.example.org/story?id=1&amp;lang=en">Open article</a>' in text
    assert "word: troops" in text
    assert text.endswith("…")
    assert "<i>continued" not in text
    assert set(re.findall(r"<(/?[a-z]+)", text)) <= {"b", "/b", "i", "/i", "a", "/a"}


# --- remote ids and replies (story updates answer the first alert) ---------------------------

SHORT = Message(title="Update: Zvecan", body="now 5 sources", body_format="text")
TELEGRAM_SHORT = {  # what apprise's Telegram plugin sends for SHORT
    "chat_id": 987654,
    "parse_mode": "HTML",
    "disable_notification": False,
    "disable_web_page_preview": True,
    "text": "<b>Update: Zvecan</b>\r\nnow 5 sources",
}
SLACK_BOT_TOKEN = "xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d"
SLACK_BOT = f"slack://{SLACK_BOT_TOKEN}/#alerts?footer=no&image=no"
SLACK_SHORT = {  # what apprise's Slack plugin sends for SHORT
    "mrkdwn": False,
    "attachments": [{"title": "Update: Zvecan", "text": "now 5 sources", "color": "#3AA3E3"}],
}


def telegram_sent(message_id: int) -> requests.Response:
    return response(200, json.dumps({"ok": True, "result": {"message_id": message_id}}).encode())


def slack_posted(ts: str) -> requests.Response:
    return response(200, json.dumps({"ok": True, "channel": "C0ALERTS", "ts": ts}).encode())


def test_telegram_send_returns_the_message_id_and_replies_only_when_asked(
    notifier: Notifier,
) -> None:
    with mock.patch("requests.post", return_value=telegram_sent(4711)) as post:
        assert notifier.send(TELEGRAM, SHORT) == "4711"
        assert sent_json(post.call_args) == TELEGRAM_SHORT  # no reply_parameters
        assert notifier.send(TELEGRAM, replace(SHORT, reply_to="4700")) == "4711"
        assert sent_json(post.call_args) == {
            **TELEGRAM_SHORT,
            "reply_parameters": {"message_id": 4700, "allow_sending_without_reply": True},
        }
        # the reply was for that send only: other code, and the next send, are left alone
        requests.post(
            f"https://api.telegram.org/bot{BOT_ID}:{BOT_SECRET}/sendMessage", data='{"a": 1}'
        )
        assert post.call_args.kwargs["data"] == '{"a": 1}'
        assert notifier.send(TELEGRAM, SHORT) == "4711"
        assert sent_json(post.call_args) == TELEGRAM_SHORT
    assert post.call_count == 4


def test_telegram_reply_parameters_go_to_send_message_only(notifier: Notifier) -> None:
    # image=yes: apprise first posts the bot's icon to sendPhoto (form data), then the text
    with mock.patch("requests.post", return_value=telegram_sent(12)) as post:
        sent = notifier.send(f"{TELEGRAM}?image=yes", replace(SHORT, reply_to="7"))
    assert sent == "12"
    photo, text = post.call_args_list
    assert photo.args[0].lower().endswith("/sendphoto")
    assert "reply_parameters" not in photo.kwargs["data"]
    assert text.args[0].endswith("/sendMessage")
    assert sent_json(text) == {
        **TELEGRAM_SHORT,
        "reply_parameters": {"message_id": 7, "allow_sending_without_reply": True},
    }


def reply_parameters(message_id: int) -> dict[str, Any]:
    return {"reply_parameters": {"message_id": message_id, "allow_sending_without_reply": True}}


def test_telegram_several_chats_return_each_id_and_reply_each_in_its_chat(
    notifier: Notifier,
) -> None:
    """One sendMessage per chat (a forum topic is a chat of its own): the send returns
    each chat's message_id, and an update answers each chat's own message."""
    url = f"{TELEGRAM}/555/-1001234567890:7"
    answers = {"987654": 11, "555": 22, "-1001234567890:7": 33}

    def telegram(url: str, data: str = "", **_: Any) -> requests.Response:
        payload = json.loads(data)
        topic = f":{payload['message_thread_id']}" if "message_thread_id" in payload else ""
        return telegram_sent(answers[f"{payload['chat_id']}{topic}"])

    def payloads() -> list[dict[str, Any]]:  # apprise's order of chats is its own
        found = sorted((sent_json(c) for c in post.call_args_list), key=lambda p: str(p["chat_id"]))
        post.reset_mock()
        return found

    topic_chat = {**TELEGRAM_SHORT, "chat_id": -1001234567890, "message_thread_id": 7}
    with mock.patch("requests.post", side_effect=telegram) as post:
        sent = notifier.send(url, SHORT)
        assert sent is not None and " " not in sent and json.loads(sent) == answers
        assert payloads() == [topic_chat, {**TELEGRAM_SHORT, "chat_id": 555}, TELEGRAM_SHORT]
        # a chat missing from the ids gets no reply_parameters
        notifier.send(url, replace(SHORT, reply_to='{"987654":11,"-1001234567890:7":33}'))
        assert payloads() == [
            {**topic_chat, **reply_parameters(33)},
            {**TELEGRAM_SHORT, "chat_id": 555},
            {**TELEGRAM_SHORT, **reply_parameters(11)},
        ]
        # a plain id is of a one-chat URL: in these chats it names unrelated messages
        notifier.send(url, replace(SHORT, reply_to="11"))
        assert payloads() == [topic_chat, {**TELEGRAM_SHORT, "chat_id": 555}, TELEGRAM_SHORT]


def test_telegram_ids_of_more_chats_than_the_store_keeps_are_cut_between_chats(
    notifier: Notifier,
) -> None:
    chats = [-1001234567000 - n for n in range(8)]
    url = f"tgram://{BOT_ID}:{BOT_SECRET}/" + "/".join(map(str, chats))
    with mock.patch("requests.post", return_value=telegram_sent(1234567)):
        sent = notifier.send(url, SHORT)
    assert sent is not None and len(sent) <= 128  # sent_messages.remote_id
    # each entry takes 25 characters: five chats, whole
    ids = json.loads(sent)
    assert len(ids) == 5 and set(ids) < {str(c) for c in chats}
    assert set(ids.values()) == {1234567}


def test_telegram_answer_without_a_message_id_returns_none(notifier: Notifier) -> None:
    with mock.patch("requests.post", return_value=response(200, b'{"ok":true}')):
        assert notifier.send(TELEGRAM, SHORT) is None


def test_slack_bot_token_returns_ts_and_threads_a_reply(notifier: Notifier) -> None:
    with mock.patch("requests.request", return_value=slack_posted("1700000000.000100")) as request:
        assert notifier.send(SLACK_BOT, SHORT) == "1700000000.000100"
        assert request.call_args.args == ("post", "https://slack.com/api/chat.postMessage")
        assert sent_json(request.call_args) == {**SLACK_SHORT, "channel": "#alerts"}
        reply = replace(SHORT, reply_to="1700000000.000100")
        assert notifier.send(SLACK_BOT, reply) == "1700000000.000100"
        assert request.call_args.args == ("post", "https://slack.com/api/chat.postMessage")
        assert sent_json(request.call_args) == {
            **SLACK_SHORT,
            "channel": "#alerts",
            "thread_ts": "1700000000.000100",
        }
    assert request.call_count == 2


@pytest.mark.parametrize(
    ("url", "answer", "payloads"),
    [
        # a webhook: it cannot thread, and answers "ok"
        (SLACK_PLAIN, slack_ok(), [SLACK_SHORT]),
        (
            f"{SLACK}/#alerts?footer=no&image=no",
            slack_ok(),
            [{**SLACK_SHORT, "channel": "#alerts"}],
        ),
        (  # a bot token whose channel is set to a thread already
            f"slack://{SLACK_BOT_TOKEN}/#alerts:1600000000.000200?footer=no&image=no",
            slack_posted("1700000000.000900"),
            [{**SLACK_SHORT, "channel": "#alerts", "thread_ts": "1600000000.000200"}],
        ),
    ],
)
def test_slack_reply_to_leaves_other_urls_unchanged(
    notifier: Notifier, url: str, answer: requests.Response, payloads: list[dict[str, Any]]
) -> None:
    with mock.patch("requests.request", return_value=answer) as request:
        assert notifier.send(url, replace(SHORT, reply_to="1700000000.000100")) is None
    assert [sent_json(call) for call in request.call_args_list] == payloads


def test_slack_bot_token_with_several_channels_threads_each_under_its_own(
    notifier: Notifier,
) -> None:
    url = f"slack://{SLACK_BOT_TOKEN}/#alerts/#news/+C0DESK?footer=no&image=no"
    answers = {"#alerts": "1700000000.000100", "#news": "1700000000.000200", "C0DESK": "1.5"}

    def slack(method: str, url: str, data: str = "", **_: Any) -> requests.Response:
        return slack_posted(answers[json.loads(data)["channel"]])

    with mock.patch("requests.request", side_effect=slack) as request:
        sent = notifier.send(url, SHORT)
        assert json.loads(sent or "") == answers
        request.reset_mock()
        # #news has no id: it gets a message of its own; a plain id answers nothing here
        notifier.send(
            url, replace(SHORT, reply_to='{"#alerts":"1700000000.000100","C0DESK":"1.5"}')
        )
        notifier.send(url, replace(SHORT, reply_to="1700000000.000100"))
    assert [sent_json(c) for c in request.call_args_list] == [
        {**SLACK_SHORT, "channel": "#alerts", "thread_ts": "1700000000.000100"},
        {**SLACK_SHORT, "channel": "#news"},
        {**SLACK_SHORT, "channel": "C0DESK", "thread_ts": "1.5"},
        {**SLACK_SHORT, "channel": "#alerts"},
        {**SLACK_SHORT, "channel": "#news"},
        {**SLACK_SHORT, "channel": "C0DESK"},
    ]


def test_email_send_returns_the_message_id_of_each_e_mail_sent(
    smtp_server: SMTPServer, notifier: Notifier
) -> None:
    message = render(make_alert(), "email")
    one = notifier.send(smtp_server.url(), message)
    two = notifier.send(smtp_server.url(to="duty@example.org,desk@example.org"), message)
    first, *pair = smtp_server.messages
    assert len(pair) == 2 and len({m["Message-ID"] for m in smtp_server.messages}) == 3
    assert one == first["Message-ID"]
    assert two == f"{pair[0]['Message-ID']} {pair[1]['Message-ID']}"  # as In-Reply-To takes them


@pytest.mark.parametrize(
    "text",
    [
        "Subject: a\nMessage-ID: <1@x>\n\nbody\n\nMessage-ID: <2@x>\n",
        "Subject: a\nMessage-ID:\n <1@x>\n\nbody",  # folded
        "Subject: a\n\nMessage-ID: <2@x>\n",  # only in the body: none
        "Subject: a\r\nMessage-ID: <1@x>\r\n\r\nMessage-ID: <2@x>\n\n",  # CRLF: whole text
        "Message-ID: <1@x>",  # no body
        "",
    ],
)
def test_message_id_is_read_from_the_header_block_as_from_the_whole_text(text: str) -> None:
    from email.parser import HeaderParser

    from newsalert.patches import header_block

    whole = HeaderParser().parsestr(text)
    head = HeaderParser().parsestr(header_block(text))
    assert head.get("Message-ID") == whole.get("Message-ID")
    assert head.items() == whole.items()


# --- failures: 429, 5xx, 4xx, connection ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "patched", "family"),
    [(SLACK, "requests.request", "slack"), (TELEGRAM, "requests.post", "telegram")],
)
def test_429_with_retry_after_header(
    notifier: Notifier, url: str, patched: str, family: str
) -> None:
    with (
        mock.patch(patched, return_value=response(429, b"rate_limited", {"Retry-After": "17"})),
        pytest.raises(TransientDeliveryError) as caught,
    ):
        notifier.send(url, render(make_alert(), family))
    assert caught.value.retry_after == 17.0
    assert "429" in str(caught.value)


def test_429_with_http_date_retry_after(notifier: Notifier) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    with (
        mock.patch("requests.request", return_value=response(429, b"", {"retry-after": when})),
        pytest.raises(TransientDeliveryError) as caught,
    ):
        notifier.send(SLACK, render(make_alert(), "slack"))
    assert caught.value.retry_after is not None
    assert 100 <= caught.value.retry_after <= 120


def test_telegram_429_retry_after_from_its_json(notifier: Notifier) -> None:
    body = b'{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}'
    with (
        mock.patch("requests.post", return_value=response(429, body)),
        pytest.raises(TransientDeliveryError) as caught,
    ):
        notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    assert caught.value.retry_after == 35.0


@pytest.mark.parametrize(
    ("url", "patched", "family"),
    [(SLACK, "requests.request", "slack"), (TELEGRAM, "requests.post", "telegram")],
)
def test_500_is_transient_without_retry_after(
    notifier: Notifier, url: str, patched: str, family: str
) -> None:
    with (
        mock.patch(patched, return_value=response(500, b"oops")) as http,
        pytest.raises(TransientDeliveryError) as caught,
    ):
        notifier.send(f"{url}{'&' if '?' in url else '/?'}retry=3", render(make_alert(), family))
    assert caught.value.retry_after is None
    assert "500" in str(caught.value)
    assert http.call_count == 1  # apprise's own retries are off: we retry with backoff


def test_definite_rejection_is_permanent(notifier: Notifier) -> None:
    blocked = (
        b'{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}'
    )
    with (
        mock.patch("requests.post", return_value=response(403, blocked)),
        pytest.raises(PermanentDeliveryError, match="bot was blocked"),
    ):
        notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    with (
        mock.patch("requests.request", return_value=response(404, b"no_service")),
        pytest.raises(PermanentDeliveryError, match="404"),
    ):
        notifier.send(SLACK, render(make_alert(), "slack"))


def test_connection_error_is_transient(notifier: Notifier) -> None:
    with (
        mock.patch("requests.post", side_effect=requests.ConnectionError("boom")),
        pytest.raises(TransientDeliveryError) as caught,
    ):
        notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    assert caught.value.retry_after is None


def test_unknown_body_format_is_permanent(notifier: Notifier) -> None:
    with pytest.raises(PermanentDeliveryError, match="body format"):
        notifier.send(TELEGRAM, Message(title="t", body="b", body_format="rtf"))


# --- secrets in logs and errors -----------------------------------------------------------------


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SECRETS:
        for form in (secret, quote(secret, safe="")):  # raw and as written in a URL
            assert form not in logged, f"secret {form!r} logged"


def test_no_secret_in_logs_or_errors_at_debug(
    notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1)
    errors: list[str] = []
    with mock.patch("requests.request", return_value=slack_ok()):
        notifier.send(SLACK, render(make_alert(), "slack"))
        notifier.send(SLACK_HOOK, render(make_alert(), "slack"))
    with mock.patch("requests.post", return_value=telegram_ok()):
        notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    for status in (429, 500, 401):
        with (
            mock.patch("requests.request", return_value=response(status, b"invalid_token")),
            pytest.raises((TransientDeliveryError, PermanentDeliveryError)) as caught,
        ):
            notifier.send(SLACK, render(make_alert(), "slack"))
            errors.append(str(caught.value))
        with (
            mock.patch("requests.post", return_value=response(status, b'{"ok":false}')),
            pytest.raises((TransientDeliveryError, PermanentDeliveryError)) as caught,
        ):
            notifier.send(TELEGRAM, render(make_alert(), "telegram"))
            errors.append(str(caught.value))
    for url in (
        privacy_url(TELEGRAM),
        privacy_url(SLACK),
        validate_url(f"tgram://{BOT_SECRET}/x") or "",
    ):
        errors.append(url)
    # apprise did log the POST URLs at DEBUG (the tokens are in them) - redacted. (Once the
    # https://hooks.slack.com/... form was seen, that whole URL is a secret: "POST URL: ***".)
    assert re.search(r"Telegram POST URL: (https://api\.telegram\.org/bot)?\*\*\*[ /]", caplog.text)
    assert re.search(
        r"Slack POST URL: (https://hooks\.slack\.com/services/\*\*\*/\*\*\*/)?\*\*\* ", caplog.text
    )
    assert_no_secret_logged(caplog)
    for error in errors:
        for secret in SECRETS:
            assert secret not in error
            assert quote(secret, safe="") not in error


# --- the real HTTP stack on loopback (requests + urllib3, real headers) --------------------------


class _FakeTelegram(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.seen.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
        status, headers, body = self.answers.pop(0) if self.answers else (200, {}, b'{"ok":true}')
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@pytest.fixture
def fake_telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_FakeTelegram]]:
    from apprise.plugins.telegram import NotifyTelegram

    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    handler = type("Handler", (_FakeTelegram,), {"answers": [], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(NotifyTelegram, "notify_url", f"http://127.0.0.1:{server.server_port}/bot")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_real_http_stack_retry_after_and_no_token_in_urllib3_logs(
    fake_telegram: type[_FakeTelegram], notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(1)
    fake_telegram.answers.append((429, {"Retry-After": "9"}, b'{"ok":false,"error_code":429}'))
    with pytest.raises(TransientDeliveryError) as caught:
        notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    assert caught.value.retry_after == 9.0
    notifier.send(TELEGRAM, render(make_alert(), "telegram"))
    assert [path for path, _ in fake_telegram.seen] == [
        f"/bot{BOT_ID}:{BOT_SECRET}/sendMessage"
    ] * 2
    assert fake_telegram.seen[1][1]["chat_id"] == 987654
    # urllib3 logs the request line, token included, at DEBUG: redacted.
    assert any(
        r.name.startswith("urllib3") and "/bot***/sendMessage" in r.getMessage()
        for r in caplog.records
    )
    assert_no_secret_logged(caplog)
