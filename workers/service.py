"""``newsalert run``: a Celery worker with an embedded beat, in one command.

SIGTERM (or Ctrl+C once) is a warm shutdown: the worker stops taking tasks,
finishes the ones running, and exits 0. A second Ctrl+C is a cold shutdown.
"""

from __future__ import annotations

import os

from newsalert.config import ENV_CONFIG, config_path


def worker_argv(
    schedule_file: str, *, verbose: int = 0, concurrency: int | None = None
) -> list[str]:
    level = "DEBUG" if verbose > 1 else "INFO"
    return [
        "worker",
        "--beat",
        f"--loglevel={level}",
        "--queues=newsalert,deliver",
        f"--concurrency={concurrency or min(4, os.cpu_count() or 1)}",
        f"--schedule={schedule_file}",
        "--hostname=newsalert@%h",
        # one worker on one machine: nobody to gossip or synchronise with, and on the
        # embedded broker every event would be a file written for no reader
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def run_service(
    config: str | None = None, *, verbose: int = 0, concurrency: int | None = None
) -> int:
    # the Celery app reads the config from the environment, like `celery -A workers.app`
    os.environ[ENV_CONFIG] = str(config_path(config).resolve())
    from workers.app import app

    schedule = str(app.conf.beat_schedule_filename)
    app.worker_main(worker_argv(schedule, verbose=verbose, concurrency=concurrency))
    return 0
