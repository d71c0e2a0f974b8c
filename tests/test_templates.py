"""Operator templates: a custom layout per channel, still escaped and still cut to fit."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest

from newsalert.config import load_config
from newsalert.delivery import Notifier
from newsalert.errors import ConfigError
from newsalert.render import render
from tests.fakeapi import api_response
from tests.smtpserver import SMTPServer
from tests.test_render import HOSTILE_TITLE, LINK, make_alert

TEMPLATES = {
    "subject": "{severity} | {category} | {title}",
    "email": '<h1>{title}</h1><p>{summary}</p><p><a href="{link}">read</a> {ref}</p>',
    "telegram": '<b>{title}</b> ({score})\n{summary}\n<a href="{link}">source</a>',
    "slack": "**{title}** {why}\n[open](<{link}>)\n{summary}",
    "text": "{title} / {source} / {time}",
}


def test_email_template_is_used_and_feed_text_stays_escaped(smtp_server: SMTPServer) -> None:
    alert = make_alert(title="<script>alert(1)</script>\r\nBcc: victim@example.org")
    message = render(alert, "email", templates=TEMPLATES)
    Notifier(timeout=5).send(smtp_server.url(), message)
    [mail] = smtp_server.messages
    assert mail["Subject"].startswith("HIGH | armed_conflict | <script>alert(1)</script> Bcc:")
    assert mail["Bcc"] is None
    body = mail.get_body(("html",)).get_content()
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; Bcc: victim@example.org</h1>" in body
    assert f'<a href="{LINK.replace("&", "&amp;")}">read</a>' in body
    assert "ref: item 7" in body


def test_telegram_template_is_cut_to_4096_keeping_the_link() -> None:
    message = render(make_alert(summary="word " * 4000), "telegram", templates=TEMPLATES)
    assert message.body.startswith("<b>Troops cross border</b> (0.93)")
    assert len(message.body.encode("utf-16-le")) // 2 + message.body.count("\n") <= 4096
    assert message.body.rstrip().endswith('">source</a>')
    assert "…" in message.body


def test_slack_template_cannot_be_used_to_smuggle_mentions() -> None:
    message = render(make_alert(title=HOSTILE_TITLE), "slack", templates=TEMPLATES)
    ok = api_response(200, b"ok")
    with mock.patch("requests.request", return_value=ok) as slack:
        Notifier(timeout=5).send(
            "slack://T1AAAAAAA/B1BBBBBBB/c3cretslackTOKENabcdefgh/?footer=no&image=no", message
        )
    payload = json.dumps(json.loads(slack.call_args.kwargs["data"]))
    for live in (
        "<!channel>",
        "<!here",
        "<!everyone>",
        "<@U123>",
        "<#C42>",
        "<https://evil.example|Bank>",
    ):
        assert live not in payload
    assert f"<{LINK.replace('&', '&amp;')}|open>" in payload  # the operator's own link works


def test_text_template_and_subject() -> None:
    message = render(make_alert(), "text", templates=TEMPLATES)
    assert message.body == "Troops cross border / Reuters / 2023-09-29 14:05 UTC"
    assert message.title == "HIGH | armed_conflict | Troops cross border"
    assert render(make_alert(), "text").body != message.body  # no template: the built-in layout


def test_unknown_placeholder_is_a_config_error_with_hint(tmp_path: Path) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text('templates:\n  telegram: "{title} {secret_field}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    [problem] = [str(p) for p in info.value.problems]
    assert problem.startswith(
        f"{path}: templates.telegram: unknown placeholder {{secret_field}}; use {{title}}"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        # each passes a render on sample values but fails, or blows up, on real items
        (
            "{summary[0]}",
            "placeholder {summary[0]} is not allowed: write the field alone, {summary}",
        ),
        (
            "{title.upper}",
            "placeholder {title.upper} is not allowed: write the field alone, {title}",
        ),
        ("{title:>99999999}", "placeholder {title:>99999999} is not allowed"),
        ("{title!r}", "placeholder {title!r} is not allowed"),
        ("{}", "not a valid template (a placeholder without a name, {})"),
        ("<b>{title}", None),
        ("{{literal}} {link}", None),
    ],
)
def test_templates_take_fields_by_name_only(
    tmp_path: Path, template: str, problem: str | None
) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(f"templates:\n  text: {json.dumps(template)}\n")
    if problem is None:
        load_config(path, {})
        return
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    [found] = [str(p) for p in info.value.problems]
    assert found.startswith(f"{path}: templates.text: {problem}")
