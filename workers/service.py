"""``newsalert run``: a Celery worker with an embedded beat, in one command.

The beat runs as a thread of the worker's main process (Celery's ``EmbeddedService``
with ``thread=True``), not as a process of its own as ``worker --beat`` makes it: a
forked beat process kept a private copy of whatever of the main process's heap it
touched (about 15-20 MiB of PSS) to send a task every few seconds. Its ticks and
the schedule file are the same.

SIGTERM (or Ctrl+C once) is a warm shutdown: the worker stops taking tasks,
finishes the ones running, stops the beat, and exits 0. A second Ctrl+C is a cold
shutdown.
"""

from __future__ import annotations

import os
from typing import Any

from celery import bootsteps

from newsalert.config import ENV_CONFIG, config_path

BEAT_THREAD = "newsalert_beat_thread"  # app.conf flag: run the ThreadedBeat step


class ThreadedBeat(bootsteps.StartStopStep):
    """Worker bootstep: the embedded beat as a thread, started once the pool has forked
    (so no pool process is forked while it runs, except a replaced one) and stopped at
    shutdown after it synced its schedule file."""

    label = "Beat (thread)"
    conditional = True
    requires = ("celery.worker.components:Pool",)

    def __init__(self, w: Any, **kwargs: Any) -> None:
        self.enabled = bool(w.app.conf.get(BEAT_THREAD))
        super().__init__(w, **kwargs)

    def create(self, w: Any) -> Any:
        from celery.beat import EmbeddedService

        return EmbeddedService(
            w.app, thread=True, schedule_filename=w.schedule_filename, scheduler_cls=w.scheduler
        )


def worker_argv(
    schedule_file: str, *, verbose: int = 0, concurrency: int | None = None
) -> list[str]:
    level = "DEBUG" if verbose > 1 else "INFO"
    return [
        "worker",  # the beat runs in it as a thread (ThreadedBeat), not as --beat's process
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

    app.conf[BEAT_THREAD] = True
    if ThreadedBeat not in app.steps["worker"]:
        app.steps["worker"].add(ThreadedBeat)
    schedule = str(app.conf.beat_schedule_filename)
    app.worker_main(worker_argv(schedule, verbose=verbose, concurrency=concurrency))
    return 0
