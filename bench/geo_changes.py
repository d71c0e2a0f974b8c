"""What a change to the geoparser changes: every labelled part and the corpus, two checkouts.

Usage (from the repository root)::

    .venv/bin/python bench/geo_changes.py --baseline /path/to/other/checkout [--show N]
    .venv/bin/python bench/geo_changes.py --baseline ... --alt data/geo_eval_alt.jsonl

Each checkout locates, in its own process and with its own gazetteer cache, every item of
this checkout's ``data/geo_eval.jsonl`` (every part, the unseen ones too: use it only
after they were measured once) and of the packaged corpus (``train.jsonl.gz``), with the
shipped default (rules and re-ranker) and the rules alone. Printed per method: for each
part and in total, items whose text names the labelled country given it / another one
and towns within 25 km, baseline -> this checkout; the labelled items whose answer
changed (better, worse or other; judged by ``--alt``'s labels where given); and how many corpus items' event country or town
changed, with the first ``--show`` of them to read. A checkout's answers are kept in
``--keep DIR`` (by a digest of its geoparser's files) to be read again.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from newsalert.geo.distance import haversine_km  # noqa: E402
from newsalert.geo.evaluate import PLACE_RADIUS_KM, load_rows  # noqa: E402

_CODE = r"""
import gzip, json, sys
from newsalert.geo import load_geoparser
from newsalert.geo.geoparser import default_cache_dir
labelled, corpus, out = sys.argv[1:4]
rows = []
with open(labelled, encoding="utf-8") as f:
    rows += [json.loads(l) for l in f if l.strip()]
with gzip.open(corpus, "rt", encoding="utf-8") as f:
    rows += [json.loads(l) for l in f]
texts = [(r.get("title") or "", r.get("summary") or "") for r in rows]
result = {}
for name, rerank in (("default", None), ("rules", False)):
    gp = load_geoparser(default_cache_dir(), rerank)
    got = []
    for t, s in texts:
        w = gp.locate(t, s).where
        got.append(None if w is None else [w.country, w.place, w.precision, w.lat, w.lon])
    result[name] = got
with open(out, "w", encoding="utf-8") as f:
    json.dump(result, f)
"""


def answers(project: Path, labelled: Path, corpus: Path, keep: Path | None) -> dict:
    key = None
    if keep is not None:  # keyed by the geoparser's code and data and the labelled file
        digest = hashlib.sha256(labelled.read_bytes())
        for path in sorted((project / "src" / "newsalert" / "geo").rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json"):
                digest.update(path.name.encode() + path.read_bytes())
        key = keep / f"{digest.hexdigest()[:16]}.json"
        if key.exists():
            return json.loads(key.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "answers.json"
        env = {**os.environ, "PYTHONPATH": str(project / "src")}
        subprocess.run(
            [sys.executable, "-c", _CODE, str(labelled), str(corpus), str(out)],
            env=env,
            check=True,
        )
        text = out.read_text(encoding="utf-8")
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(text, encoding="utf-8")
    return json.loads(text)


def _named(rows: list[dict]) -> list[bool]:
    from newsalert.geo.evaluate import text_names_country
    from newsalert.geo.gazetteer import load_gazetteer

    g = load_gazetteer(Path(tempfile.gettempdir()) / "newsalert-geo-bench")
    return [text_names_country(g, r) for r in rows]


def _town_ok(r: dict, a: list | None) -> bool:
    return (
        a is not None
        and a[2] == "place"
        and haversine_km(a[3], a[4], r["lat"], r["lon"]) <= PLACE_RADIUS_KM
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--show", type=int, default=40, help="corpus changes to print")
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "geo-changes")
    parser.add_argument(
        "--alt",
        type=Path,
        default=None,
        metavar="FILE",
        help="judge by these labels where they differ (data/geo_eval_alt.jsonl: the subject's)",
    )
    args = parser.parse_args()
    labelled = ROOT / "data" / "geo_eval.jsonl"
    corpus = ROOT / "src" / "newsalert" / "data" / "train.jsonl.gz"
    rows = load_rows(labelled)
    if args.alt is not None:  # the answers are the texts', so --keep's files still serve
        sys.path.insert(0, str(ROOT / "bench"))
        from geo import replace_labels  # bench/geo.py

        rows = replace_labels(rows, load_rows(args.alt))
    with gzip.open(corpus, "rt", encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    before = answers(args.baseline.resolve(), labelled, corpus, args.keep)
    after = answers(args.project.resolve(), labelled, corpus, args.keep)
    named = _named(rows)
    n = len(rows)
    for method in ("default", "rules"):
        b, a = before[method], after[method]
        print(f"\n== {method}: items whose text names the country, wrong / right; towns")
        # named; wrong, right before; wrong, right after; towns; towns right before, after
        for split in [*dict.fromkeys(r["split"] for r in rows), None]:
            c = [0] * 8
            for k, r in enumerate(rows):
                if split is not None and r["split"] != split:
                    continue
                if named[k]:
                    c[0] += 1
                    for j, ans in ((1, b[k]), (3, a[k])):
                        if ans is not None:
                            c[j + (ans[0] == r["country"])] += 1
                if r.get("place") and r.get("in_gazetteer") and r.get("lat") is not None:
                    c[5] += 1
                    c[6] += _town_ok(r, b[k])
                    c[7] += _town_ok(r, a[k])
            print(
                f"{split or 'all':<8} named {c[0]:>4}: wrong {c[1]:>3} -> {c[3]:>3}, right "
                f"{c[2]:>4} -> {c[4]:>4}; towns {c[6]:>3} -> {c[7]:>3} of {c[5]}"
            )
        for k, r in enumerate(rows):
            if b[k] != a[k] and (b[k] or [None])[:3] != (a[k] or [None])[:3]:
                truth = r["country"]
                was, now = (b[k] or [None])[0], (a[k] or [None])[0]
                verdict = (
                    "better" if now == truth != was else "worse" if was == truth != now else "other"
                )
                print(
                    f"  labelled {r['id']} ({r['split']}, truth {truth} {r.get('place')}): "
                    f"{(b[k] or [None])[:3]} -> {(a[k] or [None])[:3]}  {verdict}"
                )
        changed = [
            k
            for k in range(n, len(b))
            if ((b[k] or [None, None])[:2]) != ((a[k] or [None, None])[:2])
        ]
        country = sum(1 for k in changed if (b[k] or [None])[0] != (a[k] or [None])[0])
        print(
            f"corpus ({len(b) - n} items): {len(changed)} changed "
            f"({country} in country, the rest in town)"
        )
        for k in changed[: args.show]:
            t = texts[k - n]
            line = " || ".join(x for x in (t.get("title"), t.get("summary")) if x)
            print(f"  {k - n}: {(b[k] or [None])[:2]} -> {(a[k] or [None])[:2]}  {line[:300]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
