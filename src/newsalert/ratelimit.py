"""Token buckets shared by every worker process, so providers never see us over their limits.

One concept, three backends (the in-memory one is the twin for a single process
and for tests of logic): Redis when the broker is Redis, the store otherwise (the
embedded default), memory when nothing is shared.

``acquire(keys)`` takes one token from each bucket or none, and answers how long
to wait when a bucket is empty. ``pause(key, seconds)`` empties a bucket for that
long: what a 429 with Retry-After asks of every process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

from newsalert.store import Store


@dataclass(frozen=True, slots=True)
class Bucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    key: str
    rate: float
    burst: float = 1.0


class RateLimiter(Protocol):
    def acquire(self, buckets: Sequence[Bucket]) -> float:
        """Take a token from every bucket and return 0, or take none and return the wait."""
        ...

    def pause(self, key: str, seconds: float) -> None: ...


class BatchRateLimiter(RateLimiter, Protocol):
    def acquire_many(
        self, buckets: Sequence[Bucket], want: int, horizon: float
    ) -> tuple[list[float], float]:
        """Take up to ``want`` tokens from every bucket at once (see :func:`grant`): the
        delays, from now, at which the tokens taken may be spent (empty: none taken),
        and the wait when none could be taken."""
        ...


def grant(
    levels: Sequence[tuple[float, Bucket]], want: int, horizon: float
) -> tuple[int, list[float]]:
    """How many tokens a sender may take at once from buckets at these levels (each at
    least 1), and when each may be spent: the tokens a bucket will have earned within
    ``horizon`` seconds, at most ``want``. Token ``j`` may be spent ``(j + 1 - level) /
    rate`` seconds from now, when a sender taking them one by one would have got it: the
    buckets' pace is kept, only the round trips are saved. The bucket goes below zero
    by what was taken ahead, so other senders wait for it as they would for a token
    spent. Tokens left unspent (a batch that ends early) are lost, never given back:
    a slower rate, never a faster one."""
    n = max(1, want)
    for level, bucket in levels:
        n = min(n, max(1, int(level + bucket.rate * horizon)))
    return n, spend_times(levels, n)


def spend_times(levels: Sequence[tuple[float, Bucket]], n: int) -> list[float]:
    """When each of ``n`` tokens taken at once from buckets at these levels may be spent."""
    return [
        max((max(0.0, (j + 1 - level) / bucket.rate) for level, bucket in levels), default=0.0)
        for j in range(n)
    ]


def _refill(tokens: float, updated: float, now: float, bucket: Bucket) -> float:
    # a paused bucket holds a negative balance and an ``updated`` in the future
    if now <= updated:
        return tokens
    return min(bucket.burst, tokens + (now - updated) * bucket.rate)


def _wait(tokens: float, bucket: Bucket) -> float:
    return 0.0 if tokens >= 1.0 else (1.0 - tokens) / bucket.rate


class MemoryRateLimiter:
    """Buckets in this process only: the twin of the shared backends."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def acquire(self, buckets: Sequence[Bucket]) -> float:
        offsets, wait = self.acquire_many(buckets, 1, 0.0)
        return 0.0 if offsets else wait

    def acquire_many(
        self, buckets: Sequence[Bucket], want: int, horizon: float
    ) -> tuple[list[float], float]:
        with self._lock:
            now = self._clock()
            levels = []
            for b in buckets:
                tokens, updated = self._state.get(b.key, (b.burst, now))
                levels.append(_refill(tokens, updated, now, b))
            wait = max((_wait(t, b) for t, b in zip(levels, buckets, strict=True)), default=0.0)
            wait = max([wait, *(self._paused(b.key, now) for b in buckets)])
            if wait > 0:
                return [], wait
            n, offsets = grant(list(zip(levels, buckets, strict=True)), want, horizon)
            for t, b in zip(levels, buckets, strict=True):
                self._state[b.key] = (t - n, now)
            return offsets, 0.0

    def _paused(self, key: str, now: float) -> float:
        _, updated = self._state.get(key, (0.0, now))
        return max(0.0, updated - now)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            self._state[key] = (0.0, self._clock() + seconds)


