"""Trained relevance models side by side: out of fold (from model.json), dev.jsonl, and,
only when asked, the real-stream sample (measure once; never choose anything on it).

Usage (from the repository root)::

    PYTHONPATH=src:. python bench/relevance_side_by_side.py DIR [DIR ...]
    PYTHONPATH=src:. python bench/relevance_side_by_side.py DIR [DIR ...] \\
        --stream ../shared/data/stream_dev.jsonl

Each DIR is a model directory written by ``newsalert model train --out DIR`` (with or
without ``model.embedding``) or by ``classifier.train``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from newsalert import classifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--dev", type=Path, default=Path("data/dev.jsonl"))
    parser.add_argument("--stream", type=Path, help="a weighted stream sample (measure once)")
    args = parser.parse_args(argv)
    for path in args.models:
        model = classifier.load(path)
        meta = model.metadata
        embedding = (meta.get("embedding") or {}).get("name", "none")
        cv, feed = meta["metrics"]["cv"], meta["metrics"]["cv_by_source"].get("rss_2020")
        print(f"== {path} (embedding: {embedding}, threshold {model.threshold})")
        print(f"out of fold, all: F1 {cv['f1']:.3f}  PR-AUC {cv['pr_auc']:.3f}")
        if feed:
            print(
                f"out of fold, feed items: P {feed['precision']:.3f}  R {feed['recall']:.3f}  "
                f"F1 {feed['f1']:.3f}  PR-AUC {feed['pr_auc']:.3f}"
            )
        dev = classifier.evaluate(model, args.dev)
        groups = dev.by_orig_label
        hard = ", ".join(
            f"{k} {groups[k].flagged}/{groups[k].n}"
            for k in classifier.HARD_NEGATIVE_LABELS
            if k in groups
        )
        politics = groups.get("POLITICS")
        print(
            f"dev: P {dev.precision:.3f}  R {dev.recall:.3f}  F1 {dev.f1:.3f}  "
            f"PR-AUC {dev.pr_auc:.3f}  hard negatives {dev.hard_negative_rate:.3f} ({hard})"
            + (f"  POLITICS {politics.flagged}/{politics.n}" if politics else "")
        )
        serbia = model.probabilities([("Serbia masses troops on the Kosovo border", "")])[0]
        print(f'"Serbia masses troops on the Kosovo border": {serbia:.3f}')
        if args.stream:
            report = classifier.evaluate(model, args.stream)
            w = report.weighted
            if w is not None:
                print(
                    f"stream (weighted): P {w.precision:.3f}  R {w.recall:.3f}  F1 {w.f1:.3f}"
                    f"  category accuracy {report.category_accuracy:.3f}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
