"""The learned country re-ranker (``newsalert.geo.rerank``; issue 17, eighth and ninth rounds).

The package ships the "LR clues" weights trained on every seen part
(``geo/geo_rerank.json``); ``load_geoparser`` adds them to the rules when
``geoparser.RERANK`` (on since the ninth round) or its ``rerank`` argument says so
(bench/RESULTS.md, "Locations, ninth round"); the service passes the config's
``geo.rerank``. These tests keep the packaged and the
measured weights loadable and harmless on the seed article, and record the rules' own
hand-written cases where the re-ranker answers otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsalert.config import GeoConfig, load_config
from newsalert.errors import GeoDataError, PermanentError
from newsalert.geo import Geoparser, geoparser, load_geoparser, rerank
from newsalert.geo.geoparser import default_cache_dir
from newsalert.geo.mentions import find_mentions
from newsalert.geo.rerank import DEFAULT_PATH, FEATURES, Reranker, candidates, load_reranker
from newsalert.geo.resolve import choose_event, resolve
from newsalert.pipeline import Pipeline
from newsalert.store import Store
from tests.conftest import preload_for_pool
from tests.test_geo import seed

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ROOT / "src" / "newsalert" / "geo" / DEFAULT_PATH
CANDIDATES = (
    ROOT / "bench" / "geo_rerank_lr.json",
    ROOT / "bench" / "geo_rerank_lr_clues.json",
    None,  # the packaged weights
)
# the features that read the rules' own answer: the shipped "clues" model leaves them out
RULES_FEATURES = ("rules_choice", "weight_log", "weight_share", "weight_gap", "rank_first")


def test_the_package_ships_the_subject_trained_clues_model() -> None:
    model = load_reranker()
    assert model.margin == 0.0
    assert all(model.coef[FEATURES.index(f)] == 0.0 for f in (*RULES_FEATURES, "rank_second"))
    meta = json.loads(PACKAGED.read_text(encoding="utf-8"))
    # twenty-second round: the subject convention's labels (data/geo_eval_alt.jsonl) in
    # place, trained on tune-held10: the file the round's rule measured on held11-held22
    assert meta["made_by"].startswith(
        "bench/geo_learn.py --write --clues --alt data/geo_eval_alt.jsonl --train-on "
    )
    assert "held10" in meta["trained_on"] and "held11" not in meta["trained_on"]


def test_load_geoparser_adds_the_reranker_behind_one_switch(
    geo: Geoparser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geoparser, "load_gazetteer", lambda _cache: geo.gazetteer)
    assert load_geoparser(ROOT, rerank=True).reranker == load_reranker()
    assert load_geoparser(ROOT, rerank=False).reranker is None
    for default in (True, False):
        monkeypatch.setattr(geoparser, "RERANK", default)
        assert (load_geoparser(ROOT).reranker is not None) is default


def test_missing_packaged_weights_raise_a_clear_error_unless_the_rules_are_chosen(
    geo: Geoparser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a packaging fault must not switch the default to the rules alone unnoticed
    loads: list[object] = []
    monkeypatch.setattr(rerank, "DEFAULT_PATH", "geo_rerank_not_packaged.json")
    monkeypatch.setattr(
        geoparser, "load_gazetteer", lambda cache: loads.append(cache) or geo.gazetteer
    )
    with pytest.raises(GeoDataError) as raised:
        load_geoparser(ROOT, rerank=True)
    said = str(raised.value)
    assert "geo/geo_rerank_not_packaged.json" in said and "reinstall newsalert" in said
    assert "FileNotFoundError" in said and "turn the re-ranker off (geo.rerank: false" in said
    assert isinstance(raised.value, PermanentError) and loads == []  # before the gazetteer
    assert load_geoparser(ROOT, rerank=False).reranker is None and loads == [ROOT]


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"features": ["rules_choice"], "coef": [1.0]}', "[]", b"\xff\xfe{"],
    ids=["torn", "other-features", "not-an-object", "not-utf8"],
)
def test_unreadable_weights_raise_a_clear_error_naming_the_file(
    tmp_path: Path, text: str | bytes
) -> None:
    path = tmp_path / "weights.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    for given in (path, tmp_path / "absent.json"):
        with pytest.raises(GeoDataError) as raised:
            load_reranker(given)
        assert f"{given} are missing or unreadable" in str(raised.value)
        assert "bench/geo_learn.py --write" in str(raised.value)


def test_the_config_default_is_the_geoparsers_default() -> None:
    assert GeoConfig().rerank is geoparser.RERANK is True


def test_the_worker_loads_the_geoparser_the_config_asks_for_before_forking(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.tasks as tasks

    asked: list[tuple[object, ...]] = []
    monkeypatch.setattr(tasks, "shared_geoparser", lambda *args: asked.append(args))
    config = tmp_path / "newsalert.yaml"
    for switch in ("geo: {rerank: false}\n", ""):
        config.write_text(f"storage: {{data_dir: {model_dir}}}\n{switch}", encoding="utf-8")
        preload_for_pool(config)
    assert asked == [(default_cache_dir(), False), (default_cache_dir(), True)]


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


@pytest.mark.parametrize("path", CANDIDATES, ids=lambda p: p.name if p else "packaged")
def test_the_measured_and_packaged_weights_keep_the_seed_article_at_banjska(
    geo: Geoparser, path: Path | None
) -> None:
    model = load_reranker(path)
    learned = Geoparser(geo.gazetteer, model)
    title, body = seed()
    for args in ((title, body), (title, body[:1500])):
        where = learned.locate(*args).where
        assert where is not None and (where.place, where.country) == ("Banjska", "XK")


# Hand-written cases of the rules (tests pinned to ``geo_rules``) where the packaged
# re-ranker, on by default since the ninth round, answers otherwise: recorded so the
# difference stays visible (bench/RESULTS.md, "Locations, ninth round"). Each row: title,
# summary, the rules' (country, across), the re-ranker's.
DEPARTURES = (
    (
        "",
        "SEOUL (Reuters) - North Korea has executed a senior official, South Korea's spy"
        " agency said on Friday.",
        ("KP", None),
        ("KR", None),
    ),
    (
        "",
        "WASHINGTON (AP) — Iran has seized a foreign tanker, US officials said on Monday.",
        ("IR", None),
        ("US", None),
    ),
    (
        "Bolivia braces for protests",
        "Supporters of the former president plan marches. Al Jazeera's Teresa Bo reports"
        " from Salta, Argentina.",
        ("BO", None),
        ("AR", None),
    ),
    (
        "Protests flare as Beijing's law looms",
        "Hong Kong's leader said the security law written by the Chinese government would"
        " be enforced from July.",
        ("HK", None),
        ("CN", None),
    ),
    # twenty-second round, the subject-trained weights (tune-held10): the subject
    # convention's reading where the rules keep the speaker's (a statement on another
    # country's election; talks on Iran's programme held in Geneva)
    (
        "",
        "Chile says it will not recognise the election in Venezuela.",
        ("CL", None),
        ("VE", None),
    ),
    (
        "Iran nuclear talks resume",
        "GENEVA (Reuters) - Iranian and U.S. negotiators resumed talks on Tuesday, a U.S."
        " official said, after a two-week pause.",
        ("CH", None),
        ("IR", None),
    ),
    # ... and where they are wrong under both conventions and the rules right (a court
    # freeing an exile, a journalist's arrest, troops offered to another country): the
    # subject-trained weights' known regressions
    (
        "",
        "Bolivian opposition supporters clashed with police after a court freed a former "
        "president living in exile in Argentina.",
        ("BO", None),
        ("AR", None),
    ),
    (
        "",
        "A Nigerian journalist based in London was arrested on Monday.",
        ("NG", None),
        ("GB", None),
    ),
    (
        "",
        "Syria has again offered its troops to Lebanon's new President to oust a general.",
        ("LB", None),
        ("SY", None),
    ),
)


@pytest.mark.parametrize(("title", "summary", "rules", "learned"), DEPARTURES)
def test_where_the_packaged_reranker_departs_from_the_rules_hand_written_cases(
    geo_rules: Geoparser,
    title: str,
    summary: str,
    rules: tuple[str, str | None],
    learned: tuple[str, str | None],
) -> None:
    model = load_reranker()
    on = Geoparser(geo_rules.gazetteer, model)
    for gp, want in ((geo_rules, rules), (on, learned)):
        where = gp.locate(title, summary).where
        assert where is not None and (where.country, where.across) == want


def test_a_config_with_the_reranker_off_gives_the_rules_answer_in_the_pipeline(
    geo: Geoparser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pipeline's geoparser is the shared one, keyed by the config's geo.rerank
    monkeypatch.setattr(geoparser, "load_gazetteer", lambda _cache: geo.gazetteer)
    title, summary, rules, learned = DEPARTURES[0]
    config = tmp_path / "newsalert.yaml"
    for switch, want in (("geo: {rerank: false}\n", rules), ("", learned)):
        config.write_text(f"storage: {{data_dir: {tmp_path}}}\n{switch}", encoding="utf-8")
        loaded = load_config(config, {})
        pipeline = Pipeline(loaded, Store(loaded.database_url))
        try:
            where = pipeline.geoparser().locate(title, summary).where
        finally:
            pipeline.close()
            pipeline.store.close()
        assert where is not None and (where.country, where.across) == want, switch


def test_explain_reads_the_switch_from_the_config(
    geo: Geoparser,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from newsalert.cli import _explain_place
    from newsalert.geo.filters import country_name
    from newsalert.models import Item

    monkeypatch.setattr(geoparser, "load_gazetteer", lambda _cache: geo.gazetteer)
    title, summary, rules, learned = DEPARTURES[
        0
    ]  # the rules: North Korea; the re-ranker: South Korea
    item = Item("k", "f", title, summary, None, None)
    config = tmp_path / "newsalert.yaml"
    for switch, cc in (("geo: {rerank: false}\n", rules[0]), ("", learned[0])):
        want = country_name(cc)
        config.write_text(f"storage: {{data_dir: {tmp_path}}}\n{switch}", encoding="utf-8")
        _explain_place(load_config(config, {}), item)
        where = capsys.readouterr().out.splitlines()[0]
        assert where.startswith("where") and want in where, switch


def test_check_reads_the_re_rankers_weights_and_fails_on_a_broken_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsalert.cli import main

    config = tmp_path / "newsalert.yaml"
    config.write_text(f"storage:\n  data_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    assert main(["--config", str(config), "check"]) == 0
    assert "locations: hand rules + learned country re-ranker" in capsys.readouterr().out
    monkeypatch.setattr(rerank, "DEFAULT_PATH", "geo_rerank_not_packaged.json")
    assert main(["--config", str(config), "check"]) == 1
    said = capsys.readouterr().err
    assert "geo_rerank_not_packaged.json are missing or unreadable" in said
    assert "reinstall newsalert" in said
    config.write_text(config.read_text() + "geo:\n  rerank: false\n", encoding="utf-8")
    assert main(["--config", str(config), "check"]) == 0
    assert "locations: hand rules alone (geo.rerank: false)" in capsys.readouterr().out
