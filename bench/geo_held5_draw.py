"""Draw the items of ``data/geo_eval.jsonl``'s ``held5`` split (see data/README.md).

Stratified random draw (seed 67) of items in no other split of the labelled set (same
title or summary), the same mix as ``held4``'s, drawn at the start of the third round of
issue 17, before its rules were made, to have a part never looked at against the
geoparser. The AG News World items come from the AG test set (as ``held3``'s; items
already drawn are left out). Prints one JSON object a line (id ``p000``-``p154``, title,
summary, source, outlet), to be labelled by hand before the geoparser is run on them.
"""

from __future__ import annotations

import sys

from geo_draw import main  # the draw itself, shared by the parts (bench/geo_draw.py)

if __name__ == "__main__":
    sys.exit(main(["held5", *sys.argv[1:]]))
