"""Geoparsing: accuracy on the labelled set, speed on one core, load time and memory.

Usage (from the repository root; under a minute once the gazetteer is cached)::

    PYTHONPATH=src .venv/bin/python bench/geo.py
    PYTHONPATH=src .venv/bin/python bench/geo.py --cold     # also time a build from scratch
    PYTHONPATH=src .venv/bin/python bench/geo.py --alt data/geo_eval_alt.jsonl  # other labels

Three tables, each with a peer run side by side:

1. **Accuracy** on ``data/geo_eval.jsonl`` (see data/README.md), split into the part
   the rules were tuned on (``tune``), the held-out parts (``heldout``, ``held2``;
   since 2026-12-06 looked at too), ``held3`` (its errors looked at by class, not
   fitted item by item), ``held4``, labelled before any run and measured once at
   the end of its round, ``held5`` and ``held7`` to ``held34``, measured once
   likewise, and ``held35``, kept out of every run unless ``--unseen`` is given (see
   data/README.md), then all. The peer is the naive geoparser (same gazetteer, same whole-word matching): the first
   place named, its most populous candidate, no guards, no event weighting.
2. **Speed**: items per second on one core, ``locate_many`` over ``--items`` items of
   the packaged training corpus, against the peer.
3. **Cost of loading**, in a fresh process as a worker has: wall time to load the
   cached gazetteer (and to build it with ``--cold``); RSS and PSS it adds; and what a
   forked child that then geoparses 2,000 items had to copy (private pages).
"""

from __future__ import annotations

import argparse
import functools
import gc
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from procmem import in_child, memory_kb  # noqa: E402  (bench/, the script's directory)

from newsalert.geo import Geoparser, load_geoparser  # noqa: E402
from newsalert.geo.evaluate import load_rows, score, text_names_country  # noqa: E402
from newsalert.geo.gazetteer import build_gazetteer, load_gazetteer  # noqa: E402
from newsalert.geo.mentions import find_mentions  # noqa: E402
from newsalert.geo.model import Location  # noqa: E402
from newsalert.geo.rerank import load_reranker  # noqa: E402


def naive_locator(gp: Geoparser):  # type: ignore[no-untyped-def]
    g = gp.gazetteer

    def locate(title: str, summary: str) -> Location | None:
        found = find_mentions(g, title, summary)
        if not found:
            return None
        places = g.places_of(found[0].key_id)
        return gp.location(max(places, key=lambda p: g.population[p]))

    return locate


def corpus(n: int) -> list[tuple[str, str, None, None]]:
    path = ROOT / "src" / "newsalert" / "data" / "train.jsonl.gz"
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append((r.get("title") or "", r.get("summary") or "", None, None))
    while len(rows) < n:
        rows = rows + rows
    return rows[:n]


def measure_load(cache: Path) -> int:
    """In a fresh process: load time, memory added, and what a forked child copies."""
    import newsalert.geo.mentions  # noqa: F401  (imports are not the gazetteer's cost)

    items = corpus(2000)
    gc.collect()
    before = memory_kb()
    t0 = time.perf_counter()
    gp = load_geoparser(cache)
    load_s = time.perf_counter() - t0
    gc.collect()
    after = memory_kb()
    print(f"{'warm load (cached)':<34} {load_s:>8.2f} s")
    print(f"{'RSS added by loading':<34} {(after['Rss'] - before['Rss']) / 1024:>8.1f} MB")
    print(f"{'PSS added by loading':<34} {(after['Pss'] - before['Pss']) / 1024:>8.1f} MB")
    base, now = in_child(lambda: gp.locate_many(items))
    print(f"{'forked child: PSS':<34} {now['Pss'] / 1024:>8.1f} MB")
    copied = (now["Private_Dirty"] - base["Private_Dirty"]) / 1024
    print(f"{'forked child: pages it copied':<34} {copied:>8.1f} MB  (after 2,000 items)")
    return 0


