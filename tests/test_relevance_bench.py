"""The relevance measurement scripts (bench/relevance_oof.py, bench/relevance_compare.py):
their candidate features and the weighted stream metrics they compare models with."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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


def test_registrable_domain_and_host_flags() -> None:
    oof = _bench("relevance_oof")
    rd = oof.registrable_domain
    assert rd("https://www.dailymail.co.uk/news/article-1.html") == "dailymail.co.uk"
    assert rd("https://edition.cnn.com/2020/06/01/us/x") == "cnn.com"
    assert rd("https://www.smh.com.au/world/x") == "smh.com.au"
    assert rd("https://www.youtube.com/watch?v=x") == "youtube.com"
    assert rd(None) == rd("") == rd("not a link") == ""

    class Row:
        def __init__(self, link: str | None) -> None:
            self.link = link

    rows = [Row("https://www.bbc.co.uk/news/x"), Row(None), Row("https://nytimes.com/a")]
    fn = oof.make_host(rows, shared=True)
    assert fn(None) == (set(), ("host:bbc.co.uk", "host:nytimes.com", "link:any"))
    assert fn("https://news.bbc.co.uk/y")[0] == {"host:bbc.co.uk", "link:any"}
    assert fn("https://example.org/z")[0] == {"link:any"}  # an outlet training never saw
    assert oof.make_host(rows)("https://example.org/z")[0] == set()


def test_recency_rows() -> None:
    oof = _bench("relevance_oof")
    docs = [
        "At least 12 people were killed in a bombing in Kabul on Sunday at 3 a.m.",
        "Why the legacy of the riots still matters: an analysis",
        "",
    ]
    got = oof.recency_rows(docs)
    assert got.shape == (3, 10)
    when, timeless, count, clock = got[0, :4]
    assert when > 0 and count > 0 and clock > 0 and timeless == 0
    assert got[0, 8] > 0 and got[0, 9] > 0  # when and a count, each with a violent act
    assert got[1, 0] == 0 and got[1, 1] > 0 and got[1, 2] == 0
    assert not got[2].any()
    cue = oof.make_recency(groups=(0, 2))(docs)
    shipped = classifier._cue_dense(docs, classifier._CUE_INDEX, classifier.CUE_SCALE)
    assert cue.shape == (3, shipped.shape[1] + 2)
    assert np.array_equal(cue[:, : shipped.shape[1]], shipped)


def test_nb_ratio_scales_tfidf_columns_only() -> None:
    import scipy.sparse as sp

    oof = _bench("relevance_oof")
    # columns: a word only positives have, one only negatives have, one both have, one
    # no row has; then a cue column (not TF-IDF: kept at 1)
    x = sp.csr_matrix(
        np.array(
            [[0.5, 0, 0.2, 0, 3.0], [0.4, 0, 0.1, 0, 0], [0, 0.7, 0.3, 0, 1.0], [0, 0.2, 0.3, 0, 0]]
        )
    )
    y = np.array([1, 1, 0, 0])
    r = oof.nb_ratio()(x, y, 4)
    assert r[0] > 0 > r[1]
    assert r[0] == -r[1] and r[2] == r[3] == 0.0  # symmetric counts -> log ratio 0
    assert r[4] == 1.0
    norm = oof.nb_ratio(norm=True)(x, y, 4)
    assert np.isclose(np.abs(norm[:3]).mean(), 1.0) and norm[4] == 1.0


# --- bench/relevance_later.py: the later-period protocol ------------------------------


def test_later_meta_aligns_with_the_rows_train_reads() -> None:
    later = _bench("relevance_later")
    raw = [
        {"title": "A", "summary": "x", "label": 0, "source": "rss_2020",
         "published": "2020-06-03T01:00:00Z", "stratum": "flag"},
        {"title": "", "summary": "", "label": 0, "source": "rss_2020"},  # no text: skipped
        {"title": "", "summary": "b", "label": 1, "source": "ag_news:test"},
    ]  # fmt: skip
    rows = list(classifier._training_rows(raw, "t"))
    days, strata = later.align_meta(raw, rows)
    assert list(days) == ["2020-06-03", ""] and list(strata) == ["flag", ""]
    try:
        later.align_meta(raw[:1] + raw[2:], rows[::-1])
    except ValueError:
        pass
    else:
        raise AssertionError("misaligned rows accepted")


def test_later_mask_holds_out_only_dated_feed_items_after_the_day() -> None:
    later = _bench("relevance_later")
    source = np.array(["rss_2020", "rss_2020", "rss_2020", "ag_news:test", "rss_2020"])
    days = np.array(["2020-06-02", "2020-06-03", "", "2020-06-09", "2020-06-12"])
    got = later.later_mask(source, days, "2020-06-02")
    assert list(got) == [False, True, False, False, True]
    assert not later.later_mask(source, days, None).any()


def test_title_docs_fall_back_to_the_text() -> None:
    later = _bench("relevance_later")
    got = later.title_docs(["Riot in (Reuters) city", "", None], ["t1", "body", "x"])
    assert got == [classifier.compose_text("Riot in (Reuters) city", ""), "body", "x"]


def test_weighted_prf_and_feed_threshold() -> None:
    later = _bench("relevance_later")
    y = np.array([1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.1, 0.2])
    m = later.prf(y, p, 0.5)
    assert (m["P"], m["R"], m["flagged"]) == (0.5, 0.5, 2)
    w = later.prf(y, p, 0.5, np.array([1.0, 3.0, 1.0, 1.0]))
    assert (w["P"], w["R"]) == (0.25, 0.5) and w["AP"] == m["AP"]
    assert later.prf(y, p, 0.95)["F1"] == 0.0
    # the threshold is chosen on the feed items only: the other source's positive at 0.3
    # would pull a whole-data threshold down to 0.3
    from types import SimpleNamespace

    data = SimpleNamespace(
        source=np.array(["rss_2020"] * 4 + ["ag_news:test"] * 2),
        y=np.array([1, 0, 0, 1, 1, 0]),
    )
    out = {"p": np.array([0.9, 0.1, 0.2, 0.6, 0.3, 0.05]), "threshold": 0.3}
    got = later.feed_threshold(data, out)
    assert 0.3 < got["threshold"] <= 0.6 and got["p"] is out["p"]


def test_paired_bootstrap_ties_and_a_better_candidate() -> None:
    later = _bench("relevance_later")
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    base = np.clip(0.5 * y + 0.6 * rng.random(300), 0, 1)
    same = later.paired_bootstrap(y, base, 0.5, base, 0.5, n=200)
    assert same["F1"]["ahead"] == 0.0 and same["AP"]["mean"] == 0.0
    better = np.where(y == 1, 0.9, 0.1)
    got = later.paired_bootstrap(y, base, 0.5, better, 0.5, n=200)
    assert got["F1"]["ahead"] == 1.0 and got["AP"]["lo"] > 0
    worse = later.paired_bootstrap(y, better, 0.5, base, 0.5, n=200)
    assert worse["F1"]["ahead"] == 0.0 and worse["F1"]["hi"] < 0


def test_feed_weight_candidates() -> None:
    later = _bench("relevance_later")
    got = later.candidate("feed 100")["weights"]
    assert got["rss_2020"] == 100.0 and got["contrast"] == classifier.SOURCE_WEIGHTS["contrast"]
    assert later.candidate("nb norm") is later.R.CANDIDATES["nb norm"]
    assert later.candidate("baseline seed 3") == {"seed": 3}


def test_youtube_plain_reads_a_youtube_link_as_none() -> None:
    later = _bench("relevance_later")
    assert later.is_youtube("https://www.youtube.com/watch?v=x") and later.is_youtube(
        "https://youtu.be/x"
    )
    assert not later.is_youtube("https://www.cnn.com/videos/x") and not later.is_youtube(None)
    assert later.candidate("youtube plain") == {"plain_youtube": True}
    from newsalert import kinds

    saved = later.R.kind_features
    data = later.CutData.__new__(later.CutData)
    data.rows = list(classifier._training_rows(
        [{"title": "Clashes in Tripoli", "summary": "x", "label": 1,
          "link": "https://www.youtube.com/watch?v=a"},
         {"title": "Watch the clashes", "summary": "x", "label": 0,
          "link": "https://www.cnn.com/videos/world/a"}], "t"))  # fmt: skip
    data.copy_of = np.array([], dtype=int)
    data.dev = []
    video = kinds.KIND_NAMES.index("kind:video")
    assert data.kinds()[0].toarray()[:, video].tolist() == [1.0, 1.0]
    data.plain_youtube = True
    assert data.kinds()[0].toarray()[:, video].tolist() == [0.0, 1.0]
    assert later.R.kind_features is saved


def test_day_folds_block_the_feed_items_by_day() -> None:
    later = _bench("relevance_later")
    days = np.array(
        ["2020-06-01"] * 4 + ["2020-06-02"] * 2 + ["2020-06-03"] * 4 + ["", "2020-06-01", ""]
    )
    source = np.array(["rss_2020"] * 11 + ["ag_news:test", "rss_2020"])
    idx = np.arange(13)
    splits = [(idx[idx % 2 == 1], idx[idx % 2 == 0]), (idx[idx % 2 == 0], idx[idx % 2 == 1])]
    got = later.day_folds(days, source, splits)
    assert len(got) == 2
    test0, test1 = set(got[0][1]), set(got[1][1])
    assert test0 | test1 == set(range(13)) and not test0 & test1
    for tr, te in got:
        assert set(tr) == set(range(13)) - set(te)
    # a day is never split across folds; the early days test in fold 0, the last in fold 1
    assert {0, 1, 2, 3} <= test0 and {6, 7, 8, 9} <= test1
    assert (4 in test0) == (5 in test0)
    # undated feed items and other sources keep their folds (10 and 12 even, 11 odd)
    assert 10 in test0 and 12 in test0 and 11 in test1


def test_evaluate_derives_from_the_named_fit(tmp_path: Path, monkeypatch: Any) -> None:
    later = _bench("relevance_later")
    runs: list[dict] = []

    def fake_run(data: Any, cand: dict, seed: int = 0) -> dict:
        runs.append(cand)
        return {"p": np.array([0.2, 0.8]), "dev_p": np.array([0.5]), "threshold": 0.5}

    monkeypatch.setattr(later.R, "run", fake_run)
    monkeypatch.setitem(later.DERIVED, "feed threshold", lambda d, o: {**o, "threshold": 0.3})
    data = later.CutData.__new__(later.CutData)
    data.cache, data.name = tmp_path, "A"
    fitted: dict = {}
    assert later.evaluate(data, "day folds + feed threshold", fitted)["threshold"] == 0.3
    assert set(fitted) == {"day folds"} and "split" in runs[0]
    assert later.evaluate(data, "feed threshold", fitted)["threshold"] == 0.3
    assert set(fitted) == {"day folds", "baseline"} and runs[1] == {}
    # a fitted candidate is read back from the cache, a derived one is derived again
    assert later.evaluate(data, "baseline", {})["threshold"] == 0.5 and len(runs) == 2


def test_cut_embeddings_follow_the_rows_and_copies() -> None:
    later = _bench("relevance_later")
    from types import SimpleNamespace

    # four rows (1 and 3 have summary-only copies, rows 4 and 5 of the array), dev one row
    raw = np.arange(6, dtype=float)[:, None] * np.ones((1, 2))
    full = SimpleNamespace(
        rows=[0, 1, 2, 3], copy_of=np.array([1, 3]),
        embeddings=lambda name, max_tokens=256: (raw, np.full((1, 2), -1.0)),
    )  # fmt: skip
    data = later.CutData.__new__(later.CutData)
    data.full, data.keep, data.later_idx = full, np.array([0, 1, 2]), np.array([3])
    train, ev = data.embeddings("minilm")
    assert train[:, 0].tolist() == [0, 1, 2, 4]  # row 3 and its copy (5) are later
    assert ev[:, 0].tolist() == [-1, 3]


def test_hard_flagged_counts_only_the_negatives_of_each_hard_label() -> None:
    oof = _bench("relevance_oof")
    first, second = classifier.HARD_NEGATIVE_LABELS[:2]
    dev = [{"orig_label": x} for x in (first, first, first, second, "POLITICS", "WORLD")]
    dev_y = np.array([0, 0, 1, 0, 0, 0])  # the third is a positive with a hard label
    flagged = np.array([True, False, True, False, True, True])
    res = oof.hard_flagged(dev, dev_y, flagged)
    assert res[first] == "1/2" and res[second] == "0/1" and res["POLITICS"] == "1/1"
    assert res["hard"] == "1/3"
    # the positive flagged and the WORLD item flagged count nowhere
    assert set(res) == {*classifier.HARD_NEGATIVE_LABELS, "POLITICS", "hard"}


# --- the eighth round: names masked, no character block ---------------------------------


def test_name_masker_masks_names_and_keeps_words_and_acronyms() -> None:
    later = _bench("relevance_later")
    training = [
        "Police fire tear gas in Minneapolis\nThe police said protesters in Minneapolis ran.",
        "Troops mass on the border as troops and police watch",
        "Protesters gather. Police say Floyd was killed in Minneapolis by police officers",
    ]
    masker = later.NameMasker(training)
    # "Minneapolis" and "Floyd" are never lower-case; "police" and "troops" mostly are
    got = masker("Minneapolis erupts as Police fire on Protesters; ISIS claims IED attack")
    assert got == "Xname erupts as Police fire on Protesters; ISIS claims IED attack"
    # a word never seen is a name wherever it stands; "Troops" at a sentence start stays
    assert masker("Troops enter Kenosha. Floyd's family") == "Troops enter Xname. Xname's family"
    assert masker("no capitals here 123") == "no capitals here 123"
    assert not masker.is_name("NATO") and not masker.is_name("police")


def test_sentence_starts_are_not_counted_as_capitalised_inside() -> None:
    later = _bench("relevance_later")
    starts = [start for _, start in later._words('Riot: Fire in town. "Crowd runs" | Watch\nNow')]
    # Riot (text start), Fire (after ':'), in, town, Crowd (after '. "'), runs, Watch, Now
    assert starts == [True, True, False, False, True, False, True, True]
    # "Fire" after a colon is not a capitalised use inside a sentence: it stays a word
    masker = later.NameMasker(["Riot: Fire in town", "a fire"])
    assert masker.inside["fire"] == 0 and not masker.is_name("Fire")
    assert later.capitalised("McDonald") and not later.capitalised("IED")
    assert not later.capitalised("iPhone")


def test_text_candidates_merge_and_drop_the_char_block(tmp_path: Path) -> None:
    import scipy.sparse as sp
    from sklearn.pipeline import FeatureUnion

    later = _bench("relevance_later")
    assert later.candidate("names masked + no char") == {"mask": "names", "char": False}
    got = later.candidate("names masked + feed 10")
    assert got["mask"] == "names" and got["weights"]["rss_2020"] == 10.0
    vec = FeatureUnion(list(classifier._make_vectorizer().transformer_list[:2]))
    docs = ["Gunmen attack a convoy in Kabul", "Talks in Kabul end", "Gunmen kill two"] * 3
    x = vec.fit_transform(docs).tocsr()
    data = later.CutData.__new__(later.CutData)
    data.tfidf, data.dev_tfidf, data.vec = x, x[:2], vec
    words, dev_words = later.text_blocks(data, mask=False, char=False)
    n = later.word_columns(vec)
    assert n == len(vec.transformer_list[0][1].vocabulary_) < x.shape[1]
    assert words.shape == (9, n) and dev_words.shape == (2, n)
    assert (words != x[:, :n]).nnz == 0
    # the masked blocks are fitted on the masked texts: "kabul" is no column of theirs
    data.rows = list(classifier._training_rows([{"title": d, "label": 0} for d in docs], "t"))
    data.copy_of = np.array([], dtype=int)
    data.dev_docs, data.cache, data.name = docs[:2], tmp_path, "A"
    data.source = np.array(["rss_2020"] * 9)
    mx, mev = later.text_blocks(data, mask="names")
    mvec = later.joblib.load(next(tmp_path.glob("later-text-vec-*-names-all.joblib")))
    vocab = mvec.transformer_list[0][1].vocabulary_
    assert "kabul" not in vocab and "xname" in vocab and mx.shape[0] == 9
    assert isinstance(mev, sp.csr_matrix) and mev.shape == (2, mx.shape[1])


def test_evaluate_fits_a_text_candidate_on_its_blocks_and_restores_them(
    tmp_path: Path, monkeypatch: Any
) -> None:
    later = _bench("relevance_later")
    seen: list[Any] = []

    def fake_run(data: Any, cand: dict, seed: int = 0) -> dict:
        seen.append((data.tfidf, data.dev_tfidf))
        return {"p": np.array([0.2]), "dev_p": np.array([0.5]), "threshold": 0.5}

    monkeypatch.setattr(later.R, "run", fake_run)
    monkeypatch.setattr(later, "text_blocks", lambda d, **kw: (f"x{sorted(kw.items())}", "ev"))
    data = later.CutData.__new__(later.CutData)
    data.cache, data.name, data.tfidf, data.dev_tfidf = tmp_path, "A", "shipped", "shipped ev"
    later.evaluate(data, "names masked + no char", {})
    assert seen == [("x[('char', False), ('mask', 'names')]", "ev")]
    assert (data.tfidf, data.dev_tfidf) == ("shipped", "shipped ev")


def test_acronyms_masked_by_the_same_rule() -> None:
    later = _bench("relevance_later")
    training = ["The LAPD and NATO said. LAPD officers", "talk to us, the US said"]
    masker = later.NameMasker(training, acronyms=True)
    # LAPD and NATO are never lower-case; "US" is, as "us": kept
    assert masker("LAPD and NATO hold the US line") == "Xname and Xname hold the US line"
    assert later.NameMasker(training)("LAPD and NATO") == "LAPD and NATO"
    assert not later.capitalised("A", acronyms=True)  # one letter: "A", "I"


def test_other_period_vocabulary_is_fitted_without_the_feed_items(tmp_path: Path) -> None:
    later = _bench("relevance_later")
    feed = ["Floyd protest curfew in Minneapolis tonight"] * 4
    other = ["Rebels attack a convoy near the border", "Troops attack rebels at the border"] * 2
    docs = feed + other
    data = later.CutData.__new__(later.CutData)
    data.rows = list(classifier._training_rows([{"title": d, "label": 0} for d in docs], "t"))
    data.copy_of = np.array([], dtype=int)
    data.source = np.array(["rss_2020"] * 4 + ["ag_news:test"] * 4)
    data.dev_docs, data.cache, data.name = ["Floyd attack"], tmp_path, "A"
    x, ev = later.text_blocks(data, vocab="other", char=False)
    vec = later.joblib.load(next(tmp_path.glob("later-text-vec-*-plain-other.joblib")))
    vocab = vec.transformer_list[0][1].vocabulary_
    assert "attack" in vocab and "floyd" not in vocab and "curfew" not in vocab
    # the feed items are still rows (transformed with the other texts' vocabulary): the
    # feed rows share no term with it ("in"/"tonight" are not in AG's), so they are empty
    assert x.shape == (8, len(vocab)) and x[:4].nnz == 0 and x[4:].nnz > 0
    assert ev[0, vocab["attack"]] > 0


def _extra_item(**over: Any) -> dict[str, Any]:
    item = {"title": "Curfew in Dakar as unrest spreads", "summary": "Shops were looted.",
            "link": "https://example.org/world/dakar-curfew", "label": 1,
            "category": "civil_unrest", "source": "contrast_extra", "set": "sn-1",
            "style": "headline", "theme": "curfew"}  # fmt: skip
    return {**item, **over}


def test_load_extra_reads_the_written_items(tmp_path: Path) -> None:
    import json

    later = _bench("relevance_later")
    f = tmp_path / "extra.jsonl"
    talk = _extra_item(label=0, category="none", link="https://example.org/opinion/x")
    f.write_text("\n".join(json.dumps(i) for i in (_extra_item(), talk)) + "\n\n")
    got = later.load_extra(f)
    assert [i["label"] for i in got] == [1, 0]
    # the shipped file: 0/1 labels, categories of the model's, talk with none, many sets
    shipped = later.load_extra()
    assert len(shipped) >= 300 and {i["label"] for i in shipped} == {0, 1}
    assert {i["category"] for i in shipped if i["label"]} <= set(later.CATEGORIES)
    assert len({i["set"] for i in shipped}) >= 50


def test_load_extra_rejects_gray_labels_bad_categories_and_links(tmp_path: Path) -> None:
    import json

    import pytest

    later = _bench("relevance_later")
    f = tmp_path / "extra.jsonl"
    bad = [
        (_extra_item(label="gray"), "label"),
        (_extra_item(label=True), "label"),
        (_extra_item(category="riot"), "category"),
        (_extra_item(label=0), "label 0 with category"),
        (_extra_item(link="example.org/world/x"), "link"),
        (_extra_item(link="https://example.org"), "link"),
        (_extra_item(summary=" "), "empty summary"),
        (_extra_item(source="contrast"), "source"),
        (_extra_item(set=3), "strings"),
    ]
    for item, why in bad:
        f.write_text(json.dumps(_extra_item()) + "\n" + json.dumps(item) + "\n")
        with pytest.raises(ValueError, match=f"extra.jsonl:2: .*{why}"):
            later.load_extra(f)


def _three_row_cut(later: Any, cache: Path) -> Any:
    """A cut of three dated feed rows and one dev text, built without reading the data."""
    docs = ["Gunmen attack a convoy in Kabul", "Talks in Kabul end", "Gunmen kill two"]
    data = later.CutData.__new__(later.CutData)
    data.rows = list(classifier._training_rows([{"title": d, "label": i % 2} for i, d in enumerate(docs)], "t"))  # fmt: skip
    data.y, data.source = np.array([0, 1, 0]), np.array(["rss_2020"] * 3)
    data.days, data.copy_of = np.array(["2020-05-26"] * 3), np.array([], dtype=int)
    data.dev_docs, data.cache, data.name = ["Kabul talks"], cache, "A"
    return data


def test_with_extra_appends_rows_weighted_as_the_candidate_says(tmp_path: Path) -> None:
    later = _bench("relevance_later")
    assert later.candidate("extra contrast")["weights"]["contrast_extra"] == 3.0
    assert later.candidate("extra contrast x3")["weights"]["contrast_extra"] == 9.0
    assert later.candidate("extra contrast")["weights"]["rss_2020"] == 20.0
    data = _three_row_cut(later, tmp_path)
    items = [_extra_item(), _extra_item(label=0, category="none", title="Kabul march ends")]
    out = later.with_extra(data, items)
    assert out.source.tolist() == ["rss_2020"] * 3 + ["contrast_extra"] * 2
    assert [r.source for r in out.rows[3:]] == ["contrast_extra"] * 2
    assert out.y.tolist() == [0, 1, 0, 1, 0] and out.days.tolist()[3:] == ["", ""]
    assert out.copy_of.tolist() == [3, 4]  # the written items have titles: summary copies
    assert out.tfidf.shape[0] == 7 and out.dev_tfidf.shape[0] == 1
    assert "looted" in out.vec.transformer_list[0][1].vocabulary_  # fitted with the items
    assert len(data.rows) == 3  # the cut's own data is untouched
    again = later.with_extra(data, items)  # read back from the cache
    assert (again.tfidf != out.tfidf).nnz == 0


def test_dev_categories_scores_against_the_acled_types(tmp_path: Path) -> None:
    from sklearn.pipeline import FeatureUnion

    later = _bench("relevance_later")
    assert all(c <= set(later.CATEGORIES) for c in later.ACLED_CATEGORIES.values())
    riot = ["Rioters loot shops, police fire tear gas", "Crowds riot and burn cars, tear gas fired"]
    war = [
        "Rebels and army troops clash near the front",
        "Army shells rebel positions at the front",
    ]
    items = [{"title": t, "label": 1, "category": "civil_unrest"} for t in riot * 3]
    items += [{"title": t, "label": 1, "category": "armed_conflict"} for t in war * 3]
    # three categories: with two, sklearn's binary model has one row of weights
    gone = ["Gunmen abduct pupils from a school", "Kidnappers seize tourists and demand ransom"]
    items += [{"title": t, "label": 1, "category": "kidnapping"} for t in gone * 3]
    items += [{"title": "Stocks rise", "label": 0}]
    data = later.CutData.__new__(later.CutData)
    data.rows = list(classifier._training_rows(items, "t"))
    data.copy_of = np.array([], dtype=int)
    data.dev = [{"summary": "Police fire tear gas as rioters loot shops", "label": 1,
                 "orig_label": "VIOL_DEMONSTR"},
                {"summary": "Army troops clash with rebels at the front", "label": 1,
                 "orig_label": "VIOL_DEMONSTR"},  # the wrong type on purpose: a miss
                {"summary": "Rebels shell the army", "label": 1, "orig_label": "NOT_ACLED"},
                {"summary": "Tear gas riot", "label": 0, "orig_label": "PEACE_PROTEST"}]  # fmt: skip
    data.dev_docs = [d["summary"] for d in data.dev]
    data.n_dev = len(data.dev)
    vec = FeatureUnion(list(classifier._make_vectorizer().transformer_list[:1]))
    vec.transformer_list[0][1].set_params(min_df=1)
    data.tfidf = vec.fit_transform([r.text for r in data.rows]).tocsr()
    data.dev_tfidf = vec.transform(data.dev_docs).tocsr()
    got = later.dev_categories(data)
    # only labelled positives of a known type count: the riot right, the clash wrong
    assert (got["right"], got["n"], got["accuracy"]) == (1, 2, 0.5)
    assert got["per"] == {"VIOL_DEMONSTR": {"civil_unrest": 1, "armed_conflict": 1}}


def test_shuffled_control_keeps_texts_and_the_share_of_incidents() -> None:
    later = _bench("relevance_later")
    items = later.load_extra()
    mixed = later.shuffled(items)
    assert [i["title"] for i in mixed] == [i["title"] for i in items]
    assert sum(i["label"] for i in mixed) == sum(i["label"] for i in items)
    assert sum(a["label"] != b["label"] for a, b in zip(items, mixed, strict=True)) > 50
    assert all((i["label"] == 1) == (i["category"] != "none") for i in mixed)
    assert later.candidate("extra contrast shuffled")["shuffle"] is True


def test_rows_threshold_leaves_the_written_items_out() -> None:
    later = _bench("relevance_later")
    data = later.CutData.__new__(later.CutData)
    data.y = np.array([0, 0, 1, 1])
    # the cut's rows split at 0.5; the two written rows after them (a 0.9 talk item) do not
    out = {"p": np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.2]), "threshold": 0.95}
    got = later.DERIVED["rows threshold"](data, out)
    assert 0.3 < got["threshold"] <= 0.6 and got["p"] is out["p"]


def test_extra_contrast_both_trains_with_the_second_file_too() -> None:
    later = _bench("relevance_later")
    first, second = later.load_extra(), later.load_extra(later.EXTRA2)
    assert len(second) >= 150 and not {i["set"] for i in first} & {i["set"] for i in second}
    cand = later.candidate("extra contrast both")
    assert cand["weights"]["contrast_extra"] == 3.0
    assert len(later.written(cand)) == len(first) + len(second)
    assert len(later.written(later.candidate("extra contrast"))) == len(first)


def _stack_data(later: ModuleType) -> Any:
    """Ten contrast rows (five incidents), four written rows, four feed rows; every row
    titled, so each has a summary-only copy; two dev items."""
    items = [
        {"title": f"{kind} in town {k}", "summary": f"Report number {k} of the {kind}.",
         "label": int(kind == "Riot"), "source": src}
        for k, (kind, src) in enumerate(
            [(("Riot", "Vigil")[j % 2], "contrast") for j in range(10)]
            + [(("Riot", "Vigil")[j % 2], "contrast_extra") for j in range(4)]
            + [(("Riot", "Vigil")[j % 2], "rss_2020") for j in range(4)]
        )
    ]  # fmt: skip
    data = later.CutData.__new__(later.CutData)
    data.rows = list(classifier._training_rows(items, "t"))
    data.source = np.array([r.source for r in data.rows])
    data.y = np.array([r.label for r in data.rows])
    data.copy_of = np.array([i for i, r in enumerate(data.rows) if r.summary_only], dtype=int)
    data.dev_docs = ["Riot in the capital", "Vigil in the capital"]
    return data


def test_kind_stack_scores_no_row_with_a_model_that_saw_it() -> None:
    later = _bench("relevance_later")
    data = _stack_data(later)

    class Memoriser:
        """0.5 for a text that is (part of) one it was fitted on, else its fit size / 100:
        a leak shows as 0.5, and which model scored a row shows in the size."""

        def fit(self, texts: list[str], y: np.ndarray) -> Memoriser:
            self.seen = list(texts)
            return self

        def predict_proba(self, docs: list[str]) -> np.ndarray:
            p = np.array([0.5 if any(d in s for s in self.seen) else len(self.seen) / 100
                          for d in docs])  # fmt: skip
            return np.stack([1 - p, p], 1)

    col, dev_col = later.kind_stack(data, make=Memoriser)
    n, stacked = len(data.rows), np.isin(data.source, later.STACK_SOURCES)
    assert col.shape == (n + len(data.copy_of),) and dev_col.shape == (2,)
    assert not (col == 0.5 * later.STACK_SCALE).any()  # no row, no copy scored by its model
    # the 14 contrast and written rows, and their copies: the fold models (11 or 12 rows)
    fold = col[:n][stacked]
    assert ((fold == 0.11 * later.STACK_SCALE) | (fold == 0.12 * later.STACK_SCALE)).all()
    copies = col[n:][stacked[data.copy_of]]
    assert len(copies) == 14 and (copies < 0.14 * later.STACK_SCALE).all()
    # feed rows, their copies and dev: the model fitted on all 14
    assert (col[:n][~stacked] == 0.14 * later.STACK_SCALE).all()
    assert (col[n:][~stacked[data.copy_of]] == 0.14 * later.STACK_SCALE).all()
    assert (dev_col == 0.14 * later.STACK_SCALE).all()


def test_kind_stack_learns_the_kind_from_the_contrast_rows_only() -> None:
    later = _bench("relevance_later")
    data = _stack_data(later)
    # the feed rows' labels turned round: the stack must not learn from them
    data.y = np.where(data.source == "rss_2020", 1 - data.y, data.y)
    col, dev_col = later.kind_stack(data)
    assert dev_col[0] > 0.5 > dev_col[1]  # "Riot" an incident, "Vigil" talk
    feed = np.flatnonzero(data.source == "rss_2020")
    assert ((col[feed] > 0.5) == (data.y[feed] == 0)).all()
    assert later.candidate("extra both + kind stack")["stack"] is later.kind_stack


def test_wider_kind_stacks_fit_on_their_rows_out_of_fold_and_never_on_dev() -> None:
    later = _bench("relevance_later")
    fitted: list[list[str]] = []

    class Memoriser:
        """0.5 for a text it was fitted on, else its fit size / 100 (as above)."""

        def fit(self, texts: list[str], y: np.ndarray) -> Memoriser:
            self.seen = list(texts)
            fitted.append(self.seen)
            return self

        def predict_proba(self, docs: list[str]) -> np.ndarray:
            p = np.array([0.5 if any(d in s for s in self.seen) else len(self.seen) / 100
                          for d in docs])  # fmt: skip
            return np.stack([1 - p, p], 1)

    scale = later.STACK_SCALE
    for name, size in (("kind stack feed", 18), ("kind stack every", 18), ("kind stack news", 14)):
        data = _stack_data(later)
        data.dev_docs = ["Riot in the capital", "Vigil in the capital", "Riot in town 99"]
        stack = later.candidate(f"extra all + {name}")["stack"]
        fitted.clear()
        col, dev_col = stack(data, make=Memoriser)
        n, feed = len(data.rows), data.source == "rss_2020"
        assert not (col == 0.5 * scale).any()  # no row or copy scored by a model that saw it
        assert (dev_col == size / 100 * scale).all()  # dev and later items: the model on all
        assert max(len(f) for f in fitted) == size and len(fitted) == 1 + later.STACK_FOLDS
        assert not {d for f in fitted for d in f} & set(data.dev_docs)
        # the feed rows are the kind model's own (out of fold: 14 or 15 of 18) or scored by it
        expected = (col[:n][feed] < size / 100 * scale) if size == 18 else (
            col[:n][feed] == size / 100 * scale)  # fmt: skip
        assert expected.all()


def test_run_appends_the_stack_column_to_the_features(monkeypatch: Any) -> None:
    import scipy.sparse as sp

    oof = _bench("relevance_oof")
    later = _bench("relevance_later")
    data = _stack_data(later)
    data.tfidf = sp.csr_matrix(np.zeros((len(data.rows) + len(data.copy_of), 1)))
    data.dev_tfidf = sp.csr_matrix(np.zeros((2, 1)))
    data.dev = [{"title": d} for d in data.dev_docs]
    monkeypatch.setattr(oof, "cues", lambda docs: np.zeros((len(docs), 0)))
    monkeypatch.setattr(data, "kinds", lambda *a: (sp.csr_matrix((len(data.docs), 0)),
                                                   sp.csr_matrix((2, 0))), raising=False)  # fmt: skip
    # a column that is the label: the model ranks by it; without it every row ties
    col = np.concatenate([data.y, data.y[data.copy_of]]).astype(float)
    out = oof.run(data, {"stack": lambda d: (col, np.array([1.0, 0.0]))})
    assert out["coef"].shape == (2,) and out["coef"][-1] > 0
    assert out["dev_p"][0] > out["dev_p"][1]


def test_extra_both_with_names_masked_builds_the_rows_of_its_parts(tmp_path: Path) -> None:
    later = _bench("relevance_later")
    both = later.candidate("extra contrast both")
    assert later.candidate("extra both") == both
    assert later.candidate("extra both + names masked") == {**both, "mask": "names"}
    merged = later.candidate("extra both + names masked + kind stack")
    assert merged["both"] and merged["mask"] == "names" and merged["stack"] is later.kind_stack
    data = _three_row_cut(later, tmp_path)
    items = [_extra_item(), _extra_item(label=0, category="none", title="Dakar march ends")]
    plain, masked = later.with_extra(data, items), later.with_extra(data, items, "names")
    assert masked.rows == plain.rows and masked.y.tolist() == plain.y.tolist()
    assert masked.source.tolist() == plain.source.tolist()
    assert masked.copy_of.tolist() == plain.copy_of.tolist() and masked.dev_docs == plain.dev_docs
    assert masked.tfidf.shape[0] == plain.tfidf.shape[0] == 7
    words, plain_words = (v.transformer_list[0][1].vocabulary_ for v in (masked.vec, plain.vec))
    assert "kabul" in plain_words and "dakar" in plain_words
    assert "kabul" not in words and "dakar" not in words and "xname" in words
    assert "looted" in words  # the written items' words are still fitted
    assert (later.with_extra(data, items, "names").tfidf != masked.tfidf).nnz == 0  # cached


def test_evaluate_fits_extra_both_with_the_mask_and_the_stack(
    tmp_path: Path, monkeypatch: Any
) -> None:
    later = _bench("relevance_later")
    calls: list[Any] = []

    def fake_run(data: Any, cand: dict, seed: int = 0) -> dict:
        calls.append(("run", data, cand))
        return {"p": np.array([0.2]), "dev_p": np.array([0.5]), "threshold": 0.5}

    def fake_with_extra(data: Any, items: list, mask: str = "") -> str:
        calls.append(("with_extra", len(items), mask))
        return f"extra {mask}"

    monkeypatch.setattr(later.R, "run", fake_run)
    monkeypatch.setattr(later, "with_extra", fake_with_extra)
    monkeypatch.setattr(later, "text_blocks", lambda *a, **kw: 1 / 0)  # not the text path
    data = later.CutData.__new__(later.CutData)
    data.cache, data.name, data.tfidf, data.dev_tfidf = tmp_path, "A", "shipped", "shipped ev"
    n = len(later.written(later.candidate("extra both")))
    later.evaluate(data, "extra both + names masked + kind stack", {})
    assert calls[0] == ("with_extra", n, "names") and calls[1][1] == "extra names"
    assert calls[1][2]["stack"] is later.kind_stack and calls[1][2]["both"]
    later.evaluate(data, "extra both + kind stack", {})
    assert calls[2] == ("with_extra", n, "") and calls[3][2]["stack"] is later.kind_stack
    assert (data.tfidf, data.dev_tfidf) == ("shipped", "shipped ev")
    # each combination has its own cached fit, keyed on both written files
    assert len(list(tmp_path.glob("later-*-A-extra_both_+_*.npz"))) == 2


def test_evaluate_drops_the_char_block_for_written_items_too(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # eleventh round: ``extra ... + no char`` used to fit with the character block
    later = _bench("relevance_later")
    seen: list[Any] = []

    def fake_run(data: Any, cand: dict, seed: int = 0) -> dict:
        seen.append(data)
        return {"p": np.array([0.2]), "dev_p": np.array([0.5]), "threshold": 0.5}

    items = [_extra_item(), _extra_item(label=0, category="none", title="Kabul march ends")]
    monkeypatch.setattr(later.R, "run", fake_run)
    monkeypatch.setattr(later, "written", lambda cand: items)
    data = _three_row_cut(later, tmp_path)
    data.tfidf = data.dev_tfidf = "shipped"
    later.evaluate(data, "extra both", {})
    later.evaluate(data, "extra both + no char", {})
    full, words = seen
    n = later.word_columns(full.vec)
    assert full.tfidf.shape[1] > n and words.tfidf.shape == (full.tfidf.shape[0], n)
    assert words.dev_tfidf.shape == (1, n) and (words.tfidf != full.tfidf[:, :n]).nnz == 0
    assert later.candidate("extra both + no char")["char"] is False


def test_extra_all_trains_with_the_third_file_too() -> None:
    later = _bench("relevance_later")
    both = later.written(later.candidate("extra both"))
    third = later.load_extra(later.EXTRA3)
    cand = later.candidate("extra all + kind stack")
    assert cand["all"] and cand["both"] and cand["stack"] is later.kind_stack
    assert cand["weights"]["contrast_extra"] == 3.0
    assert later.written(later.candidate("extra all")) == both + third
    assert not {i["set"] for i in both} & {i["set"] for i in third}
    assert "all" not in later.candidate("extra both")
