"""Train and measure the learned country re-ranker (``newsalert.geo.rerank``).

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python bench/geo_learn.py            # leave-one-part-out table
    PYTHONPATH=src .venv/bin/python bench/geo_learn.py --changes  # ... and the items it changes
    PYTHONPATH=src .venv/bin/python bench/geo_learn.py --write    # train on every seen part,
                                                                  # write geo/geo_rerank.json
    PYTHONPATH=src .venv/bin/python bench/geo_learn.py --alt data/geo_eval_alt.jsonl ...
                                    # the subject's labels, for training and measuring

Each candidate country of an item (``rerank.candidates``: the countries the rules
resolved mentions to, and other readings of those mentions) is one row of a logistic
regression whose target is "this is the labelled country". Trained on the seen parts of
``data/geo_eval.jsonl`` (items with a labelled country and two candidates or more); the
unseen parts (``bench/geo.py``'s ``UNSEEN``) are never read. Leave-one-part-out: train
on every seen part but one, measure that one with the rules alone and with the rules
plus the re-ranker, with ``newsalert.geo.evaluate.score`` (the metrics of bench/geo.py).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

import numpy as np  # noqa: E402
from geo import SPLITS, UNSEEN, replace_labels  # noqa: E402  (bench/geo.py)
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from newsalert.geo import Geoparser, load_geoparser  # noqa: E402
from newsalert.geo.evaluate import load_rows, score, text_names_country  # noqa: E402
from newsalert.geo.mentions import find_mentions  # noqa: E402
from newsalert.geo.rerank import (  # noqa: E402
    DEFAULT_PATH,
    FEATURES,
    Reranker,
    candidates,
    load_reranker,
    rechoose,
)
from newsalert.geo.resolve import Choice, choose_event, resolve  # noqa: E402

C = 1.0  # fixed before the first run, not tuned
# features that read the rules' own answer; the "clues" variants learn without them
RULES_FEATURES = frozenset(
    {"rules_choice", "weight_log", "weight_share", "weight_gap", "rank_first", "rank_second"}
)


# Fifteenth round: candidate clues that could tell the scene from the actor, computed from
# the mentions' own flags and appended to FEATURES (measured here only: none passed
# the round's rule, bench/RESULTS.md "Locations, fifteenth round"; src/ is unchanged)
ACTORISH = (
    "actor",
    "speaker",
    "demonym",
    "office",
    "attributive",
    "officials",
    "home",
    "backer",
    "possessive",
)
SCENE = ("locative", "incident", "dateline")
OBJECT = ("locative", "incident", "addressed")  # after "in", "the attack in", "against"


def _any(ms: list, flags: tuple[str, ...]) -> bool:
    return any(getattr(m, f) for m in ms for f in flags)


def _actor_scene(g, resolved, cands) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Only ever an actor, speaker or nationality, while another country holds a scene."""
    ms = {c.country: [r.mention for r in c.readings if r in resolved] for c in cands}
    scene = {cc: _any(m, SCENE) for cc, m in ms.items()}
    out = []
    for c in cands:
        m = ms[c.country]
        only = bool(m) and all(_any([x], ACTORISH) for x in m) and not scene[c.country]
        elsewhere = any(v for cc, v in scene.items() if cc != c.country)
        out.append([float(only), float(only and elsewhere)])
    return out


def _object(g, resolved, cands) -> list[list[float]]:  # type: ignore[no-untyped-def]
    """Named as the object after "in" / "against" (not as an actor), here or elsewhere."""
    ms = {c.country: [r.mention for r in c.readings if r in resolved] for c in cands}
    obj = {
        cc: any(_any([x], OBJECT) and not _any([x], ACTORISH) for x in m) for cc, m in ms.items()
    }
    out = []
    for c in cands:
        other = any(v for cc, v in obj.items() if cc != c.country)
        out.append([float(obj[c.country]), float(other and not obj[c.country])])
    return out


def _both(g, resolved, cands) -> list[list[float]]:  # type: ignore[no-untyped-def]
    return [
        a + b
        for a, b in zip(_actor_scene(g, resolved, cands), _object(g, resolved, cands), strict=True)
    ]


