"""Measure the console's pages with many stored items: median and p95 latency per page,
served by uvicorn on loopback and fetched over HTTP (a logged-in session), for a small
store and a large one side by side (SQLite). Target: every page under 100 ms at 100,000.

The store is filled with bulk inserts (one feed per 1,000 items, a delivery for one item
in ten, a story for one in twenty, feedback for one in a hundred, a few dead letters).
Run: python bench/web.py [--items 100000] [--small 1000] [--requests 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from newsalert import answers  # noqa: E402
from newsalert.config import load_config  # noqa: E402
from newsalert.feedback import item_feedback  # noqa: E402
from newsalert.models import CATEGORIES  # noqa: E402
from newsalert.passwords import hash_password  # noqa: E402
from newsalert.store import (  # noqa: E402
    Store,
    deliveries,
    feeds,
    items,
    stories,
    story_items,
)
from newsalert.web.serve import Background  # noqa: E402

SECRET = "bench-secret-0123456789-abcdefghijklmnop"
PASSWORD = "bench"


def fill(store: Store, n: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    answers.ensure_schema(store.engine)
    with store.begin() as conn:
        n_feeds = max(1, n // 1000)
        conn.execute(
            insert(feeds),
            [
                {
                    "id": f + 1,
                    "name": f"feed-{f}",
                    "url": f"https://f{f}.example/rss",
                    "error_streak": 0,
                    "disabled": False,
                    "items_seen": 1000,
                    "last_status": "ok",
                    "last_polled_at": now,
                }
                for f in range(n_feeds)
            ],
        )
        for start in range(0, n, 10_000):
            rows, dels, members, story_rows, labels = [], [], [], [], []
            for i in range(start + 1, min(n, start + 10_000) + 1):
                when = now - timedelta(minutes=n - i)
                category = CATEGORIES[i % len(CATEGORIES)]
                rows.append(
                    {
                        "id": i,
                        "feed_id": (i % n_feeds) + 1,
                        "key": f"k{i}",
                        "title": f"Armed attack number {i} near the border <b>&</b>",
                        "summary": "Gunmen opened fire on a police patrol. " * 8,
                        "link": f"https://news.example.org/{i}",
                        "fetched_at": when,
                        "published_at": when,
                        "scored_at": when,
                        "score": (i % 100) / 100,
                        "relevant": i % 10 == 0,
                        "category": category,
                        "reasons": json.dumps([["model", 'term "attack"', 0.4]]),
                        "score_failures": 0,
                    }
                )
                if i % 10 == 0:
                    dels.append(
                        {
                            "item_id": i,
                            "subscriber": ("duty-desk", "night-desk")[i % 20 == 0],
                            "target_id": "t1",
                            "target_label": "mailto://duty@example.org",
                            "status": "dead" if i % 1000 == 0 else "sent",
                            "attempts": 1,
                            "ambiguous": False,
                            "created_at": when,
                            "next_attempt_at": when,
                            "sent_at": when,
                        }
                    )
                if i % 20 == 0:
                    story_rows.append(
                        {
                            "id": i,
                            "title": f"Story {i}",
                            "first_seen": when,
                            "last_seen": when,
                            "item_count": 2,
                            "sources": json.dumps(["feed-0"]),
                            "category": category,
                            "peak_score": 0.9,
                            "state": "{}",
                        }
                    )
                    members.append(
                        {
                            "item_id": i,
                            "story_id": i,
                            "kind": "new",
                            "feed": "feed-0",
                            "seen_at": when,
                        }
                    )
                if i % 100 == 0:
                    labels.append(
                        {
                            "item_id": i,
                            "label": i % 200 == 0,
                            "created_at": when,
                            "updated_at": when,
                        }
                    )
            conn.execute(insert(items), rows)
            if dels:
                conn.execute(insert(deliveries), dels)
            if story_rows:
                conn.execute(insert(stories), story_rows)
                conn.execute(insert(story_items), members)
            if labels:
                conn.execute(insert(item_feedback), labels)
                conn.execute(
                    insert(answers.feedback_answers),
                    [
                        {
                            "item_id": r["item_id"],
                            "action": "not_relevant",
                            "subscriber": "duty-desk",
                            "given_by": "subscriber:duty-desk",
                            "created_at": r["created_at"],
                        }
                        for r in labels
                    ],
                )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(n: int, requests: int, workdir: Path) -> dict[str, tuple[float, float]]:
    db = workdir / f"store-{n}.db"
    store = Store(f"sqlite:///{db}")
    t0 = time.perf_counter()
    fill(store, n)
    print(f"filled {n:,} items in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    store.close()
    port = free_port()
    config = workdir / f"config-{n}.yaml"
    config.write_text(
        textwrap.dedent(f"""\
        storage:
          database_url: sqlite:///{db}
        subscribers:
          - name: duty-desk
            urls: ["mailto://127.0.0.1:9?from=a@example.org&to=b@example.org"]
        web:
          port: {port}
          secret: {SECRET}
          users:
            ops: "{hash_password(PASSWORD, n=2**10)}"
        """)
    )
    loaded = load_config(config)
    server = Background(loaded).start()
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(100):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            token = re.search(r'name="token" value="([^"]+)"', client.get("/login").text)[1]  # type: ignore[index]
            client.post("/login", data={"token": token, "user": "ops", "password": PASSWORD})
            last = n - n % 10
            pages = {
                "alerts": "/",
                "alerts ?subscriber": "/?subscriber=night-desk",
                "alerts ?category": f"/?category={CATEGORIES[3]}",
                "alerts ?feed": "/?feed=feed-0",
                "alerts older page": f"/?before={n // 2}",
                "item": f"/items/{last}",
                "stories": "/stories",
                "feeds": "/feeds",
                "deliveries": "/deliveries",
                "deliveries dead": "/deliveries?status=dead",
                "feedback": "/feedback",
            }
            out = {}
            for name, path in pages.items():
                assert client.get(path).status_code == 200, path  # warm up, and check
                times = []
                for _ in range(requests):
                    t = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200
                times.sort()
                out[name] = (statistics.median(times), times[int(len(times) * 0.95) - 1])
            return out
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(args.small, args.requests, Path(tmp))
        large = measure(args.items, args.requests, Path(tmp))
    print(
        f"\nconsole page latency over HTTP, ms (median / p95), {args.requests} requests each,"
        f" SQLite, {os.cpu_count()} cores\n"
    )
    head = f"{'page':<20} {f'{args.small:,} items':>18} {f'{args.items:,} items':>18}  < 100 ms"
    print(head)
    print("-" * len(head))
    for name in small:
        s, b = small[name], large[name]
        ok = "yes" if b[1] < 100 else "NO"
        print(f"{name:<20} {s[0]:>8.1f} / {s[1]:>6.1f} {b[0]:>8.1f} / {b[1]:>6.1f}  {ok}")


if __name__ == "__main__":
    main()
