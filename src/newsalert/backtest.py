"""Backtest: replay items through the running config and a proposed one, and compare.

Both configs score every item afresh (rules, threshold, subscribers' filters), so
the differences come from the config change alone, not from a model retrained
since the items were first scored. The model is shared (one batched prediction
per item) unless the two configs name different model files.

Alerts are compared per subscriber: an item a subscriber would now receive and
did not before is *gained*, the reverse *lost*. Alerts are counted as the pipeline
sends them: each config's relevant items go through the real story clusterer in the
order they arrived, so a report merged into a story alerts once (its first report for
the subscriber), and a later report counts only when the pipeline would send it as an
update (stories.py: ``route_story``); items of a file carry no arrival time and arrive
together, in file order, so they make no updates. Quiet hours and digests change when
an alert goes out, not whether, so they play no part. Where items carry a label
(operator feedback on stored items, or ``label`` in a JSON lines file), precision and
recall are given for each config.

Pure: plain data in, plain data out; the CLI loads items and models.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from newsalert import stories
from newsalert.config import LoadedConfig, RulesConfig, StoriesConfig, SubscriberConfig
from newsalert.geo import shared_geoparser
from newsalert.geo.filters import GeoFilter
from newsalert.geo.geoparser import default_cache_dir
from newsalert.models import Item, Prediction
from newsalert.routing import Route
from newsalert.rules import RuleHit, RuleSet, keyword_matcher
from newsalert.scoring import Model, Scorer
from newsalert.store import PlannedDelivery

BATCH = 2000
SHARED_MODEL = "managed"


# --- input -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One item to replay; ``label`` 1/0 when someone said whether it is relevant."""

    id: int
    item: Item
    label: int | None = None
    fetched: datetime | None = None  # when it arrived (stored items): story updates need it


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str | None) -> timedelta | None:
    """ "7d", "12h", "30m", "2w", "90s" -> timedelta; "all" (or None) -> None."""
    if text is None or text.strip().lower() == "all":
        return None
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration like 7d, 12h, 30m or 'all', got {text!r}")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2].lower()])


def stored_cases(store: Any, since: datetime | None = None) -> list[Case]:
    """Stored items fetched since ``since`` (all when None), with operator feedback labels."""
    from newsalert import feedback
    from newsalert.store import feeds, items

    query = (
        select(
            items.c.id,
            items.c.key,
            items.c.guid,
            items.c.title,
            items.c.summary,
            items.c.link,
            items.c.language,
            items.c.published_at,
            items.c.fetched_at,
            feeds.c.name,
        )
        .join(feeds, feeds.c.id == items.c.feed_id)
        .order_by(items.c.id)
    )
    if since is not None:
        query = query.where(items.c.fetched_at >= since)
    labels = feedback.labels(store)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Case(
            r.id,
            Item(
                key=r.key,
                feed=r.name,
                title=r.title,
                summary=r.summary,
                link=r.link,
                published=r.published_at,
                language=r.language,
                guid=r.guid,
            ),
            labels.get(r.id),
            r.fetched_at,
        )
        for r in rows
    ]


def jsonl_cases(path: Path | str, lines: Iterable[str] | None = None) -> list[Case]:
    """A labelled JSON lines file (title, summary, label; feed or source optional).

    Each line is one item, numbered from 1 (its id in the report). ``label``: 1/0
    (or true/false); missing or null: unlabelled.
    """
    out: list[Case] = []
    if lines is None:
        with open(path, encoding="utf-8") as f:
            return jsonl_cases(path, list(f))
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{n}: expected a JSON object")
        label = record.get("label")
        if label is not None and (label not in (0, 1) or isinstance(label, float)):
            raise ValueError(f"{path}:{n}: label must be 0, 1, true, false or null, got {label!r}")
        item = Item(
            key=str(n),
            feed=str(record.get("feed") or record.get("source") or "-"),
            title=str(record.get("title") or ""),
            summary=str(record.get("summary") or ""),
            link=record.get("link") if isinstance(record.get("link"), str) else None,
            published=None,
        )
        out.append(Case(n, item, None if label is None else int(label)))
    return out