def features_of(g, resolved, cands, extra) -> list[list[float]]:  # type: ignore[no-untyped-def]
    if extra is None:
        return [c.features for c in cands]
    return [c.features + e for c, e in zip(cands, extra(g, resolved, cands), strict=True)]


def item_rows(gp: Geoparser, row: dict, extra=None) -> tuple[list[list[float]], list[int]]:  # type: ignore[no-untyped-def]
    g = gp.gazetteer
    found = find_mentions(g, row.get("title") or "", row.get("summary") or "")
    resolved = resolve(g, found, None)
    rules = choose_event(g, resolved)
    if rules.place is None or not row.get("country"):
        return [], []
    cands = candidates(g, resolved, rules)
    if len(cands) < 2:
        return [], []
    x = features_of(g, resolved, cands, extra)
    return x, [int(c.country == row["country"]) for c in cands]


def training_set(gp: Geoparser, rows: list[dict], drop: frozenset[str], extra=None) -> tuple:  # type: ignore[no-untyped-def]
    xs: list[list[float]] = []
    ys: list[int] = []
    for row in rows:
        x, y = item_rows(gp, row, extra)
        if any(y):  # an item whose country is no candidate teaches nothing about ranking
            xs += x
            ys += y
    x = np.array(xs, dtype=float)
    x[:, [i for i, f in enumerate(FEATURES) if f in drop]] = 0.0  # EXTRA columns follow
    return x, np.array(ys)


def train(
    gp: Geoparser, rows: list[dict], margin: float, drop: frozenset[str] = frozenset()
) -> Reranker:
    x, y = training_set(gp, rows, drop)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
    coef = lr.coef_[0] / scale
    intercept = float(lr.intercept_[0] - (lr.coef_[0] * mean / scale).sum())
    return Reranker(tuple(float(c) for c in coef), intercept, margin)


class Extended:
    """``LR clues`` with an EXTRA clue set appended to FEATURES (bench only)."""

    def __init__(self, gp: Geoparser, rows: list[dict], extra) -> None:  # type: ignore[no-untyped-def]
        x, y = training_set(gp, rows, NO_RULES, extra)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=C, max_iter=2000).fit((x - mean) / scale, y)
        self.coef = lr.coef_[0] / scale
        self.intercept = float(lr.intercept_[0] - (lr.coef_[0] * mean / scale).sum())
        self.extra = extra

    def choose(self, g, resolved, rules):  # type: ignore[no-untyped-def]
        if rules.place is None or not resolved:
            return rules
        cands = candidates(g, resolved, rules)
        if len(cands) < 2:
            return rules
        xs = features_of(g, resolved, cands, self.extra)
        scores = {
            c.country: self.intercept + float(np.dot(self.coef, x))
            for c, x in zip(cands, xs, strict=True)
        }
        # rerank.rechoose's choice, margin 0, over these scores
        chosen = g.country[rules.place]
        best = max(cands, key=lambda c: scores[c.country])
        if best.country == chosen or scores[best.country] - scores.get(chosen, 0.0) <= 0.0:
            return rules
        more = [r for r in best.readings if r not in resolved]
        choice = choose_event(g, [*resolved, *more], country=best.country)
        return Choice(choice.place, f"learned: {choice.why}", choice.across)


class Boosted:
    """Gradient boosting in the same place (measured here only; not shipped)."""

    def __init__(self, gp: Geoparser, rows: list[dict], margin: float, drop: frozenset[str]):
        x, y = training_set(gp, rows, drop)
        self.drop = [i for i, f in enumerate(FEATURES) if f in drop]
        self.model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05).fit(x, y)
        self.margin = margin

    def score(self, features: list[float]) -> float:
        x = np.array([features], dtype=float)
        x[:, self.drop] = 0.0
        p = float(self.model.predict_proba(x)[0, 1])
        p = min(max(p, 1e-6), 1 - 1e-6)
        return float(np.log(p / (1 - p)))

    def choose(self, g, resolved, rules):  # type: ignore[no-untyped-def]
        return rechoose(g, resolved, rules, self.score, self.margin)


