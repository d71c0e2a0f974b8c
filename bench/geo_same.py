"""Same answers? The geoparser's output on the packaged training corpus, two checkouts compared.

Usage (from the repository root)::

    .venv/bin/python bench/geo_same.py --baseline /path/to/other/checkout

Each checkout locates every item of ``src/newsalert/data/train.jsonl.gz`` (title and
summary) in its own process, with its own gazetteer cache in the user's cache folder (each
checkout keys its cache by its own build), and writes each item's location (place, country,
region, coordinates, precision, across) and places. The two lists must be equal item by
item; the first differences are printed. Exit status 1 when any item differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CODE = r"""
import gzip, json, sys, time
from newsalert.geo import load_geoparser
from newsalert.geo.geoparser import default_cache_dir
corpus, out = sys.argv[1], sys.argv[2]
gp = load_geoparser(default_cache_dir())

def where(loc):
    if loc is None:
        return None
    return [loc.place, loc.country, loc.admin1, loc.lat, loc.lon, loc.precision,
            list(getattr(loc, "across", None) or ())]

rows = []
with gzip.open(corpus, "rt", encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        rows.append((r.get("title") or "", r.get("summary") or ""))
started = time.process_time()
answers = []
for title, summary in rows:
    found = gp.locate(title, summary)
    answers.append([where(found.where), [where(p) for p in found.places]])
cpu = time.process_time() - started
with open(out, "w", encoding="utf-8") as f:
    json.dump(answers, f)
print(f"{len(rows)} items, {len(rows) / cpu:.0f} items per CPU second")
"""


_FULL = r"""
import gzip, json, sys, time
from newsalert.geo import load_geoparser
from newsalert.geo.geoparser import default_cache_dir
labelled, corpus, out = sys.argv[1:4]
with open(labelled, encoding="utf-8") as f:
    rows = [json.loads(l) for l in f if l.strip()]
with gzip.open(corpus, "rt", encoding="utf-8") as f:
    rows += [json.loads(l) for l in f]
texts = [(r.get("title") or "", r.get("summary") or "") for r in rows]
n_labelled = len(texts) - sum(1 for _ in gzip.open(corpus, "rt", encoding="utf-8"))
HOMES = (None, "US", "GB", "RS", "XK", "IN", "ng")
LANGUAGES = (None, "en", "fr", "sr", "sq", "ar", "ru", "de-AT", "hr")

def where(loc):
    if loc is None:
        return None
    return [loc.place, loc.country, loc.admin1, loc.lat, loc.lon, loc.precision, loc.across]

def full(found):
    return [where(found.where), [where(p) for p in found.places], found.why,
            [[m.text, m.field, m.start, m.end] for m in found.mentions]]

answers, cpu = [], 0.0
for rerank in (None, False):
    gp = load_geoparser(default_cache_dir(), rerank)
    started = time.process_time()
    answers += [full(gp.locate(t, s)) for t, s in texts]
    cpu += time.process_time() - started
    for k, (t, s) in enumerate(texts[:n_labelled]):
        home, lang = HOMES[k % len(HOMES)], LANGUAGES[k % len(LANGUAGES)]
        answers.append(full(gp.locate(t, s, None, home, lang)))
with open(out, "w", encoding="utf-8") as f:
    json.dump(answers, f)
print(f"{len(answers)} answers, {2 * len(texts) / cpu:.0f} items per CPU second (both methods)")
"""


def answers(project: Path, corpus: Path, out: Path, full: bool = False) -> list:
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    code = [_FULL, str(ROOT / "data" / "geo_eval.jsonl")] if full else [_CODE]
    done = subprocess.run(
        [sys.executable, "-c", *code, str(corpus), str(out)],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    print(f"{project}: {done.stdout.strip()}")
    return json.loads(out.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "src" / "newsalert" / "data" / "train.jsonl.gz"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="everything locate returns, labelled parts too, both methods (see above)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        mine = answers(args.project.resolve(), args.corpus, Path(work) / "mine.json", args.full)
        theirs = answers(
            args.baseline.resolve(), args.corpus, Path(work) / "theirs.json", args.full
        )
    differ = [k for k, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]
    located = sum(1 for a in mine if a[0] is not None)
    places = sum(len(a[1]) for a in mine)
    what = "answers" if args.full else "items"
    print(f"{len(mine)} {what} ({located} located, {places} places): {len(differ)} differ")
    for k in differ[:10]:
        print(f"  item {k}: {mine[k]} against {theirs[k]}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
