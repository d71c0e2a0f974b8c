"""Operator keyword rules, compiled once: include, exclude and boost.

Terms match whole words and phrases, case-insensitively unless the rule says
otherwise; whitespace inside a phrase matches any run of whitespace. Regexes are
used as written. Every hit becomes a reason shown in alerts and ``explain``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

import regex

from newsalert.config import RuleConfig, RulesConfig
from newsalert.models import Item

log = logging.getLogger(__name__)

# Rules run operators' regexes on hostile feed text. Backtracking can take minutes on a
# short title ("(a|aa)+$"): the `regex` module's timeout bounds each search, and a
# search that runs out counts as no match (logged), so the worker goes on.
MATCH_TIMEOUT = 0.25  # seconds per field searched


def _find(pattern: regex.Pattern[str], text: str, rule: str) -> str | None:
    try:
        found = pattern.search(text, timeout=MATCH_TIMEOUT)
    except TimeoutError:
        log.warning(
            "rule %s: matching took over %.2f s on a %d-character text and was stopped "
            "(counted as no match); simplify its regex",
            rule,
            MATCH_TIMEOUT,
            len(text),
        )
        return None
    return found.group(0) if found else None


@dataclass(frozen=True, slots=True)
class RuleHit:
    kind: str  # include, exclude, boost
    name: str
    field: str
    matched: str
    weight: float | None
    category: str | None
    required: str | None = None  # what the rule's `require` clause matched


@dataclass(frozen=True, slots=True)
class CompiledRule:
    kind: str
    name: str
    pattern: regex.Pattern[str]
    fields: tuple[str, ...]
    feeds: frozenset[str]
    weight: float | None
    category: str | None
    tags: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ()  # lower-case, "-" separated
    require: regex.Pattern[str] | None = None
    require_fields: tuple[str, ...] = ()

    def match(
        self, item: Item, feed_tags: Mapping[str, frozenset[str]] | None = None
    ) -> RuleHit | None:
        if self.feeds and item.feed not in self.feeds:
            return None
        if self.tags and not self.tags & (feed_tags or {}).get(item.feed, frozenset()):
            return None
        if self.languages and not language_matches(item.language, self.languages):
            return None
        for field in self.fields:
            found = _find(self.pattern, getattr(item, field) or "", self.name)
            if found is not None:
                required = None
                if self.require is not None:
                    required = self._search_required(item)
                    if required is None:
                        return None
                return RuleHit(
                    self.kind,
                    self.name,
                    field,
                    found,
                    self.weight,
                    self.category,
                    required,
                )
        return None

    def _search_required(self, item: Item) -> str | None:
        assert self.require is not None
        for field in self.require_fields:
            found = _find(self.require, getattr(item, field) or "", self.name)
            if found is not None:
                return found
        return None


def _language(code: str) -> str:
    return code.strip().lower().replace("_", "-")


def language_matches(language: str | None, codes: tuple[str, ...]) -> bool:
    """Whether an item's language is one of ``codes``: "en" matches "en" and "en-GB"."""
    if not language:
        return False
    lang = _language(language)
    return any(lang == code or lang.startswith(code + "-") for code in codes)


def term_pattern(term: str) -> str:
    """Whole-word pattern for a term or phrase; edges only bind where the term has word chars."""
    body = r"\s+".join(re.escape(part) for part in term.split())
    start = r"(?<!\w)" if term[:1].isalnum() or term[:1] == "_" else ""
    end = r"(?!\w)" if term[-1:].isalnum() or term[-1:] == "_" else ""
    return f"{start}{body}{end}"


def compile_rule(kind: str, index: int, rule: RuleConfig) -> CompiledRule:
    parts = [term_pattern(t) for t in rule.terms if t.strip()] + [f"(?:{r})" for r in rule.regex]
    flags = 0 if rule.case_sensitive else regex.IGNORECASE
    name = rule.name or f"{kind}[{index}]"
    require = None
    if rule.require is not None:
        req = rule.require
        req_parts = [term_pattern(t) for t in req.terms if t.strip()]
        require = regex.compile("|".join(req_parts + [f"(?:{r})" for r in req.regex]), flags)
    return CompiledRule(
        kind=kind,
        name=name,
        pattern=regex.compile("|".join(parts), flags),
        fields=tuple(rule.fields),
        feeds=frozenset(rule.feeds),
        weight=rule.weight,
        category=rule.category,
        tags=frozenset(rule.tags),
        languages=tuple(_language(code) for code in rule.languages),
        require=require,
        require_fields=tuple(rule.require.fields) if rule.require is not None else (),
    )


class RuleSet:
    """All rules of a config, compiled once and matched per item."""

    def __init__(
        self, config: RulesConfig, feed_tags: Mapping[str, frozenset[str]] | None = None
    ) -> None:
        # feed name -> its tags, for rules restricted with `tags`
        self.feed_tags: dict[str, frozenset[str]] = dict(feed_tags or {})
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
            hit = rule.match(item, self.feed_tags)
            if hit is not None:
                hits.append(hit)
        return hits


def keyword_matcher(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """One compiled pattern for a subscriber's keyword filter (None: no filter)."""
    terms = [term_pattern(k) for k in keywords if k.strip()]
    return re.compile("|".join(terms), re.IGNORECASE) if terms else None
