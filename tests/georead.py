"""Reading a geoparser's answer in the geoparsing tests."""

from __future__ import annotations

from newsalert.geo import Geoparser


def where(geo: Geoparser, title: str, summary: str = "") -> tuple[str | None, str | None]:
    """The event's (country, place), or (None, None) when the text says nowhere."""
    w = geo.locate(title, summary).where
    return (w.country, w.place) if w else (None, None)


def country(geo: Geoparser, title: str, summary: str = "") -> str | None:
    return where(geo, title, summary)[0]
