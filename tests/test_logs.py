"""Structured logs: one JSON object per line, ids as fields, never a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsalert import logs
from newsalert.config import load_config
from newsalert.pipeline import Pipeline
from newsalert.store import Store
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BALKANS, write_config

from .conftest import ROOT

PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything the newsalert loggers say at INFO and above, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("newsalert")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_formatter_fields_extras_and_masking() -> None:
    record = logging.LogRecord(
        "newsalert.pipeline",
        logging.WARNING,
        __file__,
        1,
        "sent to %s",
        (f"mailtos://alerts:{PASSWORD}@smtp.example.org:587",),
        None,
    )
    record.feed = "balkans"
    record.delivery_id = 7
    record.delivery_ids = [7, 8]
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "newsalert.pipeline"
    assert data["time"].endswith("Z") and "T" in data["time"]
    assert data["feed"] == "balkans" and data["delivery_id"] == 7 and data["delivery_ids"] == [7, 8]
    assert PASSWORD not in line and "mailtos://***:***@smtp.example.org" in data["message"]
    try:
        raise RuntimeError(f"https://user:{PASSWORD}@x.example/ failed")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    data = json.loads(logs.JsonFormatter().format(record))
    assert "RuntimeError" in data["exc"] and PASSWORD not in data["exc"]


def test_pipeline_logs_carry_feed_item_and_delivery_ids_and_no_secret(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    json_lines: io.StringIO,
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    closed = FeedServer()
    down = closed.url("/feed")
    closed.close()
    smtp_server.refuse()
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"balkans": feed_server.url("/balkans"), "down": down},
        smtp_server.url(user="alerts", password=PASSWORD),
    )
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url))
    summary = pipeline.run_once()
    pipeline.close()
    assert summary.delivered == {"failed": 1}

    lines = records(json_lines)
    assert PASSWORD not in json_lines.getvalue()
    fed = [r for r in lines if r.get("feed") == "balkans"]
    assert fed and "2 entries, 2 new" in str(fed[0]["message"])
    failed = [r for r in lines if r.get("feed") == "down"]
    assert failed and failed[0]["level"] == "WARNING" and failed[0]["status"] == "error"
    [delivery] = [r for r in lines if "delivery_id" in r]
    [row] = pipeline.store.list_deliveries()
    assert delivery["delivery_id"] == row.id and delivery["item_id"] == row.item_id
    assert delivery["subscriber"] == "duty-desk" and delivery["level"] == "WARNING"


def test_log_format_comes_from_the_option_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(logs.ENV_LOG_FORMAT, raising=False)
    assert logs.log_format() == "text"
    monkeypatch.setenv(logs.ENV_LOG_FORMAT, "JSON")
    assert logs.log_format() == "json"
    assert logs.log_format("text") == "text"
    monkeypatch.setenv(logs.ENV_LOG_FORMAT, "xml")
    with pytest.raises(ValueError, match="log format"):
        logs.log_format()


def test_celery_hook_switches_the_worker_handlers_to_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logger = logging.getLogger("test-celery-root")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        monkeypatch.setenv(logs.ENV_LOG_FORMAT, "text")
        logs.on_celery_logger(logger=logger)
        assert not isinstance(handler.formatter, logs.JsonFormatter)
        monkeypatch.setenv(logs.ENV_LOG_FORMAT, "json")
        logs.on_celery_logger(logger=logger)
        assert isinstance(handler.formatter, logs.JsonFormatter)
    finally:
        logger.removeHandler(handler)


def test_cli_writes_json_lines_to_stderr(
    tmp_path: Path, model_dir: Path, feed_server: FeedServer, classifier: object
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    config = write_config(
        tmp_path,
        model_dir,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        {"balkans": feed_server.url("/balkans")},
        f"json://user:{PASSWORD}@127.0.0.1:9/hook",
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        logs.ENV_LOG_FORMAT: "json",
    }
    done = subprocess.run(
        [sys.executable, "-m", "newsalert.cli", "--config", str(config), "-v", "poll", "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert any(r.get("feed") == "balkans" for r in lines)
    assert any("delivery_id" in r for r in lines)  # port 9 refuses: a failed delivery
    # httpx logs every request at INFO: a line per poll, kept out
    assert not [r for r in lines if r["logger"].startswith(("httpx", "httpcore"))], lines
    assert PASSWORD not in done.stderr and PASSWORD not in done.stdout


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_celery_per_task_lines_are_debug_detail(level: int) -> None:
    """Celery's received/succeeded lines and beat's ticks show only when DEBUG is on, as DEBUG."""
    from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

    logs.quiet_chatty_libraries()
    logs.quiet_chatty_libraries()  # idempotent: one filter per logger
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        context = {"name": "newsalert.tick", "id": "1", "runtime": 0.01, "return_value": None}
        logging.getLogger("celery.worker.strategy").info(LOG_RECEIVED, context)
        logging.getLogger("celery.app.trace").info(LOG_SUCCESS, context)
        logging.getLogger("celery.beat").info("Scheduler: Sending due task %s (%s)", "t", "x")
        logging.getLogger("celery.app.trace").info("Task %s[%s] retry: %s", "n", "1", "later")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = stream.getvalue().splitlines()
    assert len(logging.getLogger("celery.app.trace").filters) == 1
    assert "INFO celery.app.trace Task n[1] retry: later" in lines  # not per-task chatter
    chatter = [line for line in lines if "retry" not in line]
    if level == logging.INFO:
        assert chatter == []
    else:
        assert [line.split()[0] for line in chatter] == ["DEBUG"] * 3
        assert "Task newsalert.tick[1] received" in chatter[0]
