"""Language detection: speed on one core, load time and memory, and English items called
foreign.

Usage (from the repository root; about half a minute)::

    PYTHONPATH=src .venv/bin/python bench/language.py [--data FILE.jsonl ...]

1. **English items called foreign**: every item of the given files (default: the
   English stream and training files in ``../shared/data/``, when present, and
   ``data/dev.jsonl``), title and summary as scoring sees them, then titles alone (the
   harder case: feeds that carry no summary). Each item called foreign is printed.
2. **Speed**: items per second on one core, ``detect`` over the same items.
3. **Cost of loading**, in a fresh process as a worker has: wall time and the RSS and
   PSS that loading py3langid's model adds.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from procmem import in_child, memory_kb  # noqa: E402  (bench/, the script's directory)

from newsalert.language import load_detector  # noqa: E402

DEFAULT_DATA = (
    ROOT.parent / "shared" / "data" / "stream_train.jsonl",
    ROOT.parent / "shared" / "data" / "train.jsonl",
    ROOT / "data" / "dev.jsonl",
)


def measure_load() -> int:
    import numpy  # noqa: F401  (py3langid's import, already in a worker for the model)

    gc.collect()
    before = memory_kb()
    t0 = time.perf_counter()
    detector = load_detector()
    took = time.perf_counter() - t0
    detector.detect("warm-up")
    gc.collect()
    after = memory_kb()
    print(f"{'load py3langid model':<34} {took:>8.2f} s")
    print(f"{'RSS added by loading':<34} {(after['Rss'] - before['Rss']) / 1024:>8.1f} MB")
    print(f"{'PSS added by loading':<34} {(after['Pss'] - before['Pss']) / 1024:>8.1f} MB")
    texts = [
        f"{r.get('title') or ''}\n{r.get('summary') or ''}"
        for r in _rows(ROOT / "data" / "dev.jsonl")
    ]
    # a pool process: detect, then report the pages it had to copy
    base, now = in_child(lambda: [detector.detect(text) for text in texts * 5])
    copied = (now["Private_Dirty"] - base["Private_Dirty"]) / 1024
    print(
        f"{'forked child: pages it copied':<34} {copied:>8.1f} MB  (after {len(texts) * 5:,} items)"
    )
    return 0


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, nargs="*", default=None)
    parser.add_argument("--measure-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_load:
        return measure_load()
    files = args.data or [p for p in DEFAULT_DATA if p.exists()]
    detector = load_detector()
    print(f"{'file':<22} {'part':<16} {'items':>7} {'foreign':>8} {'items/s':>9}  methods")
    for path in files:
        rows = _rows(path)
        for part in ("title + summary", "title alone"):
            if part == "title alone":
                texts = [r.get("title") or "" for r in rows if r.get("title")]
            else:
                texts = [f"{r.get('title') or ''}\n{r.get('summary') or ''}" for r in rows]
            t0 = time.perf_counter()
            found = [detector.detect(t) for t in texts]
            rate = len(texts) / (time.perf_counter() - t0)
            foreign = [(f, t) for f, t in zip(found, texts, strict=True) if not f.english]
            methods = collections.Counter(f.method for f in found)
            print(
                f"{path.name:<22} {part:<16} {len(texts):>7} {len(foreign):>8} {rate:>9,.0f}  "
                + ", ".join(f"{m} {n}" for m, n in methods.most_common())
            )
            for f, t in foreign:
                print(f"    {f.code} {f.confidence:.2f} {f.method}: {t[:100]!r}")
    done = subprocess.run(
        [sys.executable, __file__, "--measure-load"], capture_output=True, text=True, check=True
    )
    print(done.stdout, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
