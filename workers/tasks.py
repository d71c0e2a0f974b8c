"""Thin Celery tasks: take names and ids, call the pipeline, retry transient errors.

A task is one feed or one batch of items or deliveries, never one item: a task
costs about 1.7 ms here, far more than scoring an item in a batch. No secrets in
arguments: deliveries go by id and the worker looks its target up in the config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from celery import Task, shared_task
from sqlalchemy.exc import OperationalError

from newsalert.config import LoadedConfig, config_path, load_config
from newsalert.errors import ConfigError, StoreError, TransientError
from newsalert.pipeline import Pipeline
from newsalert.store import Store, utcnow

log = logging.getLogger(__name__)

DELIVERY_BATCH = 20
SCORE_BATCH = 500
TRANSIENT = (TransientError, StoreError, OperationalError, ConnectionError, TimeoutError)


class PipelineTask(Task):  # type: ignore[misc]
    """Holds this worker process's pipeline, rebuilt when the config file changes.

    A changed config that fails validation is logged and the running one kept.
    """

    abstract = True
    autoretry_for = TRANSIENT
    retry_backoff = 2  # seconds, doubling, with jitter
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 10

    _pipeline: Pipeline | None = None
    _stamp: tuple[float, ...] | None = None

    @property
    def pipeline(self) -> Pipeline:
        path = config_path(self.app.conf.get("newsalert_config_path"))
        stamp = _stamp(path)
        if self._pipeline is None or stamp != self._stamp:
            try:
                loaded = load_config(path)
            except ConfigError as exc:
                if self._pipeline is None:
                    raise
                log.error("config reload rejected, keeping the running config:\n%s", exc)
                self._stamp = stamp
                return self._pipeline
            old = self._pipeline
            self._pipeline = _build(loaded)
            self._stamp = stamp
            if old is not None:
                log.info("config reloaded from %s", path)
                old.close()
        return self._pipeline


def _stamp(path: os.PathLike[str]) -> tuple[float, ...]:
    """Change marker for the config and the rules file beside it."""
    marks: list[float] = []
    for p in (path, os.path.join(os.path.dirname(path), "rules.yaml")):
        try:
            st = os.stat(p)
            marks += [st.st_mtime_ns, st.st_size]
        except OSError:
            marks += [0, 0]
    return tuple(marks)


def _build(loaded: LoadedConfig) -> Pipeline:
    return Pipeline(loaded, Store(loaded.database_url))


@shared_task(bind=True, base=PipelineTask, name="newsalert.schedule_due_feeds", acks_late=False)
def schedule_due_feeds(self: PipelineTask) -> int:
    """Claim due feeds in the store (a lease, so two beats never double-poll) and dispatch."""
    pipeline = self.pipeline
    names = [f.name for f in pipeline.loaded.feeds if f.enabled]
    lease = pipeline.loaded.config.fetch.deadline + 2 * 30.0
    claimed = pipeline.store.claim_due_feeds(names, utcnow(), lease)
    for name in claimed:
        poll_feed.delay(name)
    return len(claimed)


@shared_task(bind=True, base=PipelineTask, name="newsalert.poll_feed")
def poll_feed(self: PipelineTask, name: str) -> dict[str, Any]:
    """Fetch one feed, store its new items, score them, dispatch their deliveries."""
    pipeline = self.pipeline
    try:
        pipeline.loaded.feed(name)
    except KeyError:
        log.info("feed %s is no longer configured; skipping", name)
        return {"feed": name, "status": "removed"}
    outcome = pipeline.poll_feed(name)
    created: list[int] = []
    ids = list(outcome.new_item_ids)
    for start in range(0, len(ids), SCORE_BATCH):
        created.extend(pipeline.score_items(ids[start : start + SCORE_BATCH]).delivery_ids)
    _dispatch_deliveries(created)
    return {"feed": name, "status": outcome.status, "new": len(ids), "alerts": len(created)}


@shared_task(bind=True, base=PipelineTask, name="newsalert.score_items")
def score_items(self: PipelineTask, item_ids: Sequence[int]) -> int:
    outcome = self.pipeline.score_items(list(item_ids))
    _dispatch_deliveries(list(outcome.delivery_ids))
    return outcome.scored


@shared_task(bind=True, base=PipelineTask, name="newsalert.deliver_batch")
def deliver_batch(self: PipelineTask, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send a batch of deliveries; each is leased in the store, so a redelivered
    batch skips what was already sent."""
    counts: dict[str, int] = {}
    for delivery_id in delivery_ids:
        status = self.pipeline.deliver(int(delivery_id))
        counts[status] = counts.get(status, 0) + 1
    return counts


@shared_task(bind=True, base=PipelineTask, name="newsalert.sweep", acks_late=False)
def sweep(self: PipelineTask) -> dict[str, int]:
    """Re-dispatch what the store says is due: unscored items, due deliveries.

    This is what makes a lost message harmless: the store is the queue of record.
    """
    pipeline = self.pipeline
    unscored = pipeline.store.unscored_item_ids(SCORE_BATCH * 4)
    for start in range(0, len(unscored), SCORE_BATCH):
        score_items.delay(unscored[start : start + SCORE_BATCH])
    due = pipeline.store.due_delivery_ids(utcnow(), 1000)
    _dispatch_deliveries(due)
    return {"unscored": len(unscored), "due_deliveries": len(due)}


def _dispatch_deliveries(ids: Sequence[int]) -> None:
    for start in range(0, len(ids), DELIVERY_BATCH):
        deliver_batch.delay(list(ids[start : start + DELIVERY_BATCH]))
