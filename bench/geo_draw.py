"""Draw the items of a new part of ``data/geo_eval.jsonl`` (see data/README.md).

Usage: ``python bench/geo_draw.py PART [SHARED_DATA_DIR]`` with PART ``held3``,
``held4``, ``held5``, ``held7`` .. ``held12`` .. ``held35`` (``bench/geo_held3_draw.py`` .. ``geo_held5_draw.py``
call this for the first three).

A stratified random draw of items in no other part of the labelled set, from five
sources of ``../shared/data/`` in this order (the counts are each part's, ``PARTS``):

* items of ``stream_dev.jsonl`` (none for held12-held35; at most a few an outlet; a quota of incidents or gray
  items first), summary of 20-600 characters;
* CASE 2021 event snippets of ``dev.jsonl`` (at most a few an event type; none for held17 to held35);
* CAMEO sentences of ``train.jsonl`` (at most a few a quad class);
* titled AG News World items of ``train.jsonl`` (held3, held5, held7-held11: the AG test set; held4:
  the AG train sample, which no earlier part drew from);
* items of ``stream_train.jsonl`` from its seven outlets outside the US (a quota of
  incidents or gray items first), summary of 20-600 characters.

Prints one JSON object a line (id, title, summary, source, outlet), to be labelled by
hand before the geoparser is run on them. The draw depends on the labelled set as it is
when run: a part drawn again after it was added to ``data/geo_eval.jsonl`` gives other
items.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Part:
    seed: int
    prefix: str  # of the ids: k000, m000, ...
    stream: tuple[int, int, int]  # items, at most per outlet, incidents or gray first
    dev: tuple[int, int]  # items, at most per event type
    cameo: tuple[int, int]  # items, at most per quad class
    ag: tuple[str, int]  # AG source, items
    world: tuple[int, int, int]  # items, at most per outlet, incidents or gray first
    fresh_title: bool  # also leave out items whose title alone was drawn before


PARTS = {
    "held3": Part(
        23, "k", (45, 6, 20), (45, 5), (35, 10), ("ag_news:test", 35), (35, 5, 15), False
    ),
    "held4": Part(
        41, "m", (30, 4, 15), (35, 4), (30, 8), ("ag_news:train_sample", 30), (30, 5, 12), True
    ),
    # third round of issue 17: drawn and labelled before the round's rules were made
    "held5": Part(67, "p", (30, 4, 15), (35, 4), (30, 8), ("ag_news:test", 30), (30, 5, 12), True),
    # fifth round: a seed no earlier draw used (7, 11, 17, 23, 41, 67; held6's was lost)
    "held7": Part(97, "r", (28, 4, 14), (30, 4), (26, 8), ("ag_news:test", 26), (30, 5, 12), True),
    # sixth round: a seed no earlier draw used (7, 11, 17, 23, 41, 67, 89, 97)
    "held8": Part(113, "s", (28, 4, 14), (28, 4), (26, 8), ("ag_news:test", 26), (30, 5, 12), True),
    # seventh round: a seed no earlier draw used (7, 11, 17, 23, 41, 67, 89, 97, 113)
    "held9": Part(131, "t", (28, 4, 14), (26, 4), (26, 8), ("ag_news:test", 26), (30, 5, 12), True),
    # eighth round: a seed no earlier draw used (7, 11, 17, 23, 41, 67, 89, 97, 113, 131)
    "held10": Part(
        151, "v", (28, 4, 14), (26, 4), (26, 8), ("ag_news:test", 26), (30, 5, 12), True
    ),
    # ninth round: a seed no earlier draw used (..., 131, 151), held10's mix scaled to about
    # 100 items; ids w000.. (g, h, k, m, p, r, s, t, u, v and x are other parts')
    "held11": Part(167, "w", (20, 4, 10), (20, 4), (20, 8), ("ag_news:test", 20), (22, 5, 9), True),
    # tenth round: a seed no earlier draw used (..., 151, 167), 80 items and none of
    # stream_dev (the brief's: sources other than it); ids y000.. (x is tune's)
    "held12": Part(173, "y", (0, 4, 0), (20, 4), (20, 8), ("ag_news:test", 20), (20, 5, 8), True),
    # eleventh round: a seed no earlier draw used (..., 167, 173), held12's mix; ids z000..
    # (y is held12's)
    "held13": Part(179, "z", (0, 4, 0), (20, 4), (20, 8), ("ag_news:test", 20), (20, 5, 8), True),
    # twelfth round: a seed no earlier draw used (..., 173, 179), held12's mix; ids n000..
    # (g, h, k, m, p, r-z are other parts')
    "held14": Part(181, "n", (0, 4, 0), (20, 4), (20, 8), ("ag_news:test", 20), (20, 5, 8), True),
    # thirteenth round: a seed no earlier draw used (..., 179, 181), held14's mix; ids b000..
    # (g, h, k, m, n, p, r-z are other parts')
    "held15": Part(191, "b", (0, 4, 0), (20, 4), (20, 8), ("ag_news:test", 20), (20, 5, 8), True),
    # fourteenth round: a seed no earlier draw used (..., 181, 191), held15's mix; ids c000..
    # (b, g, h, k, m, n, p, r-z are other parts')
    "held16": Part(193, "c", (0, 4, 0), (20, 4), (20, 8), ("ag_news:test", 20), (20, 5, 8), True),
    # sixteenth round: a seed no earlier draw used (..., 191, 193; 197 left out, in case the
    # lost first attempt at this round drew with it), held16's mix without the CASE snippets
    # (every one of the last four parts' was dropped) and a little smaller, for about 40
    # kept; ids d000.. (b, c, g, h, k, m, n, p, r-z are other parts')
    "held17": Part(199, "d", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # seventeenth round: a seed no earlier draw used (..., 193, 199; 197 still left out),
    # held17's mix; ids e000.. (b, c, d, g, h, k, m, n, p, r-z are other parts')
    "held18": Part(211, "e", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # eighteenth round: a seed no earlier draw used (..., 199, 211; 197 still left out),
    # held18's mix; ids f000.. (b, c, d, e, g, h, k, m, n, p, r-z are other parts')
    "held19": Part(223, "f", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # nineteenth round: a seed no earlier draw used (..., 211, 223; 197 still left out),
    # held19's mix; ids j000.. (b-h, k, m, n, p, r-z are other parts')
    "held20": Part(227, "j", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twentieth round: a seed no earlier draw used (..., 223, 227; 197 still left out),
    # held20's mix; ids a000.. (b-h, j, k, m, n, p, r-z are other parts')
    "held21": Part(229, "a", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-first round: a seed no earlier draw used (..., 227, 229; 197 still left out),
    # held21's mix; ids q000.. (a-h, j, k, m, n, p, r-z are other parts')
    "held22": Part(233, "q", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-third round: a seed no earlier draw used (..., 229, 233; 197 still left out),
    # held22's mix; ids i000.. (a-h, j, k, m, n, p-z are other parts')
    "held23": Part(237, "i", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-fourth round: a seed no earlier draw used (..., 233, 237; 197 still left out),
    # held23's mix; ids l000.. (a-k, m, n, p-z are other parts'; o left for its likeness to 0)
    "held24": Part(239, "l", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-fifth round: a seed no earlier draw used (..., 237, 239; 197 still left out),
    # held24's mix; ids aa000.. (every single letter but o is another part's; ids are opaque
    # strings everywhere, keyed with the part where they repeat)
    "held25": Part(241, "aa", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-sixth round: a seed no earlier draw used (..., 239, 241; 197 still left out),
    # held25's mix; ids ab000.. (aa is held25's)
    "held26": Part(251, "ab", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-seventh round: a seed no earlier draw used (..., 241, 251; 197 still left out),
    # held26's mix; ids ac000.. (aa and ab are held25's and held26's)
    "held27": Part(257, "ac", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-eighth round: a seed no earlier draw used (..., 251, 257; 197 still left out),
    # held27's mix; ids ad000.. (aa, ab and ac are held25's to held27's)
    "held28": Part(263, "ad", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # twenty-ninth round: a seed no earlier draw used (..., 257, 263; 197 still left out),
    # held28's mix; ids ae000.. (aa to ad are held25's to held28's)
    "held29": Part(269, "ae", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirtieth round: a seed no earlier draw used (..., 263, 269, 271; 197 still left out),
    # held29's mix; ids af000.. (aa to ae are held25's to held29's)
    "held30": Part(271, "af", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirty-first round: a seed no earlier draw used (..., 269, 271, 277; 197 still left out),
    # held30's mix; ids ag000.. (aa to af are held25's to held30's)
    "held31": Part(277, "ag", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirty-second round: a seed no earlier draw used (..., 271, 277, 281; 197 still left out),
    # held31's mix; ids ah000.. (aa to ag are held25's to held31's)
    "held32": Part(281, "ah", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirty-third round: a seed no earlier draw used (..., 277, 281, 283; 197 still left out),
    # held32's mix; ids ai000.. (aa to ah are held25's to held32's)
    "held33": Part(283, "ai", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirty-fourth round: a seed no earlier draw used (..., 281, 283, 293; 197 still left out),
    # held33's mix; ids aj000.. (aa to ai are held25's to held33's)
    "held34": Part(293, "aj", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
    # thirty-fifth round: a seed no earlier draw used (..., 283, 293, 307; 197 still left out),
    # held34's mix; ids ak000.. (aa to aj are held25's to held34's)
    "held35": Part(307, "ak", (0, 4, 0), (0, 4), (18, 8), ("ag_news:test", 18), (18, 5, 7), True),
}


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def draw(part: Part, shared: Path) -> list[tuple[str, dict]]:
    """(source file, item) pairs in draw order."""
    labelled = read(ROOT / "data/geo_eval.jsonl")
    seen = {((r["title"] or "").strip(), (r["summary"] or "").strip()) for r in labelled}
    seen_summary = {(r["summary"] or "").strip() for r in labelled}
    seen_title = {(r["title"] or "").strip() for r in labelled} - {""}

    def fresh(r: dict) -> bool:
        key = ((r.get("title") or "").strip(), (r.get("summary") or "").strip())
        if part.fresh_title and key[0] in seen_title:
            return False
        return key not in seen and key[1] not in seen_summary

    rng = random.Random(part.seed)
    out: list[tuple[str, dict]] = []
    incident: Callable[[dict], bool] = lambda r: r["label"] in (1, "gray")  # noqa: E731

    def take(
        rows: list[dict],
        n: int,
        group: Callable[[dict], Any],
        cap: int,
        name: str,
        quota: int = 0,
    ) -> None:
        rows = [r for r in rows if fresh(r)]
        rng.shuffle(rows)
        per: Counter = Counter()
        taken: set[int] = set()
        # a first pass for incidents or gray items, up to ``quota``; then any kind up to n
        for k, r in [(k, r) for k, r in enumerate(rows) if incident(r)] if quota else []:
            if len(taken) >= quota:
                break
            if per[group(r)] < cap:
                per[group(r)] += 1
                taken.add(k)
                out.append((name, r))
        for k, r in enumerate(rows):
            if len(taken) >= n:
                break
            if k in taken or per[group(r)] >= cap:
                continue
            per[group(r)] += 1
            taken.add(k)
            out.append((name, r))

    def summary_ok(r: dict) -> bool:
        return 20 <= len(r.get("summary") or "") <= 600

    n, cap, quota = part.stream
    if n:  # held12 to held35 draw none (and so do not read the file)
        stream = [r for r in read(shared / "stream_dev.jsonl") if summary_ok(r)]
        take(stream, n, lambda r: r["outlet"], cap, "stream_dev", quota)
    if part.dev[0]:  # held17 to held35 draw none (and so does not read the file)
        dev = [r for r in read(shared / "dev.jsonl") if r["source"].startswith("case2021")]
        take(dev, part.dev[0], lambda r: r["orig_label"], part.dev[1], "dev")
    train = read(shared / "train.jsonl")
    cameo = [r for r in train if r["source"] == "conflibert_cameo"]
    take(cameo, part.cameo[0], lambda r: r["orig_label"], part.cameo[1], "train")
    source, n = part.ag
    ag = [r for r in train if r["source"] == source and r["orig_label"] == "World"]
    take(ag, n, lambda r: 0, n, "train")
    n, cap, quota = part.world
    world = [
        r for r in read(shared / "stream_train.jsonl") if r["outlet"] in WORLD and summary_ok(r)
    ]
    take(world, n, lambda r: r["outlet"], cap, "stream_train", quota)
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in PARTS:
        print(f"usage: geo_draw.py {'|'.join(PARTS)} [SHARED_DATA_DIR]", file=sys.stderr)
        return 2
    part = PARTS[argv[0]]
    shared = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared/data"
    for i, (source, r) in enumerate(draw(part, shared)):
        item = {
            "id": f"{part.prefix}{i:03d}",
            "title": r.get("title") or "",
            "summary": r.get("summary") or "",
            "source": source,
            "outlet": r.get("outlet"),
        }
        print(json.dumps(item, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
