"""The operator's listings: ``newsalert deliveries``, ``send-test`` and ``items``, on a real
store (SQLite and PostgreSQL) and, for ``send-test``, a real SMTP server."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from newsalert.cli import main
from newsalert.delivery import privacy_url
from newsalert.models import Item
from newsalert.store import Store, deliveries
from tests.smtpserver import SMTPServer

pytestmark = pytest.mark.filterwarnings(
    "ignore:Session.login_data is deprecated:DeprecationWarning"
)

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = "Pa55-word-xyz"
TARGET = f"mailto://user:{SECRET}@example.org"


def write_config(tmp_path: Path, database_url: str, subscribers: str = "") -> Path:
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage: {{data_dir: {tmp_path}, database_url: "{database_url}"}}
            feeds:
              - {{name: desk, url: "http://127.0.0.1:9/feed", allow_private: true}}
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