_limits_metadata = MetaData()
rate_buckets = Table(
    "rate_buckets",
    _limits_metadata,
    Column("key", String(128), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated", Float, nullable=False),  # epoch seconds; in the future while paused
)


_ATTEMPTS = 5


class _TakenMeanwhile(Exception):
    """Another process updated a bucket between our read and our write."""


class StoreRateLimiter:
    """Buckets as rows in the store: shared by every process using the same database.

    Each acquire is one short transaction that reads the buckets under a write lock
    (SELECT ... FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE on SQLite, whose plain reads
    take none), so two processes never spend one token. The UPDATE is also guarded by
    the ``updated`` it read: should it match no row, another process took the token
    first, and the acquire is tried again on what it left.
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.engine = store.engine
        self._clock = clock
        self._known: set[str] = set()  # bucket rows known to exist
        _limits_metadata.create_all(self.engine)

    def _rows(self, conn: Any, keys: list[str]) -> dict[str, tuple[float, float]]:
        query = select(rate_buckets).where(rate_buckets.c.key.in_(keys))
        if self.engine.dialect.name != "sqlite":
            query = query.with_for_update()
        return {r.key: (r.tokens, r.updated) for r in conn.execute(query)}

    def _ensure(self, keys: list[str], buckets: dict[str, Bucket], now: float) -> None:
        with self.engine.begin() as conn:
            have = set(
                conn.execute(
                    select(rate_buckets.c.key).where(rate_buckets.c.key.in_(keys))
                ).scalars()
            )
            for key in keys:
                if key not in have:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(rate_buckets).values(
                                    key=key, tokens=buckets[key].burst, updated=now
                                )
                            )
                    except IntegrityError:
                        pass

    def acquire(self, buckets: Sequence[Bucket]) -> float:
        offsets, wait = self.acquire_many(buckets, 1, 0.0)
        return 0.0 if offsets else wait

    def acquire_many(
        self, buckets: Sequence[Bucket], want: int, horizon: float
    ) -> tuple[list[float], float]:
        by_key = {b.key: b for b in buckets}
        keys = sorted(by_key)  # one lock order for every process: no deadlock
        for _ in range(_ATTEMPTS):
            if not self._known.issuperset(keys):  # rows are not deleted: made once
                self._ensure(keys, by_key, self._clock())
                self._known.update(keys)
            try:
                return self._acquire(keys, by_key, want, horizon)
            except _TakenMeanwhile:
                continue
        # lost every time to other processes: they are spending these buckets now
        return [], min(1.0 / b.rate for b in buckets)

    def _acquire(
        self, keys: list[str], by_key: dict[str, Bucket], want: int, horizon: float
    ) -> tuple[list[float], float]:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                # the driver opens no transaction for a SELECT: without this, two
                # processes read one token and both spend it
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            rows = self._rows(conn, keys)
            if len(rows) != len(keys):  # a row gone (a database swapped under us)
                self._known.difference_update(keys)
                raise _TakenMeanwhile
            now = self._clock()
            wait = 0.0
            levels = {}
            for key in keys:
                tokens, updated = rows[key]
                level = _refill(tokens, updated, now, by_key[key])
                levels[key] = level
                wait = max(wait, _wait(level, by_key[key]), max(0.0, updated - now))
            if wait > 0:
                return [], wait
            n, offsets = grant([(levels[k], by_key[k]) for k in keys], want, horizon)
            for key in keys:
                taken = conn.execute(
                    update(rate_buckets)
                    .where(rate_buckets.c.key == key, rate_buckets.c.updated == rows[key][1])
                    .values(tokens=levels[key] - n, updated=now)
                )
                if taken.rowcount != 1:
                    raise _TakenMeanwhile  # rolls back the buckets updated so far
        return offsets, 0.0

    def pause(self, key: str, seconds: float) -> None:
        now = self._clock()
        self._ensure([key], {key: Bucket(key, 1.0)}, now)
        with self.engine.begin() as conn:
            conn.execute(
                update(rate_buckets)
                .where(rate_buckets.c.key == key)
                .values(tokens=0.0, updated=now + seconds)
            )


# Redis's own clock, not the calling worker's: workers on hosts whose clocks disagree
# would otherwise stamp a bucket in the future (pausing it for everyone else) or find it
# stamped in theirs (pausing themselves). ARGV[1] empty: the server's TIME.
_NOW = """
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
"""

# KEYS: bucket keys; ARGV: now (or empty), how many tokens are wanted, the horizon in
# seconds, then rate and burst per key. Atomic in Redis. Returns the wait (none taken) or
# "0", how many were taken, and each bucket's level before (as ``grant`` counts them).
_ACQUIRE = (
    _NOW
    + """
local want = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local wait = 0
local levels = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i + 2])
  local burst = tonumber(ARGV[2 * i + 3])
  local state = redis.call('HMGET', key, 'tokens', 'updated')
  local tokens = tonumber(state[1]) or burst
  local updated = tonumber(state[2]) or now
  if now > updated then tokens = math.min(burst, tokens + (now - updated) * rate) end
  levels[i] = tokens
  if updated > now then wait = math.max(wait, updated - now) end
  if tokens < 1 then wait = math.max(wait, (1 - tokens) / rate) end
