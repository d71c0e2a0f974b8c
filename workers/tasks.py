"""Thin Celery tasks: take names and ids, call the pipeline, retry transient errors.

A task is one batch of feeds, items or deliveries, never one item: a task costs
about 1.7 ms here, far more than scoring an item in a batch, and more than a feed
answering 304. A batch of feeds is fetched at once (a thread each), so one pool
process waits on many slow servers together. No secrets in
arguments: deliveries go by id and the worker looks its target up in the config.

Every task is idempotent (the store's unique keys and leases make a rerun a
no-op), which is what makes ``acks_late`` + ``task_reject_on_worker_lost`` safe.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from celery import Celery, Task, shared_task, signals

from newsalert import memory
from newsalert.config import LoadedConfig, config_path, load_config
from newsalert.errors import TransientError, first_line, is_transient
from newsalert.geo import shared_geoparser
from newsalert.geo.geoparser import default_cache_dir
from newsalert.language import shared_detector
from newsalert.pipeline import Pipeline, build_pipeline, build_targets, default_model_loader
from newsalert.promote import model_stamp
from newsalert.reload import ConfigWatcher
from newsalert.scoring import Model
from newsalert.store import Store, utcnow
from workers.app import DELIVERY_BATCH, TASK_RETRY_BACKOFF_MAX

log = logging.getLogger(__name__)

SCORE_BATCH = 500


class Runtime:
    """This worker process's pipeline, rebuilt when the config or its rules file changes.

    Built lazily inside the process that uses it (never before a fork: a store
    engine must not be shared across processes). A changed config that fails
    validation is rejected whole and the running one kept (newsalert.reload). The
    loaded model survives config reloads that do not move it.
    """

    def __init__(self, path: str | None, watcher: ConfigWatcher | None = None) -> None:
        self.watcher = watcher if watcher is not None else ConfigWatcher(path)
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._models: dict[tuple[str, str], tuple[Model, Any]] = {}

    def pipeline(self) -> Pipeline:
        with self._lock:
            loaded = self.watcher.current()  # raises ConfigError only if it never loaded
            if self._pipeline is not None and self._pipeline.loaded is loaded:
                return self._pipeline
            old, self._pipeline = self._pipeline, self._build(loaded)
            if old is not None:
                old.close()
                old.store.close()
            return self._pipeline

    def _build(self, loaded: LoadedConfig) -> Pipeline:
        store = None
        if loaded.database_url in _SCHEMA_CHECKED:
            # the main process created and checked this store's tables before forking
            # the pool: checking again in every pool process (create_all and the column
            # check read the whole schema) costs each about 5 MiB of SQLAlchemy caches
            store = Store(loaded.database_url, create=False)
        return build_pipeline(loaded, store=store, model_loader=self._model_loader(loaded))

    def _model_loader(self, loaded: LoadedConfig) -> Callable[[], Model]:
        key = _model_key(loaded)
        load = default_model_loader(loaded)

        def cached() -> Model:
            # a promoted model replaces the files (promote.py): loaded again when they change
            stamp = model_stamp(loaded)
            for found in (self._models.get(key), _PRELOADED.get(key)):
                if found is not None and found[1] == stamp:
                    self._models[key] = found
                    return found[0]
            model = load()  # may train the managed model first: stamped after
            self._models[key] = (model, model_stamp(loaded))
            return model

        return cached

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline.store.close()
            self._pipeline = None


# The model loaded by the worker's main process before it forks its pool: every pool
# process shares its pages (copy-on-write) instead of loading its own ~75 MiB copy
# plus scikit-learn. A model, not a client: it holds no connection.
_PRELOADED: dict[tuple[str, str], tuple[Model, Any]] = {}  # with its model_stamp
# What else the main process leaves its pool, also read only after the fork: the config
# watcher of its warm-up pipeline (the config already loaded and the files' stamps, so a
# pool process loads the config again only when the files changed: about 4 MiB each
# otherwise), and the database URLs whose schema it created and checked.
_WARM_WATCHERS: dict[str | None, ConfigWatcher] = {}
_SCHEMA_CHECKED: set[str] = set()


def _model_key(loaded: LoadedConfig) -> tuple[str, str]:
    return (str(loaded.model_path), str(loaded.data_dir))


@signals.worker_process_init.connect
def leave_sigterm_to_the_main_process(**_: Any) -> None:
    """In each pool process: ignore SIGTERM. The worker's main process handles it (a warm
    shutdown: running tasks finish) and stops the pool itself. A SIGTERM sent to the whole
    process group (systemd's default, a terminal) would otherwise also kill the pool
    processes where they stand: an idle one holds the pool's queue lock while it waits,
    and the main process then waits for that lock at exit, forever. SIGKILL (hard time
    limits, a cold shutdown) still ends them."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@signals.worker_init.connect
def preload_model(sender: Any = None, **_: Any) -> None:
    """In the worker's main process, before the pool starts: load (or first train) the
    model once, then freeze the heap so the pool's garbage collector leaves those pages
    shared. Failing here is not fatal: pool processes load the model when they need it,
    and items wait unscored while it cannot be loaded."""
    app = getattr(sender, "app", None)
    if app is None or app.conf.get("newsalert_config_path") is None:
        return
    # Celery sends worker_init before it sets up logging, so what this says (a first
    # training that takes minutes, config warnings) would reach no handler under a
    # supervisor; set it up now (its own later call finds it done and changes nothing)
    setup_logging = getattr(sender, "setup_logging", None)
    if callable(setup_logging):
        setup_logging()
    started = time.perf_counter()
    try:
        loaded = load_config(config_path(app.conf.get("newsalert_config_path")))
        for warning in loaded.warnings:  # said once per worker, by its main process
            log.warning("config: %s", warning)
        model = default_model_loader(loaded)()
        stamp = model_stamp(loaded)
        # build what the model computes lazily on first use, so it is shared too
        model.predict([("warm-up", "")])
        model.explain("warm-up", "")
        _PRELOADED[_model_key(loaded)] = (model, stamp)
        build_targets(loaded)  # loads apprise's plugins here, once, for the whole pool
        shared_geoparser(
            default_cache_dir(), loaded.config.geo.rerank
        )  # the gazetteer (~95 MB), shared the same way
        shared_detector()  # py3langid's model (about 0.5 s to load), shared the same way
    except Exception as exc:
        log.warning("model not preloaded, pool processes will load it: %s", exc)
        return
    # a pipeline built once here and dropped: what its first build imports, compiles and
    # caches for good (modules, regexes, schemas) is then made once and shared, where
    # each pool process copied it (about 6 MiB each); its store is closed before the fork
    path = app.conf.get("newsalert_config_path")
    warm = Runtime(path)
    try:
        warmed = warm.pipeline()
        if warmed.stories.enabled:
            # the story clusterer's corpus frequencies (17k texts: about 5 MiB of dict and
            # str) and its numpy.random import, built here once rather than in each pool
            # process at its first relevant item
            warmed.stories.clusterer  # noqa: B018
        _WARM_WATCHERS[path] = warm.watcher
        _SCHEMA_CHECKED.add(warmed.loaded.database_url)
    except Exception as exc:  # the pool builds its own anyway and reports what fails
        log.debug("pipeline not warmed before the fork: %s", exc)
    finally:
        warm.close()
    memory.limit_arenas()  # inherited by the pool: fewer glibc arenas for its threads
    gc.collect()
    memory.trim()  # the garbage of loading, given back rather than inherited by the pool
    gc.freeze()
    log.info("model preloaded for the pool in %.1fs", time.perf_counter() - started)


@signals.task_postrun.connect
def give_back_memory(**_: Any) -> None:
    """After a task, in the process that ran it: return freed heap pages to the system,
    at most once per ``memory.MIN_INTERVAL`` seconds, and once more that long after the
    last of a burst of tasks (``newsalert.memory``)."""
    memory.maybe_trim()


def runtime(app: Celery) -> Runtime:
    """The runtime of this process for ``app``; a forked child builds its own."""
    current: Runtime | None = getattr(app, "_newsalert_runtime", None)
    if current is None or current.pid != os.getpid():
        path = app.conf.get("newsalert_config_path")
        current = Runtime(path, _WARM_WATCHERS.pop(path, None))
        app._newsalert_runtime = current
    return current


@contextlib.contextmanager
def transient_as_retry() -> Iterator[None]:
    """Raise what ``errors.is_transient`` calls passing as a ``TransientError``, the one
    class the tasks' autoretry names: Celery matches exception classes, and whether a
    database error is passing depends on more than its class (an invalidated
    connection, say)."""
    try:
        yield
    except TransientError:
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise
        raise TransientError(f"{type(exc).__name__}: {first_line(exc)}") from exc


class PipelineTask(Task):  # type: ignore[misc]
    """Base of every task: the process's pipeline, and retries with backoff and jitter."""

    autoretry_for = (TransientError,)
    retry_backoff = 2  # seconds, doubling, with full jitter
    retry_backoff_max = TASK_RETRY_BACKOFF_MAX  # the visibility timeout allows for it
    retry_jitter = True
    max_retries = 10

    @property
    def pipeline(self) -> Pipeline:
        return runtime(self.app).pipeline()

    def timing(self, name: str) -> float:
        return float(self.app.conf.newsalert_timings[name])


# --- scheduling: run on every beat tick; cheap, and never retried (the next tick is) ---


@shared_task(
    bind=True, base=PipelineTask, name="newsalert.schedule_due_feeds", acks_late=False,
    autoretry_for=(), max_retries=0,
)  # fmt: skip
def schedule_due_feeds(self: PipelineTask) -> int:
    """Claim due feeds in the store (a lease, so two beats never double-poll) and dispatch."""
    pipeline = self.pipeline
    names = [f.name for f in pipeline.loaded.feeds if f.enabled]
    lease = self.timing("feed_lease")
    claimed = pipeline.store.claim_due_feeds(names, utcnow(), lease)
    size = pipeline.loaded.config.fetch.batch
    for start in range(0, len(claimed), size):
        # a poll that waited in the queue past its claim is dropped: the feeds are
        # claimable again by then and a newer poll is on its way
        poll_feeds.apply_async((claimed[start : start + size],), expires=lease)
    return len(claimed)


@shared_task(
    bind=True, base=PipelineTask, name="newsalert.sweep", acks_late=False,
    autoretry_for=(), max_retries=0,
)  # fmt: skip
def sweep(self: PipelineTask) -> dict[str, int]:
    """Re-dispatch what the store says is due: unscored items, due deliveries.

    This is what makes a lost message harmless: the store is the queue of record.
    Deliveries are swept one sweep period after they fell due, so that the ones
    just dispatched by a poll are not dispatched twice.
    """
    pipeline = self.pipeline
    unscored = pipeline.store.unscored_item_ids(SCORE_BATCH * 4)
    for start in range(0, len(unscored), SCORE_BATCH):
        score_items.delay(unscored[start : start + SCORE_BATCH])
    grace = timedelta(seconds=self.timing("sweep"))
    due = pipeline.store.due_delivery_ids(utcnow() - grace, 1000)
    _dispatch_deliveries(due)
    return {"unscored": len(unscored), "due_deliveries": len(due)}


@shared_task(
    bind=True, base=PipelineTask, name="newsalert.send_digests", acks_late=False,
    autoretry_for=(), max_retries=0,
)  # fmt: skip
def send_digests(self: PipelineTask) -> dict[str, int]:
    """Send the held alerts whose time has come (digests, end of quiet hours), one
    message per target. Each group is leased in the store: two beats are harmless."""
    return self.pipeline.send_digests()


@shared_task(
    bind=True, base=PipelineTask, name="newsalert.retrain_model", acks_late=False,
    autoretry_for=(), max_retries=0,
)  # fmt: skip
def retrain_model(self: PipelineTask) -> dict[str, Any]:
    """``model.retrain``: train a candidate with the feedback; it replaces the running
    model only if it passes the gate (newsalert.promote); workers pick it up by itself."""
    from newsalert import promote

    pipeline = self.pipeline
    with pipeline.store.exclusive("retrain"):
        gate = promote.retrain(pipeline.loaded, pipeline.store)
    log.info(
        "model candidate %s: %s (%s)",
        gate.id,
        "promoted" if gate.promoted_at else "kept out",
        gate.reason,
    )
    return {"candidate": gate.id, "promoted": bool(gate.promoted_at)}


# --- work: idempotent, acked late, retried on transient errors -------------------------


@shared_task(bind=True, base=PipelineTask, name="newsalert.poll_feeds")
def poll_feeds(self: PipelineTask, names: Sequence[str]) -> dict[str, Any]:
    """Fetch a batch of feeds at once; score and dispatch each group of feeds' new items
    as soon as it is stored (a feed that hangs to its deadline holds back no alert)."""
    with transient_as_retry():
        pipeline = self.pipeline
        configured = {f.name for f in pipeline.loaded.feeds}
        gone = [name for name in names if name not in configured]
        if gone:
            log.info("feeds %s are no longer configured; skipping", ", ".join(gone))
        statuses: dict[str, int] = {}
        new = alerts = 0
        for group in pipeline.poll_feeds_settled([n for n in names if n in configured]):
            created = [i for o in group for i in o.notice_delivery_ids]  # health changes
            notices = len(created)
            ids = [i for o in group for i in o.new_item_ids]
            for start in range(0, len(ids), SCORE_BATCH):
                scored = pipeline.score_items(ids[start : start + SCORE_BATCH])
                created.extend(scored.delivery_ids)
            _dispatch_deliveries(created)
            new, alerts = new + len(ids), alerts + len(created) - notices
            for o in group:
                statuses[o.status] = statuses.get(o.status, 0) + 1
        return {"feeds": statuses, "new": new, "alerts": alerts}


@shared_task(bind=True, base=PipelineTask, name="newsalert.score_items")
def score_items(self: PipelineTask, item_ids: Sequence[int]) -> int:
    with transient_as_retry():
        outcome = self.pipeline.score_items([int(i) for i in item_ids])
        _dispatch_deliveries(list(outcome.delivery_ids))
        return outcome.scored


@shared_task(bind=True, base=PipelineTask, name="newsalert.deliver_batch")
def deliver_batch(self: PipelineTask, delivery_ids: Sequence[int]) -> dict[str, int]:
    """Send a batch of deliveries; each is leased in the store, so a redelivered
    batch skips what was already sent. A failed send is rescheduled by the store
    (backoff with jitter, Retry-After) and picked up by the sweep."""
    with transient_as_retry():
        return self.pipeline.deliver_many([int(i) for i in delivery_ids])


def _dispatch_deliveries(ids: Sequence[int]) -> None:
    for start in range(0, len(ids), DELIVERY_BATCH):
        deliver_batch.delay([int(i) for i in ids[start : start + DELIVERY_BATCH]])
