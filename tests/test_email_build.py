"""The e-mail a send writes is the one the email package and apprise would write: the
boundary chosen without a regex per e-mail, the text part the renderer's own text of the
HTML body it wrote, any other HTML body converted to text once for several sends, apprise's
DEBUG lines not made into records nobody sees (patches 4 and 5
of ``newsalert.patches``, ``delivery._skipping_debug``)."""

from __future__ import annotations

import email.message
import logging
import random
import re
import sys
from dataclasses import replace
from email.mime.text import MIMEText

import apprise.plugins.email.base as apprise_email
import pytest
from apprise import NotifyFormat

from newsalert import delivery, patches
from newsalert.delivery import Notifier
from newsalert.render import render
from tests.smtpserver import SMTPServer
from tests.test_render import make_alert


def _multipart(body: str) -> patches._MIMEMultipart:
    message = patches._MIMEMultipart("alternative")
    message["Subject"] = "Flooding in Ghent"
    message.attach(MIMEText(body, "plain"))  # us-ascii, 7bit: the text as it is
    message.attach(MIMEText(f"<p>{body}</p>", "html", "utf-8"))  # base64
    return message


def _both(body: str, seed: int) -> tuple[str, str]:
    """The same message flattened by the patched ``as_string`` and by the email
    package's, from the same random state."""
    random.seed(seed)
    ours = _multipart(body).as_string()
    random.seed(seed)
    theirs = email.message.Message.as_string(_multipart(body))
    return ours, theirs


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_boundary_is_the_email_packages(seed: int) -> None:
    ours, theirs = _both("Rivers rose overnight.\n--\nThe desk", seed)
    assert ours == theirs
    assert re.search(r'boundary="={15}\d+=="', ours)


