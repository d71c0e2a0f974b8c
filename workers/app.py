"""The Celery app, configured from the same config and environment as the CLI.

``celery -A workers.app worker`` / ``beat`` load the config named by
NEWSALERT_CONFIG (default config/newsalert.yaml); ``newsalert run`` does the same
and starts both in one process.

The store, not the broker, is the source of truth: items, scores and deliveries
are rows, and the beat's ``sweep`` re-dispatches whatever is due. A message lost
with a broker (or the embedded broker's folder) delays work; it never loses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from newsalert.config import LoadedConfig, load_config

TICK_SECONDS = 5.0  # how often beat looks for due feeds
SWEEP_SECONDS = 30.0  # how often beat re-dispatches unscored items and due deliveries
POLL_TIME_LIMIT_MARGIN = 30.0  # on top of the fetch deadline


def embedded_broker(data_dir: Path) -> tuple[str, dict[str, Any]]:
    """kombu's filesystem transport under the data dir: no server, survives restarts."""
    folder = data_dir / "broker"
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "store_processed": False,
    }
    return "filesystem://", options


def celery_settings(loaded: LoadedConfig) -> dict[str, Any]:
    fetch_deadline = loaded.config.fetch.deadline
    delivery = loaded.config.delivery
    if loaded.broker_url:
        broker_url, transport_options = loaded.broker_url, {}
    else:
        broker_url, transport_options = embedded_broker(loaded.data_dir)
    # Redis redelivers an unacked message after the visibility timeout: it must be
    # longer than any task's run time or a countdown'd retry, or work runs twice.
    longest = max(delivery.backoff_max, fetch_deadline + POLL_TIME_LIMIT_MARGIN) * 2
    transport_options.setdefault("visibility_timeout", max(3600.0, longest))
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep reconnecting: the store keeps the work
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        # at-least-once: a task is acked after it ran; a worker killed mid-task
        # leaves it to be redelivered. Safe because every task is idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": fetch_deadline + 2 * POLL_TIME_LIMIT_MARGIN,
        "task_soft_time_limit": fetch_deadline + POLL_TIME_LIMIT_MARGIN,
        "task_default_queue": "newsalert",
        "task_routes": {
            "newsalert.deliver_batch": {"queue": "deliver"},
        },
        "beat_schedule": {
            "schedule-due-feeds": {
                "task": "newsalert.schedule_due_feeds",
                "schedule": TICK_SECONDS,
            },
            "sweep": {"task": "newsalert.sweep", "schedule": SWEEP_SECONDS},
        },
        "beat_schedule_filename": str(loaded.data_dir / "celerybeat-schedule"),
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "enable_utc": True,
    }


def make_app(loaded: LoadedConfig | None = None) -> Celery:
    loaded = loaded or load_config()
    loaded.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("newsalert")
    app.conf.update(celery_settings(loaded))
    app.conf.newsalert_config_path = str(loaded.path)
    app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    return app


app = make_app()
