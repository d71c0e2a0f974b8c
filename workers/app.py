"""The Celery app, configured from the same config and environment as the CLI.

``celery -A workers.app worker`` / ``beat`` load the config named by
NEWSALERT_CONFIG (default config/newsalert.yaml); ``newsalert run`` does the same
and starts both in one process.

The store, not the broker, is the source of truth: items, scores and deliveries
are rows, and the beat's ``sweep`` re-dispatches whatever is due. A message lost
with a broker (or the embedded broker's folder) delays work; it never loses it.

Timing is derived from the config rather than fixed, so that a config with short
intervals (tests, a busy desk) is scheduled as finely as it asks, and one with
long retry delays never outlives the broker's visibility timeout:

- the beat tick (how often due feeds are claimed) is a sixth of the smallest
  allowed feed interval (``fetch.min_interval``), between 1 and 5 seconds;
- the sweep runs every half of the shortest delivery backoff or lease, between
  1 and 30 seconds;
- task time limits follow ``fetch.deadline``; the Redis visibility timeout is
  twice the longest a message can stay unacknowledged (a task's hard time limit
  plus the longest retry countdown), and never less than an hour.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from celery import Celery, signals

from newsalert import logs, metrics
from newsalert.config import LoadedConfig, load_config
from newsalert.web import serve as web_serve
from workers import compat

compat.apply()  # before any broker connection (see workers/compat.py)

ENV_TRANSPORT_OPTIONS = "NEWSALERT_BROKER_TRANSPORT_OPTIONS"
POLL_TIME_LIMIT_MARGIN = 30.0  # on top of the fetch deadline (parse, store, score)
SCORE_TIME_LIMIT = 600.0  # a batch may have to load the model first
DELIVERY_TIME_LIMIT_MARGIN = 60.0  # on top of delivery.timeout x batch size
TASK_RETRY_BACKOFF_MAX = 300  # seconds: Celery-level retries of transient errors
MIN_VISIBILITY_TIMEOUT = 3600.0
DELIVERY_BATCH = 20
# The embedded broker has one worker per data dir: nobody to share reserved messages
# with, and within the worker Celery's fair scheduling hands a task to an idle pool
# process only. kombu's virtual transports fetch only while the QoS allows, so with a
# prefetch of 1 every finished task waits a polling interval for the next message
# (measured here: 43 polls/s with 1, 100/s with 4). Reserved messages lost with a
# killed worker are re-dispatched by the sweep.
EMBEDDED_PREFETCH = 4


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def timings(loaded: LoadedConfig) -> dict[str, float]:
    """Every interval and limit the Celery layer uses, derived from the config."""
    fetch = loaded.config.fetch
    delivery = loaded.config.delivery
    min_interval = float(fetch.min_interval)
    poll_soft = fetch.deadline + POLL_TIME_LIMIT_MARGIN
    deliver_soft = delivery.timeout * DELIVERY_BATCH + DELIVERY_TIME_LIMIT_MARGIN
    hard = {
        "poll": poll_soft + POLL_TIME_LIMIT_MARGIN,
        "score": SCORE_TIME_LIMIT + 60.0,
        "deliver": deliver_soft + 30.0,
    }
    # a message is unacked while its task runs (acks_late) and while a retry
    # countdown waits in the worker: Redis must not hand it out again meanwhile
    longest_unacked = max(hard.values()) + TASK_RETRY_BACKOFF_MAX
    return {
        "tick": _clamp(min_interval / 6, 1.0, 5.0),
        "sweep": _clamp(min(delivery.backoff_base, delivery.lease) / 2, 1.0, 30.0),
        "poll_soft": poll_soft,
        "poll_hard": hard["poll"],
        "score_soft": SCORE_TIME_LIMIT,
        "score_hard": hard["score"],
        "deliver_soft": deliver_soft,
        "deliver_hard": hard["deliver"],
        # a claimed feed whose poll died is claimable again after this
        "feed_lease": hard["poll"],
        "visibility_timeout": max(MIN_VISIBILITY_TIMEOUT, 2 * longest_unacked),
    }


def embedded_broker(data_dir: Path) -> tuple[str, dict[str, Any]]:
    """kombu's filesystem transport under the data dir: no server, survives restarts.

    Every folder it uses is set explicitly: kombu's defaults (``control``,
    ``processed``) are relative to the working directory.
    """
    folder = data_dir / "broker"
    for sub in ("queue", "control", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "processed_folder": str(folder / "processed"),
        "store_processed": False,
        "polling_interval": 0.05,  # seconds between directory scans (kombu default: 1)
    }
    return "filesystem://localhost/", options


def extra_transport_options() -> dict[str, Any]:
    """Broker transport options from NEWSALERT_BROKER_TRANSPORT_OPTIONS (a JSON object),
    e.g. ``{"global_keyprefix": "desk-a:"}`` to share one Redis between deployments,
    or Sentinel's ``master_name``. The visibility timeout is never set below ours."""
    raw = os.environ.get(ENV_TRANSPORT_OPTIONS, "").strip()
    if not raw:
        return {}
    try:
        options = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{ENV_TRANSPORT_OPTIONS} is not valid JSON: {exc}") from None
    if not isinstance(options, dict):
        raise ValueError(f"{ENV_TRANSPORT_OPTIONS} must be a JSON object")
    return options


