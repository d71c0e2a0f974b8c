"""The geoparser's eleventh round of issue 17 (a country after a full name; a dateline
whose dash was lost; a region named after its seat): one realistic sentence per rule,
none of them a labelled item's (bench/RESULTS.md, "Locations, eleventh round"). Each is
asserted with the rules alone and with the default."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_a_country_after_a_full_name_is_no_surname(geo: Geoparser, geo_rules: Geoparser) -> None:
    # the capitalised word before "Portugal" once made it part of a name
    title = "Angela Merkel Portugal recalls ambassador"
    for gp in (geo, geo_rules):
        assert where(gp, title) == ("PT", "Portugal")
        # one capitalised word before it is still read as a first name ("Rep. Steve Israel")
        assert where(gp, "Rep. Steve Israel said the bill would pass") == (None, None)


def test_a_dateline_and_its_country_with_no_dash(geo: Geoparser, geo_rules: Geoparser) -> None:
    summary = "KABUL, Afghanistan Is the capital safer than a year ago? Residents doubt it."
    for gp in (geo, geo_rules):
        assert where(gp, "", summary) == ("AF", "Kabul")
        # the words after the comma must be a country's whole name
        name_after = "LAGOS, Ahmed Bello Said he would run again."
        assert where(gp, "", name_after) != ("NG", "Lagos")


def test_a_region_named_after_its_seat_is_the_town(geo: Geoparser, geo_rules: Geoparser) -> None:
    # Garissa county (205,000) and its seat, Garissa town (163,000)
    summary = "Gunmen threw a grenade into a bar in Garissa late on Saturday, police said."
    for gp in (geo, geo_rules):
        w = gp.locate("", summary).where
        assert w is not None and (w.country, w.place, w.precision) == ("KE", "Garissa", "place")
        # with the region's word after it the region stays
        county = "Gunmen attacked a police post in Garissa county on Saturday."
        w = gp.locate("", county).where
        assert w is not None and (w.country, w.precision) == ("KE", "admin1")
