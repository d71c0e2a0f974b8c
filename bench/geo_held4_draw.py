"""Draw the items of ``data/geo_eval.jsonl``'s ``held4`` split (see data/README.md).

Stratified random draw (seed 41) of items in no other split of the labelled set (same
title or summary), the same mix as ``held3``'s (bench/geo_held3_draw.py), drawn after
held3 had been measured, to have a part never looked at against the geoparser:

* 30 items of ``../shared/data/stream_dev.jsonl`` (at most 4 an outlet; up to 15
  incidents or gray items), summary of 20-600 characters;
* 35 CASE 2021 event snippets of ``../shared/data/dev.jsonl`` (at most 4 an event type);
* 30 CAMEO sentences of ``../shared/data/train.jsonl`` (at most 8 a quad class);
* 30 titled AG News World items of ``../shared/data/train.jsonl`` (the AG train sample,
  which no earlier part drew its AG items from);
* 30 items of ``../shared/data/stream_train.jsonl`` from its seven outlets outside the
  US (at most 5 an outlet; up to 12 incidents or gray items), summary of 20-600
  characters.

Prints one JSON object a line (id ``m000``-``m154``, title, summary, source, outlet),
to be labelled by hand before the geoparser is run on them.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORLD = (
    "Al Jazeera English (YouTube channel Atom feed)",
    "Wall Street Journal (World News)",
    "BBC News (Home)",
    "CNN International (App Intl Edition)",
    "Sydney Morning Herald (latest)",
    "New Zealand Herald (top stories)",
    "The Straits Times (Singapore)",
)


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def main() -> int:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data"
    labelled = read(ROOT / "data/geo_eval.jsonl")
    seen = {((r["title"] or "").strip(), (r["summary"] or "").strip()) for r in labelled}
    seen_summary = {(r["summary"] or "").strip() for r in labelled}
    seen_title = {(r["title"] or "").strip() for r in labelled} - {""}

    def fresh(r: dict) -> bool:
        key = ((r.get("title") or "").strip(), (r.get("summary") or "").strip())
        return key not in seen and key[1] not in seen_summary and key[0] not in seen_title

    rng = random.Random(41)
    out: list[tuple[str, dict]] = []

    def take(rows: list[dict], n: int, group, cap: int, name: str, prefer=None) -> None:
        rows = [r for r in rows if fresh(r)]
        rng.shuffle(rows)
        per: Counter = Counter()
        got = 0
        if prefer is not None:  # a first pass for the preferred kind, up to its quota
            want, quota = prefer
            for r in rows:
                if got >= quota:
                    break
                if want(r) and per[group(r)] < cap:
                    per[group(r)] += 1
                    got += 1
                    out.append((name, r))
                    r["_taken"] = True
        for r in rows:
            if got >= n:
                break
            if r.get("_taken") or per[group(r)] >= cap:
                continue
            per[group(r)] += 1
            got += 1
            out.append((name, r))

    stream = [
        r for r in read(shared / "stream_dev.jsonl") if 20 <= len(r.get("summary") or "") <= 600
    ]
    take(
        stream,
        30,
        lambda r: r["outlet"],
        4,
        "stream_dev",
        prefer=(lambda r: r["label"] in (1, "gray"), 15),
    )
    dev = [r for r in read(shared / "dev.jsonl") if r["source"].startswith("case2021")]
    take(dev, 35, lambda r: r["orig_label"], 4, "dev")
    train = read(shared / "train.jsonl")
    cameo = [r for r in train if r["source"] == "conflibert_cameo"]
    take(cameo, 30, lambda r: r["orig_label"], 8, "train")
    ag = [r for r in train if r["source"] == "ag_news:train_sample" and r["orig_label"] == "World"]
    take(ag, 30, lambda r: 0, 30, "train")
    world = [
        r
        for r in read(shared / "stream_train.jsonl")
        if r["outlet"] in WORLD and 20 <= len(r.get("summary") or "") <= 600
    ]
    take(
        world,
        30,
        lambda r: r["outlet"],
        5,
        "stream_train",
        prefer=(lambda r: r["label"] in (1, "gray"), 12),
    )
    for i, (source, r) in enumerate(out):
        print(
            json.dumps(
                {
                    "id": f"m{i:03d}",
                    "title": r.get("title") or "",
                    "summary": r.get("summary") or "",
                    "source": source,
                    "outlet": r.get("outlet"),
                },
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