# --- the two sides ---------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """What one config decides with: rules, threshold, subscribers, which model."""

    name: str
    rules: RuleSet
    threshold: float | None  # None: the model's own
    subscribers: tuple[SubscriberConfig, ...]
    model_key: str = SHARED_MODEL
    rules_config: RulesConfig | None = None  # equal on both sides: rules matched once
    stories: StoriesConfig = field(default_factory=StoriesConfig)  # merging and updates
    # feed name -> the language its operator declared (feeds.language)
    languages: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_config(cls, name: str, loaded: LoadedConfig) -> Variant:
        return cls(
            name=name,
            rules=RuleSet(loaded.rules, {f.name: frozenset(f.tags) for f in loaded.feeds}),
            threshold=loaded.config.model.threshold,
            subscribers=loaded.subscribers,
            model_key=model_key(loaded),
            rules_config=loaded.rules,
            stories=loaded.config.stories,
            languages={f.name: f.language for f in loaded.feeds},
        )


def model_key(loaded: LoadedConfig) -> str:
    """Configs naming no model file share the managed one (one per ``model.embedding``);
    else one model per file."""
    if loaded.model_path:
        return str(loaded.model_path)
    embedding = loaded.model_embedding
    return SHARED_MODEL if embedding is None else f"{SHARED_MODEL}+{embedding}"


class _Fixed:
    """A Model whose predictions for this batch are already known (computed once, shared)."""

    def __init__(
        self,
        texts: Sequence[tuple[str, str, str | None]],
        predictions: list[Prediction],
        threshold: float,
    ) -> None:
        # by text: the scorer asks for its English items only (newsalert.language)
        self._predictions = dict(zip(texts, predictions, strict=True))
        self.threshold = threshold

    def predict(self, texts: Sequence[tuple[str, str, str | None]]) -> list[Prediction]:
        return [self._predictions[t] for t in texts]

    def explain(
        self, title: str, summary: str, top: int = 8, link: str | None = None
    ) -> Prediction:
        raise NotImplementedError("backtests do not explain")