end
if wait > 0 then return {tostring(wait), '0'} end
local n = math.max(1, want)
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i + 2])
  n = math.min(n, math.max(1, math.floor(levels[i] + rate * horizon)))
end
local out = {'0', tostring(n)}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i + 2])
  redis.call('HSET', key, 'tokens', levels[i] - n, 'updated', now)
  redis.call('EXPIRE', key, math.ceil(3600 + (10 + n) / rate))
  out[i + 2] = tostring(levels[i])
end
return out
"""
)

# KEYS: the bucket; ARGV: now (or empty), seconds.
_PAUSE = (
    _NOW
    + """
local seconds = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'tokens', 0, 'updated', now + seconds)
redis.call('EXPIRE', KEYS[1], math.floor(seconds) + 3600)
return 0
"""
)


class RedisRateLimiter:
    """Buckets in Redis, taken atomically by a Lua script on the server's clock.

    ``clock`` replaces that clock, for tests of the buckets' logic only: the clocks of
    the workers' hosts may disagree, Redis's is one.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "newsalert:rate:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.prefix = prefix
        self._script = self.client.register_script(_ACQUIRE)
        self._pause = self.client.register_script(_PAUSE)
        self._clock = clock

    def _now(self) -> float | str:
        return "" if self._clock is None else self._clock()

    def acquire(self, buckets: Sequence[Bucket]) -> float:
        offsets, wait = self.acquire_many(buckets, 1, 0.0)
        return 0.0 if offsets else wait

    def acquire_many(
        self, buckets: Sequence[Bucket], want: int, horizon: float
    ) -> tuple[list[float], float]:
        ordered = sorted(buckets, key=lambda b: b.key)
        args: list[float | str] = [self._now(), max(1, want), horizon]
        for b in ordered:
            args += [b.rate, b.burst]
        wait, n, *levels = self._script(keys=[self.prefix + b.key for b in ordered], args=args)
        if int(n) == 0:
            return [], float(wait)
        taken = [(float(level), b) for level, b in zip(levels, ordered, strict=True)]
        return spend_times(taken, int(n)), 0.0

    def pause(self, key: str, seconds: float) -> None:
        self._pause(keys=[self.prefix + key], args=[self._now(), seconds])

    def close(self) -> None:
        self.client.close()
