"""The geoparser's fourteenth round of issue 17: realistic sentences, none of them a
labelled item's (bench/RESULTS.md, "Locations, fourteenth round"). Asserted with the rules
alone and with the default; the rule was written from seen items only."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_troops_to_be_sent_abroad_are_placed_where_they_go(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # a decision or a debate at home on sending or using troops abroad: both were the
    # destination's on main
    debated = (
        "Canada's prime minister was accused of planning to use Canadian troops in Mali "
        "to win votes."
    )
    decided = (
        "Germany agreed on Tuesday to a request for German soldiers to be moved into northern Mali."
    )
    # troops sent, or serving, where the event is: the operation's place
    operation = "French troops in Mali killed 20 militants near Gao on Tuesday."
    sent = "France sent troops into northern Mali after the attack, the army said."
    for gp in (geo, geo_rules):
        # troops to be sent or used abroad are placed where they go under the subject
        # convention (twenty-seventh round; both were the home's, CA and DE, with the
        # rules, and CA with the default, before it)
        assert country(gp, "", debated) == "ML", debated
        assert country(gp, "", decided) == "ML", decided
        assert country(gp, "", operation) == "ML", operation
        assert country(gp, "", sent) == "ML", sent