SPLITS = (
    "tune",
    "heldout",
    "held2",
    "held3",
    "held4",
    "held5",
    "held7",
    "held8",
    "held9",
    "held10",
    "held11",
    "held12",
    "held13",
    "held14",
    "held15",
    "held16",
    "held17",
    "held18",
    "held19",
    "held20",
    "held21",
    "held22",
    "held23",
    "held24",
    "held25",
    "held26",
    "held27",
    "held28",
    "held29",
    "held30",
    "held31",
    "held32",
    "held33",
    "held34",
    "held35",
    None,
)  # None: all of them
# pooled rows printed before "all" (not parts: bench/geo_learn.py iterates SPLITS), as the
# standing rule pools the unseen parts
POOLED = {"held9-35": {f"held{i}" for i in range(9, 36)}}
# parts kept out of every run until their round's rules are done (``--unseen`` to measure
# them, once, at the end of the round; see data/README.md)
UNSEEN = ("held35",)  # held5 and held7-held34 were measured once in their rounds: seen since
METRICS = (
    ("country_accuracy", "country right (of {with_country})"),
    ("wrong_country", "wrong country given"),
    ("country_accuracy_named", "  text names it (of {named})"),
    ("wrong_country_named", "  wrong, text names it"),
    ("place_within_25km", "town within 25 km (of {with_place})"),
    ("spurious", "located, text says none (of {unlocated_items})"),
)


LABEL_FIELDS = ("country", "admin1", "place", "lat", "lon", "in_gazetteer")


