"""The geoparser's fourteenth round of issue 17: realistic sentences, none of them a
labelled item's (bench/RESULTS.md, "Locations, fourteenth round"). Asserted with the rules
alone and with the default; the rule was written from seen items only."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_troops_to_be_sent_abroad_are_decided_at_home(geo: Geoparser, geo_rules: Geoparser) -> None:
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
        assert country(gp, "", debated) == "CA", debated
        # troops sent abroad are placed where they go under the subject convention (the
        # default with the re-ranker, twenty-second round); the rules alone keep the
        # decision at home
        want = "ML" if gp.reranker is not None else "DE"
        assert country(gp, "", decided) == want, decided
        assert country(gp, "", operation) == "ML", operation
        assert country(gp, "", sent) == "ML", sent
