"""Logging set-up: readable text by default, or one JSON object per line.

``--log-format json`` (or ``NEWSALERT_LOG_FORMAT=json``) writes lines like::

    {"time": "2026-01-01T12:00:00.123Z", "level": "INFO", "logger": "newsalert.pipeline",
     "message": "feed balkans: 3 entries, 3 new", "feed": "balkans"}

Whatever the code passes with ``extra=`` (``feed``, ``item_id``, ``delivery_id``,
``subscriber``, ``status``...) becomes a field. Secrets: the code logs apprise URLs
only in their masked form; as a second line of defence any ``user:password@`` in
a URL is masked in the message and the traceback here.

The Celery worker configures logging itself; ``on_celery_logger`` (connected to
``after_setup_logger`` in ``workers/app.py``) swaps in the JSON formatter there.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

ENV_LOG_FORMAT = "NEWSALERT_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# attributes every LogRecord has: anything else came in through ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]+:[^/\s@]+@")


def scrub(text: str) -> str:
    """Mask ``user:password@`` in any URL of ``text``."""
    return _USERINFO.sub(r"\1***:***@", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in out:
                out[key] = _field(value)
        if record.exc_info:
            out["exc"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = scrub(record.exc_text)
        if record.stack_info:
            out["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def _iso(created: float) -> str:
    when = datetime.fromtimestamp(created, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_field(v) for v in value]
    return scrub(str(value))


class ScrubbingFormatter(logging.Formatter):
    """The text format, with URL passwords masked like the JSON one."""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def log_format(explicit: str | None = None) -> str:
    """The format asked for: the option, else NEWSALERT_LOG_FORMAT, else text."""
    value = (explicit or os.environ.get(ENV_LOG_FORMAT) or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, got {value!r}")
    return value


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else ScrubbingFormatter(TEXT_FORMAT)


# libraries that log every request at INFO: a line per poll is noise (and, at hundreds
# of polls a second, real work); the pipeline logs what matters about each feed itself
CHATTY = ("httpx", "httpcore")

# Celery writes two INFO lines per task (received, succeeded) and beat one per tick: about
# 234 lines a minute from an idle `newsalert run`. They are per-task detail, so DEBUG.
PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")
_BEAT_TICK = "Scheduler: Sending due task %s (%s)"


class PerTaskAtDebug(logging.Filter):
    """Turn Celery's per-task INFO lines into DEBUG ones (kept only when DEBUG is on)."""

    # Celery's templates, read at the first INFO record: these loggers only log once
    # Celery runs, and importing celery.app.trace up front cost every command (such as
    # `poll --once`) a tenth of a second at start-up
    _templates: frozenset[str] | None = None

    @property
    def templates(self) -> frozenset[str]:
        if self._templates is None:
            try:
                from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
            except ImportError:  # pragma: no cover - celery is a dependency
                LOG_RECEIVED = LOG_SUCCESS = ""
            self._templates = frozenset({LOG_RECEIVED, LOG_SUCCESS, _BEAT_TICK} - {""})
        return self._templates

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.msg not in self.templates:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def quiet_chatty_libraries() -> None:
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in PER_TASK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, PerTaskAtDebug) for f in logger.filters):
            logger.addFilter(PerTaskAtDebug())


def setup(
    level: int, fmt: str = "text", stream: TextIO | None = None, *, force: bool = False
) -> logging.Handler | None:
    """Log to ``stream`` (stderr) in ``fmt``, like ``logging.basicConfig``.

    As with basicConfig, a root logger someone else configured (a test runner, an
    embedding application) is left alone unless ``force``; the handler this
    function installed earlier is replaced. Returns the installed handler.
    """
    quiet_chatty_libraries()
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_newsalert", False)]
    if len(ours) != len(root.handlers) and not force:
        return None
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler._newsalert = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def on_celery_logger(logger: logging.Logger | None = None, **_: Any) -> None:
    """Celery ``after_setup_logger`` / ``after_setup_task_logger``: JSON when asked for."""
    quiet_chatty_libraries()
    try:
        fmt = log_format()
    except ValueError:
        return
    if fmt != "json" or logger is None:
        return
    loggers = [logger]
    try:  # the pool's own logger ("Process ... exited") has its own handler
        from celery.utils.log import get_multiprocessing_logger

        loggers.append(get_multiprocessing_logger())
    except ImportError:
        pass
    for each in loggers:
        for handler in getattr(each, "handlers", ()):
            handler.setFormatter(JsonFormatter())
