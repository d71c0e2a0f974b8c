"""Where each method places the seed article (issue 17), in three forms a feed carries.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python bench/geo_seed.py
    PYTHONPATH=src .venv/bin/python bench/geo_seed.py --rerank bench/geo_rerank_subject.json

Title + whole body, title + first paragraph (Kirby's concern over the Serbian troops on the
border, no Banjska), and title alone; the default (rules plus the packaged re-ranker) and
the hand rules alone (and the rules plus each ``--rerank`` weights file). Issue 17 wants the article "located in Kosovo, near Banjska".
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from newsalert.geo import Geoparser, load_geoparser  # noqa: E402
from newsalert.geo.distance import haversine_km  # noqa: E402
from newsalert.geo.rerank import load_reranker  # noqa: E402

BANJSKA = (42.9686, 20.7647)  # GeoNames, as tests/test_geo.py
SEED = ROOT / "tests" / "data" / "banjska-kosovo-2023.txt"


def forms() -> dict[str, tuple[str, str]]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    title = next(line for line in lines if line.startswith("The US asks Serbia"))
    body = "\n".join(lines[lines.index(title) + 2 :]).strip()
    first = body.split("\n\n")[0]
    return {
        "title + body": (title, body),
        "title + 1st paragraph": (title, first),
        "title": (title, ""),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rerank", type=Path, action="append", default=[], metavar="JSON", help="repeatable"
    )
    args = ap.parse_args()
    cache = Path(tempfile.gettempdir()) / "newsalert-geo-bench"
    g = load_geoparser(cache, False).gazetteer
    methods = {"default": load_geoparser(cache, None), "rules alone": load_geoparser(cache, False)}
    for path in args.rerank:
        methods[path.stem] = Geoparser(g, load_reranker(path))
    width = max(12, *(len(m) for m in methods))
    print(
        f"{'method':<{width}} {'form':<22} {'country':<7} {'place':<16} {'precision':<9} {'across':<6} km to Banjska"
    )
    for method, gp in methods.items():
        for form, (title, summary) in forms().items():
            w = gp.locate(title, summary).where
            if w is None:
                print(f"{method:<{width}} {form:<22} none")
                continue
            km = haversine_km(w.lat, w.lon, *BANJSKA)
            print(
                f"{method:<{width}} {form:<22} {w.country:<7} {w.place:<16} {w.precision:<9} "
                f"{w.across or '':<6} {km:,.0f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
