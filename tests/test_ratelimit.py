"""Shared token buckets under real concurrency: worker processes racing for one bucket on
the store, and workers on hosts whose clocks disagree sharing one bucket in Redis.

The logic every backend shares (refill, refusal, pause) is tested with a fake clock in
test_delivery_policy.py; here the processes and the clocks are real.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any

import pytest

from newsalert.ratelimit import Bucket, RedisRateLimiter, StoreRateLimiter
from newsalert.store import Store

from .conftest import REDIS_URL, ROOT, service_unavailable

PROCESSES = 4
TRIES = 60  # per process: three times the bucket's tokens in all
# a bucket of 20 tokens that refills one token in about three hours: however long the
# processes take, the store may grant exactly 20, no more
BUCKET = Bucket("telegram:race", rate=1e-4, burst=20.0)


def _hammer(url: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """One worker process: its own store and limiter, trying for a token TRIES times."""
    store = Store(url, create=False)
    limiter = StoreRateLimiter(store)
    start.wait(30)
    granted = 0
    try:
        for _ in range(TRIES):
            if limiter.acquire([BUCKET]) == 0:
                granted += 1
    finally:
        store.close()
    out.put(granted)


def test_processes_racing_for_one_bucket_get_no_more_tokens_than_it_holds(
    database_url: str,
) -> None:
    """Four worker processes take tokens from one store bucket at once (the default with
    the embedded broker and several workers): the tokens granted in all are the
    bucket's, each once. A process that read the bucket before another took from it
    must not send on what it read."""
    store = Store(database_url)
    StoreRateLimiter(store)  # creates the table before the processes race
    store.close()
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=_hammer, args=(database_url, start, out)) for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    start.set()
    granted = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert sum(granted) == BUCKET.burst, granted


# --- Redis: the server's clock ---------------------------------------------------------------

# A worker on another host, whose clock is ``skew`` seconds off: it patches time.time
# before importing newsalert, as a host's clock would be wrong for everything in it.
_SKEWED_WORKER = textwrap.dedent(
    """\
    import json, sys, time
    skew = float(sys.argv[3])
    real = time.time
    time.time = lambda: real() + skew
    from newsalert.ratelimit import Bucket, RedisRateLimiter
    limiter = RedisRateLimiter(sys.argv[1], sys.argv[2])
    bucket = Bucket("telegram:chat", rate=float(sys.argv[4]))
    waits = []
    for _ in range(5):
        wait = limiter.acquire([bucket])
        waits.append(wait)
        if wait == 0 or wait > 5:
            break
        time.sleep(wait)
    limiter.pause("telegram:paused", 2.0)
    limiter.close()
    print(json.dumps(waits))
    """
)


def _take(limiter: RedisRateLimiter, bucket: Bucket) -> list[float]:
    """Acquire as a worker does, sleeping out short waits; every wait it was told."""
    waits = []
    for _ in range(5):
        wait = limiter.acquire([bucket])
        waits.append(wait)
        if wait == 0 or wait > 5:
            break
        time.sleep(wait)
    return waits


@pytest.mark.parametrize("skew", [3600.0, -3600.0])
def test_a_worker_with_a_skewed_clock_neither_pauses_a_redis_bucket_nor_is_paused(
    skew: float,
) -> None:
    """Two workers on two hosts share a Redis bucket; one host's clock is an hour off.
    Each still gets a token after at most one token's time (1/rate): the bucket runs on
    Redis's clock, so the skewed worker's stamps neither pause the others (ahead) nor
    pause it (behind). A pause (429 Retry-After) it sets lasts what it asked."""
    import json

    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", exc)
    prefix = f"newsalert-test:skew:{uuid.uuid4().hex[:8]}:"
    rate = 20.0  # a token every 50 ms
    bucket = Bucket("telegram:chat", rate=rate)
    here = RedisRateLimiter(REDIS_URL, prefix)
    try:
        assert _take(here, bucket) == [0.0]  # a fresh bucket: this host takes its token
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        done = subprocess.run(
            [sys.executable, "-c", _SKEWED_WORKER, REDIS_URL, prefix, str(skew), str(rate)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=True,
        )
        there = json.loads(done.stdout)
        assert there[-1] == 0 and max(there) <= 1 / rate + 0.01, there
        waits = _take(here, bucket)
        assert waits[-1] == 0 and max(waits) <= 1 / rate + 0.01, waits
        paused = here.acquire([Bucket("telegram:paused", rate=rate)])
        assert 1.0 < paused <= 2.0, paused
    finally:
        here.close()
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)
        client.close()


def test_redis_bucket_keys_expire() -> None:
    """Buckets nobody uses any more leave Redis on their own."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_unavailable("Redis", exc)
    prefix = f"newsalert-test:ttl:{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(REDIS_URL, prefix)
    try:
        assert limiter.acquire([Bucket("k", rate=1.0)]) == 0
        assert 3600 <= client.ttl(prefix + "k") <= 3611
    finally:
        limiter.close()
        client.delete(prefix + "k")
        client.close()


def _limiters(tmp_path: Any) -> list[Any]:
    from newsalert.ratelimit import MemoryRateLimiter

    return [
        MemoryRateLimiter(),
        StoreRateLimiter(Store(f"sqlite:///{tmp_path}/r.db")),
        RedisRateLimiter(REDIS_URL, prefix=f"newsalert-test:{uuid.uuid4().hex}:"),
    ]


def test_tokens_taken_for_a_batch_keep_the_buckets_pace(tmp_path: Any) -> None:
    """``acquire_many`` takes at once only the tokens a bucket earns within the horizon,
    says when each may be spent (as one sender taking them one by one would get them),
    and leaves the bucket owing them: the next sender waits as long."""
    for limiter in _limiters(tmp_path):
        fast = Bucket(f"fast-{uuid.uuid4().hex}", 100.0)  # burst 1
        spend, wait = limiter.acquire_many([fast], 20, 0.05)
        assert wait == 0 and len(spend) == 6  # the one held + 5 earned in 50 ms
        assert spend[0] == 0
        assert spend[1:] == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05], abs=2e-3)
        assert 0.02 < limiter.acquire([fast]) <= 0.06  # owed, not free (less what passed)
        slow = Bucket(f"slow-{uuid.uuid4().hex}", 1.0)
        assert limiter.acquire_many([slow], 20, 0.05) == ([0.0], 0.0)  # one at a time
        spend, wait = limiter.acquire_many([slow], 20, 0.05)
        assert spend == [] and 0.5 < wait <= 1.0
        # several buckets (a Telegram chat and its bot): the tightest decides
        chat, bot = Bucket(f"c-{uuid.uuid4().hex}", 1000.0), Bucket(f"b-{uuid.uuid4().hex}", 40.0)
        spend, wait = limiter.acquire_many([chat, bot], 20, 0.05)
        assert len(spend) == 3 and spend[-1] == pytest.approx(0.05, abs=2e-3)
        if hasattr(limiter, "client"):
            limiter.close()
