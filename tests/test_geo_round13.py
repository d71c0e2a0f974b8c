"""The geoparser's thirteenth round of issue 17: one realistic sentence per rule, none of
them a labelled item's (bench/RESULTS.md, "Locations, thirteenth round"). Each is asserted
with the rules alone and with the default; each rule was written from seen items only."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country, where


def test_aid_given_goes_to_the_recipient(geo: Geoparser, geo_rules: Geoparser) -> None:
    # the donor's name opening the sentence once made these the donor's (with the default)
    funding = "Norway has provided 40 million kroner in humanitarian funding to Somalia this year."
    relief = "Japan gave emergency relief supplies to Mozambique after the cyclone."
    # aid stopped is a measure aimed at the recipient, placed there by the subject
    # convention (data/README.md: "aid given or suspended"; the twenty-sixth round: this
    # asserted NO, the speaker's reading, until then); aid only offered is an intent at home
    stopped = "Norway suspended its development aid to Somalia, the foreign ministry said."
    offered = "Japan is ready to provide assistance to Mozambique, the minister said."
    for gp in (geo, geo_rules):
        assert country(gp, "", funding) == "SO"
        assert country(gp, "", relief) == "MZ"
        assert country(gp, "", stopped) == "SO"
        assert country(gp, "", offered) == "JP"
    # a body's name after "to" is no recipient place ("University" is a town somewhere)
    grant = "The foundation has awarded a grant to the University of Arkansas at Pine Bluff."
    assert country(geo, "", grant) == "US"


def test_a_small_town_a_verb_follows_is_a_person(geo: Geoparser, geo_rules: Geoparser) -> None:
    # alone in its country and followed by a verb, a town's name is a clause's subject:
    # a person or a body far more often than the place (each was located on main)
    people = (
        "Supporters said they hoped Obama would sign the bill before the recess.",
        "Observers said Bolton had written the memo months earlier.",
        "Analysts said Nelson had little chance of winning the nomination.",
    )
    # a place as the subject of what places do, a copula, or after "residents of"
    places = (
        ("Solingen held a memorial service for the victims on Sunday.", "DE"),
        ("Residents of Kramatorsk left flowers at the railway station on Tuesday.", "UA"),
        ("Mosman is not Newtown, the council said.", "AU"),
    )
    for gp in (geo, geo_rules):
        for summary in people:
            assert country(gp, "", summary) is None, summary
        for summary, cc in places:
            assert country(gp, "", summary) == cc, summary


def test_a_capital_the_inside_a_sentence_opens_a_venue(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # "The Grove" (a Los Angeles mall) was Grove, a town, on main
    venue = "Police dispersed a crowd near The Grove in Los Angeles on Saturday."
    bare = "Fans gathered outside The Grove on Saturday night, police said."
    for gp in (geo, geo_rules):
        assert where(gp, "", venue) == ("US", "Los Angeles")
        assert country(gp, "", bare) is None
        # a place whose name holds "The", and a country's, stay places
        assert country(gp, "", "Judges in The Hague ruled on the case on Tuesday.") == "NL"
        assert country(gp, "", "Floods hit the capital of The Gambia on Monday.") == "GM"
