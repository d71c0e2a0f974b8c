"""Draw the items of ``data/geo_eval.jsonl``'s ``held2`` split (see data/README.md).

Stratified random draw (seed 17) from ``../shared/data/stream_train.jsonl``: items
with a summary of 20-600 characters whose title is not in the labelled set's other splits;
75 incidents or gray items (at most 10 an outlet) and 140 others (at most 15 an
outlet), then 35 more of any kind from Al Jazeera English and the Wall Street
Journal's world news (to widen the regions), shuffled. Prints one JSON object a line (id, title, summary, outlet), to be
labelled by hand before the geoparser is run on them.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


WORLD = ("Al Jazeera English (YouTube channel Atom feed)", "Wall Street Journal (World News)")


def main() -> int:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/stream_train.jsonl"
    with open(ROOT / "data/geo_eval.jsonl", encoding="utf-8") as f:
        labelled = [json.loads(line) for line in f]
    seen = {r["title"] for r in labelled if r["split"] != "held2"}
    with open(src, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    rows = [r for r in rows if r["title"] not in seen and 20 <= len(r.get("summary") or "") <= 600]
    rng = random.Random(17)
    rng.shuffle(rows)
    out, per = [], Counter()
    for group, quota, cap in (("incident", 75, 10), ("other", 140, 15)):
        n = 0
        for r in rows:
            kind = "incident" if r["label"] in (1, "gray") else "other"
            if kind != group or per[(group, r["outlet"])] >= cap or n >= quota:
                continue
            per[(group, r["outlet"])] += 1
            n += 1
            out.append(r)
    rng.shuffle(out)
    # a third stratum from the two world-news outlets, to widen the regions beyond
    # 2020's US protests (drawn after the first two, so those stay as they were)
    n, drawn = 0, {id(r) for r in out}
    for r in rows:
        if n >= 35 or id(r) in drawn or r["outlet"] not in WORLD:
            continue
        n += 1
        out.append(r)
    for i, r in enumerate(out):
        print(
            json.dumps(
                {
                    "id": f"h{i:03d}",
                    "title": r["title"],
                    "summary": r["summary"],
                    "outlet": r["outlet"],
                    "label": r["label"],
                },
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