def _fixed_token(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every boundary drawn from now on: the one the token 7 makes."""
    monkeypatch.setattr(random, "randrange", lambda *_: 7)
    return "=" * 15 + f"%0{len(repr(sys.maxsize - 1))}d" % 7 + "=="


def test_boundary_in_the_text_gets_the_email_packages_suffix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boundary = _fixed_token(monkeypatch)
    # the boundary's line, and its first suffix's, are in the body: the third one is taken
    body = f"a\n--{boundary}\nb\n--{boundary}.0--\nc"
    ours, theirs = _both(body, 0)
    assert ours == theirs
    assert f'boundary="{boundary}.1"' in ours


def test_boundary_only_inside_a_line_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    boundary = _fixed_token(monkeypatch)
    body = f"a x--{boundary} b"  # a substring, not a line of its own: no suffix
    ours, theirs = _both(body, 0)
    assert ours == theirs
    assert f'boundary="{boundary}"' in ours


_VARYING = re.compile(rb"^(Date|Message-ID): [^\r\n]*\r\n", re.MULTILINE)


def _sent(smtp_server: SMTPServer, seed: int) -> bytes:
    random.seed(seed)
    Notifier().send(smtp_server.url(), render(make_alert(), "email"))
    return _received(smtp_server)


def _received(smtp_server: SMTPServer) -> bytes:
    data = smtp_server.envelopes[-1].data
    # the time is in both; the boundary and the Message-ID's random part follow the seed
    return _VARYING.sub(lambda m: m.group(1) + b": -\r\n", data)


@pytest.mark.parametrize("seed", [3, 4])
def test_sent_bytes_are_the_same_as_before(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    now = _sent(smtp_server, seed)
    text = render(make_alert(), "email").attach_text
    with monkeypatch.context() as m:
        # the email package and apprise's own code, given the text part we write
        m.setattr(patches._MIMEMultipart, "as_string", email.message.Message.as_string)
        m.setattr(apprise_email, "convert_between", lambda *_: text)
        m.setattr(delivery._apprise_logger, "debug", delivery._apprise_logger.debug.__wrapped__)
        before = _sent(smtp_server, seed)
    assert b"multipart/alternative" in now and b"text/plain" in now
    assert _VARYING.sub(b"", now) != b""
    assert now == before
    assert now.count(b"Message-ID: -") == 1 and now.count(b"Date: -") == 1


def _converter_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The bodies apprise's own converter is given from now on."""
    convert = apprise_email.convert_between
    calls: list[str] = []

    def counted(from_format: object, to_format: object, content: str) -> str:
        calls.append(content)
        return convert.__wrapped__(from_format, to_format, content)

    fresh = patches._converting(counted, NotifyFormat.HTML, NotifyFormat.TEXT)
    monkeypatch.setattr(apprise_email, "convert_between", fresh)
    return calls


def test_html_body_is_converted_once_for_several_sends(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _converter_calls(monkeypatch)
    # no text of ours (an operator template's body): apprise converts the HTML
    message = replace(render(make_alert(), "email"), attach_text=None)
    other = replace(render(make_alert(title="Another storm"), "email"), attach_text=None)
    for _ in range(3):
        Notifier().send(smtp_server.url(), message)
    Notifier().send(smtp_server.url(), other)
    assert calls == [message.body, other.body]
    texts = [m.get_body(("plain",)).get_content() for m in smtp_server.messages]
    assert texts[0] == texts[1] == texts[2] != texts[3]
    assert "Another storm" in texts[3]


def _parts(smtp_server: SMTPServer, n: int) -> tuple[str, str]:
    received = smtp_server.messages[n]
    return received.get_body(("plain",)).get_content(), received.get_body(("html",)).get_content()


def test_text_part_is_the_rendered_text_not_a_parse_of_the_html(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _converter_calls(monkeypatch)
    feedback = (("Yes, useful", "https://fb.example/y?t=1"), ("No", "https://fb.example/n"))
    message = render(make_alert(actions=feedback, summary="See https://evil.example now"), "email")
    assert message.attach_text
    Notifier().send(smtp_server.url(), message)
    text, html = _parts(smtp_server, 0)
    assert calls == []  # apprise's converter never parsed our HTML
    # (line ends as received: CRLF)
    assert text.splitlines() == message.attach_text.splitlines()
    assert html.splitlines() == message.body.splitlines()  # the HTML part is unchanged
    # what apprise's parse loses: the feedback links' URLs
    assert "No: https://fb.example/n" in text
    assert "https://evil.example" not in text  # feed text's links stay broken (render.clean)


def test_text_is_used_only_for_the_body_it_was_rendered_with(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body apprise changed before building the e-mail gets apprise's conversion of what
    it sends; a send without our text after one with it gets apprise's too."""
    calls = _converter_calls(monkeypatch)
    message = render(make_alert(), "email")
    other = render(make_alert(title="Another storm"), "email")
    send = apprise_email.NotifyEmail.send

    def changed(self: object, body: str, *args: object, **kwargs: object) -> bool:
        return send(self, body.replace("Troops", "Tanks"), *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(apprise_email.NotifyEmail, "send", changed)
        Notifier().send(smtp_server.url(), message)
    Notifier().send(smtp_server.url(), message)
    Notifier().send(smtp_server.url(), replace(other, attach_text=None))
    assert calls == [message.body.replace("Troops", "Tanks"), other.body]
    texts = [_parts(smtp_server, n)[0] for n in range(3)]
    assert "Tanks cross border" in texts[0] and "Troops" not in texts[0]
    assert texts[1].splitlines() == (message.attach_text or "").splitlines()
    assert "Another storm" in texts[2] and "Troops cross border" not in texts[2]


def test_socket_exception_debug_line_still_explains_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the root logger at WARNING apprise's DEBUG lines make no record, but the one
    that carries the cause of a failure still reaches the send's error."""
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    made: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.Logger, "makeRecord", _counting(logging.Logger.makeRecord, made))
    logger = delivery._apprise_logger
    sink: list[str] = []
    with delivery._capture_warnings(sink):
        logger.debug("SMTP Host: %s", "127.0.0.1")
        logger.debug("%s send() completed in %.2fs.", "Email", 0.01)
        logger.debug("Socket Exception: %s", "connection refused")
        logger.debug("%s: timed out", "Socket Exception")
        logger.debug("%(what)s: reset", {"what": "Socket Exception"})
    logger.debug("Socket Exception: outside a send")
    assert sink == [
        "Socket Exception: connection refused",
        "Socket Exception: timed out",
        "Socket Exception: reset",
    ]
    assert len(made) == 3


def test_debug_lines_are_records_when_the_root_logger_wants_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    delivery._apprise_logger.debug("SMTP Host: %s", "127.0.0.1")
    [record] = [r for r in caplog.records if r.name == "apprise"]
    assert record.getMessage() == "SMTP Host: 127.0.0.1"
    assert record.pathname == __file__  # the caller's line, not the wrapper's


def _counting(make: object, made: list[logging.LogRecord]) -> object:
    def counted(self: logging.Logger, *args: object, **kwargs: object) -> logging.LogRecord:
        record = make(self, *args, **kwargs)  # type: ignore[operator]
        if self.name == "apprise":
            made.append(record)
        return record

    return counted


@pytest.mark.parametrize(
    "text", ["", "Flooding in Ghent", "Überschwemmung", "tab\there", "\x7f", "\x80", "<a@b.c>"]
)
def test_header_charset_is_apprises(text: str) -> None:
    original = patches._APPRISE_GET_CHARSET
    assert original is not None
    assert apprise_email.NotifyEmail._get_charset is patches._get_charset
    assert patches._get_charset(text) == original(text)


@pytest.mark.parametrize("charset", ["utf-8", "us-ascii", "iso-8859-1", None])
@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_text_part_is_the_email_packages(charset: str | None, subtype: str) -> None:
    """``_MIMEText`` (its ``set_param`` kept per header value) writes what ``MIMEText``
    on the same policy writes, and further ``set_param`` calls change it alike."""
    body = "Caf\u00e9 fire" if charset in ("utf-8", "iso-8859-1") else "Cafe fire"

    class Plain(MIMEText):
        def __init__(self, *args: object) -> None:
            super().__init__(*args, policy=patches.PLAIN_HEADERS)  # type: ignore[arg-type]

    parts = [cls(body, subtype, charset) for cls in (patches._MIMEText, Plain)]
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = [
        (("charset", charset or "us-ascii"), {}),
        (("format", "flowed"), {}),
        (("format", "fixed"), {"replace": True}),
        (("name", "caf\u00e9.txt"), {"header": "Content-Disposition", "charset": "utf-8"}),
        (("filename", "a b.txt"), {"header": "Content-Disposition", "requote": False}),
    ]
    for args, kwargs in calls:
        for part in parts:
            part.set_param(*args, **kwargs)  # type: ignore[arg-type]
        assert parts[0].items() == parts[1].items()
    assert parts[0].as_string() == parts[1].as_string()
    assert 'format="fixed"' in parts[0]["Content-Type"]
