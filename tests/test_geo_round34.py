"""Misreads guarded in issue 17's thirty-fourth round (bench/RESULTS.md, "Locations,
thirty-fourth round"). Realistic sentences, none of them a labelled item's or a corpus
item's; each test has a case failing on main's code (78fd21a) with both methods unless a
comment says which; the negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_a_dateline_run_on_into_its_own_country_places_the_event_in_its_town(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # main: "CITY Country verb ..." (the wire's dash and comma lost) was no dateline, so
    # only the country was given
    for title, summary, expected in (
        (
            "Jordan holds suspects",
            "AMMAN Jordan arrested three men on Monday over a plot against hotels.",
            ("JO", "Amman"),
        ),
        (
            "",
            "CAIRO Egypt said on Tuesday it would reopen its border crossing with Gaza.",
            ("EG", "Cairo"),
        ),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == expected, summary
    # negatives, as main with both methods: the capitals name no city of the country
    # that follows; a country's demonym or possessive is no run-on country
    for title, summary, expected in (
        ("", "WASHINGTON Iraq promised on Wednesday to free two women prisoners.", (None, None)),
        (
            "",
            "NATO Allies agreed on Friday to send more trainers to Afghanistan.",
            ("AF", "Afghanistan"),
        ),
        (
            "",
            "CAIRO Egyptian police arrested three men near the pyramids on Monday.",
            ("EG", "Egypt"),
        ),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == expected, summary


def test_a_rulers_name_before_of_and_a_country_is_no_town(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # main: "King Hassan of Morocco" read Hassan as the Indian town
    summary = "King Hassan of Morocco said today he would host talks between the two sides."
    for gp in (geo, geo_rules):
        assert where(gp, "", summary) == ("MA", "Morocco"), summary
    # negatives, as main with both methods: a town after "in", and a title with no "of"
    for title, summary, expected in (
        ("", "Floods killed nine people in Hassan in southern India on Monday.", ("IN", "Hassan")),
    ):
        for gp in (geo, geo_rules):
            assert where(gp, title, summary) == expected, summary
