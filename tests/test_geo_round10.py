"""The geoparser's tenth round of issue 17 (a dateline after an outlet's tag; a name
seen as a person's or a firm's in one place of an item is one everywhere in it): one
realistic sentence per rule, none of them a labelled item's (bench/RESULTS.md,
"Locations, tenth round"). Each is asserted with the rules alone and with the default."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_a_dateline_after_an_outlets_tag(geo: Geoparser, geo_rules: Geoparser) -> None:
    summary = (
        "Los Angeles Times - KIRKUK, Iraq — Gunmen opened fire on a minibus carrying "
        "oil workers on Sunday, killing four, police said."
    )
    title = "Gunmen kill four oil workers (Los Angeles Times)"
    for gp in (geo, geo_rules):
        assert where(gp, title, summary) == ("IQ", "Kirkuk")
    summary = "SPACE.com - HOUSTON -- Engineers cleared the shuttle for launch on Friday."
    for gp in (geo, geo_rules):
        assert where(gp, "", summary) == ("US", "Houston")


def test_an_outlets_tag_before_an_ordinary_lead_is_no_dateline(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # the tag's dash is followed by a sentence, not by a capitals-only dateline
    summary = "AP - Police in Manila arrested three men after a bombing at a bus terminal."
    for gp in (geo, geo_rules):
        assert where(gp, "", summary) == ("PH", "Manila")
