"""The learned country re-ranker of the eighth round (``newsalert.geo.rerank``).

Not wired into ``load_geoparser`` (leave-one-part-out did not show it better than the
rules: bench/RESULTS.md, "Locations, eighth round"); measured with ``bench/geo.py
--rerank``. These tests keep the measured candidates loadable and harmless.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newsalert.geo import Geoparser
from newsalert.geo.mentions import find_mentions
from newsalert.geo.rerank import FEATURES, Reranker, candidates, load_reranker
from newsalert.geo.resolve import choose_event, resolve
from tests.test_geo import seed

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("geo_rerank_lr.json", "geo_rerank_lr_clues.json")


def test_the_package_ships_no_weights() -> None:
    assert load_reranker() is None


def test_weights_for_other_features_are_refused() -> None:
    d = Reranker(tuple(0.0 for _ in FEATURES), 0.0).as_dict()
    d["features"] = d["features"][:-1]
    with pytest.raises(ValueError):
        Reranker.from_dict(d)


def test_candidates_are_the_resolved_countries_and_other_readings(geo: Geoparser) -> None:
    g = geo.gazetteer
    text = "Protesters marched in Jordan on Friday against the government."
    resolved = resolve(g, find_mentions(g, "", text), None)
    cands = candidates(g, resolved, choose_event(g, resolved))
    assert cands[0].country == "JO" and cands[0].features[FEATURES.index("rules_choice")] == 1.0
    assert all(len(c.features) == len(FEATURES) for c in cands)
    assert len({c.country for c in cands}) == len(cands) > 1  # Jordan, Minnesota and others


def test_a_given_country_is_chosen_with_its_own_place(geo: Geoparser) -> None:
    g = geo.gazetteer
    text = "Serbian police entered Banjska, a village in northern Kosovo, after the attack."
    resolved = resolve(g, find_mentions(g, "", text), None)
    forced = choose_event(g, resolved, country="RS")
    assert forced.place is not None and g.country[forced.place] == "RS"
    assert choose_event(g, resolved, country="ZZ") == choose_event(g, resolved)


def test_a_silent_model_keeps_the_rules(geo: Geoparser) -> None:
    flat = Geoparser(geo.gazetteer, Reranker(tuple(0.0 for _ in FEATURES), 0.0))
    title, body = seed()
    assert flat.locate(title, body).where == geo.locate(title, body).where


@pytest.mark.parametrize("name", CANDIDATES)
def test_the_measured_candidates_keep_the_seed_article_at_banjska(
    geo: Geoparser, name: str
) -> None:
    model = load_reranker(ROOT / "bench" / name)
    assert model is not None
    learned = Geoparser(geo.gazetteer, model)
    title, body = seed()
    for args in ((title, body), (title, body[:1500])):
        where = learned.locate(*args).where
        assert where is not None and (where.place, where.country) == ("Banjska", "XK")
