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

import sys

from geo_draw import main  # the draw itself, shared by the parts (bench/geo_draw.py)

if __name__ == "__main__":
    sys.exit(main(["held4", *sys.argv[1:]]))
