"""The geoparser's twelfth round of issue 17 (a force serving abroad, and the place it
withdrew from): one realistic sentence per rule, none of them a labelled item's
(bench/RESULTS.md, "Locations, twelfth round"). Each is asserted with the rules alone and
with the default."""

from __future__ import annotations

from newsalert.geo import Geoparser
from tests.georead import country


def test_police_peacekeepers_serve_abroad(geo: Geoparser, geo_rules: Geoparser) -> None:
    # "Ghana Police" once made the item Ghana's, an institution acting at home
    summary = (
        "A unit of 150 Ghana Police peacekeepers withdrew from South Sudan last month as the"
        " mission wound down, a spokesman said."
    )
    for gp in (geo, geo_rules):
        assert country(gp, "", summary) == "SS"
        # the police at home are still at home, wherever the suspects came from
        home = "Ghana Police arrested 12 Togolese men after a robbery, a spokesman said."
        assert country(gp, "", home) == "GH"


def test_the_place_a_force_withdrew_from_is_the_scene(geo: Geoparser, geo_rules: Geoparser) -> None:
    summary = "After the rebels withdrew from Kidal, soldiers found a mass grave near Gao."
    for gp in (geo, geo_rules):
        assert country(gp, "", summary) == "ML"
    done = "The Nigerian battalion withdrew from Sierra Leone on Friday, officials said."
    for gp in (geo, geo_rules):
        assert country(gp, "", done) == "SL"
        # a stated readiness to withdraw troops from a place goes to it under the subject
        # convention (twenty-seventh round: troops withdrawn go to the place they leave;
        # main until then gave the speaker, CA)
        intent = "Canada is willing to withdraw its troops from Mali if asked, officials said."
        assert country(gp, "", intent) == "ML"
