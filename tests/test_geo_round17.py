"""The geoparser's seventeenth round of issue 17: realistic sentences, none of them a
labelled item's or a corpus item's (bench/RESULTS.md, "Locations, seventeenth round").
Each changed case fails on main's code (0077e01) with the method its comment names;
the negatives keep what main gives."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country, where


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


def test_a_word_of_a_persian_or_urdu_compound_is_no_place(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "Dasht-e-Barchi", "Sar-e-Pul", "Shan-e-Mustafa": main read Dasht (IR), Sar or Pul
    # (CZ, GB) and Shan State (MM) out of the compound
    for text, cc in (
        ("A bomb exploded near a mosque in Dasht-e-Barchi, a Hazara district of Kabul.", "AF"),
        ("Militants stormed a police post near Sar-e-Pul, Afghan officials said.", "AF"),
        ("Supporters of Shan-e-Mustafa marched through Karachi.", "PK"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
    # a compound the gazetteer holds whole is still read whole
    for gp in (geo, geo_rules):
        assert country(gp, "", "Gunmen attacked a checkpoint outside Pul-i-Khumri.") == "AF"


def test_a_death_named_as_the_cause_places_the_death_not_the_protest(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "crowds gathered after the death of George Floyd in Minneapolis": main gave Minneapolis
    title = "Seattle crowds defy curfew"
    summary = "Police used pepper spray on crowds gathered after the death of George Floyd in Minneapolis."
    for gp in (geo, geo_rules):
        assert where(gp, title, summary) == ("US", "Seattle")
    # with no other place the death's town is still the answer (weighed less, not dropped)
    alone = "Protesters marched on Sunday over the killing of Breonna Taylor in Louisville."
    for gp in (geo, geo_rules):
        assert where(gp, "", alone) == ("US", "Louisville")
