"""Misreads guarded in issue 17's twenty-seventh round (bench/RESULTS.md, "Locations,
twenty-seventh round"), read under the subject convention the project has used since the
twenty-second round (data/README.md: troops sent, withdrawn or refused go to the place they
are sent to or withdrawn from), whether a government states its readiness to move them or
troops are to be sent, used or kept somewhere. Realistic sentences, none of them a labelled item's or a
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


def test_troops_to_be_sent_used_or_kept_somewhere_are_placed_there(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # main: ES with both (a debate at home, the speaker's reading)
    text = "Spain's defence minister was accused of planning to use Spanish troops in Lebanon to win votes."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "LB"
    # main's rules: CA, Ottawa (the default was right)
    text = "Ottawa plans to send 300 more troops to Haiti, the minister said."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "HT"
    # people other than troops to be moved somewhere stay as on main
    text = (
        "The Dutch cabinet agreed to a request for more police officers to be moved into The Hague."
    )
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == ("NL", "The Hague")
