"""A subscriber's place filters: ``countries``, ``near`` zones and ``unlocated``.

Without ``countries`` or ``near`` every item passes. With them, an item passes when
its event is in a listed country, or in a zone: within ``radius_km`` of the zone's
centre (a town or region) and passing the zone's own ``categories`` and
``min_score``. An event located only to a country cannot be measured against a
radius: it passes a zone that lies in that country (a missed incident is worse than
an extra alert). An item whose text names no place passes when ``unlocated`` is
true, the default, for the same reason. An event at a border the text names as
another country's (``Location.across``: "Serbia masses troops on the Kosovo
border") passes that country's filters too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pycountry

from newsalert.config import SubscriberConfig, ZoneConfig
from newsalert.geo.distance import haversine_km
from newsalert.geo.model import Location

CountryAt = Callable[[float, float], str | None]  # the country a point lies in


@dataclass(frozen=True, slots=True)
class ZoneHit:
    zone: str
    km: float | None  # None: the event is only known to be in the zone's country


@dataclass(frozen=True, slots=True)
class Verdict:
    passes: bool
    zone: ZoneHit | None = None
    why: str = ""


class GeoFilter:
    """One subscriber's place filters, ready to apply."""

    def __init__(self, subscriber: SubscriberConfig, country_at: CountryAt | None = None) -> None:
        self.countries = frozenset(subscriber.countries)
        self.zones = subscriber.near
        self.unlocated = subscriber.unlocated
        self.active = bool(self.countries or self.zones)
        self._country_at = country_at
        # filled on first need: it loads the gazetteer
        self._zone_country: dict[str, str | None] | None = None

    def check(self, where: Location | None, score: float, category: str) -> Verdict:
        if not self.active:
            return Verdict(True, nearest_zone(self.zones, where))
        if where is None:
            return Verdict(
                self.unlocated, None, "no place named; unlocated: " + str(self.unlocated).lower()
            )
        hit = self._zone_hit(where, score, category)
        if hit is not None:
            return Verdict(True, hit, f"in zone {hit.zone}")
        if where.country in self.countries:
            return Verdict(True, nearest_zone(self.zones, where), f"in {where.country}")
        if where.across and where.across in self.countries:
            # "Serbia masses troops on the Kosovo border": Kosovo's desk hears of it
            return Verdict(
                True,
                nearest_zone(self.zones, where),
                f"in {where.country}, at the border with {where.across}",
            )
        return Verdict(False, None, f"{where.country} is outside the subscriber's places")

    def _zone_hit(self, where: Location, score: float, category: str) -> ZoneHit | None:
        best: ZoneHit | None = None
        for zone in self.zones:
            if zone.categories and category not in zone.categories:
                continue
            if zone.min_score is not None and score < zone.min_score:
                continue
            if where.precision == "country":
                if self._zone_country is None:
                    at = self._country_at
                    self._zone_country = {
                        z.name: (at(z.lat, z.lon) if at else None) for z in self.zones
                    }
                if self._zone_country.get(zone.name) in where.countries and best is None:
                    best = ZoneHit(zone.name, None)
                continue
            km = haversine_km(where.lat, where.lon, zone.lat, zone.lon)
            if km <= zone.radius_km and (best is None or best.km is None or km < best.km):
                best = ZoneHit(zone.name, km)
        return best


def nearest_zone(zones: tuple[ZoneConfig, ...], where: Location | None) -> ZoneHit | None:
    """The closest zone to a precisely located event, for "8 km from office"."""
    if where is None or where.precision == "country" or not zones:
        return None
    zone = min(zones, key=lambda z: haversine_km(where.lat, where.lon, z.lat, z.lon))
    return ZoneHit(zone.name, haversine_km(where.lat, where.lon, zone.lat, zone.lon))


def country_name(code: str) -> str:
    """``XK`` -> ``Kosovo``, ``IR`` -> ``Iran``: the short English name."""
    if code == "XK":
        return "Kosovo"
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def describe(where: Location, hit: ZoneHit | None = None) -> str:
    """``Banjska, Kosovo (8 km from mitrovica-office)``."""
    name = country_name(where.country)
    parts = [where.place] if where.precision != "country" and where.place != name else []
    if where.admin1 and where.admin1 not in parts and where.precision == "place":
        parts.append(where.admin1)
    text = ", ".join([*parts, name])
    if where.across:
        text += f", at the border with {country_name(where.across)}"
    if hit is not None and hit.km is not None:
        text += f" ({hit.km:.0f} km from {hit.zone})"
    elif hit is not None:
        text += f" (country only; zone {hit.zone} lies in it)"
    return text


def map_link(where: Location) -> str:
    """An OpenStreetMap link to the point, zoomed to the location's precision."""
    zoom = {"place": 12, "admin1": 8}.get(where.precision, 6)
    return (
        f"https://www.openstreetmap.org/?mlat={where.lat:.4f}&mlon={where.lon:.4f}"
        f"#map={zoom}/{where.lat:.4f}/{where.lon:.4f}"
    )