def celery_settings(loaded: LoadedConfig) -> dict[str, Any]:
    t = timings(loaded)
    if loaded.broker_url:
        broker_url, transport_options = loaded.broker_url, extra_transport_options()
        # one message reserved per pool process: a slow delivery never sits on work
        # another idle worker could take, and a dying worker takes little with it
        prefetch = 1
    else:
        broker_url, transport_options = embedded_broker(loaded.data_dir)
        prefetch = EMBEDDED_PREFETCH
    if broker_url.startswith(("redis://", "rediss://", "redis+socket://", "sentinel://")):
        compat.patch_kombu_redis_closed_client()  # before any connection (workers/compat.py)
        # Redis hands an unacked message to another consumer after the visibility
        # timeout: it must outlast any task's run time plus a retry countdown, or
        # work runs twice. It only delays recovery when a whole worker dies,
        # and the store's sweep recovers that work sooner anyway.
        transport_options["visibility_timeout"] = max(
            float(transport_options.get("visibility_timeout", 0)), t["visibility_timeout"]
        )
        transport_options.setdefault("socket_timeout", 30)
        transport_options.setdefault("socket_connect_timeout", 10)
        transport_options.setdefault("retry_on_timeout", True)
        transport_options.setdefault("health_check_interval", 25)
    # beat ticks expire after one period: a backlog of ticks (worker down for a
    # while) is dropped instead of replayed
    tick_options = {"expires": t["tick"]}
    sweep_options = {"expires": t["sweep"]}
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # keep reconnecting: the store keeps the work
        "broker_heartbeat": 30,
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        # at-least-once: a task is acked after it ran; a worker killed mid-task
        # leaves it to be redelivered. Safe because every task is idempotent.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": prefetch,
        # a running task finishes when the connection drops (its ack is lost and
        # the broker redelivers it; the store's leases make the rerun a no-op);
        # cancelling it mid-send would leave an ambiguous delivery instead
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "task_time_limit": t["poll_hard"],
        "task_soft_time_limit": t["poll_soft"],
        "task_annotations": {
            "newsalert.score_items": {
                "soft_time_limit": t["score_soft"],
                "time_limit": t["score_hard"],
            },
            "newsalert.deliver_batch": {
                "soft_time_limit": t["deliver_soft"],
                "time_limit": t["deliver_hard"],
            },
            # digests are sends too, a group after another: a poll's limit cut them short
            "newsalert.send_digests": {
                "soft_time_limit": t["deliver_soft"],
                "time_limit": t["deliver_hard"],
            },
        },
        "task_default_queue": "newsalert",
        "task_routes": {
            "newsalert.deliver_batch": {"queue": "deliver"},
            "newsalert.send_digests": {"queue": "deliver"},
        },
        "beat_schedule": {
            "schedule-due-feeds": {
                "task": "newsalert.schedule_due_feeds",
                "schedule": t["tick"],
                "options": tick_options,
            },
            "sweep": {"task": "newsalert.sweep", "schedule": t["sweep"], "options": sweep_options},
            "send-digests": {
                "task": "newsalert.send_digests",
                "schedule": t["sweep"],
                "options": sweep_options,
            },
        },
        "beat_schedule_filename": str(loaded.data_dir / "celerybeat-schedule"),
        "timezone": "UTC",
        "enable_utc": True,
        "newsalert_timings": t,
    }


RETRAIN_EVERY = {"weekly": 7 * 86_400.0}
RETRAIN_TIME_LIMIT = 3 * 3600  # training on a busy machine takes minutes, not hours


def _retrain_settings(loaded: LoadedConfig) -> dict[str, Any]:
    """``model.retrain``: a scheduled candidate, promoted only if it passes (promote.py)."""
    every = RETRAIN_EVERY.get(loaded.config.model.retrain or "")
    if every is None:
        return {}
    return {
        "beat_schedule": {
            "retrain-model": {
                "task": "newsalert.retrain_model",
                "schedule": every,
                "options": {"expires": every},
            }
        },
        "task_annotations": {
            "newsalert.retrain_model": {
                "time_limit": RETRAIN_TIME_LIMIT,
                "soft_time_limit": RETRAIN_TIME_LIMIT - 60,
            }
        },
    }


def make_app(loaded: LoadedConfig | None = None) -> Celery:
    loaded = loaded or load_config()
    loaded.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("newsalert", set_as_current=True)
    settings = celery_settings(loaded)
    for key, extra in _retrain_settings(loaded).items():
        settings[key] = {**settings[key], **extra}
    app.conf.update(settings)
    app.conf.newsalert_config_path = str(loaded.path.resolve())
    app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    return app


# operator tooling: the metrics endpoint (config `metrics:`) in the worker's main
# process, and JSON logs when NEWSALERT_LOG_FORMAT=json (see newsalert/metrics.py, logs.py)
signals.worker_init.connect(metrics.on_worker_init)
signals.worker_init.connect(web_serve.on_worker_init)  # the console, when `web:` is set
signals.after_setup_logger.connect(logs.on_celery_logger)
signals.after_setup_task_logger.connect(logs.on_celery_logger)

app = make_app()
