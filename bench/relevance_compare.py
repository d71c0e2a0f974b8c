"""Two relevance models side by side on one labelled file, with a paired bootstrap.

Usage (from the repository root)::

    .venv/bin/python bench/relevance_compare.py OLD_MODEL_DIR NEW_MODEL_DIR FILE.jsonl

Each model flags at its own threshold. For a file whose items carry ``weight`` (a
stratified stream sample) precision, recall and F1 are weighted as ``classifier.evaluate``
weighs them. The bootstrap resamples the labelled items with replacement (the same
draw for both models: paired) and reports the 95% interval of the new-minus-old
difference of precision, recall and F1, and the share of draws where the new model is
as good or better. ``gray`` items count in neither.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from newsalert import classifier as C


def _weighted(y: np.ndarray, f: np.ndarray, w: np.ndarray) -> tuple[float, float, float]:
    tp = float((w * (f & (y == 1))).sum())
    fp = float((w * (f & (y == 0))).sum())
    pos = float((w * (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / pos if pos else float("nan")
    return p, r, (2 * p * r / (p + r) if tp else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    items = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    items = [i for i in items if i.get("label") in (0, 1)]
    y = np.array([i["label"] for i in items])
    w = np.array([float(i.get("weight", 1.0)) for i in items])
    flags = []
    for path in (args.old, args.new):
        model = C.load(path)
        p = model.probabilities([C._entry(i) for i in items])
        flags.append(p >= model.threshold)
        prec, rec, f1 = _weighted(y, flags[-1], w)
        print(f"{path}: threshold {model.threshold:.2f}  P {prec:.3f}  R {rec:.3f}  F1 {f1:.3f}")
    bootstrap(y, w, flags[0], flags[1], args.draws, args.seed)
    return 0


def bootstrap(
    y: np.ndarray, w: np.ndarray, old: np.ndarray, new: np.ndarray, draws: int = 2000,
    seed: int = 0,
) -> None:  # fmt: skip
    """Print the paired bootstrap's 95% intervals of new - old weighted P, R and F1."""
    changed = np.flatnonzero(old != new)
    print(f"{len(changed)} items change their flag (weights {w[changed].tolist()})")
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(draws):
        k = rng.integers(0, len(y), len(y))
        a = _weighted(y[k], old[k], w[k])
        b = _weighted(y[k], new[k], w[k])
        diffs.append([b[j] - a[j] for j in range(3)])
    d = np.array(diffs)
    for j, name in enumerate(("precision", "recall", "F1")):
        col = d[:, j][~np.isnan(d[:, j])]
        lo, hi = np.quantile(col, [0.025, 0.975])
        print(
            f"{name}: new - old 95% interval {lo:+.3f} .. {hi:+.3f}; "
            f"new >= old in {(col >= 0).mean():.0%} of draws"
        )


if __name__ == "__main__":
    raise SystemExit(main())
