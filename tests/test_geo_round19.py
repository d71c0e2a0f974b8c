"""The geoparser's nineteenth round of issue 17: realistic sentences, none of them a
labelled item's or a corpus item's (bench/RESULTS.md, "Locations, nineteenth round").
Each changed case fails on main's code (b90cc60) with both methods; the negatives keep
what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_a_weapons_reach_is_not_the_event_place(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "a missile that could hit most cities in neighbouring India": the test is at home,
    # the country after "in" is only where the weapon could reach (main: that country)
    for text, cc in (
        (
            "North Korea test-fired a new ballistic missile that could reach most cities "
            "in neighbouring South Korea, officials said.",
            "KP",
        ),
        (
            "Pakistan unveiled a cruise missile capable of striking targets in India, "
            "its army said on Friday.",
            "PK",
        ),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
    # a strike that happened is where it happened
    for text, cc in (
        ("A missile hit a school in Kharkiv, Ukraine, killing three people.", "UA"),
        ("Rockets fired from Gaza struck homes in southern Israel on Monday.", "IL"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
