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


def test_a_name_before_a_firms_legal_form_is_the_firm_throughout(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "Google" is a GeoNames alternate name of Topeka, Kansas (kept out of the gazetteer
    # since the eighteenth round: the firm-form rule is tested here on its own merits)
    title = "Google shares slide as lockup ends"
    summary = "SEATTLE - Shares of Google Inc. fell 4 percent on Monday as early investors sold."
    for gp in (geo, geo_rules):
        assert where(gp, title, summary) == ("US", "Seattle")
        assert where(gp, "Google shares slide", "Google Inc. stock fell on Monday.") == (None, None)


def test_a_title_or_a_middle_initial_makes_a_town_name_a_person(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # Obama is a town in Japan, George one in South Africa
    summary = "Former President Obama urged graduates to vote, speaking at a virtual ceremony."
    for gp in (geo, geo_rules):
        assert where(gp, "", summary) == (None, None)
        text = "George W. Bush praised the troops; Bush spoke for twenty minutes."
        assert where(gp, "", text) == (None, None)


def test_a_dateline_with_its_country_and_a_date_or_a_colon(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    for gp in (geo, geo_rules):
        summary = "HERAT, Afghanistan, Nov 3 -- A roadside bomb killed two policemen on Wednesday."
        assert where(gp, "", summary) == ("AF", "Herāt")
        summary = "MOSUL, Iraq : A suicide bomber struck a police recruiting centre on Monday."
        assert where(gp, "", summary) == ("IQ", "Mosul")
