"""Score a geoparser against labelled items (``data/geo_eval.jsonl``).

Each row has ``title``, ``summary`` and the human-judged event location:
``country`` (ISO alpha-2 or null when the text does not say), ``place``, ``lat``,
``lon`` and ``in_gazetteer`` (whether that town is one the gazetteer has).

- ``country_accuracy``: share of items with a labelled country given that country.
- ``wrong_country``: share of items with a labelled country given another one.
- ``spurious``: share of items labelled "no location" that were given one.
- ``place_within_25km``: share of items naming a town the gazetteer has whose
  ``where`` is a place (not a region or country) within 25 km of it.
- ``country_accuracy_named``, ``wrong_country_named``: the same over the items
  whose text names the labelled country: its name, an alias or demonym, or a place
  within 25 km of the labelled one (``text_names_country``). Items such as "Trump
  tells governors ..." are labelled US by a reader but name no place.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsalert.geo.distance import haversine_km
from newsalert.geo.gazetteer import KIND_COUNTRY, Gazetteer
from newsalert.geo.mentions import find_mentions
from newsalert.geo.model import Location

PLACE_RADIUS_KM = 25.0
Locator = Callable[[str, str], Location | None]


@dataclass
class Scores:
    items: int = 0
    with_country: int = 0
    country_correct: int = 0
    country_wrong: int = 0
    unlocated_items: int = 0
    spurious: int = 0
    with_place: int = 0
    place_correct: int = 0
    named: int = 0
    named_correct: int = 0
    named_wrong: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)

    def ratio(self, num: int, den: int) -> float:
        return num / den if den else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "country_accuracy": self.ratio(self.country_correct, self.with_country),
            "wrong_country": self.ratio(self.country_wrong, self.with_country),
            "spurious": self.ratio(self.spurious, self.unlocated_items),
            "place_within_25km": self.ratio(self.place_correct, self.with_place),
            "country_accuracy_named": self.ratio(self.named_correct, self.named),
            "wrong_country_named": self.ratio(self.named_wrong, self.named),
            "named": self.named,
            "with_country": self.with_country,
            "with_place": self.with_place,
            "unlocated_items": self.unlocated_items,
        }


def load_rows(path: Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def text_names_country(gazetteer: Gazetteer, row: dict[str, Any]) -> bool:
    """Whether the item's text names the labelled country (see the module doc)."""
    cc = row.get("country")
    if not cc:
        return False
    g = gazetteer
    for m in find_mentions(g, row.get("title") or "", row.get("summary") or ""):
        for p in g.places_of(m.key_id):
            if g.country[p] != cc:
                continue
            if g.kind[p] == KIND_COUNTRY:
                return True
            lat, lon = row.get("lat"), row.get("lon")
            if lat is not None and haversine_km(g.lat[p], g.lon[p], lat, lon) <= PLACE_RADIUS_KM:
                return True
    return False


def score(
    locate: Locator,
    rows: Iterable[dict[str, Any]],
    named: Callable[[dict[str, Any]], bool] | None = None,
) -> Scores:
    s = Scores()
    for row in rows:
        s.items += 1
        where = locate(row.get("title") or "", row.get("summary") or "")
        truth = row.get("country")
        miss = False
        if truth is None:
            s.unlocated_items += 1
            if where is not None:
                s.spurious += 1
                miss = True
        else:
            s.with_country += 1
            right = where is not None and where.country == truth
            wrong = where is not None and where.country != truth
            s.country_correct += right
            s.country_wrong += wrong
            miss = not right
            if named is not None and named(row):
                s.named += 1
                s.named_correct += right
                s.named_wrong += wrong
        if row.get("place") and row.get("in_gazetteer") and row.get("lat") is not None:
            s.with_place += 1
            if (
                where is not None
                and where.precision == "place"
                and haversine_km(where.lat, where.lon, row["lat"], row["lon"]) <= PLACE_RADIUS_KM
            ):
                s.place_correct += 1
            else:
                miss = True
        if miss:
            s.misses.append({"id": row.get("id"), "truth": (truth, row.get("place")), "got": where})
    return s
