"""The geoparser's sixth round of issue 17 (statements at home, colon datelines,
landmarks): one realistic sentence per rule, none of them a labelled item's (README,
"Locations")."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_a_statement_or_decision_opening_the_lead_is_made_at_home(geo: Geoparser) -> None:
    assert (
        country(geo, "", "Norway on Monday rejected a request to extradite a Kenyan editor.")
        == "NO"
    )
    # a statement about another country's election: the rules alone place it at home, the
    # default with the re-ranker at its subject (the subject convention, twenty-second round)
    chile = "Chile says it will not recognise the election in Venezuela."
    assert country(geo, "", chile) == ("VE" if geo.reranker is not None else "CL")
    assert (
        country(
            geo,
            "",
            "The Peruvian government declared a state of emergency in a region it said Bolivian smugglers control.",
        )
        == "PE"
    )
    assert (
        country(
            geo,
            "",
            "Indian Prime Minister Narendra Modi has accepted an invitation to visit Brazil next year.",
        )
        == "IN"
    )
    # aid suspended goes to the recipient under the subject convention (twenty-sixth
    # round; CA, the speaker's reading, until then)
    assert country(geo, "Canada suspends aid to Haiti", "") == "HT"


def test_a_decision_in_response_to_an_event_abroad_is_placed_at_the_event(geo: Geoparser) -> None:
    assert (
        country(geo, "", "Japan suspended flights to Indonesia after a volcano erupted in Bali.")
        == "ID"
    )


def test_a_statement_later_in_the_text_is_still_a_voice(geo: Geoparser) -> None:
    assert (
        country(
            geo,
            "",
            "Rebels shelled the town of Aleppo overnight, killing six. Turkey said it was alarmed.",
        )
        == "SY"
    )


def test_a_colon_dateline_naming_a_city_is_read(geo: Geoparser) -> None:
    w = geo.locate(
        "Flood toll rises", "LAHORE: Rescue teams pulled 12 bodies from the river on Sunday."
    ).where
    assert w is not None and (w.country, w.place) == ("PK", "Lahore")


def test_a_column_label_with_a_colon_is_no_dateline(geo: Geoparser) -> None:
    assert (
        country(geo, "Why we should all slow down", "COMMENT: Life is too short to rush.") is None
    )
    assert country(geo, "", "EXCLUSIVE: The singer opens up about her new album.") is None


def test_a_demonym_before_a_word_for_a_conflict_or_ground_is_the_scene(geo: Geoparser) -> None:
    assert country(geo, "Turkey deepens role in Yemeni war", "") == "YE"
    assert (
        country(geo, "", "A Russian trawler was seized after it strayed into Norwegian waters.")
        == "NO"
    )
    # "coast guard": an institution, not the scene; the waters are
    assert (
        country(geo, "", "Vietnamese coast guard ships rammed a fishing boat in Indonesian waters.")
        == "ID"
    )


def test_a_town_named_as_a_sponsor_is_no_place(geo: Geoparser) -> None:
    # "Arab" is a town in Alabama; "Auckland-based" still says where a firm is
    w = geo.locate("", "Canada on Monday rejected an Arab-backed motion at the assembly.").where
    assert w is not None and (w.country, w.precision) == ("CA", "country")
    w = geo.locate("", "Auckland-based software firm Xero reported a loss.").where
    assert w is not None and w.place == "Auckland"
