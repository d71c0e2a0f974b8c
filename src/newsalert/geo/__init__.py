"""Offline geoparsing: where a news item's reported event happened."""

from newsalert.geo.geoparser import Geoparser, load_geoparser, shared_geoparser
from newsalert.geo.model import GeoResult, Location, Mention

__all__ = ["GeoResult", "Geoparser", "Location", "Mention", "load_geoparser", "shared_geoparser"]
