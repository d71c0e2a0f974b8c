"""Backtest speed: items replayed per second through two config variants (one shared model).

Usage (from the repository root)::

    PYTHONPATH=src:. .venv/bin/python bench/backtest.py [--model-dir DIR] [--copies 10]

Replays ``data/dev.jsonl`` (``--copies`` times, titles made unique) through the shipped
config against itself, as ``newsalert backtest --data FILE`` does, and prints items/s
next to the model's own batched predict speed (the floor backtest cannot beat). This was a
timed unit test (> 1,000 items/s); timings belong here, the tests check the batching.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from newsalert import backtest
from newsalert.classifier import load_or_train
from newsalert.config import load_config
from newsalert.rules import RuleSet

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="data dir holding model/ (else trained)")
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args(argv)
    data_dir = args.model_dir or Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    model = load_or_train(None, data_dir)
    rows = [json.loads(x) for x in (ROOT / "data" / "dev.jsonl").read_text().splitlines()]
    lines = [
        json.dumps({**r, "title": f"{r['title']} {n}"}) for n in range(args.copies) for r in rows
    ]
    cases = backtest.jsonl_cases("dev", lines)
    rules = RuleSet(load_config(ROOT / "config" / "newsalert.yaml", {}).rules)
    variant = backtest.Variant("current", rules, None, ())
    started = time.perf_counter()
    result = backtest.run(cases, variant, variant, {backtest.SHARED_MODEL: model})
    took = time.perf_counter() - started
    texts = [(c.item.title, c.item.summary) for c in cases]
    started = time.perf_counter()
    model.predict(texts)
    predict = time.perf_counter() - started
    print(f"{'what':<32} {'items':>7} {'seconds':>8} {'items/s':>9}")
    print(
        f"{'newsalert backtest (2 sides)':<32} {result.items:>7} {took:>8.2f} {result.items / took:>9.0f}"
    )
    print(
        f"{'peer: model.predict alone':<32} {len(texts):>7} {predict:>8.2f} {len(texts) / predict:>9.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
