"""Operator rules and how they combine with the model's probability."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from newsalert.config import RulesConfig, load_config
from newsalert.errors import ConfigError
from newsalert.models import Item
from newsalert.rules import RuleSet, keyword_matcher, term_pattern
from newsalert.scoring import Scorer

from .conftest import ROOT

SEED = (ROOT / "tests" / "data" / "banjska-kosovo-2023.txt").read_text(encoding="utf-8")


def item(title: str, summary: str = "", feed: str = "desk") -> Item:
    return Item(key="k", feed=feed, title=title, summary=summary, link=None, published=None)


def rules(**config: object) -> RuleSet:
    return RuleSet(RulesConfig.model_validate(config))


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("attack", "An attack on police", True),
        ("attack", "Attackers fled", False),  # whole words only
        ("armed attack", "an armed\n attack in Banjska", True),  # any whitespace in phrases
        ("C++", "written in C++ code", True),
        ("KFOR", "kfor troops", True),
    ],
)
def test_terms_match_whole_words(term: str, text: str, hit: bool) -> None:
    import re

    assert bool(re.search(term_pattern(term), text, re.IGNORECASE)) is hit


def test_rules_respect_fields_feeds_and_case() -> None:
    ruleset = rules(
        include=[{"name": "title-only", "terms": ["bomb"], "fields": ["title"]}],
        boost=[
            {"name": "balkans", "terms": ["Kosovo"], "weight": 0.1, "feeds": ["balkan-insight"]},
            {"name": "acronym", "regex": r"\bIS\b", "weight": 0.2, "case_sensitive": True},
        ],
    )
    assert [h.name for h in ruleset.match(item("Bomb found", "x"))] == ["title-only"]
    assert ruleset.match(item("x", "bomb in summary")) == []
    assert ruleset.match(item("Kosovo", feed="other")) == []
    assert [h.name for h in ruleset.match(item("Kosovo", feed="balkan-insight"))] == ["balkans"]
    assert [h.name for h in ruleset.match(item("IS claims attack"))] == ["acronym"]
    assert ruleset.match(item("this is it")) == []


def test_subscriber_keywords_match_whole_words() -> None:
    pattern = keyword_matcher(("Kosovo", "KFOR"))
    assert pattern is not None and pattern.search("troops near kosovo border")
    assert not pattern.search("Kosovar diaspora")
    assert keyword_matcher(()) is None


def test_seed_article_is_relevant_and_sport_is_not(classifier: object) -> None:
    scorer = Scorer(rules(), classifier)  # type: ignore[arg-type]
    _, _, body = SEED.partition("\n\nThe US asks")
    seed, sport = scorer.score_batch(
        [
            item(
                "The US asks Serbia to withdraw military troops from the border with Kosovo",
                body[:1500],
            ),
            item(
                "Manchester United beat Chelsea 2-1",
                "A late winner at Old Trafford settled the match.",
            ),
        ]
    )
    assert seed.relevant and seed.category != "none"
    assert not sport.relevant and sport.category == "none"
    # relevant items carry the model's words as reasons; the arithmetic is shown
    assert any(r.kind == "model" for r in seed.reasons)
    assert seed.arithmetic.startswith(f"model {seed.model_probability:.3f}")


def test_boost_adds_include_lifts_exclude_vetoes(classifier: object) -> None:
    plain = Scorer(rules(), classifier)  # type: ignore[arg-type]
    text = item("Parliament debates the budget", "Members of parliament discussed spending plans.")
    base = plain.explain(text)
    assert not base.relevant

    boosted = Scorer(rules(boost=[{"terms": ["budget"], "weight": 0.3}]), classifier).explain(text)  # type: ignore[arg-type]
    assert boosted.score == pytest.approx(min(1.0, base.model_probability + 0.3), abs=1e-3)
    assert "+0.30" in boosted.arithmetic

    included = Scorer(
        rules(include=[{"terms": ["parliament"], "category": "civil_unrest"}]), classifier
    ).explain(text)  # type: ignore[arg-type]
    assert included.relevant and included.category == "civil_unrest"
    assert included.score == pytest.approx(classifier.threshold, abs=1e-3)  # type: ignore[attr-defined]

    seed = item(
        "Armed attack on Kosovo Police in Banjska",
        "Around 30 masked and armed attackers attacked the police, killing a sergeant.",
    )
    vetoed = Scorer(rules(exclude=[{"terms": ["Banjska"]}]), classifier).explain(seed)  # type: ignore[arg-type]
    assert vetoed.vetoed and not vetoed.relevant and "vetoed" in vetoed.arithmetic
    assert any(r.label.startswith("exclude") for r in vetoed.reasons)


def test_threshold_from_config_overrides_the_model(classifier: object) -> None:
    text = item("Troops were seen near the border")
    default = Scorer(rules(), classifier).explain(text)  # type: ignore[arg-type]
    p = default.model_probability
    assert p is not None and classifier.threshold < p < 0.99  # type: ignore[attr-defined]
    assert default.relevant
    strict = Scorer(rules(), classifier, threshold=(p + 1) / 2).explain(text)  # type: ignore[arg-type]
    assert strict.score == pytest.approx(p, abs=1e-3) and not strict.relevant


def test_rules_respect_feed_tags() -> None:
    config = RulesConfig.model_validate(
        {"boost": [{"name": "balkans", "terms": ["attack"], "weight": 0.1, "tags": ["balkans"]}]}
    )
    ruleset = RuleSet(config, {"kosovo-online": frozenset({"balkans"}), "wire": frozenset()})
    hits = ruleset.match(item("Attack on police", feed="kosovo-online"))
    assert [h.name for h in hits] == ["balkans"]
    assert ruleset.match(item("Attack on police", feed="wire")) == []
    assert ruleset.match(item("Attack on police", feed="unknown")) == []
    assert RuleSet(config).match(item("Attack on police", feed="kosovo-online")) == []


def test_rules_respect_languages() -> None:
    ruleset = rules(include=[{"name": "en", "terms": ["attack"], "languages": ["en", "SR"]}])
    untagged = rules(include=[{"terms": ["attack"]}])

    def lang(language: str | None) -> Item:
        return Item(
            key="k",
            feed="desk",
            title="Attack",
            summary="",
            link=None,
            published=None,
            language=language,
        )

    for language in ("en", "en-GB", "EN_us", "sr-Latn"):
        assert [h.name for h in ruleset.match(lang(language))] == ["en"], language
    for language in ("de", "eng", None):
        assert ruleset.match(lang(language)) == [], language
    assert len(untagged.match(lang(None))) == 1  # no `languages`: every item


def test_require_clause_must_match_too(classifier: object) -> None:
    place = {"terms": ["Kosovo", "Banjska", "Zvečan"], "fields": ["title", "summary"]}
    ruleset = rules(
        boost=[{"name": "kosovo-attack", "terms": ["attack"], "weight": 0.2, "require": place}]
    )
    [hit] = ruleset.match(item("Armed attack on police", "The police station in Banjska"))
    assert (hit.matched, hit.required) == ("attack", "Banjska")
    assert ruleset.match(item("Armed attack on police", "in Belgrade")) == []
    assert ruleset.match(item("Kosovo police patrol")) == []  # the require alone is not enough

    title_only = rules(
        include=[{"terms": ["attack"], "require": {"regex": r"\bKFOR\b", "fields": ["title"]}}]
    )
    assert title_only.match(item("Attack", "KFOR troops")) == []
    assert len(title_only.match(item("KFOR attack"))) == 1

    score = Scorer(ruleset, classifier).explain(item("Attack in Zvečan"))  # type: ignore[arg-type]
    assert any(
        r.label == 'boost kosovo-attack: "Attack" in title with "Zvečan"' for r in score.reasons
    )


def test_rule_tags_must_name_a_feed_tag(tmp_path: Path) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        "feeds:\n  - name: a\n    url: https://example.org/f\n    tags: [balkans]\n"
        "rules:\n  boost:\n    - terms: [attack]\n      weight: 0.1\n      tags: [balkan]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    [found] = [str(p) for p in info.value.problems]
    assert f"{path}: rules.boost[0].tags: no feed has the tag 'balkan'" in found
    assert "['balkans']" in found


def test_require_clause_is_validated() -> None:
    with pytest.raises(ValidationError, match="`require` needs `terms` or `regex`"):
        RulesConfig.model_validate(
            {"include": [{"terms": ["x"], "require": {"fields": ["title"]}}]}
        )
    with pytest.raises(ValidationError, match="is not a language code"):
        RulesConfig.model_validate({"include": [{"terms": ["x"], "languages": ["english!"]}]})


def test_content_rules_fire_on_items_read_back_from_the_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from newsalert.store import Store

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.sync_feeds([("desk", "https://example.org/feed")])
    full = Item(
        key="k1",
        feed="desk",
        title="Update",
        summary="Short teaser.",
        link=None,
        published=datetime(2026, 1, 1, tzinfo=UTC),
        content="Gunmen attacked a checkpoint near Banjska overnight.",
    )
    [iid] = store.add_items(store.feed_state("desk").id, [full], datetime(2026, 1, 1, tzinfo=UTC))
    stored = store.get_item(iid).item
    assert stored.content == full.content
    ruleset = rules(include=[{"name": "full-text", "terms": ["Banjska"], "fields": ["content"]}])
    assert [h.name for h in ruleset.match(stored)] == ["full-text"]
    store.close()


def test_a_regex_that_backtracks_without_end_is_stopped_not_left_to_stall_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An operator's "(a|aa)+$" on a hostile title would backtrack for minutes (2**40
    ways). The search is stopped (`rules.MATCH_TIMEOUT`), counted as no match and
    logged; the other rules still run."""
    ruleset = rules(
        include=[
            {"name": "slow", "regex": ["(a|aa)+$"]},
            {"name": "fine", "terms": ["attack"], "require": {"terms": ["police"]}},
        ]
    )
    hostile = item("a" * 40 + "! attack on police")
    hits = ruleset.match(hostile)
    assert [(h.name, h.matched, h.required) for h in hits] == [("fine", "attack", "police")]
    assert "rule slow: matching took over" in caplog.text and "simplify its regex" in caplog.text
