"""The geoparser's fifth round of issue 17 (wire datelines, small namesakes abroad,
national institutions): one realistic sentence per rule, none of them a labelled item's
(README, "Locations")."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import where


def test_a_bare_wire_dateline_is_the_known_city_not_a_namesake_the_context_favours(
    geo_rules: Geoparser,
) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # "U.S." in the text once pulled the dateline to Geneva, Illinois
    assert where(
        geo,
        "Iran nuclear talks resume",
        "GENEVA (Reuters) - Iranian and U.S. negotiators resumed talks on Tuesday, "
        "a U.S. official said, after a two-week pause.",
    ) == ("CH", "Geneva")
    assert where(
        geo,
        "U.S. relay team wins gold",
        "ATHENS (AP) - The U.S. women's relay team won gold on Saturday at the Olympic stadium.",
    ) == ("GR", "Athens")


def test_a_small_towns_dateline_keeps_the_context(geo: Geoparser) -> None:
    # "VICTORIA (CP) -" in a Canadian item: Victoria, British Columbia, not Hong Kong
    assert (
        where(
            geo,
            "",
            "Canadian Press - VICTORIA (CP) - The Canadian province's government will hold "
            "a byelection on Oct. 28.",
        )[0]
        == "CA"
    )


def test_a_byline_before_the_dateline_is_a_person(geo: Geoparser) -> None:
    assert where(
        geo,
        "",
        "By ELLEN PARKER HOUSTON (AP) -- Oil companies said on Tuesday they would raise "
        "refinery output before the hurricane season.",
    ) == ("US", "Houston")


def test_a_date_before_a_country_does_not_place_it(geo: Geoparser) -> None:
    # "on Tuesday, U.S. officials": a weekday, not a place the gazetteer lacks
    assert where(
        geo,
        "Diplomats meet on ceasefire",
        "BEIRUT (AP) — Lebanese and Israeli officers met at the border on Tuesday, "
        "U.S. officials said, and agreed to extend the truce.",
    ) == ("LB", "Beirut")


def test_a_dateline_keeps_its_place_when_the_lead_only_names_a_country_later(
    geo_rules: Geoparser,
) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # the dateline abroad gives way to the lead's subject, not to any country it names
    assert where(
        geo,
        "",
        "TOKYO (Reuters) - Japanese shares rose on Monday as exporters gained on a weaker "
        "yen and strong demand from the United States.",
    ) == ("JP", "Tokyo")
    assert (
        where(
            geo,
            "",
            "SEOUL (Reuters) - North Korea has test-fired two short-range missiles, South "
            "Korea's military said on Sunday.",
        )[0]
        == "KP"
    )
    # a visit's destination is where the visitor is
    assert (
        where(
            geo,
            "",
            "BERLIN (AFP) - Chancellor Angela Merkel said on Monday that the state visit she "
            "was making to India would bring contracts for German firms.",
        )[0]
        == "IN"
    )


def test_indonesias_provinces_are_regions(geo: Geoparser) -> None:
    # Bali was missing (Indonesia's ISO first level is its "geographical units"), so a
    # Bāli of 300,000 in India was the only candidate
    assert where(geo, "Tourist dies after scooter crash in Bali")[0] == "ID"
    assert where(geo, "", "Two men were caned in Aceh on Friday for gambling.")[0] == "ID"


def test_a_small_town_abroad_named_bare_and_unsupported_is_a_name(geo: Geoparser) -> None:
    # Sirius is a Russian town of 14,000; here a radio company
    assert where(geo, "Sirius adds subscribers", "Sirius said it signed up more listeners.") == (
        None,
        None,
    )
    # a town's own police act there
    assert where(geo, "", "Naroda Police arrested three men after the clash on Sunday.")[0] == "IN"
    # "in" is evidence enough
    assert where(geo, "", "Two people were hurt in a fire in Sirius on Sunday.")[0] == "RU"


def test_a_national_government_abroad_does_not_outweigh_the_place_named(
    geo: Geoparser,
) -> None:
    assert (
        where(
            geo,
            "Activists arrested",
            "Police in Kowloon arrested six activists on Monday after the Chinese government "
            "and Chinese officials condemned the protest.",
        )[0]
        == "HK"
    )
    assert (
        where(
            geo,
            "Talks to resume",
            "Peace talks between the Sudanese government and rebel groups will resume in the "
            "Nigerian capital, Abuja, on Monday.",
        )[0]
        == "NG"
    )


def test_a_city_states_voice_is_at_home(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    assert (
        where(
            geo,
            "Protests flare as Beijing's law looms",
            "Hong Kong's leader said the security law written by the Chinese government "
            "would be enforced from July.",
        )[0]
        == "HK"
    )


def test_a_datelines_town_places_the_item_against_a_lone_village_abroad(geo: Geoparser) -> None:
    # Olympic is a Hong Kong town of 19,000; the dateline puts the item in Greece
    assert where(
        geo,
        "Sprinter wins Olympic gold",
        "ATHENS (Reuters) - An American sprinter won the Olympic 100 meters on Sunday.",
    ) == ("GR", "Athens")
