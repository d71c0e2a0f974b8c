"""Combine operator rules and the model into one score with its reasons.

The arithmetic, shown by ``explain``:

    score = clamp(model probability + sum of boost weights, 0, 1)
    an include rule lifts the score to at least its weight (default: the threshold)
    an exclude rule vetoes: not relevant, whatever the score
    relevant = not vetoed and (an include fired or score >= threshold)

The model reads English only: an item in another language (newsalert.language) is
scored by the rules alone, its model probability counted as 0 and shown as none.
Rules see the language detected (or the one the operator declared for the feed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from newsalert.language import LanguageDetector, shared_detector
from newsalert.models import Item, Language, Prediction, Reason, Score
from newsalert.rules import RuleHit, RuleSet

NOT_ENGLISH = Prediction(0.0, "none")  # the model is not asked: its probability counts as 0


class Model(Protocol):
    threshold: float

    def predict(self, texts: Sequence[tuple[str, str, str | None]]) -> list[Prediction]: ...

    def explain(
        self, title: str, summary: str, top: int = 8, link: str | None = None
    ) -> Prediction: ...


class Scorer:
    def __init__(
        self,
        rules: RuleSet,
        model: Model,
        threshold: float | None = None,
        *,
        languages: LanguageDetector | None = None,
        feed_languages: Mapping[str, str | None] | None = None,
    ) -> None:
        self.rules = rules
        self.model = model
        self.threshold = threshold if threshold is not None else model.threshold
        self.languages = languages if languages is not None else shared_detector()
        # feed name -> the language its operator declared (feeds.language)
        self.feed_languages = {k: v for k, v in (feed_languages or {}).items() if v}

    def language_of(self, item: Item) -> tuple[Item, Language]:
        """The item as rules see it (with its language) and the language detected."""
        found = self.languages.detect(
            f"{item.title}\n{item.summary}", self.feed_languages.get(item.feed)
        )
        # a feed's own tag that agrees is kept: it may say more ("en-GB", "sr-Latn")
        tag = item.language or ""
        if tag and tag.lower().replace("_", "-").split("-")[0] == found.code.lower():
            return item, replace(found, code=tag)
        return replace(item, language=found.code), found

    def score_batch(self, items: Sequence[Item], *, explain_relevant: bool = True) -> list[Score]:
        """Score many items with one model call; relevant ones get model terms as reasons."""
        judged = [self.language_of(i) for i in items]
        items = [i for i, _ in judged]
        languages = [lang for _, lang in judged]
        english = [k for k, lang in enumerate(languages) if lang.english]
        predictions = [NOT_ENGLISH] * len(items)
        hits = [self.rules.match(i) for i in items]
        both = getattr(self.model, "predict_and_explain", None)
        if explain_relevant and both is not None and english:
            # one vectorize: the items found relevant are explained on the same matrix
            def relevant(asked: list[Prediction]) -> list[int]:
                return [
                    j
                    for j, (k, prediction) in enumerate(zip(english, asked, strict=True))
                    if self._combine(items[k], prediction, hits[k], languages[k]).relevant
                ]

            texts = [(items[k].title, items[k].summary, items[k].link) for k in english]
            for k, prediction in zip(english, both(texts, relevant, 6), strict=True):
                predictions[k] = prediction
            return [
                self._combine(i, p, h, lang)
                for i, p, h, lang in zip(items, predictions, hits, languages, strict=True)
            ]
        if english:
            asked = self.model.predict(
                [(items[k].title, items[k].summary, items[k].link) for k in english]
            )
            for k, prediction in zip(english, asked, strict=True):
                predictions[k] = prediction
        scores = [
            self._combine(i, p, h, lang)
            for i, p, h, lang in zip(items, predictions, hits, languages, strict=True)
        ]
        if explain_relevant:
            # term reasons cost a second pass; only items that will alert need them,
            # explained together (one vectorize) when the model can
            chosen = [k for k, s in enumerate(scores) if s.relevant and languages[k].english]
            many = getattr(self.model, "explain_many", None)
            if many is not None and chosen:
                explained = many(
                    [(items[k].title, items[k].summary, items[k].link) for k in chosen], 6
                )
                for k, prediction in zip(chosen, explained, strict=True):
                    scores[k] = self._combine(items[k], prediction, hits[k], languages[k])
            else:
                for k in chosen:
                    i = items[k]
                    prediction = self.model.explain(i.title, i.summary, top=6, link=i.link)
                    scores[k] = self._combine(i, prediction, hits[k], languages[k])
        return scores

    def explain(self, item: Item, top: int = 6) -> Score:
        item, language = self.language_of(item)
        prediction = (
            self.model.explain(item.title, item.summary, top=top, link=item.link)
            if language.english
            else NOT_ENGLISH
        )
        return self._combine(item, prediction, self.rules.match(item), language)

    def _combine(
        self, item: Item, prediction: Prediction, hits: list[RuleHit], language: Language
    ) -> Score:
        p = prediction.probability
        reasons: list[Reason] = []
        # the arithmetic shows the figures the Score carries (rounded to 4 places), so that
        # "model 0.992" never stands beside a model_probability of 0.9925 shown as 0.993
        steps = [f"model {round(p, 4):.3f}"]
        if not language.english:
            said = f"{language.code} (not English, {language.method} {language.confidence:.2f})"
            reasons.append(Reason("language", f"language: {said}: rules only", 0.0))
            steps = [f"no model ({language.code}: rules only) 0.000"]
        total = p
        vetoed = False
        floor: float | None = None
        category = prediction.category
        rule_category: str | None = None
        for hit in hits:
            where = f'{hit.name}: "{hit.matched}" in {hit.field}'
            if hit.required is not None:
                where += f' with "{hit.required}"'
            if hit.kind == "exclude":
                vetoed = True
                reasons.append(Reason("rule", f"exclude {where}", 0.0))
            elif hit.kind == "boost":
                weight = hit.weight or 0.0
                total += weight
                steps.append(f"{weight:+.2f} ({hit.name})")
                reasons.append(Reason("rule", f"boost {where}", weight))
            else:
                level = hit.weight if hit.weight is not None else self.threshold
                floor = level if floor is None else max(floor, level)
                reasons.append(Reason("rule", f"include {where}", level))
            if hit.category and hit.kind != "exclude" and rule_category is None:
                rule_category = hit.category
        score = min(1.0, max(0.0, total))
        arithmetic = " ".join(steps) + f" = {round(score, 4):.3f}"
        if floor is not None and score < floor:
            score = floor
            arithmetic += f"; include rule lifts it to {floor:.3f}"
        relevant = not vetoed and (floor is not None or score >= self.threshold)
        if vetoed:
            arithmetic += "; vetoed by an exclude rule"
        arithmetic += (
            f"; threshold {self.threshold:.3f} -> {'relevant' if relevant else 'not relevant'}"
        )
        reasons.extend(Reason("model", f'"{term}"', round(w, 4)) for term, w in prediction.terms)
        if rule_category:
            category = rule_category
        return Score(
            score=round(score, 4),
            relevant=relevant,
            category=category if relevant else "none",
            model_probability=round(p, 4) if language.english else None,
            reasons=tuple(reasons),
            vetoed=vetoed,
            arithmetic=arithmetic,
            language=language,
        )
