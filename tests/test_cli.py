"""The operator's listings: ``newsalert deliveries``, ``send-test`` and ``items``, on a real
store (SQLite and PostgreSQL) and, for ``send-test``, a real SMTP server."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, update

from newsalert.cli import main
from newsalert.config import load_config
from newsalert.delivery import privacy_url
from newsalert.models import Item
from newsalert.pipeline import Pipeline
from newsalert.store import Store, deliveries, items
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_backtest import rss
from tests.test_stories import MOGADISHU, WIRE, WIRE_TITLES

pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = "Pa55-word-xyz"
TARGET = f"mailto://user:{SECRET}@example.org"


def write_config(
    tmp_path: Path,
    database_url: str,
    subscribers: str = "",
    *,
    feed_url: str = "http://127.0.0.1:9/feed",
    data_dir: Path | None = None,
) -> Path:
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage: {{data_dir: {data_dir or tmp_path}, database_url: "{database_url}"}}
            feeds:
              - {{name: desk, url: "{feed_url}", allow_private: true}}
            """
        )
        + subscribers,
        encoding="utf-8",
    )
    return config


def add_deliveries(store: Store, rows: list[dict[str, object]]) -> None:
    """Deliveries as the pipeline leaves them, one item each."""
    store.sync_feeds([("desk", "http://127.0.0.1:9/feed")])
    feed_id = store.feed_state("desk").id
    label = privacy_url(TARGET)
    ids = store.add_items(
        feed_id,
        [
            Item(key=f"k{n}", feed="desk", title=f"item {n}", summary="", link=None, published=None)
            for n in range(len(rows))
        ],
        NOW,
    )
    with store.begin() as conn:
        for item_id, row in zip(ids, rows, strict=True):
            conn.execute(
                insert(deliveries).values(
                    item_id=item_id,
                    subscriber="desk",
                    target_id="t1",
                    target_label=label,
                    attempts=1,
                    created_at=NOW,
                    next_attempt_at=NOW,
                    **row,
                )
            )


