"""Score a geoparser against labelled items (``data/geo_eval.jsonl``).

Each row has ``title``, ``summary`` and the human-judged event location:
``country`` (ISO alpha-2 or null when the text does not say), ``place``, ``lat``,
``lon`` and ``in_gazetteer`` (whether that town is one the gazetteer has).

- ``country_accuracy``: share of items with a labelled country given that country.
- ``wrong_country``: share of items with a labelled country given another one.
- ``spurious``: share of items labelled "no location" that were given one.
- ``place_within_25km``: share of items naming a town the gazetteer has whose
  ``where`` is a place (not a region or country) within 25 km of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsalert.geo.distance import haversine_km
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
            "with_country": self.with_country,
            "with_place": self.with_place,
            "unlocated_items": self.unlocated_items,
        }


def load_rows(path: Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def score(locate: Locator, rows: Iterable[dict[str, Any]]) -> Scores:
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
            if where is not None and where.country == truth:
                s.country_correct += 1
            else:
                miss = True
                if where is not None:
                    s.country_wrong += 1
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
