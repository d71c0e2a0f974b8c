"""A learned second opinion on the event's country (issue 17, eighth round).

The hand rules of :mod:`newsalert.geo.resolve` weigh each mention and pick the
country with the most weight. This module describes every country the item could
be placed in (the countries the rules resolved mentions to, and the other readings
of those mentions in the gazetteer: "Jordan" the country or Jordan, Minnesota) with
a few numbers the rules already compute (their weights, the mentions' clues, the
places' population), and a logistic regression trained on the labelled set scores
them. Only the country is re-chosen; the place inside it is chosen as the rules
choose it (``choose_event(..., country=...)``).

The weights are a small JSON file (``geo_rerank.json``, next to this module),
written by ``bench/geo_learn.py``; scoring is a dot product per candidate, so the
geoparser keeps its speed and needs no scikit-learn at run time.
"""

from __future__ import annotations

import json
import math
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from newsalert.errors import GeoDataError
from newsalert.geo.gazetteer import KIND_ADMIN1, KIND_COUNTRY, KIND_PLACE, Gazetteer, fold
from newsalert.geo.resolve import Choice, Resolved, _weight, choose_event

# the mention clues whose presence is a feature (any mention of the candidate's country)
CLUES = (
    "dateline",
    "locative",
    "incident",
    "topic",
    "border",
    "backer",
    "actor",
    "speaker",
    "possessive",
    "office",
    "attributive",
    "compared",
    "elsewhere",
    "reporter",
    "counterpart",
    "addressed",
    "home",
    "visited",
    "officials",
    "demonym",
)
FEATURES = (
    "rules_choice",
    "weight_log",
    "weight_share",
    "weight_gap",
    "rank_first",
    "rank_second",
    "mentions_log",
    "named_country",
    "named_region",
    "named_town",
    "population",
    "capital",
    "in_title",
    "in_lead",
    "first_named",
    "weak_only",
    *(f"clue_{c}" for c in CLUES),
    "other_reading",
    "other_weight_log",
    "other_population",
    "other_primary_name",
    "other_gap_population",
    "countries_log",
)
_CLUE_FLAGS = operator.attrgetter(*CLUES)  # one call per mention, not one per clue
_NO_CLUES = (0.0,) * len(CLUES)
WEAK = 0.5  # a mention weighing this little is a voice, an actor or a nationality
OTHER_READINGS = 3  # other countries a mention could name, most populous first
DEFAULT_PATH = "geo_rerank.json"


@dataclass(slots=True)
class Candidate:
    country: str
    features: list[float]
    readings: list[Resolved]  # the mentions read as places in this country


def _pop(g: Gazetteer, p: int) -> float:
    return math.log10(max(g.population[p], 1_000)) / 7.0


def candidates(g: Gazetteer, resolved: list[Resolved], rules: Choice) -> list[Candidate]:
    """Every country the item could be placed in, with its features (``FEATURES``)."""
    by_country: dict[str, list[Resolved]] = defaultdict(list)
    order: list[str] = []
    for r in resolved:
        cc = g.country[r.place]
        if cc not in by_country:
            order.append(cc)
        by_country[cc].append(r)
    # the other readings of each resolved mention, in countries the rules did not pick
    others: dict[str, list[Resolved]] = defaultdict(list)
    country, population, kind = g.country, g.population, g.kind
    readings: dict[int, list[int]] = {}  # a name named twice has the same other readings
    for r in resolved:
        m = r.mention
        if m.demonym:
            continue
        ranked = readings.get(m.key_id)
        if ranked is None:
            best: dict[str, int] = {}
            for p in g.places_of(m.key_id):
                pop = population[p]
                # the village test first: it needs no country (a name's many hamlets)
                if (pop < 1_000 and kind[p] == KIND_PLACE) or (cc := country[p]) in by_country:
                    continue
                if cc not in best or pop > population[best[cc]]:
                    best[cc] = p
            ranked = sorted(best.values(), key=lambda p: -population[p])[:OTHER_READINGS]
            readings[m.key_id] = ranked
        for p in ranked:
            others[g.country[p]].append(Resolved(m, p, _weight(g, m, p)))
    weights = {cc: sum(r.weight for r in rs) for cc, rs in by_country.items()}
    total = sum(weights.values()) or 1.0
    top = max(weights.values(), default=0.0)
    ranked_cc = sorted(weights, key=lambda c: -weights[c])
    chosen = g.country[rules.place] if rules.place is not None else None
    n_countries = math.log1p(len(by_country))
    out = []
    for cc in (*order, *others):
        rs = by_country.get(cc, [])
        alt = others.get(cc, []) if not rs else []
        w = weights.get(cc, 0.0)
        # a country read only as another reading has no mention of its own: its features
        # from them are 0.0, given without making the comprehensions (their frames cost)
        kinds = {g.kind[r.place] for r in rs} if rs else set()
        ms = [r.mention for r in rs] if rs else []
        f: list[float] = [
            float(cc == chosen),
            math.log1p(w),
            w / total,
            w - top,
            float(bool(rs) and ranked_cc[0] == cc),
            float(len(ranked_cc) > 1 and ranked_cc[1] == cc),
            math.log1p(len(rs)),
            float(KIND_COUNTRY in kinds),
            float(KIND_ADMIN1 in kinds),
            float(KIND_PLACE in kinds),
            max((_pop(g, r.place) for r in rs), default=0.0) if rs else 0.0,
            float(any(r.place in g.capital for r in rs)) if rs else 0.0,
            float(any(m.field == "title" for m in ms)) if ms else 0.0,
            float(any(m.in_lead for m in ms)) if ms else 0.0,
            float(bool(order) and order[0] == cc),
            float(bool(rs) and all(r.weight <= WEAK for r in rs)),
            *(
                (float(any(flags)) for flags in zip(*map(_CLUE_FLAGS, ms), strict=True))
                if ms
                else _NO_CLUES
            ),
        ]
        if alt:
            a = max(alt, key=lambda r: g.population[r.place])
            own = max(
                (
                    g.population[r.place]
                    for r in resolved
                    if r.mention is a.mention and g.country[r.place] != cc
                ),
                default=1_000,
            )
            f += [
                1.0,
                math.log1p(sum(r.weight for r in alt)),
                _pop(g, a.place),
                float(a.mention.text in (g.name[a.place], fold(g.name[a.place]))),
                _pop(g, a.place) - math.log10(max(own, 1_000)) / 7.0,
            ]
        else:
            f += [0.0, 0.0, 0.0, 0.0, 0.0]
        f.append(n_countries)
        out.append(Candidate(cc, f, rs or alt))
    return out