NO_RULES = RULES_FEATURES
# (id, part) -> the row as labelled in data/geo_eval.jsonl, before --alt replaced any label:
# "LR clues speaker" trains on these while the table measures with the --alt labels
AS_LABELLED: dict[tuple[str, str], dict] = {}


def as_labelled(rows: list[dict]) -> list[dict]:
    return [AS_LABELLED.get((r["id"], r["split"]), r) for r in rows]


VARIANTS = {
    # name: (trainer) -- fixed before the first LOPO run
    "LR": lambda gp, rows: train(gp, rows, 0.0),
    "LR m=1": lambda gp, rows: train(gp, rows, 1.0),
    "LR clues": lambda gp, rows: train(gp, rows, 0.0, NO_RULES),
    "GB": lambda gp, rows: Boosted(gp, rows, 0.0, frozenset()),
    "GB clues": lambda gp, rows: Boosted(gp, rows, 0.0, NO_RULES),
    # the packaged weights, untrained here: the reference for a retraining
    "shipped": lambda gp, rows: load_reranker(),
    # fifteenth round's candidates (written before their first run)
    "LR actor-scene": lambda gp, rows: Extended(gp, rows, _actor_scene),
    "LR object": lambda gp, rows: Extended(gp, rows, _object),
    "LR both": lambda gp, rows: Extended(gp, rows, _both),
    # twenty-second round: "LR clues" trained on the speaker's labels whatever --alt says
    # (the like-for-like reference for the same recipe trained on the subject's)
    "LR clues speaker": lambda gp, rows: train(gp, as_labelled(rows), 0.0, NO_RULES),
}


def metrics(gp: Geoparser, rows: list[dict]) -> tuple[dict, dict[str, object]]:
    named = functools.partial(text_names_country, gp.gazetteer)
    got: dict[str, object] = {}

    def locate(t: str, s: str):  # type: ignore[no-untyped-def]
        where = gp.locate(t, s).where
        got[t + "\n" + s] = where
        return where

    return score(locate, rows, named).as_dict(), got


