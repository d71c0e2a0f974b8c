"""Name misreads of issue 17's geoparser (bench/RESULTS.md, "Locations: name misreads
(geoguards)"): a firm's, a unit's, a virus variant's, a storm's or a person's name read
as a town, a school's name read as its region, and "<Name> County, <state>" read as a
town of the name elsewhere. Realistic sentences, none of them a labelled item's or a
corpus item's; each changed case fails on main's code (cba569d) with both methods; the
negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_an_airline_named_after_a_town_is_the_firm(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Delta Air Lines": the firm, and so is the headline's "Delta" (main: Delta, BC)
    for title, summary in (
        (
            "Delta pilots approve pay deal",
            "Pilots at Delta Air Lines voted on Tuesday to accept a new contract.",
        ),
        ("", "Delta Air Lines will retire its oldest jets next year, the carrier said."),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == (None, None), summary
    # a town named in the item still places it
    text = "A Delta Air Lines jet skidded off the runway in Halifax on Monday."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "CA", text


def test_a_unit_a_model_and_a_variant_are_no_towns(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Delta Force", "the Delta variant": a unit's and a variant's names (main: Delta, BC)
    for text in (
        "A Delta Force team carried out the raid before dawn, officials said.",
        # a model's name and number before the machine (main: Delta, BC)
        "Engineers stacked the first stage of a Delta 2 rocket ahead of next month's launch.",
        "The Delta variant now accounts for most new cases, health officials said.",
    ):
        for gp in (geo, geo_rules):
            assert where(gp, "", text) == (None, None), text
    # a variant named after where it was found says nothing of the event's place
    # (main: Kent, Washington)
    for title, summary in (
        ("", "The Kent variant has now been found in 50 countries, the WHO said."),
        ("Kent variant spreads", "Scientists said the new strain was more transmissible."),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == (None, None), summary
    text = "Cases of the Kent variant doubled in Germany last week, officials said."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "DE", text
    # a country's force is left as it was ("Kosovo Force" is in Kosovo)
    text = "Kosovo Force troops patrolled the bridge in Mitrovica on Sunday."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "XK", text


def test_a_storm_s_name_is_no_town(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Hurricane Ivan" and the item's bare "Ivan" after it (main: Eyvān, Iran)
    for title, summary in (
        ("Refiners wait for Ivan", "Refiners said output would fall while Hurricane Ivan passed."),
        (
            "Insurers count the cost of Ivan",
            "Insurers said claims from hurricane Ivan could reach six billion dollars.",
        ),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == (None, None), summary
    # the storm's landfall still places it
    text = "Hurricane Ivan made landfall near Gulf Shores, Alabama, early on Thursday."
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == ("US", "Gulf Shores"), text


def test_a_first_name_before_a_surname_named_alone(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Barry Bonds ... Bonds": a person named in full, then by surname (main: Barry, Wales)
    text = (
        "Barry Bonds was walked four times on Sunday. Bonds said afterwards that the "
        "pitchers were afraid to face him."
    )
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == (None, None), text
    # a town's own body or site is no surname ("Barry Police ... Police said")
    text = (
        "A man was arrested in Barry after a stabbing, Barry Police said. Police said "
        "the victim was recovering."
    )
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "GB", text


def test_a_school_named_after_a_region_before_its_town(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "Hampshire College in Amherst": the school's town (main: Hampshire, England)
    text = "Students at Hampshire College in Amherst staged a sit-in on Monday."
    for gp in (geo, geo_rules):
        assert where(gp, "", text)[0] == "US", text
    # the school's name alone is left as it was
    text = "A fire broke out at Hampshire College on Monday."
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == where(gp, "", "A fire broke out at Hampshire on Monday.")


def test_a_county_and_its_state(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Essex County, New Jersey": the state, not Essex, Maryland (main: Maryland's Essex)
    text = "A man was shot dead in Essex County, New Jersey, on Sunday, police said."
    for gp in (geo, geo_rules):
        w = gp.locate("", text).where
        assert w is not None and (w.country, w.admin1) == ("US", "New Jersey"), text
    # a town of the name in the state is the county's: qualified as "Dallas, Texas" is
    text = "A man was shot dead in Dallas County, Texas, on Sunday, police said."
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == ("US", "Dallas"), text
