"""The geoparser's twentieth round of issue 17: realistic sentences, none of them a
labelled item's or a corpus item's (bench/RESULTS.md, "Locations, twentieth round").
Each changed case fails on main's code (c2b7769) with the shipped default; the
negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_a_called_off_visit_is_not_at_its_destination(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # the visit will not happen: the decision is made at home (main, default: the
    # destination, which the re-ranker reads as a visit's place)
    for text, cc in (
        (
            "Japan's prime minister has cancelled a planned visit to Australia after "
            "deadly floods hit Kyushu.",
            "JP",
        ),
        (
            "Kenya's president called off his state visit to Nigeria as protests spread "
            "across Nairobi.",
            "KE",
        ),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
    # a visit that happens is where the visitor is
    for text, cc in (
        ("Prince Charles began a four-day visit to India on Monday.", "IN"),
        ("The Pope arrived on Friday for a visit to Lebanon, his first since the war.", "LB"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
