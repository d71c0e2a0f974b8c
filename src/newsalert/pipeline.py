"""Wire the stages: fetch -> parse -> normalize -> store -> score -> route -> deliver.

Each stage is a plain function or component injected here; this module only
orders them and records outcomes in the store. Three resumable steps, each
safe to repeat and each a Celery task's whole body:

- ``poll_feeds(names)``: fetch a batch of feeds at once and store their new items
  (unscored); ``poll_feeds_settled`` hands them over feed group by feed group, as
  they come in, so that a slow feed holds back no other feed's alerts.
- ``score_items(ids)``: score a batch, route it, and write scores with their
  deliveries in one transaction. Items stay unscored (and are retried) while the
  model cannot be loaded: nothing is dropped or alerted unscored.
- ``deliver(delivery_id)``: lease one delivery, send it to its one target, mark it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from newsalert import answers, health, holds
from newsalert.config import LoadedConfig
from newsalert.delivery import Notifier, privacy_url, target_id
from newsalert.delivery_pool import connection_pool
from newsalert.errors import (
    FeedGone,
    FeedRejected,
    ModelError,
    ParseError,
    PermanentDeliveryError,
    StoreError,
    TransientDeliveryError,
    TransientFetchError,
    first_line,
    is_transient,
)
from newsalert.feedback_links import LinkSigner
from newsalert.fetch import AddressPolicy, Fetcher, FetchLimits
from newsalert.geo import Geoparser, shared_geoparser
from newsalert.geo.filters import describe, map_link, nearest_zone
from newsalert.geo.geoparser import default_cache_dir
from newsalert.geo.records import locations_of, write_locations
from newsalert.metrics import add_counts, ensure_schema, poll_counts
from newsalert.models import Alert, FetchResult, Item, Message
from newsalert.normalize import normalize
from newsalert.parse import parse
from newsalert.promote import model_stamp
from newsalert.ratelimit import Bucket, RateLimiter, RedisRateLimiter, StoreRateLimiter
from newsalert.render import channel_family, render, render_digest_parts, with_feedback
from newsalert.routing import Router, Target, alert_for
from newsalert.rules import RuleSet
from newsalert.scoring import Model, Scorer
from newsalert.store import (
    DEAD,
    HELD,
    PENDING,
    SENT,
    Delivery,
    FeedState,
    PollRecord,
    Store,
    StoredItem,
    utcnow,
)
from newsalert.stories import StoryDesk

log = logging.getLogger(__name__)

# deliveries whose items deliver_due reads together (a worker's deliver_batch is as big)
DELIVERY_READ_BATCH = 20
# rate-limit tokens a bucket earns within this many seconds are taken at once for a batch
TOKEN_HORIZON = 0.05
_NO_TARGET = "target no longer in the config (subscriber or URL removed, or its variable unset)"


class _Throttled(Exception):
    """A rate limit asks to wait longer than is worth waiting in-process."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.1f}s")
        self.wait = wait


MAX_FEED_BACKOFF = 6 * 3600.0
SETTLE_LINGER = 0.01  # seconds a batch waits for more fetches to finish before writing
MAX_CACHE_AGE = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    feed: str
    status: str  # ok, not_modified, error, rejected, gone, disabled
    new_item_ids: tuple[int, ...] = ()
    entries: int = 0
    error: str | None = None
    next_poll_at: datetime | None = None
    health: str | None = None  # "unhealthy" or "recovered" when this poll changed it
    notice_delivery_ids: tuple[int, ...] = ()  # operators' deliveries of that change


@dataclass(frozen=True, slots=True)
class ScoreOutcome:
    scored: int = 0
    relevant: int = 0
    delivery_ids: tuple[int, ...] = ()
    pending: int = 0  # left unscored (model unavailable, or an item that fails scoring)
    error: str | None = None

    def __add__(self, other: ScoreOutcome) -> ScoreOutcome:
        return ScoreOutcome(
            self.scored + other.scored,
            self.relevant + other.relevant,
            self.delivery_ids + other.delivery_ids,
            self.pending + other.pending,
            other.error or self.error,
        )


@dataclass(slots=True)
class PollSummary:
    feeds: list[FeedOutcome] = field(default_factory=list)
    scored: int = 0
    relevant: int = 0
    unscored: int = 0
    deliveries_created: int = 0
    delivered: dict[str, int] = field(default_factory=dict)
    model_error: str | None = None
    elapsed: float = 0.0

    @property
    def new_items(self) -> int:
        return sum(len(f.new_item_ids) for f in self.feeds)

    @property
    def failed_feeds(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.status in ("error", "rejected", "gone")]


def build_targets(loaded: LoadedConfig) -> dict[str, tuple[Target, ...]]:
    return {
        name: tuple(Target(name, target_id(url), privacy_url(url), url) for url in urls)
        for name, urls in loaded.targets.items()
    }


def fetcher_for(loaded: LoadedConfig, *, address_policy: AddressPolicy | None = None) -> Fetcher:
    """The configured fetcher; ``address_policy`` replaces the test of "public" (tests)."""
    f = loaded.config.fetch
    limits = FetchLimits(
        connect_timeout=f.connect_timeout,
        read_timeout=f.read_timeout,
        deadline=f.deadline,
        max_bytes=f.max_bytes,
        max_decompressed=f.max_decompressed,
        max_redirects=f.max_redirects,
    )
    return Fetcher(limits, allow_private_all=f.allow_private, address_policy=address_policy)


def limiter_for(loaded: LoadedConfig, store: Store) -> RateLimiter:
    """Buckets shared by every worker: in Redis with a Redis broker, else in the store."""
    url = loaded.broker_url or ""
    if url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(url)
    return StoreRateLimiter(store)


def default_model_loader(loaded: LoadedConfig) -> Callable[[], Model]:
    def load() -> Model:
        from newsalert.classifier import load_or_train

        return load_or_train(loaded.model_path, loaded.data_dir, loaded.model_embedding)

    return load


