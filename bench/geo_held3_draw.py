"""Draw the items of ``data/geo_eval.jsonl``'s ``held3`` split (see data/README.md).

Stratified random draw (seed 23) of items in no other split of the labelled set (same
title and summary), to widen the outlets and regions beyond held2's May-June 2020 feeds:

* 45 items of ``../shared/data/stream_dev.jsonl`` (eleven outlets, at most 6 an outlet;
  up to 20 incidents or gray items), summary of 20-600 characters;
* 45 CASE 2021 event snippets of ``../shared/data/dev.jsonl`` (at most 5 an event type);
* 35 CAMEO sentences of ``../shared/data/train.jsonl`` (at most 10 a quad class);
* 35 titled AG News World items of ``../shared/data/train.jsonl`` (the AG test set);
* then 35 items of ``../shared/data/stream_train.jsonl`` from its seven outlets outside
  the US (at most 5 an outlet; up to 15 incidents or gray items), summary of 20-600
  characters (drawn last, so the first 160 stay as they were).

Prints one JSON object a line (id ``k000``-``k194``, title, summary, source, outlet),
to be labelled by hand before the geoparser is run on them.
"""

from __future__ import annotations

import sys

from geo_draw import main  # the draw itself, shared by the parts (bench/geo_draw.py)

if __name__ == "__main__":
    sys.exit(main(["held3", *sys.argv[1:]]))