@dataclass(frozen=True, slots=True)
class Reranker:
    """A linear scorer over ``FEATURES``; the highest-scoring country wins."""

    coef: tuple[float, ...]
    intercept: float
    margin: float = 0.0  # how much a country must beat the rules' choice by (log-odds)
    _weighted: tuple[tuple[int, float], ...] = field(init=False, repr=False, compare=False)
    _at: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _by: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        weighted = tuple((i, c) for i, c in enumerate(self.coef) if c != 0.0)
        object.__setattr__(self, "_weighted", weighted)
        # the same pairs as two tuples, for map(): the same products summed in the same
        # order as a generator over the pairs gave, in half the time
        object.__setattr__(self, "_at", tuple(i for i, _ in weighted))
        object.__setattr__(self, "_by", tuple(c for _, c in weighted))

    def score(self, features: list[float]) -> float:
        if len(features) != len(self.coef):
            raise ValueError("features and weights differ in length")
        # features with no weight (the clues model's six) add exactly 0.0: skip them
        return self.intercept + sum(
            map(operator.mul, self._by, map(features.__getitem__, self._at))
        )

    def choose(self, g: Gazetteer, resolved: list[Resolved], rules: Choice) -> Choice:
        """The rules' choice, or another country the model prefers by ``margin``."""
        return rechoose(g, resolved, rules, self.score, self.margin)

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "margin": self.margin,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reranker:
        if list(d["features"]) != list(FEATURES):
            raise ValueError("geo_rerank weights were trained on other features")
        return cls(tuple(float(c) for c in d["coef"]), float(d["intercept"]), float(d["margin"]))


def rechoose(
    g: Gazetteer,
    resolved: list[Resolved],
    rules: Choice,
    score: Callable[[list[float]], float],
    margin: float,
) -> Choice:
    """The rules' choice, or the country ``score`` prefers to it by more than ``margin``."""
    if rules.place is None or not resolved:
        return rules
    cands = candidates(g, resolved, rules)
    if len(cands) < 2:
        return rules
    chosen = g.country[rules.place]
    scores = {c.country: score(c.features) for c in cands}
    best = max(cands, key=lambda c: scores[c.country])
    if best.country == chosen or scores[best.country] - scores.get(chosen, 0.0) <= margin:
        return rules
    extra = [r for r in best.readings if r not in resolved]
    # choose_event again, over the other readings too: on about 1 item in 26, 0.2% of the
    # geoparser's CPU (bench/RESULTS.md, "Review mends"); sharing the first call's tally
    # would split choose_event for no measurable gain
    choice = choose_event(g, [*resolved, *extra], country=best.country)
    return Choice(choice.place, f"learned: {choice.why}", choice.across)


def load_reranker(path: Path | None = None) -> Reranker:
    """The packaged weights (or ``path``'s). Raises ``GeoDataError`` when they are missing
    or unreadable: falling back to the rules alone would change every answer unnoticed
    (the rules alone are chosen by the switch: the config's ``geo.rerank``)."""
    where = str(path) if path is not None else f"newsalert/geo/{DEFAULT_PATH}"
    try:
        if path is None:
            text = resources.files("newsalert.geo").joinpath(DEFAULT_PATH).read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        return Reranker.from_dict(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError: ValueError
        fix = (
            "reinstall newsalert (its package data must include geo/geo_rerank.json)"
            if path is None
            else "write it with bench/geo_learn.py --write"
        )
        raise GeoDataError(
            f"the geoparser's re-ranker weights {where} are missing or unreadable "
            f"({type(exc).__name__}: {exc}); {fix}, or turn the re-ranker off (geo.rerank: "
            "false in the config) to use the hand rules alone"
        ) from exc
