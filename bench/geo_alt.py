"""The statement convention measured: counts per part, both methods, both conventions.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python bench/geo_alt.py [data/geo_eval_alt.jsonl] [--rerank JSON ...]

A markdown table: per part of ``data/geo_eval.jsonl`` (every part, ``held28`` included),
the pooled unseen parts (``held9``-``held28``, as the standing rule pools them) and all,
the wrong / right country counts and towns within 25 km, the speaker's labels (as
labelled) -> the subject's (``--alt`` of ``bench/geo.py``), for the default (rules plus the
packaged re-ranker), the rules alone and the rules plus each ``--rerank`` weights file (a
wrong / right pair per file after the table's own columns). ``named`` rows: items whose text
names the country; ``held11-22``: the parts out of the packaged re-ranker's sample.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

from geo import POOLED, SPLITS, replace_labels  # noqa: E402  (bench/, the script's directory)

from newsalert.geo import Geoparser, load_geoparser  # noqa: E402
from newsalert.geo.evaluate import Scores, load_rows, score, text_names_country  # noqa: E402
from newsalert.geo.rerank import load_reranker  # noqa: E402

# out of the packaged re-ranker's sample (trained on tune-held10): the twenty-second round's pool
EXTRA_POOLED = {"held11-22": {f"held{i}" for i in range(11, 23)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("alt", type=Path, nargs="?", default=ROOT / "data" / "geo_eval_alt.jsonl")
    ap.add_argument(
        "--rerank", type=Path, action="append", default=[], metavar="JSON", help="repeatable"
    )
    args = ap.parse_args()
    alt_path = args.alt
    rows = load_rows(ROOT / "data" / "geo_eval.jsonl")
    alt_rows = load_rows(alt_path)
    alt = replace_labels(rows, alt_rows)
    moved = collections.Counter(a["part"] for a in alt_rows)
    cache = Path(tempfile.gettempdir()) / "newsalert-geo-bench"
    methods = {"default": load_geoparser(cache, None), "rules": load_geoparser(cache, False)}
    for path in args.rerank:
        methods[path.stem] = Geoparser(methods["rules"].gazetteer, load_reranker(path))
    pooled = POOLED | EXTRA_POOLED

    def selector(part: str) -> Callable[[dict[str, Any]], bool]:
        if part == "all":
            return lambda r: True
        members = pooled.get(part, {part})
        return lambda r: r["split"] in members

    extra = [m for m in methods if m not in ("default", "rules")]
    print(
        "| part | items (relabelled) | default wrong | default right | rules wrong "
        "| rules right | towns, default | towns, rules |"
        + "".join(f" {m} wrong | {m} right |" for m in extra)
    )
    print("|---|---|---|---|---|---|---|---|" + "---|---|" * len(extra))
    for part in [*(s for s in SPLITS if s is not None), *pooled, "all"]:
        sel = selector(part)
        got: dict[tuple[str, str], Scores] = {}
        for name, gp in methods.items():
            named = functools.partial(text_names_country, gp.gazetteer)
            for conv, labelled in (("speaker", rows), ("subject", alt)):
                sub = [r for r in labelled if sel(r)]
                got[name, conv] = score(lambda t, s, gp=gp: gp.locate(t, s).where, sub, named)
        n = sum(sel(r) for r in rows)
        k = sum(v for p, v in moved.items() if sel({"split": p}))

        def cell(name: str, num: str, den: str, got: dict[tuple[str, str], Scores] = got) -> str:
            a, b = got[name, "speaker"], got[name, "subject"]
            return f"{getattr(a, num)}/{getattr(a, den)} → {getattr(b, num)}/{getattr(b, den)}"

        for label, wrong, right, den in (
            ("", "country_wrong", "country_correct", "with_country"),
            (" named", "named_wrong", "named_correct", "named"),
        ):
            if label and part not in (*pooled, "all"):
                continue
            print(
                f"| {part}{label} | {n} ({k}) | {cell('default', wrong, den)} "
                f"| {cell('default', right, den)} | {cell('rules', wrong, den)} "
                f"| {cell('rules', right, den)} | {cell('default', 'place_correct', 'with_place')} "
                f"| {cell('rules', 'place_correct', 'with_place')} |"
                + "".join(f" {cell(m, wrong, den)} | {cell(m, right, den)} |" for m in extra)
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
