"""Operator keyword rules, compiled once: include, exclude and boost.

Terms match whole words and phrases, case-insensitively unless the rule says
otherwise; whitespace inside a phrase matches any run of whitespace. Regexes are
used as written. Every hit becomes a reason shown in alerts and ``explain``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsalert.config import RuleConfig, RulesConfig
from newsalert.models import Item


@dataclass(frozen=True, slots=True)
class RuleHit:
    kind: str  # include, exclude, boost
    name: str
    field: str
    matched: str
    weight: float | None
    category: str | None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    kind: str
    name: str
    pattern: re.Pattern[str]
    fields: tuple[str, ...]
    feeds: frozenset[str]
    weight: float | None
    category: str | None

    def match(self, item: Item) -> RuleHit | None:
        if self.feeds and item.feed not in self.feeds:
            return None
        for field in self.fields:
            found = self.pattern.search(getattr(item, field) or "")
            if found:
                return RuleHit(
                    self.kind, self.name, field, found.group(0), self.weight, self.category
                )
        return None


def term_pattern(term: str) -> str:
    """Whole-word pattern for a term or phrase; edges only bind where the term has word chars."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    start = r"(?<!\w)" if term[:1].isalnum() or term[:1] == "_" else ""
    end = r"(?!\w)" if term[-1:].isalnum() or term[-1:] == "_" else ""
    return f"{start}{body}{end}"


def compile_rule(kind: str, index: int, rule: RuleConfig) -> CompiledRule:
    parts = [term_pattern(t) for t in rule.terms if t.strip()] + [f"(?:{r})" for r in rule.regex]
    flags = 0 if rule.case_sensitive else re.IGNORECASE
    name = rule.name or f"{kind}[{index}]"
    return CompiledRule(
        kind=kind,
        name=name,
        pattern=re.compile("|".join(parts), flags),
        fields=tuple(rule.fields),
        feeds=frozenset(rule.feeds),
        weight=rule.weight,
        category=rule.category,
    )


class RuleSet:
    """All rules of a config, compiled once and matched per item."""

    def __init__(self, config: RulesConfig) -> None:
        self.rules: tuple[CompiledRule, ...] = tuple(
            compile_rule(kind, i, rule)
            for kind in ("exclude", "include", "boost")
            for i, rule in enumerate(getattr(config, kind))
        )

    def __len__(self) -> int:
        return len(self.rules)

    def match(self, item: Item) -> list[RuleHit]:
        hits = []
        for rule in self.rules:
            hit = rule.match(item)
            if hit is not None:
                hits.append(hit)
        return hits


def keyword_matcher(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled pattern for a subscriber's keyword filter (None: no filter)."""
    terms = [term_pattern(k) for k in keywords if k.strip()]
    return re.compile("|".join(terms), re.IGNORECASE) if terms else None
