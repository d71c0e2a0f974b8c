"""Story clustering: how well it merges reports of one incident, and how fast it runs.

Usage (from the repository root; about a minute at the defaults)::

    PYTHONPATH=src:. /work/venv/bin/python bench/stories.py
    PYTHONPATH=src:. /work/venv/bin/python bench/stories.py --items 50000 --skip-quality

Three tables:

1. **Clustering** on ``tests/data/stories/labelled.jsonl`` (770 real news items, 175
   same-event pairs labelled by hand; see that directory's README): for each
   ``similarity`` threshold (and centroid built from the first 1 or 3 reports), averaged
   over three arrival orders, with every item inside one time window (the worst case: the
   labelled items span five months, so nothing is kept apart by time):

   - *pairs merged wrongly*: two items of different events in one story (pairs inside
     one developing thread, whose events I could not date apart, are not counted);
   - *pairs missed*: two items of one event in different stories;
   - *alerts lost*: events none of whose items started a story (joined another
     incident's story: the subscriber would get no alert for it, at best an update);
   - *extra alerts*: stories beyond the first for one event (a second alert).

2. **Near-duplicates** through the real path (LSH band lookup, then the estimated
   Jaccard): the labelled duplicate pairs caught, same-event reports (not duplicates)
   called duplicates, different-event pairs called duplicates, and edited copies of
   every labelled item (a new title plus 1, 3 or 5 words of the text replaced) caught.

3. **Throughput** over ``--items`` stored items (the packaged training corpus, its
   items re-published with edits until the count is reached), spread over 72 hours in a
   SQLite store, assigned in batches of ``--batch`` as the scoring stage does: features
   and MinHash alone; the whole clusterer over an in-memory index; the whole thing
   against the store (key lookups, story rows, and the writes, committed per batch); and
   the same with two worker processes sharing the store, each computing a batch's
   features before taking the stories lock, as the pipeline does.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import gzip
import itertools
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from newsalert.models import Item, Score  # noqa: E402
from newsalert.store import Store  # noqa: E402
from newsalert.stories import (  # noqa: E402
    DUPLICATE,
    NEW,
    Clusterer,
    Incoming,
    MemoryIndex,
    Settings,
    StoryDesk,
    packaged_idf,
)

LABELLED = ROOT / "tests" / "data" / "stories" / "labelled.jsonl"
T0 = datetime(2026, 1, 6, 0, 0, tzinfo=UTC)


def load_labelled() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]


# --- 1. clustering quality -----------------------------------------------------------------


def pairs(rows: list[dict]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    same, different = [], []
    for i, j in itertools.combinations(range(len(rows)), 2):
        a, b = rows[i], rows[j]
        if a["event"] == b["event"]:
            same.append((i, j))
        elif not (a["thread"] and a["thread"] == b["thread"]):
            different.append((i, j))
    return same, different


def cluster(rows: list[dict], settings: Settings, seed: int, batch: int = 50) -> tuple[dict, dict]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    clusterer = Clusterer(settings)
    index = MemoryIndex()
    story: dict[int, int] = {}
    kind: dict[int, str] = {}
    for start in range(0, len(order), batch):
        items = [
            Incoming(i, f"feed{i % 7}", rows[i]["title"], rows[i]["summary"], None, T0)
            for i in order[start : start + batch]
        ]
        out, changes = clusterer.assign(items, index)
        index.apply(changes)
        for a in out:
            story[a.item_id], kind[a.item_id] = a.story_id, a.kind
    return story, kind


def quality(rows: list[dict], story: dict, kind: dict, same: list, different: list) -> tuple:
    missed = sum(story[i] != story[j] for i, j in same)
    wrong = sum(story[i] == story[j] for i, j in different)
    events: dict[str, list[int]] = collections.defaultdict(list)
    for i, r in enumerate(rows):
        events[r["event"]].append(i)
    lost = extra = 0
    for members in events.values():
        starts = [i for i in members if kind[i] == NEW]
        extra += max(0, len(starts) - 1)
        if not starts:
            thread = rows[members[0]]["thread"]
            joined = {story[i] for i in members}
            if not (thread and all(rows[s]["thread"] == thread for s in joined)):
                lost += 1
    return missed, wrong, lost, extra


def table_clustering(rows: list[dict], seeds: int = 3) -> None:
    same, different = pairs(rows)
    events = len({r["event"] for r in rows})
    multi = sum(1 for n in collections.Counter(r["event"] for r in rows).values() if n > 1)
    print(
        f"\n1. clustering: {len(rows)} items, {events} events ({multi} with 2+ reports), "
        f"{len(same)} same-event pairs, {len(different)} different-event pairs counted; "
        f"mean of {seeds} arrival orders"
    )
    header = ("similarity", "centroid", "missed", "merged wrongly", "alerts lost", "extra alerts")
    print("  ".join(f"{h:>14}" for h in header))
    for centroid in (1, 3):
        for sim in (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
            settings = Settings(similarity=sim, centroid_items=centroid)
            runs = [
                quality(rows, *cluster(rows, settings, s), same, different) for s in range(seeds)
            ]
            mean = [sum(r[k] for r in runs) / seeds for k in range(4)]
            cells = [f"{sim:.2f}", f"first {centroid}", *(f"{m:.1f}" for m in mean)]
            print("  ".join(f"{c:>14}" for c in cells))
    # near-duplicates only (no clustering): what alerting per item would look like
    settings = Settings(similarity=1.01)
    runs = [quality(rows, *cluster(rows, settings, s), same, different) for s in range(seeds)]
    mean = [sum(r[k] for r in runs) / seeds for k in range(4)]
    cells = ["dups only", "-", *(f"{m:.1f}" for m in mean)]
    print("  ".join(f"{c:>14}" for c in cells))


# --- 2. near-duplicates ------------------------------------------------------------------------

_FILLER = ("reportedly", "officials", "meanwhile", "regional", "several", "local", "further")


def edited(row: dict, words: int, rng: random.Random) -> tuple[str, str]:
    """A republished copy: another title, and ``words`` words of the text replaced."""
    tokens = row["summary"].split()
    for _ in range(words):
        if tokens:
            tokens[rng.randrange(len(tokens))] = rng.choice(_FILLER)
    title = f"UPDATE {rng.randint(1, 9)}: " + " ".join(reversed(row["title"].split()))
    return title, " ".join(tokens)


def table_duplicates(rows: list[dict]) -> None:
    print("\n2. near-duplicates (LSH band lookup, then estimated Jaccard of word 3-shingles)")
    header = (
        "threshold",
        "labelled dups",
        "same-event",
        "other events",
        "edit 1 word",
        "3 words",
        "5 words",
    )
    print("  ".join(f"{h:>13}" for h in header))
    dup_pairs = [
        (i, j)
        for i, j in itertools.combinations(range(len(rows)), 2)
        if rows[i]["duplicate"] and rows[i]["duplicate"] == rows[j]["duplicate"]
    ]
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        settings = Settings(similarity=1.01, duplicate_similarity=threshold)
        story, kind = cluster(rows, settings, 0)
        caught = sum(story[i] == story[j] for i, j in dup_pairs)
        same_event = other = 0
        for i, r in enumerate(rows):
            if kind[i] != DUPLICATE:
                continue
            starter = rows[story[i]]
            if starter["event"] != r["event"]:
                other += 1
            elif not (r["duplicate"] and r["duplicate"] == starter["duplicate"]):
                same_event += 1
        cells = [f"{threshold:.1f}", f"{caught}/{len(dup_pairs)}", str(same_event), str(other)]
        clusterer = Clusterer(settings)
        index = MemoryIndex()
        for start in range(0, len(rows), 100):
            batch = [
                Incoming(i, "wire", rows[i]["title"], rows[i]["summary"], None, T0)
                for i in range(start, min(start + 100, len(rows)))
            ]
            index.apply(clusterer.assign(batch, index)[1])
        long_enough = [i for i, r in enumerate(rows) if len(r["summary"].split()) >= 20]
        for words in (1, 3, 5):
            rng = random.Random(words)
            copies = [
                Incoming(100_000 + i, "other", *edited(rows[i], words, rng), None, T0)
                for i in long_enough
            ]
            out = []
            for start in range(0, len(copies), 100):  # each batch against the originals only
                out += clusterer.assign(copies[start : start + 100], index)[0]
            hit = sum(a.kind == DUPLICATE and a.duplicate_of == a.item_id - 100_000 for a in out)
            cells.append(f"{hit}/{len(copies)}")
        print("  ".join(f"{c:>13}" for c in cells))


# --- 3. throughput --------------------------------------------------------------------------------


class Clock:
    """Wall and CPU time (this process) spent inside ``with clock:`` blocks, summed.

    CPU time is the cost on an idle machine; wall time also counts waiting for the CPU
    (shared machines) and for the disk.
    """

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]

    def rates(self, n: int) -> tuple[float, float]:
        return n / max(self.wall, 1e-9), n / max(self.cpu, 1e-9)


def corpus(n: int) -> list[tuple[str, str]]:
    """``n`` (title, summary): the packaged corpus, then edited re-publications of it."""
    path = ROOT / "src" / "newsalert" / "data" / "train.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        base = [(r["title"], r["summary"]) for r in map(json.loads, f) if r["summary"]]
    rng = random.Random(7)
    out = list(base)
    while len(out) < n:
        title, summary = base[rng.randrange(len(base))]
        row = {"title": title or summary[:60], "summary": summary}
        out.append(edited(row, rng.randint(0, 12), rng))
    return out[:n]


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """``url``, or a new SQLite file for the run."""
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/bench.db"


def stored_corpus(url: str, texts: list[tuple[str, str]], times: list[datetime]) -> Store:
    """A store holding the texts as items of 50 feeds, ids 1 to n in order."""
    store = Store(url)
    feeds = [f"feed{k}" for k in range(50)]
    store.sync_feeds((f, f"https://{f}.example/rss") for f in feeds)
    ids_by_feed = {f: store.feed_state(f).id for f in feeds}
    per_feed: dict[str, list[Item]] = collections.defaultdict(list)
    for i, (title, summary) in enumerate(texts):
        feed = feeds[i % 50]
        per_feed[feed].append(Item(f"k{i}", feed, title or summary[:80], summary, None, times[i]))
    for feed, items in per_feed.items():
        store.add_items(ids_by_feed[feed], items, T0)
    return store


def worker_run(
    url: str,
    settings: Settings,
    score: Score,
    batches: list[list[int]],
    start: Any,
    out: Any,
) -> None:
    """One worker process of :func:`parallel_run`: its batches as the pipeline scores
    them (features before the stories lock; assignment and the commit under it)."""
    store = Store(url)
    desk = StoryDesk(store, settings)
    work = [store.get_items(ids) for ids in batches]  # not timed: scoring reads these
    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for stored in work:
        now = max(s.item.published for s in stored if s.item.published)
        scores, routed = [score] * len(stored), [[] for _ in stored]
        prepared = desk.prepare(stored, scores, routed, now)
        with store.exclusive("stories"):
            plan = desk.plan(stored, scores, routed, now, prepared)
            with store.begin() as conn:
                plan.write(conn, {s.id for s in stored})
    out.put((began, time.perf_counter(), time.process_time() - cpu))
    store.close()


def parallel_run(
    texts: list[tuple[str, str]],
    times: list[datetime],
    settings: Settings,
    score: Score,
    workers: int = 2,
    batch: int = 500,
    url: str | None = None,
) -> tuple[float, float]:
    """Every item relevant, assigned by ``workers`` processes sharing one SQLite store,
    batches dealt out in turn: (wall seconds from the first start to the last end, CPU
    seconds of all of them)."""
    import multiprocessing

    n = len(texts)
    context = multiprocessing.get_context("fork")  # the frozen heap is shared, as in a pool
    with database(url) as url:
        stored_corpus(url, texts, times).close()
        batches = [list(range(b + 1, min(b + batch, n) + 1)) for b in range(0, n, batch)]
        start, out = context.Barrier(workers), context.Queue()
        procs = [
            context.Process(
                target=worker_run, args=(url, settings, score, batches[k::workers], start, out)
            )
            for k in range(workers)
        ]
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            raise RuntimeError("a worker process failed")
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    return ended - began, sum(r[2] for r in results)


def store_run(
    texts: list[tuple[str, str]],
    times: list[datetime],
    settings: Settings,
    score_of: Callable[[int], Score],
    batch: int = 500,
    url: str | None = None,
) -> tuple[Clock, Clock, collections.Counter[str], int, int, int]:
    """Store every item, then assign them in batches through the pipeline's StoryDesk
    against a SQLite store, timing the assignment and the writes apart."""
    n = len(texts)
    with database(url) as url:
        store = stored_corpus(url, texts, times)
        desk = StoryDesk(store, settings)
        all_ids = list(range(1, n + 1))
        kinds: collections.Counter[str] = collections.Counter()
        assign, write = Clock(), Clock()
        for b in range(0, n, batch):
            stored = store.get_items(all_ids[b : b + batch])  # not timed: scoring reads these
            now = max(s.item.published for s in stored if s.item.published)
            scores = [score_of(s.id - 1) for s in stored]
            with assign:
                plan = desk.plan(stored, scores, [[] for _ in stored], now)
            with write, store.begin() as conn:  # in the pipeline: in save_scores' transaction
                plan.write(conn, {s.id for s in stored})
            kinds.update(a.kind for a in plan.assignments)
        with store.engine.connect() as conn:
            from sqlalchemy import func, select

            from newsalert import store as tables

            keys = conn.execute(select(func.count()).select_from(tables.story_keys)).scalar_one()
            stories = conn.execute(select(func.count()).select_from(tables.stories)).scalar_one()
            if store.engine.dialect.name == "postgresql":
                size = conn.execute(select(func.pg_database_size(func.current_database())))
                size = size.scalar_one()
            else:
                size = Path(str(store.engine.url.database)).stat().st_size
        store.close()
    return assign, write, kinds, stories, keys, size


def table_throughput(n: int, batch: int, postgres: bool = False) -> None:
    print(
        f"\n3. throughput: {n} items over 72 hours, batches of {batch}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    texts = corpus(n)
    packaged_idf()  # loaded once per process (about a second), not counted
    # as a worker's main process does before forking its pool (workers/tasks.py,
    # preload_model): what lives for the whole process is left out of garbage collection
    gc.collect()
    gc.freeze()
    settings = Settings()
    clusterer = Clusterer(settings)
    span = timedelta(hours=72)
    times = [T0 + span * i / n for i in range(n)]

    clock = Clock()
    with clock:  # in batches, as the clusterer computes them
        for b in range(0, min(n, 20_000), batch):
            feats = clusterer.features_of(texts[b : min(b + batch, 20_000)])
            clusterer.hasher.signatures([f.shingles for f in feats])
    pure = clock.rates(min(n, 20_000))

    index = MemoryIndex()
    clock = Clock()
    with clock:
        for b in range(0, n, batch):
            items = [
                Incoming(i + 1, f"feed{i % 50}", *texts[i], None, times[i])
                for i in range(b, min(b + batch, n))
            ]
            index.apply(clusterer.assign(items, index)[1])
    memory = clock.rates(n)

    # every item relevant: all of them clustered (the worst case; a real feed's mix is
    # mostly items nobody is alerted to, which are not clustered at all)
    relevant = Score(0.9, True, "armed_conflict", 0.9)
    assign, write, kinds, stories, keys, size = store_run(
        texts, times, settings, lambda i: relevant
    )
    both = Clock()
    both.wall, both.cpu = assign.wall + write.wall, assign.cpu + write.cpu
    wall, cpu = parallel_run(texts, times, settings, relevant)
    two = Clock()
    two.wall, two.cpu = wall, cpu
    quiet = Score(0.1, False, "none", 0.1)
    mix_assign, mix_write, *_ = store_run(
        texts, times, settings, lambda i: relevant if i % 10 == 0 else quiet
    )
    mix = Clock()
    mix.wall, mix.cpu = mix_assign.wall + mix_write.wall, mix_assign.cpu + mix_write.cpu
    print(f"{'what':<56}{'items/s (wall)':>16}{'items/s (CPU)':>16}")
    rows = [
        ("features + MinHash only (no index)", pure),
        ("clusterer, in-memory index", memory),
        ("SQLite store: assign (key lookups, story reads)", assign.rates(n)),
        ("SQLite store: write (keys, members, stories; commit)", write.rates(n)),
        ("SQLite store: both", both.rates(n)),
        ("SQLite store: both, 2 worker processes (CPU: of both)", two.rates(n)),
        ("SQLite store, 1 in 10 relevant (the rest not clustered)", mix.rates(n)),
    ]
    summary = [("SQLite", kinds, stories, keys, size)]
    if postgres:  # the same worst case against PostgreSQL on loopback (a database of its own)
        from bench.throughput import postgres_database

        with postgres_database() as url:
            pg_assign, pg_write, *found = store_run(
                texts, times, settings, lambda i: relevant, url=url
            )
        pg = Clock()
        pg.wall, pg.cpu = pg_assign.wall + pg_write.wall, pg_assign.cpu + pg_write.cpu
        with postgres_database() as url:
            pg_two = Clock()
            pg_two.wall, pg_two.cpu = parallel_run(texts, times, settings, relevant, url=url)
        rows += [
            ("PostgreSQL store: both", pg.rates(n)),
            ("PostgreSQL store: both, 2 worker processes", pg_two.rates(n)),
        ]
        summary.append(("PostgreSQL", *found))  # type: ignore[arg-type]
    for what, (wall, cpu) in rows:
        print(f"{what:<56}{wall:>16.0f}{cpu:>16.0f}")
    for name, kinds, stories, keys, size in summary:
        print(
            f"{name}: kinds {dict(kinds)}; {stories} stories; {keys} key rows in the window; "
            f"database {size / 1e6:.0f} MB (items included)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also against PostgreSQL (NEWSALERT_TEST_POSTGRES, default the local 'test' "
        "server; a database of its own is made and dropped)",
    )
    args = parser.parse_args()
    if not args.skip_quality:
        rows = load_labelled()
        table_clustering(rows)
        table_duplicates(rows)
    table_throughput(args.items, args.batch, args.postgres)


if __name__ == "__main__":
    main()