class _MatchOnce:
    """The same rules on both sides: match each item once per batch, not once per side."""

    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules
        self._hits: dict[Item, list[RuleHit]] = {}

    def match(self, item: Item) -> list[RuleHit]:
        # by value: the scorer hands each side a copy carrying the detected language
        if item not in self._hits:
            self._hits[item] = self._rules.match(item)
        return self._hits[item]


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quality:
    """Confusion counts over labelled items, with precision and recall (None: undefined)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "precision": self.precision,
            "recall": self.recall,
        }


def quality(predicted: set[int], labels: Mapping[int, int]) -> Quality | None:
    if not labels:
        return None
    tp = sum(1 for i, y in labels.items() if y and i in predicted)
    fp = sum(1 for i, y in labels.items() if not y and i in predicted)
    fn = sum(1 for i, y in labels.items() if y and i not in predicted)
    return Quality(tp, fp, fn, len(labels) - tp - fp - fn)


@dataclass
class Outcome:
    """What one config does with the items."""

    name: str
    relevant: set[int] = field(default_factory=set)
    # subscriber -> item ids the pipeline would send: first alerts of stories and updates
    alerts: dict[str, set[int]] = field(default_factory=dict)
    updates: dict[str, set[int]] = field(default_factory=dict)  # those of them updates
    routed: dict[str, set[int]] = field(default_factory=dict)  # passing the filters
    scores: dict[int, float] = field(default_factory=dict)
    vetoed: set[int] = field(default_factory=set)  # an exclude rule fired
    quality: Quality | None = None
    subscriber_quality: dict[str, Quality | None] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriberDiff:
    subscriber: str
    before: int  # alerts under the current config
    after: int  # alerts under the proposed config
    gained: tuple[int, ...]  # item ids, ascending
    lost: tuple[int, ...]
    presence: str = "both"  # "both", "added" (only in the proposed config), "removed"
    updates: tuple[int, int] = (0, 0)  # of the alerts, story updates: current, proposed
    merged: tuple[int, int] = (0, 0)  # reports wanted but merged into a story, sent no more


@dataclass
class BacktestResult:
    items: int
    labelled: int
    current: Outcome
    proposed: Outcome
    subscribers: list[SubscriberDiff]
    titles: dict[int, str]
    model_shared: bool
    elapsed: float
    source: str = ""

    @property
    def relevant_gained(self) -> tuple[int, ...]:
        return tuple(sorted(self.proposed.relevant - self.current.relevant))

    @property
    def relevant_lost(self) -> tuple[int, ...]:
        return tuple(sorted(self.current.relevant - self.proposed.relevant))

    @property
    def rate(self) -> float:
        return self.items / self.elapsed if self.elapsed > 0 else float("inf")

    def diff(self, subscriber: str) -> SubscriberDiff:
        for d in self.subscribers:
            if d.subscriber == subscriber:
                return d
        raise KeyError(subscriber)

    def to_dict(self) -> dict[str, Any]:
        def side(o: Outcome) -> dict[str, Any]:
            return {
                "relevant": len(o.relevant),
                "quality": o.quality.to_dict() if o.quality else None,
                "alerts": {s: len(ids) for s, ids in sorted(o.alerts.items())},
                "updates": {s: len(ids) for s, ids in sorted(o.updates.items())},
                "merged": {
                    s: len(ids - o.alerts.get(s, set())) for s, ids in sorted(o.routed.items())
                },
                "subscriber_quality": {
                    s: q.to_dict() if q else None for s, q in sorted(o.subscriber_quality.items())
                },
            }

        def listed(ids: Iterable[int]) -> list[dict[str, Any]]:
            return [
                {
                    "id": i,
                    "title": self.titles.get(i, ""),
                    "current_score": self.current.scores.get(i),
                    "proposed_score": self.proposed.scores.get(i),
                    "current_vetoed": i in self.current.vetoed,
                    "proposed_vetoed": i in self.proposed.vetoed,
                }
                for i in ids
            ]

        return {
            "source": self.source,
            "items": self.items,
            "labelled": self.labelled,
            "counting": COUNTING,
            "model_shared": self.model_shared,
            "elapsed_seconds": round(self.elapsed, 3),
            "items_per_second": round(self.rate, 1) if self.elapsed > 0 else None,
            "current": side(self.current),
            "proposed": side(self.proposed),
            "relevant_gained": listed(self.relevant_gained),
            "relevant_lost": listed(self.relevant_lost),
            "subscribers": [
                {
                    "subscriber": d.subscriber,
                    "presence": d.presence,
                    "before": d.before,
                    "after": d.after,
                    "updates": list(d.updates),
                    "merged": list(d.merged),
                    "gained": listed(d.gained),
                    "lost": listed(d.lost),
                }
                for d in self.subscribers
            ],
        }


# --- the run ------------------------------------------------------------------------------


def _batches(cases: Sequence[Case], size: int) -> Iterator[Sequence[Case]]:
    for start in range(0, len(cases), size):
        yield cases[start : start + size]


def run(
    cases: Sequence[Case],
    current: Variant,
    proposed: Variant,
    models: Mapping[str, Model],
    *,
    batch_size: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    source: str = "",
) -> BacktestResult:
    """Score every case under both variants and compare what each would alert."""
    started = time.perf_counter()
    sides = (current, proposed)
    outcomes = (Outcome(current.name), Outcome(proposed.name))
    geo = None  # loaded only when a subscriber filters by place
    if any(sub.countries or sub.near for v in sides for sub in v.subscribers):
        geo = shared_geoparser(default_cache_dir())
    routes = [
        [
            Route(
                sub,
                (),
                keyword_matcher(sub.keywords),
                GeoFilter(sub, geo.country_at) if geo and (sub.countries or sub.near) else None,
            )
            for sub in v.subscribers
        ]
        for v in sides
    ]
    for outcome, side_routes in zip(outcomes, routes, strict=True):
        outcome.routed = {r.subscriber.name: set() for r in side_routes}
    wanted: tuple[list[_Wanted], list[_Wanted]] = ([], [])  # relevant items, arrival order
    done = 0
    same_rules = (
        current.rules_config is not None
        and current.rules_config == proposed.rules_config
        and current.rules.feed_tags == proposed.rules.feed_tags  # rules with `tags` read them
    )
    for batch in _batches(cases, batch_size):
        items = [c.item for c in batch]
        texts = [(i.title, i.summary, i.link) for i in items]
        predictions = {key: models[key].predict(texts) for key in {v.model_key for v in sides}}
        places = (
            [r.where for r in geo.locate_many((i.title, i.summary, i.link, None) for i in items)]
            if geo
            else [None] * len(items)
        )
        where_of = {c.id: w for c, w in zip(batch, places, strict=True)}
        shared = _MatchOnce(current.rules) if same_rules else None
        for variant, outcome, side_routes, found in zip(
            sides, outcomes, routes, wanted, strict=True
        ):
            model = models[variant.model_key]
            scorer = Scorer(
                shared or variant.rules,  # type: ignore[arg-type]
                _Fixed(texts, predictions[variant.model_key], model.threshold),
                variant.threshold,
                feed_languages=variant.languages,
            )
            scores = scorer.score_batch(items, explain_relevant=False)
            for case, score in zip(batch, scores, strict=True):
                outcome.scores[case.id] = score.score
                if score.vetoed:
                    outcome.vetoed.add(case.id)
                if not score.relevant:
                    continue
                outcome.relevant.add(case.id)
                where = where_of[case.id]
                names = tuple(
                    r.subscriber.name for r in side_routes if r.wants(case.item, score, where)
                )
                for name in names:
                    outcome.routed[name].add(case.id)
                found.append(_Wanted(case, score.score, score.category, names))
        done += len(batch)
        if progress is not None:
            progress(done, len(cases))

    for variant, outcome, found in zip(sides, outcomes, wanted, strict=True):
        outcome.alerts, outcome.updates = as_sent(found, variant.stories, list(outcome.routed))
    labels = {c.id: c.label for c in cases if c.label is not None}
    for outcome in outcomes:
        outcome.quality = quality(outcome.relevant, labels)
        # of the items the subscriber's filters let through: a report merged into a story
        # the subscriber was told of is no miss
        outcome.subscriber_quality = {s: quality(ids, labels) for s, ids in outcome.routed.items()}
    before, after = outcomes
    names = list(before.alerts) + [s for s in after.alerts if s not in before.alerts]
    diffs = []
    for name in names:
        old, new = before.alerts.get(name), after.alerts.get(name)
        presence = (
            "both"
            if old is not None and new is not None
            else ("removed" if new is None else "added")
        )
        old, new = old or set(), new or set()
        diffs.append(
            SubscriberDiff(
                name,
                len(old),
                len(new),
                tuple(sorted(new - old)),
                tuple(sorted(old - new)),
                presence,
                (len(before.updates.get(name, ())), len(after.updates.get(name, ()))),
                (_merged(before, name), _merged(after, name)),
            )
        )
    return BacktestResult(
        items=len(cases),
        labelled=len(labels),
        current=before,
        proposed=after,
        subscribers=diffs,
        titles={c.id: c.item.title or c.item.summary[:100] for c in cases},
        model_shared=current.model_key == proposed.model_key,
        elapsed=time.perf_counter() - started,
        source=source,
    )


def _merged(outcome: Outcome, subscriber: str) -> int:
    return len(outcome.routed.get(subscriber, set()) - outcome.alerts.get(subscriber, set()))


# --- stories: what the pipeline sends -------------------------------------------------------

COUNTING = (
    "alerts counted as the pipeline sends them: reports merged into a story count once, "
    "later reports only as the updates it would send"
)
_NO_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # items of a file: all arrive at once


@dataclass(frozen=True, slots=True)
class _Wanted:
    """A relevant item of one side, with the subscribers whose filters it passes."""

    case: Case
    score: float
    category: str
    subscribers: tuple[str, ...]


def story_rules(config: StoriesConfig) -> tuple[stories.Settings, stories.UpdatePolicy]:
    """The clusterer's settings and the update policy of a ``stories`` config section, as
    the pipeline builds them (``StoryDesk.from_config``)."""
    settings = stories.Settings(
        window=timedelta(hours=config.window_hours),
        similarity=config.similarity,
        duplicate_similarity=config.duplicate_similarity,
    )
    policy = stories.UpdatePolicy(
        interval=timedelta(minutes=config.update_interval_minutes),
        score_margin=config.update_score_margin,
        new_terms=config.update_new_terms,
        milestones=tuple(sorted(config.update_source_milestones)),
    )
    return settings, policy


def as_sent(
    wanted: Sequence[_Wanted], config: StoriesConfig, subscribers: Sequence[str]
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """Per subscriber, the items the pipeline would send (first alerts and updates), and
    which of them are updates: the relevant items clustered into stories in the order they
    arrived (as the pipeline orders a poll's batch: by time seen, then id), each one's
    deliveries filtered by ``route_story`` with what the subscriber was told so far."""
    sent: dict[str, set[int]] = {s: set() for s in subscribers}
    updates: dict[str, set[int]] = {s: set() for s in subscribers}
    if not config.enabled or not any(w.subscribers for w in wanted):
        for w in wanted:
            for name in w.subscribers:
                sent[name].add(w.case.id)
        return sent, updates
    settings, policy = story_rules(config)
    clusterer, index = stories.Clusterer(settings), stories.MemoryIndex()
    told: dict[int, dict[str, stories.Notice]] = {}

    def seen(w: _Wanted) -> tuple[datetime, datetime, int]:
        now = w.case.fetched or _NO_TIME
        return now, stories.item_time(w.case.item.published, now, settings.window), w.case.id

    ordered = sorted(wanted, key=seen)
    for batch in _batches(ordered, BATCH):
        incoming = [
            stories.Incoming(
                item_id=w.case.id,
                feed=w.case.item.feed,
                title=w.case.item.title,
                summary=w.case.item.summary,
                link=w.case.item.link,
                time=seen(w)[1],
                score=w.score,
                category=w.category,
            )
            for w in batch
        ]
        assignments, changes = clusterer.assign(incoming, index)
        index.apply(changes)
        for a, w in zip(assignments, batch, strict=True):
            planned = [PlannedDelivery(name, "", "") for name in w.subscribers]
            notices = told.setdefault(a.story_id, {})
            keep, news = stories.route_story(a, w.score, planned, notices, seen(w)[0], policy)
            notices.update(news)
            for plan in keep:
                sent[plan.subscriber].add(w.case.id)
                if plan.kind == stories.UPDATE:
                    updates[plan.subscriber].add(w.case.id)
    return sent, updates


# --- report -------------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _one_line(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(result: BacktestResult, *, limit: int = 20) -> str:
    """The text ``newsalert backtest`` prints."""
    cur, new = result.current, result.proposed
    lines = [
        f"backtest: {result.items} items ({result.labelled} labelled){' from ' + result.source if result.source else ''}; "
        f"model {'shared' if result.model_shared else 'differs between the configs'}; "
        f"both scored in {result.elapsed:.2f}s ({result.rate:,.0f} items/s)",
        COUNTING,
        "",
        f"{'':18}{'current':>10}{'proposed':>10}",
        f"{'relevant':18}{len(cur.relevant):>10}{len(new.relevant):>10}"
        f"   (+{len(result.relevant_gained)} gained, -{len(result.relevant_lost)} lost)",
    ]
    if cur.quality or new.quality:
        lines.append(
            f"{'precision':18}{_ratio(cur.quality and cur.quality.precision):>10}"
            f"{_ratio(new.quality and new.quality.precision):>10}   on {result.labelled} labelled items"
        )
        lines.append(
            f"{'recall':18}{_ratio(cur.quality and cur.quality.recall):>10}"
            f"{_ratio(new.quality and new.quality.recall):>10}"
        )
    for d in result.subscribers:
        note = {"added": " (new subscriber)", "removed": " (removed subscriber)"}.get(
            d.presence, ""
        )
        lines += [
            "",
            f"subscriber {d.subscriber}{note}: {d.before} -> {d.after} alerts "
            f"(+{len(d.gained)} gained, -{len(d.lost)} lost)",
        ]
        if any(d.updates) or any(d.merged):
            lines.append(
                f"  of them story updates {d.updates[0]} -> {d.updates[1]}; "
                f"reports merged into a story, not sent: {d.merged[0]} -> {d.merged[1]}"
            )
        qc = cur.subscriber_quality.get(d.subscriber)
        qn = new.subscriber_quality.get(d.subscriber)
        if qc or qn:
            lines.append(
                f"  precision {_ratio(qc and qc.precision)} -> {_ratio(qn and qn.precision)}, "
                f"recall {_ratio(qc and qc.recall)} -> {_ratio(qn and qn.recall)}"
            )
        for sign, ids in (("+", d.gained), ("-", d.lost)):
            for i in ids[:limit]:
                lines.append(
                    f"  {sign} {i:>7}  {_score(cur, i)} -> {_score(new, i)}  "
                    f"{_one_line(result.titles.get(i, ''))}"
                )
            if len(ids) > limit:
                lines.append(
                    f"  {sign} ... and {len(ids) - limit} more (--limit, or --json for all)"
                )
    if not result.subscribers:
        lines += ["", "no subscribers in either config"]
    return "\n".join(lines)


def _score(outcome: Outcome, item_id: int) -> str:
    if item_id in outcome.vetoed:
        return "vetoed"
    value = outcome.scores.get(item_id)
    return "  -  " if value is None else f"{value:.2f}"


class ProgressBar:
    """A one-line progress bar on a terminal (stderr); silent when not a TTY."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.stream.write(
            f"\rbacktest [{'#' * filled}{'.' * (width - filled)}] {done}/{total} items, {rate:,.0f}/s"
        )
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
