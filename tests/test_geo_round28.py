"""Misreads guarded in issue 17's twenty-eighth round (bench/RESULTS.md, "Locations,
twenty-eighth round"). Realistic sentences, none of them a labelled item's or a corpus
item's; each test has a case failing on main's code (bf792de) with both methods unless a
comment says which; the negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_a_countrys_own_carrier_or_post_places_the_item_there(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # main: no location with both (the country's name read as a part of the firm's name)
    for title, summary, expected in (
        ("Kenya Airways to cut 600 jobs", "The carrier said losses had doubled.", "KE"),
        ("", "Canada Post workers walked off the job on Monday over pay.", "CA"),
        ("", "Malaysia Airlines will resume flights next month, the carrier said.", "MY"),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary)[0] == expected, summary
    # any other place named outweighs the firm's country, as on main
    for title, summary, expected in (
        ("", "A Kenya Airways jet crashed shortly after take-off from Douala, Cameroon.", "CM"),
        ("", "Fire destroyed a Delta Air Lines hangar in Atlanta on Sunday.", "US"),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary)[0] == expected, summary


def test_a_city_states_carrier_does_not_outweigh_a_dateline(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # found on the corpus: a city-state's firm weighed as its country would outweigh the
    # dateline (main gives the dateline's town; so does this branch)
    summary = (
        "PERTH - Singapore Airlines said on Monday it would sell its stake in a local carrier."
    )
    for gp in (geo, geo_rules):
        assert where(gp, "", summary)[0] == "AU", summary
