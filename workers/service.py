"""``newsalert run``: a Celery worker with an embedded beat, in one command."""

from __future__ import annotations

import os

from newsalert.config import ENV_CONFIG, config_path


def run_service(
    config: str | None = None, *, verbose: int = 0, concurrency: int | None = None
) -> int:
    # the Celery app reads the config from the environment, like `celery -A workers.app`
    os.environ[ENV_CONFIG] = str(config_path(config).resolve())
    from workers.app import app

    level = "DEBUG" if verbose > 1 else "INFO"
    argv = [
        "worker",
        "--beat",
        f"--loglevel={level}",
        "--queues=newsalert,deliver",
        f"--concurrency={concurrency or min(4, os.cpu_count() or 1)}",
        f"--schedule={app.conf.beat_schedule_filename}",
    ]
    app.worker_main(argv)
    return 0
