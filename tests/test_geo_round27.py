"""Misreads guarded in issue 17's twenty-seventh round (bench/RESULTS.md, "Locations,
twenty-seventh round"), read under the subject convention the project has used since the
twenty-second round (data/README.md: troops sent, withdrawn or refused go to the place they
are sent to or withdrawn from). Realistic sentences, none of them a labelled item's or a
corpus item's; each test has a case failing on main's code (650e3b1) with both methods
unless a comment says which; the negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_readiness_to_move_troops_from_or_to_a_place_is_placed_there(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # main: JP, TR, CA, BR, DE with both (the government's stated readiness at home)
    for text, expected in (
        ("Japan is ready to withdraw its soldiers from Iraq once the mission ends.", "IQ"),
        ("Turkey is prepared to pull out its troops from Cyprus, the minister said.", "CY"),
        ("Canada is willing to send troops to Haiti.", "HT"),
        ("Brazil is not willing to withdraw its peacekeepers from Haiti.", "HT"),
        ("Germany is ready to reduce its troops in Afghanistan next year.", "AF"),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, "", text)[0] == expected, text
    # readiness with no named place, or to do something other than move troops, stays at
    # home, as on main
    for text, expected in (
        ("Colombia is ready to contribute troops.", "CO"),
        ("Norway is willing to talk to Sweden about the border.", "NO"),
        ("Chile is prepared to send a delegation to Peru.", "CL"),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, "", text)[0] == expected, text