def test_deliveries_filter_before_the_limit_with_a_footer_of_the_filter(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, database_url)
    store = Store(database_url)
    error = f"{privacy_url(TARGET)}: SMTP server refused the message"
    # the oldest is ambiguous, then 2 dead, then 55 sent: newer than any --limit
    add_deliveries(
        store,
        [{"status": "sent", "ambiguous": True, "sent_at": NOW}]
        + [{"status": "dead", "last_error": error}] * 2
        + [{"status": "sent", "sent_at": NOW}] * 55,
    )
    store.close()

    assert main(["--config", str(config), "deliveries", "list", "--status", "ambiguous"]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if "(ambiguous)" in line]
    assert row.split()[0] == "1"
    assert out.rstrip().endswith("ambiguous: 1")

    assert main(["--config", str(config), "deliveries", "list", "--status", "dead"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if " dead " in line]
    assert len(rows) == 2
    assert out.rstrip().endswith("dead: 2") and "sent: 56" not in out
    # the short masked target once: no apprise settings, no secret, no URL in the error
    for line in rows:
        assert line.count("mailto://") == 1 and "mailto://user:****@example.org " in line
        assert "overflow=" not in line and SECRET not in line
        assert line.rstrip().endswith("SMTP server refused the message")

    assert main(["--config", str(config), "deliveries", "list", "--status", "pending"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == "no pending deliveries"

    assert main(["--config", str(config), "deliveries", "list", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("dead: 2, sent: 56 (the newest 5 shown)")


def test_send_test_names_each_target_once_in_short(
    tmp_path: Path, smtp_server: SMTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = f"mailto://user:{SECRET}@127.0.0.1:1?from=a@example.org&to=b@example.org"
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        textwrap.dedent(
            f"""\
            subscribers:
              - name: desk
                urls: ["{smtp_server.url()}", "{refused}"]
            """
        ),
    )
    assert main(["--config", str(config), "send-test", "desk"]) == 1
    ok, failed = capsys.readouterr().out.splitlines()
    assert ok.startswith(f"ok      mailto://127.0.0.1:{smtp_server.port}/") and "?" not in ok
    assert failed.startswith("FAILED  mailto://user:****@127.0.0.1:1/b%40example.org: ")
    assert failed.count("mailto://") == 1 and "Connection refused" in failed
    assert "overflow=" not in failed and SECRET not in failed
    assert len(smtp_server.messages) == 1


# --- newsalert items ---------------------------------------------------------------------

ITEMS_CONFIG = """\
rules:
  include:
    - name: attacks
      terms: [police, gunmen, bomb]
subscribers:
  - name: everything
    urls: ["json://127.0.0.1:9/everything"]
  - name: somalia-desk
    urls: ["json://127.0.0.1:9/somalia"]
    keywords: [Mogadishu]
"""
HOSTILE = "Zoo news \x1b]0;owned\x07\x1b[2J \u202egnp.exe a giraffe calf is born"


def test_items_lists_scores_stories_and_who_was_alerted(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    classifier: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("newsalert.classifier.load_or_train", lambda *_: classifier)
    entries = [
        ("wire-a", WIRE_TITLES["wire-a"], WIRE, 1),
        ("wire-b", WIRE_TITLES["wire-b"], WIRE, 1),  # the same copy: a duplicate
        ("mogadishu", *MOGADISHU, 1),
        ("zoo", "A giraffe calf is born at the zoo", "Visitors queue to see the calf.", 0),
        ("old", "Gunmen rob a bank in Zagreb", "Police are searching for two gunmen.", 1),
    ]
    feed_server.route("/desk", body=rss(entries), headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path,
        database_url,
        ITEMS_CONFIG,
        feed_url=feed_server.url("/desk"),
        data_dir=model_dir,
    )
    loaded = load_config(config)
    store = Store(loaded.database_url)
    pipeline = Pipeline(loaded, store)
    new = pipeline.poll_feed("desk").new_item_ids
    assert pipeline.score_items(new).relevant == 4
    pipeline.close()
    by_title = {s.item.title: s.id for s in store.get_items(new)}
    ids = {guid: by_title[title] for guid, title, _, _ in entries}
    with store.begin() as conn:
        # one alert sent; feed text as hostile as a store can hold; one item two days old
        conn.execute(
            update(deliveries)
            .where(
                deliveries.c.item_id == ids["mogadishu"], deliveries.c.subscriber == "everything"
            )
            .values(status="sent")
        )
        conn.execute(update(items).where(items.c.id == ids["zoo"]).values(title=HOSTILE))
        conn.execute(
            update(items)
            .where(items.c.id == ids["old"])
            .values(fetched_at=datetime.now(UTC) - timedelta(days=2))
        )
    store.close()
    items_cmd = ["--config", str(config), "items"]

    assert main(items_cmd) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    lines = out.splitlines()
    assert lines[0].split() == [
        "id",
        "fetched",
        "(UTC)",
        "feed",
        "score",
        "relevant",
        "category",
        "story",
        "alerted",
        "where",
        "title",
    ]
    assert lines[-2:] == ["", "4 item(s) in the last 24 hours"]
    rows = {int(line.split()[0]): line for line in lines[2:-2]}
    assert set(rows) == {ids["wire-a"], ids["wire-b"], ids["mogadishu"], ids["zoo"]}
    assert f" {ids['wire-a']} new " in rows[ids["wire-a"]]
    assert "everything (pending) " in rows[ids["wire-a"]]
    assert f" {ids['wire-a']} duplicate  - " in rows[ids["wire-b"]]  # merged: no alert
    assert " everything, somalia-desk (pending) " in rows[ids["mogadishu"]]
    zoo = re.split(r"\s{2,}", rows[ids["zoo"]])  # no category, story nor alert
    assert zoo[4:8] == ["no", "-", "-", "-"] and zoo[9].endswith("a giraffe calf is born")
    # where each event happened, as alerts say it
    assert "  Mogadishu, Somalia  " in rows[ids["mogadishu"]]

    assert main([*items_cmd, "--not-relevant"]) == 0
    out = capsys.readouterr().out
    assert "giraffe" in out and "Gunmen" not in out and "1 item(s)" in out
    assert main([*items_cmd, "--relevant", "--hours", "72", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "giraffe" not in out
    assert out.splitlines()[-1] == "4 item(s) in the last 72 hours; the newest 2 shown (--limit)"
    assert main([*items_cmd, "--min-score", "2"]) == 0
    assert capsys.readouterr().out.startswith("no scored items matching")
    assert main([*items_cmd, "--feed", "nope"]) == 2
    assert "no feed named 'nope'; configured: desk" in capsys.readouterr().err

    assert main([*items_cmd, "--feed", "desk", "--json"]) == 0
    raw = capsys.readouterr().out
    assert raw.isascii()  # feed text escaped: nothing hostile reaches the terminal
    data = {d["id"]: d for d in json.loads(raw)}
    assert data[ids["zoo"]]["title"] == HOSTILE and data[ids["zoo"]]["relevant"] is False
    assert data[ids["wire-b"]]["story"] == {"id": ids["wire-a"], "kind": "duplicate"}
    assert data[ids["wire-b"]]["alerted"] == {}
    assert data[ids["mogadishu"]]["alerted"] == {"everything": "sent", "somalia-desk": "pending"}
    assert data[ids["mogadishu"]]["where"]["country"] == "SO"
    assert data[ids["mogadishu"]]["where"]["place"] == "Mogadishu"
