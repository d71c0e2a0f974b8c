"""The values the geoparser returns: a located place, a mention, a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Precision = Literal["place", "admin1", "country"]


@dataclass(frozen=True, slots=True)
class Location:
    """A place on the map: ``country`` is ISO 3166-1 alpha-2 (``XK`` for Kosovo)."""

    place: str
    country: str
    admin1: str | None
    lat: float
    lon: float
    precision: Precision

    def as_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "country": self.country,
            "admin1": self.admin1,
            "lat": round(self.lat, 4),
            "lon": round(self.lon, 4),
            "precision": self.precision,
        }


@dataclass(frozen=True, slots=True)
class Mention:
    """Where a place name occurs: ``field`` is ``title`` or ``summary``."""

    text: str
    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class GeoResult:
    """Where the reported event happened (``where``), every place mentioned
    (``places``, first mention first) and why ``where`` was chosen."""

    where: Location | None
    places: tuple[Location, ...]
    why: str
    mentions: tuple[Mention, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "where": self.where.as_dict() if self.where else None,
            "places": [p.as_dict() for p in self.places],
        }
