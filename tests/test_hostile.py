"""Untrusted input end to end: feedparser's 2,106 odd and broken test feeds, and
secrets that must never reach the logs."""

from __future__ import annotations

import json
import logging
import textwrap
import time
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy.engine import make_url

from newsalert.cli import main
from newsalert.config import RulesConfig
from newsalert.errors import ParseError
from newsalert.normalize import normalize
from newsalert.parse import expat_warning, parse
from newsalert.pipeline import alert_for
from newsalert.render import render
from newsalert.rules import RuleSet
from newsalert.scoring import Scorer
from newsalert.store import StoredItem
from tests.fakeapi import api_response
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BALKANS

from .conftest import ROOT

CORPUS = ROOT / "tests" / "data" / "feedparser-tests"
pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)


def test_every_corpus_feed_goes_through_parse_normalize_score_render(classifier: object) -> None:
    files = sorted(
        p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("README.md", "LICENSE")
    )
    assert len(files) >= 2100
    scorer = Scorer(RuleSet(RulesConfig()), classifier)  # type: ignore[arg-type]
    produced = rejected = items = 0
    slowest = 0.0
    for path in files:
        start = time.perf_counter()
        try:
            parsed = parse(path.read_bytes(), url="http://127.0.0.1/feed")
        except ParseError:
            rejected += 1
            continue
        found = normalize(parsed, "corpus", base_url="http://127.0.0.1/feed")
        if found:
            produced += 1
            items += len(found)
            for n, (item, score) in enumerate(zip(found, scorer.score_batch(found), strict=True)):
                alert = alert_for(StoredItem(n, "corpus", item, score))
                for family in ("email", "slack", "telegram", "text"):
                    message = render(alert, family)
                    assert message.body and "<script" not in message.body.lower()
        slowest = max(slowest, time.perf_counter() - start)
    print(
        f"\ncorpus: {len(files)} files, {produced} produced {items} items, {rejected} refused as not a feed, slowest {slowest:.3f}s"
    )
    assert produced > 300 and rejected < 50
    assert slowest < 5.0  # bounded: no file makes the path hang


def test_expat_version_warning() -> None:
    assert expat_warning((2, 7, 2)) is None
    assert "expat 2.5.0" in (expat_warning((2, 5, 0)) or "")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_secret_reaches_the_logs_during_a_full_poll_and_delivery(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    classifier: object,
) -> None:
    smtp_password, bot_secret, db_password = (
        "Smtp-Pa55word-xyz",
        "AAHsecretBotToken0123456789abcdefgh",
        "Db-Pa55word-xyz",
    )
    smtp_server.require_login("alerts", smtp_password)
    feed_server.route("/balkans", body=BALKANS)
    # trust auth ignores the password, so it can stand in for a real one here
    db_url = make_url(database_url).set(password=db_password).render_as_string(hide_password=False)
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage: {{data_dir: {model_dir}, database_url: "{db_url}"}}
            feeds:
              - {{name: balkans, url: "{feed_server.url("/balkans")}", allow_private: true}}
            subscribers:
              - name: desk
                urls:
                  - "{smtp_server.url(user="alerts", password="${SMTP_PASSWORD}")}"
                  - "tgram://123456:${{BOT_SECRET}}/987654"
            """
        ).replace("%24%7BSMTP_PASSWORD%7D", "${SMTP_PASSWORD}")
    )
    ok = api_response(200, b'{"ok":true,"result":{"message_id":1}}')
    caplog.set_level(logging.DEBUG)
    with (
        mock.patch.dict("os.environ", {"SMTP_PASSWORD": smtp_password, "BOT_SECRET": bot_secret}),
        mock.patch("requests.post", return_value=ok) as telegram,
    ):
        assert main(["--config", str(config), "-vv", "check"]) == 0
        assert main(["--config", str(config), "-vv", "poll", "--once"]) == 0
        assert main(["--config", str(config), "deliveries", "list"]) == 0
    assert len(smtp_server.messages) == 1
    assert (
        telegram.call_count == 1
        and json.loads(telegram.call_args.kwargs["data"])["chat_id"] == 987654
    )
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err
    assert "delivery" in caplog.text  # the run was logged at DEBUG...
    for secret in (smtp_password, bot_secret, db_password):
        assert secret not in text  # ...without a single secret