def build_pipeline(
    loaded: LoadedConfig, *, store: Store | None = None, **overrides: Any
) -> Pipeline:
    """The one way to assemble a :class:`Pipeline` (the CLI and the workers use it): a
    store of its own on the configured database unless ``store`` is given; ``overrides``
    are the pipeline's other keyword arguments (``model_loader``, ``fetcher``,
    ``notifier``, ``limiter``, ``clock``, ``sleep``, ``rng``)."""
    return Pipeline(loaded, store if store is not None else Store(loaded.database_url), **overrides)


class Pipeline:
    """One process's view of the pipeline. Build it from a loaded config."""

    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store,
        *,
        fetcher: Fetcher | None = None,
        notifier: Notifier | None = None,
        model_loader: Callable[[], Model] | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.loaded = loaded
        self.store = store
        self.fetcher = fetcher or fetcher_for(loaded)
        self.notifier = notifier or Notifier(timeout=loaded.config.delivery.timeout)
        self._geo: Geoparser | None = None
        self.router = Router(
            loaded.subscribers,
            build_targets(loaded),
            country_at=lambda lat, lon: self.geoparser().country_at(lat, lon),
        )
        self.feed_country = {f.name: f.country for f in loaded.feeds}
        self.stories = StoryDesk.from_config(store, loaded.config.stories)
        self.rules = RuleSet(loaded.rules, {f.name: frozenset(f.tags) for f in loaded.feeds})
        self._model_loader = model_loader or default_model_loader(loaded)
        self._scorer: Scorer | None = None
        self._pool: futures.ThreadPoolExecutor | None = None  # fetch threads, made on first use
        self.limiter = limiter or limiter_for(loaded, store)
        self.templates = loaded.config.templates.model_dump()
        self.links = LinkSigner.from_config(loaded)  # feedback links in alerts, or None
        self._model_stamp: tuple[int, int] | None = None
        self._warming: threading.Thread | None = None  # warm_up()'s loading thread
        self._tokens = threading.local()  # .batch: the _BatchTokens of deliver_many
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        store.sync_feeds((f.name, f.url) for f in loaded.feeds)
        ensure_schema(store.engine)  # the poll counters are written with the feed rows

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self.fetcher.close()

    # --- scorer (lazy: loading or first-time training happens once, when needed) ---

    def warm_up(self) -> None:
        """Load the model, the language detector and the gazetteer on a thread of their
        own, while feeds are still fetched (``poll --once``, which loads them once, for
        one run; only fetching and other waits overlap it, as loading holds the GIL):
        :meth:`scorer` and :meth:`geoparser` wait for it. A load that fails there is
        tried again, and reported, by whoever asks for it."""
        if self._warming is not None or self._scorer is not None:
            return

        def load() -> None:
            for step in (self.scorer, self.geoparser):
                try:
                    step()
                except Exception:  # raised again to the caller of scorer()/geoparser()
                    log.debug("warm-up: %s failed", step.__name__, exc_info=True)

        self._warming = threading.Thread(target=load, name="newsalert-warm-up", daemon=True)
        self._warming.start()

    def _warmed(self) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join()
            self._warming = None

    def scorer(self) -> Scorer:
        self._warmed()
        # a promoted model (promote.py) replaces the files: picked up at the next batch
        stamp = model_stamp(self.loaded)
        if self._scorer is None or stamp != self._model_stamp:
            model = self._model_loader()
            self._scorer = Scorer(
                self.rules,
                model,
                self.loaded.config.model.threshold,
                feed_languages={f.name: f.language for f in self.loaded.feeds},
            )
            self._model_stamp = stamp if stamp is not None else model_stamp(self.loaded)
        return self._scorer

    def geoparser(self) -> Geoparser:
        """The process-wide geoparser (loaded once; a worker loads it before forking)."""
        self._warmed()
        if self._geo is None:
            self._geo = shared_geoparser(default_cache_dir(), self.loaded.config.geo.rerank)
        return self._geo

    # --- stage 1: fetch and store --------------------------------------------

    def poll_feed(self, name: str) -> FeedOutcome:
        """Fetch one feed and store its new items; then judge its health (health.py)."""
        return self.poll_feeds([name])[0]

    def poll_feeds(self, names: Sequence[str]) -> list[FeedOutcome]:
        """Poll several feeds at once; outcomes in the order of ``names``."""
        outcomes = {o.feed: o for group in self.poll_feeds_settled(names) for o in group}
        return [outcomes[name] for name in names]

    def poll_feeds_settled(self, names: Sequence[str]) -> Iterator[list[FeedOutcome]]:
        """Poll several feeds at once; yield each group of outcomes as soon as it is stored.

        Every fetch runs in a thread of its own (fetching is waiting, on the network),
        and each outcome is stored as soon as it is in, together with those that
        came in at the same moment: one transaction for their feed rows, one for their
        counters. A feed that hangs until its deadline delays no other feed's record,
        and, since the caller can score a group while the others are still fetched,
        no other feed's alerts. Parsing and the store stay on this thread. A caller
        that stops early leaves the unsettled feeds as they were: their claims lapse
        and the next poll fetches them again; fetches not yet started are cancelled.
        """
        now = self.clock()
        states = self.store.feed_states_named(names)
        idle: list[FeedOutcome] = []
        jobs: list[tuple[str, FeedState]] = []
        for name in dict.fromkeys(names):
            feed = self.loaded.feed(name)
            state = states.get(name)
            if state is None:
                raise StoreError(f"feed {name!r} is not in the store; is it in the config?")
            if not feed.enabled or state.disabled:
                why = (
                    "disabled in config"
                    if not feed.enabled
                    else "gone (410): fix the URL to re-enable"
                )
                idle.append(FeedOutcome(name, "disabled", error=why))
            else:
                jobs.append((name, state))
        if idle:
            yield idle
        if len(jobs) == 1:  # nothing to wait for in parallel
            name, state = jobs[0]
            fetched = self._fetch(name, state)
            yield list(self._settle([(name, state, fetched)], now).values())
        elif jobs:
            pool = self._fetch_pool()
            waiting = {pool.submit(self._fetch, name, state): (name, state) for name, state in jobs}
            try:
                while waiting:
                    futures.wait(waiting, return_when=futures.FIRST_COMPLETED)
                    # and those that come in a moment later: one transaction for them all
                    done, _ = futures.wait(waiting, timeout=SETTLE_LINGER)
                    batch = [(*waiting.pop(f), f.result()) for f in done]
                    yield list(self._settle(batch, now).values())
            finally:
                for pending in waiting:
                    pending.cancel()

    def _fetch_pool(self) -> futures.ThreadPoolExecutor:
        if self._pool is None:
            size = self.loaded.config.fetch.batch
            self._pool = futures.ThreadPoolExecutor(size, thread_name_prefix="newsalert-fetch")
        return self._pool

    def _fetch(self, name: str, state: FeedState) -> FetchResult | Exception:
        """The fetch, or the error it ended with (raised nowhere: settled in order)."""
        allow_private = (
            self.loaded.feed(name).allow_private or self.loaded.config.fetch.allow_private
        )
        try:
            return self.fetcher.fetch(
                state.url,
                etag=state.etag,
                last_modified=state.last_modified,
                allow_private=allow_private,
            )
        except (FeedGone, FeedRejected, TransientFetchError) as exc:
            return exc
        except Exception as exc:  # a bug must cost one feed's poll, not its batch
            log.exception("feed %s: unexpected error while fetching", name, extra={"feed": name})
            return TransientFetchError(f"unexpected error while fetching: {exc!r}"[:500])

    def _settle(
        self, fetched: Sequence[tuple[str, FeedState, FetchResult | Exception]], now: datetime
    ) -> dict[str, FeedOutcome]:
        """Store what the fetches brought, write their feed rows and counters, judge health."""
        outcomes: list[tuple[FeedState, FeedOutcome, PollRecord]] = []
        for name, state, result in fetched:
            outcomes.append((state, *self._outcome(name, state, result, now)))
        counts = poll_counts([(o.status, o.error) for _, o, _ in outcomes])
        self.store.record_polls(
            [record for _, _, record in outcomes], also=lambda conn: add_counts(conn, counts)
        )
        return {
            outcome.feed: self._judge_health(state, outcome, record)
            for state, outcome, record in outcomes
        }

    def _outcome(
        self, name: str, state: FeedState, result: FetchResult | Exception, now: datetime
    ) -> tuple[FeedOutcome, PollRecord]:
        if isinstance(result, FeedGone):
            return self._failed(state, name, "gone", str(result), now, disabled=True)
        if isinstance(result, FeedRejected):
            return self._failed(state, name, "rejected", str(result), now)
        if isinstance(result, Exception):
            retry_after = getattr(result, "retry_after", None)
            return self._failed(state, name, "error", str(result), now, retry_after=retry_after)
        feed = self.loaded.feed(name)
        next_poll = self._next_poll(
            feed.interval, now, max_age=result.max_age, retry_after=result.retry_after
        )
        moved = (
            result.permanent_url
            if result.permanent_url and result.permanent_url != state.url
            else None
        )
        if moved:
            log.warning(
                "feed %s moved permanently to %s: update its url in the config",
                name,
                moved,
                extra={"feed": name},
            )
        if result.not_modified:
            record = PollRecord(state.id, "not_modified", now, next_poll, moved_to=moved)
            return FeedOutcome(name, "not_modified", next_poll_at=next_poll), record
        try:
            parsed = parse(result.content, content_type=result.content_type, url=result.url)
        except ParseError as exc:
            return self._failed(state, name, "error", str(exc), now)
        found = normalize(
            parsed, name, base_url=result.url, limit=self.loaded.config.fetch.max_items_per_feed
        )
        # the items are in before the feed's new validators: a crash in between
        # fetches the feed again, and the store's unique keys drop the repeats
        ids, warning = self._store_items(name, state, found, now)
        record = PollRecord(
            state.id,
            "ok",
            now,
            next_poll,
            result.etag,
            result.last_modified,
            moved_to=moved,
            warning=warning,
        )
        # a poll that found nothing new is routine: idle feeds stay quiet at INFO
        log.log(
            logging.INFO if ids else logging.DEBUG,
            "feed %s: %d entries, %d new",
            name,
            len(found),
            len(ids),
            extra={"feed": name},
        )
        return FeedOutcome(name, "ok", tuple(ids), len(found), next_poll_at=next_poll), record

    def _store_items(
        self, name: str, state: FeedState, found: list[Item], now: datetime
    ) -> tuple[list[int], str | None]:
        """The new items' ids, and what went wrong with the others. An item the
        database refuses (a value normalization let through) is left out alone, logged
        and named on the feed's row (``newsalert feeds``), rather than failing its
        feed's other items and the feeds polled with it."""
        try:
            return self.store.add_items(state.id, found, now), None
        except Exception as exc:
            if is_transient(exc):
                raise
        ids: list[int] = []
        refused: list[str] = []
        for item in found:
            try:
                ids += self.store.add_items(state.id, [item], now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                why = first_line(exc)
                # feed text on an operator's terminal: nothing that is not printable
                named = "".join(c if c.isprintable() else "?" for c in item.guid or item.key)
                refused.append(f"{named[:200]}: {why}")
                log.error(
                    "feed %s: item %s not stored: %s", name, item.key, why, extra={"feed": name}
                )
        if not refused:
            return ids, None
        return ids, f"{len(refused)} item(s) not stored, first: {refused[0]}"

    def _failed(
        self,
        state: FeedState,
        name: str,
        status: str,
        error: str,
        now: datetime,
        *,
        retry_after: float | None = None,
        disabled: bool = False,
    ) -> tuple[FeedOutcome, PollRecord]:
        interval = self.loaded.feed(name).interval
        delay = min(interval * 2 ** min(state.error_streak + 1, 10), MAX_FEED_BACKOFF)
        next_poll = self._next_poll(delay, now, retry_after=retry_after)
        record = PollRecord(state.id, status, now, next_poll, error=error, disabled=disabled)
        log.warning("feed %s: %s: %s", name, status, error, extra={"feed": name, "status": status})
        return FeedOutcome(name, status, error=error, next_poll_at=next_poll), record

    def _judge_health(
        self, before: FeedState, outcome: FeedOutcome, record: PollRecord
    ) -> FeedOutcome:
        """Health after this poll, from the state it read and what it wrote; the
        store's conditional update decides if another worker recorded it first."""
        failed = record.error is not None
        after = replace(
            before,
            failing_since=(before.failing_since or record.now) if failed else None,
            disabled=before.disabled or record.disabled,
            error_streak=before.error_streak + 1 if failed else 0,
            last_error=(record.error or record.warning or "")[:2000] or None,
            last_status=record.status,
        )
        change = health.transition(after, record.now, self.loaded.config.fetch.unhealthy_after)
        if change is None:
            return outcome
        done = self.store.change_health(
            before.id,
            unhealthy=change == health.UNHEALTHY,
            now=self.clock(),
            planned=health.plan(self.router, self.loaded.config.operators),
        )
        if done is None:  # another worker recorded this change first
            return outcome
        notice, ids = done
        health.log_change(notice, len(ids))
        return replace(outcome, health=change, notice_delivery_ids=tuple(ids))

    def _next_poll(
        self,
        interval: float,
        now: datetime,
        *,
        max_age: float | None = None,
        retry_after: float | None = None,
    ) -> datetime:
        delay = max(
            interval, min(max_age or 0.0, MAX_CACHE_AGE), min(retry_after or 0.0, MAX_FEED_BACKOFF)
        )
        # +-10% jitter so hundreds of feeds with one interval spread out
        return now + timedelta(seconds=delay * self.rng.uniform(0.9, 1.1))

    # --- stage 2: score, route, write deliveries ------------------------------

    def score_items(self, item_ids: Sequence[int]) -> ScoreOutcome:
        stored = [s for s in self.store.get_items(item_ids) if s.score is None]
        if not stored:
            return ScoreOutcome()
        try:
            scorer = self.scorer()
        except ModelError as exc:
            log.error("model unavailable, %d items kept unscored: %s", len(stored), exc)
            return ScoreOutcome(pending=len(stored), error=str(exc))
        return self._score_apart(stored, scorer)

    def _score_apart(self, stored: list[StoredItem], scorer: Scorer) -> ScoreOutcome:
        """Score the batch; should it fail (not the database, not the model), score its
        halves apart, down to the one item that fails: that item stays unscored (tried
        again by later sweeps, after the items that never failed) and no longer holds
        up the items batched with it."""
        try:
            return self._score_batch(stored, scorer)
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, ModelError):
                raise
            if len(stored) == 1:
                item = stored[0]
                failures = self.store.note_score_failure(item.id)
                extra = {"item_id": item.id, "feed": item.item.feed}
                if failures == 1:  # the traceback once; then a line per sweep
                    log.exception(
                        "item %s cannot be scored, kept unscored: %s", item.id, exc, extra=extra
                    )
                else:
                    log.warning(
                        "item %s cannot be scored (%d times), kept unscored: %s",
                        item.id,
                        failures,
                        exc,
                        extra=extra,
                    )
                return ScoreOutcome(pending=1)
        half = len(stored) // 2
        return self._score_apart(stored[:half], scorer) + self._score_apart(stored[half:], scorer)

    def _score_batch(self, stored: list[StoredItem], scorer: Scorer) -> ScoreOutcome:
        scores = scorer.score_batch([s.item for s in stored])
        # where each event happened, with the feed's home country as a tie-breaker,
        # read in the language the item was judged in (English guards for English only)
        results = self.geoparser().locate_many(
            (
                s.item.title,
                s.item.summary,
                s.item.link,
                self.feed_country.get(s.item.feed),
                score.language.code if score.language else None,
            )
            for s, score in zip(stored, scores, strict=True)
        )
        located = {s.id: r for s, r in zip(stored, results, strict=True)}
        now = self.clock()
        routed = [
            self.router.route(s.item, score, now, located[s.id].where)
            for s, score in zip(stored, scores, strict=True)
        ]
        # stories: a near-duplicate never alerts; a later report of a story alerted
        # already becomes an update only when it adds something (see stories.py).
        # From reading the story index to committing, one worker at a time: two that
        # both found no story for an incident would each start one and alert twice.
        # Features and signatures read no index: computed before the lock.
        prepared = self.stories.prepare(stored, scores, routed, now)
        clusters = self.stories.enabled and any(
            sc.relevant or r for sc, r in zip(scores, routed, strict=True)
        )
        with self.store.exclusive("stories") if clusters else contextlib.nullcontext():
            plan = self.stories.plan(stored, scores, routed, now, prepared)
            plan.deliveries = answers.drop_muted(self.store, plan.deliveries)
            rows = [
                (s.id, score, planned)
                for s, score, planned in zip(stored, scores, plan.deliveries, strict=True)
            ]

            def also(conn: Connection, saved: set[int]) -> None:
                plan.write(conn, saved)
                write_locations(conn, located, saved)

            created = self.store.save_scores(rows, now, also=also)
        return ScoreOutcome(
            scored=len(stored),
            relevant=sum(1 for sc in scores if sc.relevant),
            delivery_ids=tuple(created),
        )

    def score_pending(self, batch: int = 1000) -> ScoreOutcome:
        total = ScoreOutcome()
        seen: set[int] = set()
        while True:
            ids = [i for i in self.store.unscored_item_ids(batch) if i not in seen]
            if not ids:
                return total
            seen.update(ids)
            out = self.score_items(ids)
            total += out
            if out.error:
                return total

    # --- stage 3: deliver ------------------------------------------------------

    def deliver(self, delivery_id: int) -> str:
        """Send one delivery to its one target; return its status afterwards."""
        now = self.clock()
        settings = self.loaded.config.delivery
        delivery = self.store.lease_delivery(
            delivery_id, now, settings.lease, max_attempts=settings.max_attempts
        )
        if delivery is None:
            return "skipped"  # not due, already sent, or another worker has it
        return self._deliver_leased(delivery, now, None)

    def deliver_many(self, delivery_ids: Sequence[int]) -> dict[str, int]:
        """Send a batch of deliveries, each to its one target, on the batch's shared
        connections; how many ended in which status.

        The batch's items and places are read together up front (two queries, not two
        per delivery). Each delivery is then leased just before its send, sent and
        marked on its own under that lease, exactly as :meth:`deliver` does: a worker
        killed mid-batch leaves at most the one being sent ambiguous, never the rest of
        the batch. A delivery that was sent is marked in the same transaction that
        leases the next one (one commit between two sends, not two: the lease is taken
        at the same moment as before). A row read as sent when the batch starts is
        skipped; what else is not plainly due (sent meanwhile, another sender's, or whose
        sender died: taken back and flagged ambiguous) goes through :meth:`deliver`. The
        rate-limit tokens of a target are taken for several of the
        batch's deliveries at once when its bucket earns them within
        ``TOKEN_HORIZON`` (see ``ratelimit.grant``), and spent at the bucket's pace.
        """
        settings = self.loaded.config.delivery
        ids = list(dict.fromkeys(int(i) for i in delivery_ids))
        rows = self.store.get_deliveries(ids)
        # A row read as sent stays sent (no path leads out of it): skipped here, as
        # `deliver` would skip it after two lease statements, and no token is taken for
        # it. A storm's sweep dispatches again what still waits in the queue after a
        # sweep period: one of the two batches finds every row of it sent.
        sent = {r.id for r in rows if r.status == SENT}
        counts: dict[str, int] = {"skipped": len(sent)} if sent else {}
        if sent:
            ids = [i for i in ids if i not in sent]
            rows = [r for r in rows if r.id not in sent]
        # one store connection for the batch's transactions (each still its own commit)
        with connection_pool(), self.store.holding(), self._batch_tokens(rows) as rows:
            batch = _Prefetched.read(self, rows)
            ahead: tuple[list[Delivery], datetime] | None = None  # leased by the last mark
            for k, delivery_id in enumerate(ids):
                if ahead is None:
                    now = self.clock()
                    leased = self.store.lease_deliveries([delivery_id], now, settings.lease)
                else:
                    leased, now = ahead
                ahead = None
                if not leased:
                    status = self.deliver(delivery_id)
                    counts[status] = counts.get(status, 0) + 1
                    continue
                after = ids[k + 1] if k + 1 < len(ids) else None
                taken: list[tuple[list[Delivery], datetime]] = []

                def mark_and_lease_next(
                    delivery_id: int,
                    when: datetime,
                    remote_id: str | None = None,
                    *,
                    lease: datetime | None = None,
                    after: int | None = after,
                    taken: list[tuple[list[Delivery], datetime]] = taken,
                ) -> None:
                    with self.store.together():  # one commit, or none (tried again)
                        self.store.mark_sent(delivery_id, when, remote_id, lease=lease)
                        nxt = (
                            self.store.lease_deliveries([after], when, settings.lease)
                            if after is not None
                            else []
                        )
                    taken[:] = [(nxt, when)]

                status = self._deliver_leased(leased[0], now, batch, mark=mark_and_lease_next)
                if taken and after is not None:
                    ahead = taken[0]
                counts[status] = counts.get(status, 0) + 1
        return counts

    @contextlib.contextmanager
    def _batch_tokens(self, rows: list[Delivery]) -> Iterator[list[Delivery]]:
        """Within a batch: how many of its deliveries go to each target (how many tokens
        are worth taking at once), and the tokens taken ahead, by target."""
        want: dict[tuple[str, str], int] = {}
        for r in rows:
            want[(r.subscriber, r.target_id)] = want.get((r.subscriber, r.target_id), 0) + 1
        self._tokens.batch = _BatchTokens(want)
        try:
            yield rows
        finally:
            self._tokens.batch = None

    def _deliver_leased(
        self,
        delivery: Delivery,
        now: datetime,
        batch: _Prefetched | None,
        *,
        mark: Callable[..., None] | None = None,
    ) -> str:
        delivery_id = delivery.id
        lease = delivery.lease_until  # every mark below only while this lease holds
        target = self.router.target(delivery.subscriber, delivery.target_id)
        if target is None:
            return self.store.mark_failed(
                delivery_id, _NO_TARGET, retry_at=None, now=now, lease=lease
            )
        if delivery.taken_back:
            back_at = self._held_again_at(delivery, now)
            if back_at is not None:
                self.store.release_group([delivery_id], back_at, lease=lease)
                return "held"
        try:
            self._take_token(target, may_defer=True)
        except _Throttled as throttled:
            self.store.release_delivery(
                delivery_id, now + timedelta(seconds=throttled.wait), lease=lease
            )
            return "throttled"
        ids = {
            "delivery_id": delivery_id,
            "item_id": delivery.item_id,
            "subscriber": delivery.subscriber,
        }
        try:
            message = self._message(delivery, target, batch)
        except Exception as exc:
            if is_transient(exc):
                # nothing was sent: given back (if the database lets us) rather than left
                # to run out and be taken back as ambiguous; the task retries
                with contextlib.suppress(Exception):
                    self.store.release_delivery(delivery_id, now, lease=lease)
                raise
            # it would fail the same way each time: dead-lettered with the reason, not
            # taken back after every lease forever (fix, then `deliveries replay`)
            log.exception("delivery %s: cannot render it", delivery_id, extra=ids)
            return self.store.mark_failed(
                delivery_id, f"cannot render: {exc!r}", retry_at=None, now=now, lease=lease
            )
        try:
            remote_id = self._send(target, message)
        except TransientDeliveryError as exc:
            retry_at = self._retry_at(delivery.attempts + 1, exc, now)
            what = f"retry at {retry_at:%H:%M:%S}" if retry_at else "dead, no attempts left"
            log.warning(
                "delivery %s to %s failed (%s): %s", delivery_id, target.label, what, exc, extra=ids
            )
            return self.store.mark_failed(
                delivery_id, str(exc), retry_at=retry_at, now=now, lease=lease
            )
        except PermanentDeliveryError as exc:
            log.error(
                "delivery %s to %s failed for good: %s", delivery_id, target.label, exc, extra=ids
            )
            return self.store.mark_failed(
                delivery_id, str(exc), retry_at=None, now=now, lease=lease
            )
        self._after_send(
            mark or self.store.mark_sent,
            delivery_id,
            self.clock(),
            remote_id=remote_id,
            lease=lease,
        )
        what = f"item {delivery.item_id}" if delivery.notice_id is None else "feed notice"
        log.info("delivery %s: %s sent to %s", delivery_id, what, target.label, extra=ids)
        return SENT

    def _message(
        self, delivery: Delivery, target: Target, batch: _Prefetched | None = None
    ) -> Message:
        family = channel_family(target.url)
        if delivery.notice_id is not None:  # a feed-health notice for an operator
            return health.render_notice(self.store.get_notice(delivery.notice_id), family)
        stored = batch.items.get(delivery.item_id) if batch else None  # type: ignore[arg-type]
        if stored is None:
            stored = self.store.get_item(delivery.item_id)  # type: ignore[arg-type]
            batch = None  # read after the batch was: its place too
        alert = self._alert(stored, delivery.subscriber, batch.places if batch else None)
        message = render(alert, family, templates=self.templates)
        out = self.stories.decorate(delivery, stored, family, message, alert)
        # a story update is rendered anew: it carries the answers too ("Mute this story")
        return out if out.body == message.body else with_feedback(out, family, alert.actions)

    def with_place(self, alert: Alert, places: Places | None = None) -> Alert:
        """The alert with where its event happened, measured from the subscriber's zones
        (``places``: the batch's, read together, else read now)."""
        if places is None:
            places = locations_of(self.store.engine, [alert.item_id])
        where, _ = places.get(alert.item_id, (None, ""))
        if where is None:
            return alert
        sub = self.router.subscriber(alert.subscriber)
        hit = nearest_zone(sub.near, where) if sub else None
        return replace(alert, where=describe(where, hit), map_url=map_link(where))

    def send_digests(self) -> dict[str, int]:
        """Send every held group whose time has come as one digest per target."""
        counts: dict[str, int] = {}
        for (subscriber, tid), ids in self.store.due_digest_groups(self.clock()).items():
            # the clock read for each group: a lease starts when it is taken
            for status, n in self._send_digest(subscriber, tid, ids, self.clock()).items():
                counts[status] = counts.get(status, 0) + n
        return counts

    def _held_again_at(self, delivery: Delivery, now: datetime) -> datetime | None:
        """Where a delivery taken back from a dead sender goes when its subscriber holds
        alerts (a digest, quiet hours): back to the hold, due now or at the end of the
        quiet hours, so it rejoins the next digest (most likely it was part of the one
        its sender died sending) instead of going out alone. None: send it now (no
        hold, a break-through score, or a feed-health notice, which is never held)."""
        sub = self.router.subscriber(delivery.subscriber)
        if delivery.item_id is None or sub is None or not (sub.digest or sub.quiet_hours):
            return None
        score = self.store.get_item(delivery.item_id).score
        if holds.release_time(sub, score.score if score else 0.0, now) is None:
            return None
        quiet_end = (
            holds.quiet_until(sub.quiet_hours, now, sub.timezone) if sub.quiet_hours else None
        )
        return quiet_end or now

    def _send_digest(
        self, subscriber: str, target_id: str, ids: list[int], now: datetime
    ) -> dict[str, int]:
        """Send one target's held deliveries; how many of them ended in which status."""
        return _DigestSend(self, subscriber, target_id, ids, now).run()

    def _digest_messages(
        self, subscriber: str, rows: list[Delivery], target: Target
    ) -> tuple[list[Delivery], list[tuple[Message, list[Alert]]]]:
        """The deliveries whose items still exist, and the messages that carry them."""
        family = channel_family(target.url)
        by_id = {s.id: s for s in self.store.get_items([r.item_id for r in rows])}
        held = [r for r in rows if r.item_id in by_id]
        alerts = [
            self.stories.digest_alert(r, self._alert(by_id[r.item_id], subscriber)) for r in held
        ]
        if len(alerts) == 1:  # sent as it would have been at once (a story update answers)
            message = render(alerts[0], family, templates=self.templates)
            message = self.stories.decorate(
                held[0], by_id[held[0].item_id], family, message, alerts[0]
            )
            return held, [(message, alerts)]
        sub = self.router.subscriber(subscriber)
        period = f"{sub.digest} digest" if sub and sub.digest else "held during quiet hours"
        return held, render_digest_parts(alerts, family, period=period)

    def _alert(self, stored: StoredItem, subscriber: str, places: Places | None = None) -> Alert:
        alert = self.with_place(alert_for(stored, subscriber), places)
        return self.links.with_actions(alert) if self.links else alert

    def _after_send(self, mark: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        """Record a send that happened. A database hiccup here would leave the row leased
        and, once the lease ran out, send it again: tried a few times before giving up."""
        for attempt in range(3):
            try:
                mark(*args, **kwargs)
                return
            except Exception as exc:
                if attempt == 2 or not is_transient(exc):
                    raise
                log.warning("recording a send failed (%s); trying again", exc)
                self.sleep(0.5 * 2**attempt)

    def _send(self, target: Target, message: Message) -> str | None:
        """Send; the service's id of the message when it gave one (see Notifier.send)."""
        try:
            remote_id = self.notifier.send(target.url, message)
        except TransientDeliveryError as exc:
            if exc.retry_after:
                # the service asked every sender to wait: pause the bucket for all workers
                for bucket in self._buckets(target)[:1]:
                    self.limiter.pause(bucket.key, exc.retry_after)
                batch: _BatchTokens | None = getattr(self._tokens, "batch", None)
                if batch is not None:  # and spend none taken ahead
                    batch.ahead.pop((target.subscriber, target.target_id), None)
            raise
        return remote_id if isinstance(remote_id, str) else None

    def _retry_at(
        self, attempts: int, exc: TransientDeliveryError, now: datetime
    ) -> datetime | None:
        if attempts >= self.loaded.config.delivery.max_attempts:
            return None
        return now + timedelta(seconds=self.backoff(attempts, exc.retry_after))

    def _buckets(self, target: Target) -> list[Bucket]:
        family = channel_family(target.url)
        limits = self.loaded.config.delivery.rate_limits
        sub = self.router.subscriber(target.subscriber)
        rate = sub.rate_limit if sub and sub.rate_limit else getattr(limits, family)
        buckets = [Bucket(f"{family}:{target.target_id}", rate)]
        if family == "telegram":
            # one bot may serve many chats: Telegram also limits the bot as a whole
            bot = hashlib.sha256(urlsplit(target.url).netloc.encode()).hexdigest()[:16]
            buckets.append(Bucket(f"telegram-bot:{bot}", limits.telegram_bot, limits.telegram_bot))
        return buckets

    def _take_token(self, target: Target, *, may_defer: bool) -> None:
        """Wait for the target's rate limits; short waits in-process, long ones deferred."""
        budget = self.loaded.config.delivery.max_inline_wait
        waited = 0.0
        batch: _BatchTokens | None = getattr(self._tokens, "batch", None)
        key = (target.subscriber, target.target_id)
        if batch is not None:
            left = batch.want.get(key, 1)
            batch.want[key] = left - 1
            ahead = batch.ahead.get(key)
            if ahead:  # taken with an earlier delivery of the batch: spent at its time
                self._wait_until(ahead.pop(0))
                return
        while True:
            try:
                many = getattr(self.limiter, "acquire_many", None)
                if batch is not None and many is not None:
                    spend, wait = many(self._buckets(target), max(1, left), TOKEN_HORIZON)
                    if spend:
                        start = time.monotonic()
                        batch.ahead[key] = [start + d for d in spend[1:]]
                        self._wait_until(start + spend[0])
                        return
                else:
                    wait = self.limiter.acquire(self._buckets(target))
            except Exception as exc:  # the limiter's backend is down: try again later
                log.warning("rate limiter unavailable (%s); deferring %s", exc, target.label)
                if may_defer:
                    raise _Throttled(5.0) from exc
                return
            if wait <= 0:
                return
            if may_defer and waited + wait > budget:
                raise _Throttled(wait)
            self.sleep(wait)
            waited += wait

    def _wait_until(self, when: float) -> None:
        wait = when - time.monotonic()
        if wait > 0:
            self.sleep(wait)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential backoff with full jitter, never sooner than the server asked."""
        settings = self.loaded.config.delivery
        ceiling = min(settings.backoff_base * 2 ** (attempts - 1), settings.backoff_max)
        return max(self.rng.uniform(ceiling / 2, ceiling), retry_after or 0.0)

    def deliver_due(self, limit: int = 500) -> dict[str, int]:
        counts: dict[str, int] = {}
        due = self.store.due_delivery_ids(self.clock(), limit)
        for start in range(0, len(due), DELIVERY_READ_BATCH):
            for status, n in self.deliver_many(due[start : start + DELIVERY_READ_BATCH]).items():
                counts[status] = counts.get(status, 0) + n
        return counts

    # --- the whole thing, once ------------------------------------------------

    def run_once(self, feed: str | None = None, *, warm_up: bool = False) -> PollSummary:
        """Poll every feed (or ``feed``), score what is new, send what is due. ``warm_up``:
        once a batch of feeds brought new items, the model, language detector and
        gazetteer load on a thread while the other batches are fetched (a run that
        finds nothing new loads none of them)."""
        start = time.perf_counter()
        summary = PollSummary()
        names = [feed] if feed else [f.name for f in self.loaded.feeds]
        size = self.loaded.config.fetch.batch
        for first in range(0, len(names), size):
            polled = self.poll_feeds(names[first : first + size])
            summary.feeds.extend(polled)
            if warm_up and any(o.new_item_ids for o in polled):
                self.warm_up()
        scored = self.score_pending()
        summary.scored, summary.relevant = scored.scored, scored.relevant
        summary.unscored, summary.model_error = scored.pending, scored.error
        summary.deliveries_created = len(scored.delivery_ids)
        summary.delivered = self.deliver_due()
        for status, n in self.send_digests().items():
            summary.delivered[status] = summary.delivered.get(status, 0) + n
        summary.elapsed = time.perf_counter() - start
        return summary


__all__ = [
    "DEAD",
    "PENDING",
    "SENT",
    "FeedOutcome",
    "Pipeline",
    "PollSummary",
    "ScoreOutcome",
    "alert_for",
]


Places = dict[int, tuple[Any, str]]  # item id: (where, why), as geo.records.locations_of


@dataclass
class _Prefetched:
    """A batch's items and their places, read in two queries instead of two per delivery."""

    items: dict[int, StoredItem]
    places: Places

    @classmethod
    def read(cls, pipeline: Pipeline, rows: Sequence[Delivery]) -> _Prefetched:
        ids = sorted({r.item_id for r in rows if r.item_id is not None and r.notice_id is None})
        if not ids:
            return cls({}, {})
        items = {s.id: s for s in pipeline.store.get_items(ids)}
        return cls(items, locations_of(pipeline.store.engine, ids))


@dataclass
class _BatchTokens:
    """A delivery batch's rate-limit tokens: how many deliveries are left per target, and
    the tokens taken ahead for them (``time.monotonic()`` at which each may be spent)."""

    want: dict[tuple[str, str], int]
    ahead: dict[tuple[str, str], list[float]] = field(default_factory=dict)


class _DigestSend:
    """One target's held deliveries going out as a digest, in named steps: :meth:`take`
    (lease the group, find the target, take a token), render (or :meth:`not_rendered`),
    :meth:`send` part by part (each under a fresh lease), and :meth:`settle` when it
    stops early: the parts sent stay sent, the rest is held again, failed or dead.
    Never sent twice. Every mark is fenced by the group's one lease."""

    def __init__(
        self, pipeline: Pipeline, subscriber: str, target_id: str, ids: list[int], now: datetime
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.settings = pipeline.loaded.config.delivery
        self.subscriber = subscriber
        self.target_id = target_id
        self.ids = ids
        self.now = now
        self.rows: list[Delivery] = []
        self.taken: list[int] = []
        self.lease: datetime | None = None
        self.target: Target | None = None
        self.extra: dict[str, Any] = {}  # of every log line
        self.remote_ids: dict[int, str] = {}
        self.done: list[int] = []  # the deliveries listed in the parts sent so far

    def run(self) -> dict[str, int]:
        early = self.take()
        if early is not None:
            return early
        assert self.target is not None
        try:
            held, messages = self.pipeline._digest_messages(self.subscriber, self.rows, self.target)
        except Exception as exc:
            return self.not_rendered(exc)
        return self.send(held, messages)

    def take(self) -> dict[str, int] | None:
        """Lease the group and take the target's first token; else the outcome."""
        now = self.now
        rows = self.store.lease_group(self.ids, now, self.settings.lease)
        if not rows:
            return {"skipped": len(self.ids)}
        self.rows = rows
        taken = self.taken = [r.id for r in rows]
        # one lease for the group; every mark is fenced by it
        lease = self.lease = rows[0].lease_until
        target = self.target = self.pipeline.router.target(self.subscriber, self.target_id)
        if target is None:
            status = self.store.mark_group_failed(
                taken, _NO_TARGET, retry_at=None, now=now, lease=lease
            )
            return {status: len(taken)}
        try:
            self.pipeline._take_token(target, may_defer=True)
        except _Throttled as throttled:
            self.store.release_group(taken, now + timedelta(seconds=throttled.wait), lease=lease)
            return {"throttled": len(taken)}
        self.extra = {"delivery_ids": taken, "subscriber": self.subscriber}
        return None

    def not_rendered(self, exc: Exception) -> dict[str, int]:
        """The digest cannot be rendered: a transient cause goes back to the hold and is
        raised; anything else is a dead letter with the reason."""
        assert self.target is not None
        taken, lease, now = self.taken, self.lease, self.now
        if is_transient(exc):
            with contextlib.suppress(Exception):  # nothing sent: back to the hold
                self.store.release_group(taken, now, lease=lease)
            raise exc
        log.exception("digest to %s: cannot render it", self.target.label, extra=self.extra)
        status = self.store.mark_group_failed(
            taken, f"cannot render: {exc!r}", retry_at=None, now=now, lease=lease
        )
        return {status: len(taken)}

    def settle(
        self, outcome: str, retry_at: datetime | None = None, error: str = ""
    ) -> dict[str, int]:
        """The parts sent stay sent; the rest is held again (``outcome`` "held", no
        attempt counted), failed until ``retry_at`` or dead. Never sent twice."""
        done, lease, now = self.done, self.lease, self.now
        sent = set(done)
        if done:
            self.pipeline._after_send(
                self.store.mark_group_sent,
                done,
                self.pipeline.clock(),
                remote_ids=self.remote_ids,
                lease=lease,
            )
        rest = [i for i in self.taken if i not in sent]
        if outcome == HELD:
            self.store.release_group(rest, retry_at or now, lease=lease)
            status = "throttled"
        else:
            status = self.store.mark_group_failed(
                rest, error, retry_at=retry_at, now=now, lease=lease
            )
        return {SENT: len(done), status: len(rest)} if done else {status: len(rest)}

    def send(
        self, held: list[Delivery], messages: list[tuple[Message, list[Alert]]]
    ) -> dict[str, int]:
        """Send the parts in order; mark the whole group sent, or settle what is left."""
        pipeline, target, now, taken = self.pipeline, self.target, self.now, self.taken
        assert target is not None
        delivery_of = {r.item_id: r.id for r in held}  # one delivery per item and target
        n = 0
        try:
            for n, (message, listed) in enumerate(messages):
                if n:  # the first token is taken above; later parts wait their turn...
                    try:
                        pipeline._take_token(target, may_defer=True)
                    except _Throttled as throttled:  # ...but not past the lease
                        log.info(
                            "digest to %s: %d of %d parts sent, the rest in %.0f s",
                            target.label,
                            n,
                            len(messages),
                            throttled.wait,
                            extra=self.extra,
                        )
                        return self.settle(HELD, now + timedelta(seconds=throttled.wait))
                    # each part under a fresh lease: a long digest is not taken back
                    # (and sent again alert by alert) while it is still going out
                    self.lease = self.store.renew_lease(
                        taken, self.lease, pipeline.clock(), self.settings.lease
                    )
                    if self.lease is None:  # taken back meanwhile: the rest is another's now
                        log.warning("digest to %s: lease lost after %d parts", target.label, n)
                        return {"skipped": len(taken)}
                remote_id = pipeline._send(target, message)
                self.done += (delivery_of[a.item_id] for a in listed)
                if remote_id is not None:
                    # the message each listed delivery went out in: a later update of its
                    # story answers it (first_alert_remote_id)
                    self.remote_ids.update({delivery_of[a.item_id]: remote_id for a in listed})
        except (TransientDeliveryError, PermanentDeliveryError) as exc:
            failed = f"digest to {target.label} failed"
            if self.done:
                failed += f" after {n} of {len(messages)} parts ({len(self.done)} alerts sent)"
            retry_at = None
            if isinstance(exc, PermanentDeliveryError):
                log.error("%s for good: %s", failed, exc, extra=self.extra)
            else:
                retry_at = pipeline._retry_at(max(r.attempts for r in self.rows) + 1, exc, now)
                log.warning("%s: %s", failed, exc, extra=self.extra)
            return self.settle("failed", retry_at, str(exc))
        except BaseException:
            # a task time limit or a signal mid-digest: what went out is marked, the rest
            # goes back to the hold, then the interruption goes on
            with contextlib.suppress(Exception):
                self.settle(HELD)
            raise
        pipeline._after_send(
            self.store.mark_group_sent,
            taken,
            pipeline.clock(),
            remote_ids=self.remote_ids,
            lease=self.lease,
        )
        log.info(
            "digest of %d alerts sent to %s in %d message(s)",
            len(taken),
            target.label,
            len(messages),
            extra=self.extra,
        )
        return {SENT: len(taken)}