def counts(d: dict) -> str:
    return (
        f"{100 * d['wrong_country_named']:5.1f}% {100 * d['country_accuracy_named']:5.1f}% "
        f"{100 * d['place_within_25km']:5.1f}%"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "newsalert-geo-bench"
    )
    ap.add_argument("--changes", action="store_true", help="list the items the re-ranker changes")
    ap.add_argument(
        "--write", action="store_true", help=f"train on all seen parts, write {DEFAULT_PATH}"
    )
    ap.add_argument("--margin", type=float, default=0.0, help="margin of the written model")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "src/newsalert/geo" / DEFAULT_PATH, help="for --write"
    )
    ap.add_argument(
        "--clues", action="store_true", help="--write the variant without the rules' features"
    )
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    ap.add_argument(
        "--parts",
        default="",
        help="comma-separated seen parts to leave out in turn (default: every seen part); "
        "each is still left out of its own training set only",
    )
    ap.add_argument(
        "--seen-too",
        default="",
        help="comma-separated parts of UNSEEN measured once already, to train and test on",
    )
    ap.add_argument(
        "--alt",
        type=Path,
        default=None,
        metavar="FILE",
        help="replace the labels of the items FILE lists (id and part), for training and "
        "measuring (data/geo_eval_alt.jsonl: statements placed at their subject)",
    )
    ap.add_argument(
        "--train-on",
        default="",
        help="comma-separated parts to train on (default: every seen part); a tested part is "
        "still left out of its own training set",
    )
    args = ap.parse_args()
    unseen = set(UNSEEN) - set(args.seen_too.split(","))
    g = load_geoparser(args.cache).gazetteer
    rules = Geoparser(g)  # the hand rules alone, whatever is packaged
    every = load_rows(ROOT / "data/geo_eval.jsonl")
    if args.alt is not None:
        AS_LABELLED.update({(r["id"], r["split"]): r for r in every})
        every = replace_labels(every, load_rows(args.alt))
        print(f"labels of {args.alt} in place of data/geo_eval.jsonl's")
    rows = [r for r in every if r["split"] not in unseen]
    parts = [s for s in SPLITS if s is not None and s not in unseen]
    train_on = set(args.train_on.split(",")) if args.train_on else set(parts)
    if train_on - set(parts):
        raise SystemExit(f"--train-on: not a seen part: {sorted(train_on - set(parts))}")
    if args.write:
        trainrows = [r for r in rows if r["split"] in train_on]
        model = train(rules, trainrows, args.margin, NO_RULES if args.clues else frozenset())
        out = args.out
        made_by = "bench/geo_learn.py --write" + (" --clues" if args.clues else "")
        if args.alt is not None:
            made_by += f" --alt {args.alt}"
        if args.train_on:
            made_by += f" --train-on {args.train_on}"
        d = model.as_dict() | {
            "trained_on": [p for p in parts if p in train_on],
            "made_by": made_by,
        }
        out.write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}")
        for name, c in sorted(zip(FEATURES, model.coef, strict=True), key=lambda x: -abs(x[1])):
            print(f"  {name:<22} {c:+.3f}")
        return 0
    variants = args.variants.split(",")
    tested = [p for p in parts if p in args.parts.split(",")] if args.parts else parts
    print(
        f"leave-one-part-out over {len(tested)} of {len(parts)} seen parts ({len(rows)} items); LR C={C}"
    )
    print(
        f"trained on {', '.join(p for p in parts if p in train_on)} (each less the tested part)\n"
    )
    print("each cell: wrong country / right country (of the items whose text names it), towns")
    print(f"{'part':<8} {'named':>5} {'rules':>19}" + "".join(f" {v:>19}" for v in variants))
    total: dict[str, list[int]] = {}
    changes: dict[str, list] = {v: [] for v in variants}
    uncovered = 0
    for part in tested:
        test = [r for r in rows if r["split"] == part]
        trainset = [r for r in rows if r["split"] != part and r["split"] in train_on]
        base, got_rules = metrics(rules, test)
        line = f"{part:<8} {base['named']:>5} {counts(base):>19}"
        add(total, "rules", base)
        for r in test:
            key = (r.get("title") or "") + "\n" + (r.get("summary") or "")
            a = got_rules.get(key)
            if r.get("country") and a is not None and a.country != r["country"]:
                _, y = item_rows(rules, r)
                uncovered += not any(y)
        for v in variants:
            theirs, got = metrics(Geoparser(g, VARIANTS[v](rules, trainset)), test)
            line += f" {counts(theirs):>19}"
            add(total, v, theirs)
            for r in test:
                key = (r.get("title") or "") + "\n" + (r.get("summary") or "")
                a, b = got_rules.get(key), got.get(key)
                if (a and a.country) != (b and b.country):
                    changes[v].append((part, r, a, b))
        print(line, flush=True)
    print(
        "\nall seen parts, out of fold (wrong and right of the items whose text names the country)"
    )
    for name, (named, wrong, right, places, town) in total.items():
        print(
            f"  {name:<9} wrong {wrong}/{named} ({100 * wrong / named:.1f}%)"
            f"  right {right}/{named} ({100 * right / named:.1f}%)"
            f"  towns {town}/{places} ({100 * town / places:.1f}%)"
        )
    print(f"\nitems the rules give a wrong country whose labelled one is no candidate: {uncovered}")
    if args.changes:
        for v in variants:
            print(f"\nitems whose country {v} changes, out of fold:")
            for part, r, a, b in changes[v]:
                verdict = (
                    "fixed"
                    if b and b.country == r["country"]
                    else "broken"
                    if a and a.country == r["country"]
                    else "still wrong"
                )
                text = (r["title"] or r["summary"])[:70]
                print(
                    f"  {part:<7} {r['id']} truth {r['country']}: {a and a.country} ->"
                    f" {b and b.country} ({verdict}): {text}"
                )
    return 0


def add(total: dict[str, list[int]], name: str, d: dict) -> None:
    t = total.setdefault(name, [0, 0, 0, 0, 0])
    t[0] += d["named"]
    t[1] += round(d["wrong_country_named"] * d["named"])
    t[2] += round(d["country_accuracy_named"] * d["named"])
    t[3] += d["with_place"]
    t[4] += round(d["place_within_25km"] * d["with_place"])


if __name__ == "__main__":
    raise SystemExit(main())
