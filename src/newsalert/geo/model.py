"""The values the geoparser returns: a located place, a mention, a result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Precision = Literal["place", "admin1", "country"]


@dataclass(frozen=True, slots=True)
class Location:
    """A place on the map: ``country`` is ISO 3166-1 alpha-2 (``XK`` for Kosovo).

    ``across`` is set when the event is at a border the text names as another
    country's ("Serbia masses troops on the Kosovo border": ``RS``, across ``XK``):
    the other side, which a desk there must hear about too.
    """

    place: str
    country: str
    admin1: str | None
    lat: float
    lon: float
    precision: Precision
    across: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "place": self.place,
            "country": self.country,
            "admin1": self.admin1,
            "lat": round(self.lat, 4),
            "lon": round(self.lon, 4),
            "precision": self.precision,
        }
        if self.across:
            out["across"] = self.across
        return out

    @property
    def countries(self) -> tuple[str, ...]:
        """The event's country, and the one across the border it is at."""
        return (self.country, self.across) if self.across else (self.country,)


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
