"""Geoparsing speed by CPU time, two checkouts paired and alternated in one run.

Usage (from the repository root)::

    .venv/bin/python bench/geo_speed.py --baseline /path/to/other/checkout [--rounds 4]

Wall time on a shared host moves with the other work on it; the CPU time a process spends
moves much less. Each round runs both checkouts one after the other (the order swapped
every round: A B, B A, ...), each in its own process with its own gazetteer cache (each
checkout keys its cache by its own build): it loads the geoparser as shipped (``--rules``:
the hand rules alone), locates ``--warm`` items once so the gazetteer's mapped pages are
read, then times ``time.process_time()`` over ``--items`` items of the packaged training
corpus (``locate_many``, as the pipeline calls it). Printed per round: items per CPU
second of each and their ratio; then the host's speed (a Python loop of 10 million
additions, CPU seconds) before and after, which says how fast this host was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CODE = r"""
import gzip, json, sys, time
from newsalert.geo import load_geoparser
from newsalert.geo.geoparser import default_cache_dir
corpus, n, warm, rerank = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = []
with gzip.open(corpus, "rt", encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        rows.append((r.get("title") or "", r.get("summary") or "", None, None))
while len(rows) < n:
    rows = rows + rows
gp = load_geoparser(default_cache_dir(), None if rerank == "default" else False)
gp.locate_many(rows[:warm])
started = time.process_time()
gp.locate_many(rows[:n])
print(n / (time.process_time() - started))
"""


def loop_seconds() -> float:
    """CPU seconds of a Python loop of 10 million additions: the host's speed."""
    started = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - started


def rate(project: Path, corpus: Path, items: int, warm: int, method: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _CODE, str(corpus), str(items), str(warm), method],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(done.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--warm", type=int, default=2_000)
    parser.add_argument("--rules", action="store_true", help="the hand rules alone")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "src" / "newsalert" / "data" / "train.jsonl.gz"
    )
    args = parser.parse_args()
    method = "rules" if args.rules else "default"
    checkouts = {"baseline": args.baseline.resolve(), "this": args.project.resolve()}
    print(f"host: 10M additions {loop_seconds():.2f} s CPU; load {os.getloadavg()[0]:.1f}")
    print(f"{method}, {args.items:,} items after {args.warm:,} warm-up, items per CPU second")
    got: dict[str, list[float]] = {"baseline": [], "this": []}
    for k in range(args.rounds):
        order = ["baseline", "this"] if k % 2 == 0 else ["this", "baseline"]
        for name in order:
            got[name].append(rate(checkouts[name], args.corpus, args.items, args.warm, method))
        ratio = got["this"][-1] / got["baseline"][-1]
        print(
            f"round {k + 1} ({order[0]} first): baseline {got['baseline'][-1]:,.0f}, "
            f"this {got['this'][-1]:,.0f}, ratio {ratio:.2f}"
        )
    ratios = [t / b for t, b in zip(got["this"], got["baseline"], strict=True)]
    print(
        f"median: baseline {statistics.median(got['baseline']):,.0f}, "
        f"this {statistics.median(got['this']):,.0f}; ratios {min(ratios):.2f}-{max(ratios):.2f}"
    )
    print(f"host: 10M additions {loop_seconds():.2f} s CPU; load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
