"""The geoparser's sixteenth round of issue 17: realistic sentences, none of them a
labelled item's or a corpus item's (bench/RESULTS.md, "Locations, sixteenth round").
Asserted with the rules alone and with the default unless a comment says otherwise; each
changed case fails on main's code (964b9ea), each negative on the guard's first form or
on a guard that reads too much."""

from __future__ import annotations

import pytest

from newsalert.geo import Geoparser
from tests.georead import country, where


def test_troops_prefilter_reads_a_capitalised_first_word(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # the title's "Troops" missed the lowercase prefilter; since the twenty-seventh round
    # troops to be moved somewhere go there (the subject convention), so the prefilter's
    # reading shows with the rules alone as IQ (GB before it); the default still weighs the
    # LONDON dateline and the British government above it (GB, as before)
    title = "Troops to be moved into Iraq under British plan"
    summary = "LONDON - The British government agreed to a request for more soldiers."
    assert country(geo_rules, title, summary) == "IQ"
    assert country(geo, title, summary) == ("GB" if geo.reranker is not None else "IQ")
    # without the capitalised troops word the dateline's country stays
    assert country(geo_rules, "Plan agreed under British request", summary) == "GB"


def test_turning_down_a_plea_is_a_statement_at_home(geo: Geoparser, geo_rules: Geoparser) -> None:
    # a refusal opening the lead is the refuser's news, as "rejects" is (main: HT, SD, ML);
    # the subject convention (twenty-second round) would say where the troops would have
    # gone: the shipped weights (tune-held10) keep the refuser, as the rules do
    for text, cc in (
        ("Canada turns down plea for more troops to protect UN staff in Haiti.", "CA"),
        ("Japan has rebuffed a request for troops to guard aid convoys in Sudan.", "JP"),
        ("Germany spurned a French proposal for a joint force in Mali.", "DE"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text


def test_a_place_naming_the_site_of_the_event(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "in/outside a <place> <site>": main gave the actor's or the victim's country
    for text, cc in (
        ("Israeli forces demolished three houses in a Jenin refugee camp on Monday.", "PS"),
        ("A Briton was shot dead outside a Kuwaiti shopping mall on Friday.", "KW"),
        ("A French tourist was stabbed in a Bangkok hotel, police said.", "TH"),
    ):
        for gp in (geo, geo_rules):
            assert country(gp, "", text) == cc, text
    # a hotel brand named after a family is no small town (Hilton, Australia)
    brand = (
        "Kenya's government warned of a possible attack in Tanzania, possibly at a Hilton hotel."
    )
    for gp in (geo, geo_rules):
        assert country(gp, "", brand) == "TZ"


def test_a_landmark_before_the_town_that_places_it(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Victoria station, central Manchester": main read Victoria as Hong Kong's
    text = "A man was stabbed at Victoria station, central Manchester, on Saturday night."
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == ("GB", "Manchester")


def test_a_capitalised_direction_word_before_a_town(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Central" is a town's name too; it made "Mogadishu" a surname on main (no location)
    text = "A car bomb exploded in Central Mogadishu on Monday, killing five."
    # "Central America" is a region, not the United States ("America")
    region = "The country is the first in Central America to allow same-sex couples to marry."
    for gp in (geo, geo_rules):
        assert where(gp, "", text) == ("SO", "Mogadishu")
        assert country(gp, "Belize marks first same-sex weddings", region) == "BZ"


def test_a_condolence_message_is_the_senders_news(geo: Geoparser, geo_rules: Geoparser) -> None:
    # data/README.md: a condolence abroad is the speaker's country (main's rules: PK)
    sent = "The Emir of Qatar sent condolences to Pakistan after the Peshawar school attack."
    # no sender, or the bombing is the lead: the event's place as before
    no_sender = "Condolences poured in after the bombing in Kabul killed 40 people."
    later = "A car bomb killed 12 in Baghdad. Iran sent its condolences to the Iraqi government."
    # a dateline is the reporter's place, no sender (the guard's first form gave CA only)
    dateline = (
        "OTTAWA (CP) - The minister explained why he did not send condolences on the death "
        "of the leader."
    )
    for gp in (geo, geo_rules):
        assert country(gp, "", sent) == "QA"
        assert where(gp, "", no_sender) == ("AF", "Kabul")
        assert where(gp, "", later) == ("IQ", "Baghdad")
        assert where(gp, "", dateline) == ("CA", "Ottawa")


def test_a_possible_attack_has_no_place_yet(geo: Geoparser, geo_rules: Geoparser) -> None:
    text = (
        "Greek nationalist leader Nikos Papas urged Egypt to stand against a possible "
        "US-led attack on Syria, a news agency reported."
    )
    done = "Israeli jets carried out strikes on Syrian army positions near Damascus."
    if geo.reranker is not None:
        # the speaker's (main: SY), with the speaker- and the subject-trained (tune-held10)
        # weights; the rules alone still give the target, the only country named with no
        # actor's flag (the subject convention's reading)
        assert country(geo, "", text) == "GR"
    assert country(geo_rules, "", text) == "SY"
    for gp in (geo, geo_rules):
        assert where(gp, "", done) == ("SY", "Damascus")


@pytest.mark.xfail(
    strict=True,
    reason="the subject-trained re-ranker (twenty-second round) gives SO, as the rules alone",
)
def test_a_countrys_name_before_capital_names_its_capital(geo: Geoparser) -> None:
    title = "Kenya capital under curfew for second day"
    summary = (
        "A curfew imposed to prevent riots over the killing of 30 Kenyan workers in Somalia "
        "entered its second day on Monday."
    )
    if geo.reranker is None:
        pytest.skip("the rules alone still weigh the killing 'in Somalia' above the title")
    assert country(geo, title, summary) == "KE"  # main: SO


def test_a_feeds_time_stamp_before_the_dateline(geo: Geoparser, geo_rules: Geoparser) -> None:
    # The Straits Times' form: main read no dateline after the stamp (no location)
    text = "May 30, 2020 5:00 PM KUALA LUMPUR - Floods hit the city on Saturday morning."
    for gp in (geo, geo_rules):
        assert where(gp, "Floods", text) == ("MY", "Kuala Lumpur")
