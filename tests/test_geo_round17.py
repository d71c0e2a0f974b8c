"""The geoparser's seventeenth round of issue 17: realistic sentences, none of them a
labelled item's or a corpus item's (bench/RESULTS.md, "Locations, seventeenth round").
Each changed case fails on main's code (0077e01) with the method its comment names;
the negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_officers_acting_on_people_in_their_hands_act_at_home(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "US authorities have deported an Irish businessman": the officers' country, not the
    # deportee's nationality or destination (main: MX with the default, SV and CN with
    # the rules alone)
    for text, cc in (
        (
            "Canadian authorities have deported a Mexican woman who lived in Toronto for ten years.",
            "CA",
        ),
        (
            "Mexican authorities have deported 300 migrants to El Salvador after a raid on a bus.",
            "MX",
        ),
        ("Thai authorities have deported 20 Uighurs to China.", "TH"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
    # troops act abroad: "US troops detained ..." is not a government at home
    raid = "US troops detained an Iraqi man in a raid near Baghdad."
    for gp in (geo, geo_rules):
        assert country(gp, "", raid) == "IQ"
