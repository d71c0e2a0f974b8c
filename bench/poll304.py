"""CPU of polls answering 304, in one process: what a worker spends, between a storm's fresh
polls, on feeds polled again (the mail_all bench's feeds have a one-second interval).

Usage (from the repository root)::

    .venv/bin/python bench/poll304.py .                 # this checkout
    .venv/bin/python bench/poll304.py /path/to/other    # another checkout (before/after)

``--feeds`` loopback feeds (the mail_all.py feeds, served from a child process), polled once
with their items, then ``--rounds`` times in batches of 16 as a worker's poll tasks take them;
SQLite. Prints the CPU per 304 poll (the process, fetch threads included) and that of the
task's own thread (``time.thread_time``). ``--prof`` prints a cProfile of the task's thread.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing as mp
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / ".pytest_cache/d/newsalert-data/model/model.joblib"


def serve(q: Any, n: int, items: int) -> None:
    sys.path.insert(0, str(HERE.parent))
    from bench.mail_all import Feeds

    feeds = Feeds(n, items)
    feeds.arm()
    q.put([feeds.url(k) for k in range(n)])
    while True:
        time.sleep(3600)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--prof", action="store_true")
    args = ap.parse_args()
    project = Path(args.project).resolve()
    mp.set_start_method("fork")
    q: Any = mp.Queue()
    server = mp.Process(target=serve, args=(q, args.feeds, 30), daemon=True)
    server.start()
    urls = q.get()
    sys.path[:0] = [str(project / "src"), str(project)]
    import yaml

    from newsalert.config import load_config
    from newsalert.pipeline import build_pipeline

    work = Path(tempfile.mkdtemp(prefix="poll304-"))
    config = {
        "storage": {
            "data_dir": str(work / "data"),
            "database_url": f"sqlite:///{work / 'store.db'}",
        },
        "model": {"path": str(MODEL)},
        "fetch": {"min_interval": 1, "deadline": 20},
        "stories": {"enabled": False},
        "subscribers": [{"name": "desk", "urls": ["json://127.0.0.1:1/"]}],
        "feeds": [
            {"name": f"f{k}", "url": u, "interval": 1, "allow_private": True}
            for k, u in enumerate(urls)
        ],
    }
    (work / "c.yaml").write_text(yaml.safe_dump(config))
    pipe = build_pipeline(load_config(work / "c.yaml"))
    names = [f"f{k}" for k in range(args.feeds)]
    batches = [names[k : k + 16] for k in range(0, len(names), 16)]
    for batch in batches:  # the fresh poll: every feed's items and ETag
        pipe.poll_feeds(batch)
    prof = cProfile.Profile(time.thread_time) if args.prof else None
    polls = args.rounds * len(names)
    c0, t0 = time.process_time(), time.thread_time()
    if prof:
        prof.enable()
    for _ in range(args.rounds):
        for batch in batches:
            out = pipe.poll_feeds(batch)
    if prof:
        prof.disable()
    cpu, own = time.process_time() - c0, time.thread_time() - t0
    status = {o.status for o in out}
    print(
        f"{project.name}: {cpu * 1000 / polls:.3f} ms CPU per poll ({', '.join(sorted(status))}), "
        f"the task's thread {own * 1000 / polls:.3f}"
    )
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    server.terminate()


if __name__ == "__main__":
    main()
