"""Cost and quality of the relevance classifier: train time, model size, memory, predict speed.

Usage (from the repository root; about a minute)::

    PYTHONPATH=src:. /work/venv/bin/python bench/classifier.py
    PYTHONPATH=src:. /work/venv/bin/python bench/classifier.py --model DIR --data data/dev.jsonl
    PYTHONPATH=src:. /work/venv/bin/python bench/classifier.py --embedding wordllama  # the variant

Without ``--model`` it trains a model from the packaged data into a temporary directory
(timed: what the first use of a fresh install costs). It then measures batched predict
speed on packaged items (with a cold and a warm char-n-gram cache), single-item
``explain`` latency, the process's peak RSS, and prints the evaluation summary of
``--data`` (measuring only: nothing is chosen from it). ``--embedding NAME`` trains the
``model.embedding`` variant instead (``pip install 'newsalert[embed]'``); the memory a
load adds (resident set before and after ``load``) is printed for both. Timings share the machine
with whatever else runs; run it on an idle machine for numbers worth comparing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from newsalert import classifier


def _items(n: int) -> list[tuple[str, str, str | None]]:
    """``n`` packaged items, the real feed items (with links) first, as a feed gives them."""
    raw = gzip.decompress(classifier.packaged_data().read_bytes()).decode("utf-8")
    items = [json.loads(line) for line in raw.splitlines()[::-1][:n]]
    return [(i.get("title") or "", i.get("summary") or "", i.get("link")) for i in items]


def _rss_mb() -> float:
    """This process's resident set now (Linux), in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an existing model directory (skip training)")
    parser.add_argument("--data", type=Path, default=Path("data/dev.jsonl"))
    parser.add_argument("--items", type=int, default=10_000, help="items per predict batch")
    parser.add_argument("--embedding", help="train the model.embedding variant (e.g. wordllama)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.model is None:
            started = time.perf_counter()
            meta = classifier.train(
                Path(tmp), progress=sys.stderr.isatty(), embedding=args.embedding
            )
            print(f"train: {time.perf_counter() - started:.1f} s (threshold {meta['threshold']})")
            model_dir = Path(tmp)
        else:
            model_dir = args.model
        model_path, _ = classifier.model_files(model_dir)
        print(f"model file: {model_path.stat().st_size / 1e6:.2f} MB")
        before = _rss_mb()
        started = time.perf_counter()
        model = classifier.load(model_dir)
        print(f"load: {time.perf_counter() - started:.2f} s, RSS +{_rss_mb() - before:.0f} MB")

        pairs = _items(args.items)
        for label in ("first call", "second call"):  # no cache is kept between calls
            started = time.perf_counter()
            model.predict(pairs)
            rate = len(pairs) / (time.perf_counter() - started)
            print(f"predict, batches of {len(pairs)} ({label}): {rate:,.0f} items/s")
        started = time.perf_counter()
        for pair in pairs[:200]:
            model.predict([pair])
        print(f"predict, one item per call: {(time.perf_counter() - started) / 200 * 1e3:.2f} ms")
        started = time.perf_counter()
        for pair in pairs[:200]:
            model.explain(pair[0], pair[1], link=pair[2])
        print(f"explain, one item: {(time.perf_counter() - started) / 200 * 1e3:.2f} ms")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

        if args.data.exists():
            report = classifier.evaluate(model, args.data)
            print()
            print("\n".join(report.format().splitlines()[:3]))
            politics = report.by_orig_label.get("POLITICS")
            if politics is not None:
                print(f"POLITICS flagged: {politics.rate:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
