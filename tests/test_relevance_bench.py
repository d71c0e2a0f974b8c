"""The relevance measurement scripts (bench/relevance_oof.py, bench/relevance_compare.py):
their candidate features and the weighted stream metrics they compare models with."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from newsalert import classifier

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # relevance_oof imports relevance_compare
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weighted_metrics_weigh_each_item_by_what_it_stands_for() -> None:
    rc = _bench("relevance_compare")
    y = np.array([1, 1, 0, 0])
    flagged = np.array([True, False, True, False])
    # unweighted: P 0.5, R 0.5; the missed positive stands for 9 items, the false alarm 3
    p, r, f1 = rc._weighted(y, flagged, np.array([1.0, 9.0, 3.0, 1.0]))
    assert (p, r) == (0.25, 0.1)
    assert abs(f1 - 2 * 0.25 * 0.1 / 0.35) < 1e-12
    assert rc._weighted(y, np.zeros(4, bool), np.ones(4))[2] == 0.0


def test_candidate_cue_block_keeps_the_shipped_columns_first() -> None:
    oof = _bench("relevance_oof")
    docs = [
        "Ten rebels surrendered to the army in exchange for an amnesty",
        "Man stabbed his wife at home",
        "",
    ]
    fn = oof.make_cues(("settlement", "individual"), (("violence", "individual"),))
    got = fn(docs)
    shipped = classifier._cue_dense(docs, classifier._CUE_INDEX, classifier.CUE_SCALE)
    assert np.array_equal(got[:, : shipped.shape[1]], shipped)
    extra = got[:, shipped.shape[1] :]  # log counts (2), presence (2), one product
    assert extra.shape == (3, 5)
    assert extra[0, 0] > 0 and extra[0, 1] == 0  # surrendered, exchange, amnesty
    assert extra[1, 1] > 0 and extra[1, 4] > 0  # a single victim, with a violent act
    assert not extra[2].any()


def test_title_clause_flags() -> None:
    oof = _bench("relevance_oof")
    found, names = oof.title_kinds("Rebels and army sign truce")
    assert found == {"clause:talk_only", "clause:actors_no_act"} and set(found) <= set(names)
    assert "clause:act" in oof.title_kinds("Gunmen kill 12 in market attack")[0]
    assert "clause:says_no_act" in oof.title_kinds("Mayor says city will recover")[0]
    assert oof.title_kinds("")[0] == set()