def replace_labels(rows: list[dict[str, Any]], alt: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with the label fields of the ``alt`` rows of the same id and part.

    Ids repeat across parts (``tune``'s t047 and ``held9``'s t047), hence the pair.
    """
    by_key = {(a["id"], a["part"]): a for a in alt}
    missing = sorted(set(by_key) - {(r["id"], r["split"]) for r in rows})
    if missing:  # a typo in the list would silently measure nothing
        raise SystemExit(f"--alt: not in data/geo_eval.jsonl: {missing}")
    out = []
    for r in rows:
        a = by_key.get((r["id"], r["split"]))
        out.append(r if a is None else {**r, **{k: a.get(k) for k in LABEL_FIELDS}})
    return out


def moved(gp: Geoparser, naive, rows, old_rows, alt: Path) -> None:  # type: ignore[no-untyped-def]
    """Per relabelled item: both labels and what each method gives (country, town)."""
    ids = {(a["id"], a["part"]) for a in load_rows(alt)}
    old = {(r["id"], r["split"]): r for r in old_rows}
    print(f"\nThe {len(ids)} relabelled items: speaker's label -> subject's label; what each gives")
    for r in rows:
        if (r["id"], r["split"]) not in ids:
            continue
        got = []
        for where in (
            gp.locate(r["title"] or "", r["summary"] or "").where,
            naive(r["title"] or "", r["summary"] or ""),
        ):
            got.append(f"{where.country}/{where.place}" if where else "none")
        o = old[r["id"], r["split"]]
        print(
            f"  {r['id']:<5} {r['split']:<8} {o['country']}/{o.get('place')} -> "
            f"{r['country']}/{r.get('place')}   ours {got[0]:<24} naive {got[1]}"
        )


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--cold", action="store_true", help="also time a build from scratch")
    parser.add_argument("--cache", type=Path, default=None, help="gazetteer cache dir")
    parser.add_argument(
        "--misses",
        action="append",
        default=[],
        metavar="SPLIT",
        help="list the items of SPLIT the geoparser gets wrong (repeatable)",
    )
    parser.add_argument(
        "--unseen",
        action="store_true",
        help=f"also measure the unseen parts ({', '.join(UNSEEN)}): once, at the end of a round",
    )
    parser.add_argument(
        "--rerank",
        type=Path,
        default=None,
        metavar="JSON",
        help="measure the rules plus this learned country re-ranker (bench/geo_learn.py)",
    )
    parser.add_argument(
        "--rules",
        action="store_true",
        help="measure the hand rules alone, whatever the default (geoparser.RERANK)",
    )
    parser.add_argument(
        "--alt",
        type=Path,
        default=None,
        metavar="FILE",
        help="replace the labels of the items FILE lists (data/geo_eval_alt.jsonl: statements "
        "placed at their subject, not their speaker)",
    )
    parser.add_argument("--measure-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.gettempdir()) / "newsalert-geo-bench"

    if args.measure_load:
        return measure_load(cache)
    load_gazetteer(cache)  # make sure the cache exists before timing the warm load
    gp = load_geoparser(cache, False if args.rules else None)
    if args.rerank is not None:
        gp = Geoparser(gp.gazetteer, load_reranker(args.rerank))
        print(f"rules plus the learned re-ranker of {args.rerank}")
    else:
        print("rules plus the packaged re-ranker" if gp.reranker else "the hand rules alone")
    build_s = None
    if args.cold:
        t0 = time.perf_counter()
        build_gazetteer()
        build_s = time.perf_counter() - t0

    rows = load_rows(ROOT / "data" / "geo_eval.jsonl")
    if args.alt is not None:
        rows = replace_labels(rows, load_rows(args.alt))
        print(f"labels of {args.alt} in place of data/geo_eval.jsonl's")
    if not args.unseen:
        rows = [r for r in rows if r["split"] not in UNSEEN]
    print("\n1. Accuracy on data/geo_eval.jsonl (country of the event; town within 25 km)\n")
    head = f"{'split':<9} {'items':>5}  {'metric':<32} {'newsalert.geo':>13} {'naive peer':>11}"
    print(head)
    print("-" * len(head))
    naive = naive_locator(gp)
    named = functools.partial(text_names_country, gp.gazetteer)
    columns = {}
    for split in (*SPLITS[:-1], *POOLED, None):
        part = [
            r
            for r in rows
            if split is None or r["split"] == split or r["split"] in POOLED.get(split, ())
        ]
        if not part:
            continue
        result = score(lambda t, s: gp.locate(t, s).where, part, named)
        ours = columns[split or "all"] = result.as_dict()
        peer = score(naive, part, named).as_dict()
        label = split or "all"
        for key, name in METRICS:
            name = name.format(**ours)
            print(
                f"{label:<9} {len(part):>5}  {name:<32} {pct(ours[key]):>13} {pct(peer[key]):>11}"
            )
            label = ""
        if split is not None and split in args.misses:
            for miss in result.misses:
                got = miss["got"]
                got = (got.country, got.place, got.precision) if got else None
                print(f"{'':<9} miss {miss['id']}: truth {miss['truth']}, got {got}")
    if args.alt is not None:
        moved(gp, naive, rows, load_rows(ROOT / "data" / "geo_eval.jsonl"), args.alt)
    print(f"\nnewsalert.geo by split, one column each\n\n{'metric':<32}", end="")
    print("".join(f" {name:>9}" for name in columns))
    for key, name in METRICS:
        print(f"{name.split(' (')[0]:<32}", end="")
        print("".join(f" {pct(c[key]):>9}" for c in columns.values()))

    items = corpus(args.items)
    print(f"\n2. Speed on one core ({len(items):,} items of the packaged corpus)\n")
    t0 = time.perf_counter()
    gp.locate_many(items)
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t, s, _, _ in items:
        naive(t, s)
    peer_s = time.perf_counter() - t0
    print(f"{'':<24} {'newsalert.geo':>13} {'naive peer':>11}")
    print(f"{'items/s':<24} {len(items) / ours_s:>13,.0f} {len(items) / peer_s:>11,.0f}")

    print("\n3. Cost of loading (the worker loads once, before it forks; a fresh process)\n")
    if build_s is not None:
        print(f"{'cold build (no cache)':<34} {build_s:>8.2f} s")
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "--measure-load", "--cache", str(cache)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
