"""What one publish of a follow-up task runs with a Redis broker, first and later ones.

Usage (from the repository root, a Redis database of your own)::

    .venv/bin/python bench/publish_calls.py --redis redis://127.0.0.1:6379/N

Publishes a few messages the way a task does (``app.send_task``: Celery's producer pool,
``broker_pool_limit``), to a queue nobody consumes (deleted afterwards, with its bindings), and counts the
redis-py and kombu Redis transport functions each publish runs (``sys.setprofile``),
the kombu channels, redis-py clients and pools built and the sockets connected. A pool
process publishes through the same path.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ap = argparse.ArgumentParser()
ap.add_argument("--redis", required=True)
ap.add_argument("--count", type=int, default=4)
args = ap.parse_args()

work = Path(tempfile.mkdtemp(prefix="publish-calls-"))
(work / "newsalert.yaml").write_text(f"storage:\n  data_dir: {work / 'data'}\nfeeds: []\n")
os.environ["NEWSALERT_CONFIG"] = str(work / "newsalert.yaml")
os.environ["NEWSALERT_BROKER_URL"] = args.redis
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
from kombu.transport import redis as kombu_redis  # noqa: E402

from workers.app import app  # noqa: E402

built: Counter[str] = Counter()


def count(cls: Any, name: str, label: str) -> None:
    original = getattr(cls, name)

    def counted(*a: Any, **k: Any) -> Any:
        built[label] += 1
        return original(*a, **k)

    setattr(cls, name, counted)


count(kombu_redis.Channel, "__init__", "kombu channels")
count(redis.ConnectionPool, "__init__", "redis-py pools")
count(redis.Redis, "__init__", "redis-py clients")
count(socket.socket, "connect", "sockets connected")

calls: Counter[tuple[str, str]] = Counter()


def profile(frame: Any, event: str, arg: Any) -> None:
    if event == "call":
        path = frame.f_code.co_filename.split("site-packages/")[-1]
        if path.startswith(("redis/", "kombu/transport/redis")):
            calls[(path, frame.f_code.co_name)] += 1


QUEUE = "newsalert-publish-calls"
for i in range(args.count):
    calls.clear()
    before = Counter(built)
    sys.setprofile(profile)
    app.send_task("newsalert.none", queue=QUEUE)
    sys.setprofile(None)
    fns = [k for k in calls if k[0].startswith("redis/")]
    kombu_fns = [k for k in calls if k[0].startswith("kombu/")]
    new = {k: v - before[k] for k, v in built.items() if v - before[k]}
    print(
        f"publish {i + 1}: redis-py {len(fns)} functions ({sum(calls[k] for k in fns)} calls), "
        f"kombu Redis transport {len(kombu_fns)}; built {new}"
    )
client = redis.Redis.from_url(args.redis)
for key in client.scan_iter(f"*{QUEUE}*"):  # the queue and the bindings declared for it
    client.delete(key)
