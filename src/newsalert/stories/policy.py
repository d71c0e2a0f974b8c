"""The update policy: what a later report of a story adds, and when it becomes an update.

A subscriber's first relevant item of a story alerts as before; a duplicate never does;
a later report of the same story becomes an *update* only when it adds something (a
source-count milestone, a score higher by a margin, new key terms in its title) and the
subscriber's last alert or update on the story is at least ``update_interval`` old.
Pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from newsalert.stories.state import (
    ALERT,
    DUPLICATE,
    UPDATE,
    Assignment,
)

if TYPE_CHECKING:
    from newsalert.models import PlannedDelivery


@dataclass(frozen=True, slots=True)
class Notice:
    """What one subscriber was last told about one story."""

    story_id: int
    subscriber: str
    first_item_id: int  # the item of the first alert
    last_at: datetime
    sources: int
    score: float
    updates: int = 0


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    interval: timedelta = timedelta(minutes=60)  # at most one update per story and subscriber
    score_margin: float = 0.1  # an update when the score beats the last told by this much
    new_terms: int = 2  # ... or the title brings this many words the story had not seen
    milestones: tuple[int, ...] = (3, 5, 10, 20, 50)  # ... or the source count passes one


def what_is_new(
    assignment: Assignment, score: float, notice: Notice, policy: UpdatePolicy
) -> tuple[str, ...]:
    """What a report adds to what the subscriber was told; empty: nothing worth a message."""
    out = []
    sources = len(assignment.sources)
    if any(notice.sources < m <= sources for m in policy.milestones):
        out.append(f"now {sources} sources")
    if score >= notice.score + policy.score_margin:
        out.append(f"score up from {notice.score:.2f} to {score:.2f}")
    if policy.new_terms and len(assignment.new_terms) >= policy.new_terms:
        out.append("new: " + ", ".join(assignment.new_terms[:6]))
    return tuple(out)


def route_story(
    assignment: Assignment,
    score: float,
    planned: Sequence[PlannedDelivery],
    notices: Mapping[str, Notice],
    now: datetime,
    policy: UpdatePolicy,
) -> tuple[list[PlannedDelivery], dict[str, Notice]]:
    """Filter an item's planned deliveries by its story; return them and the new notices.

    A subscriber not yet told about the story gets the alert: the first relevant item of
    the story *for them* (the first report may have failed their filters: another feed,
    a lower score). One already told gets an update only if the item adds something and
    the last message is ``policy.interval`` old. A near-duplicate never alerts again: it
    alerts only a subscriber never told about the story, and never makes an update.
    """
    if not planned:
        return [], {}
    by_subscriber: dict[str, list[PlannedDelivery]] = defaultdict(list)
    for plan in planned:
        by_subscriber[plan.subscriber].append(plan)
    out: list[PlannedDelivery] = []
    told: dict[str, Notice] = {}
    sources = len(assignment.sources)
    for subscriber, plans in by_subscriber.items():
        notice = notices.get(subscriber)
        if notice is None:
            out += [replace(p, story_id=assignment.story_id, kind=ALERT) for p in plans]
            told[subscriber] = Notice(
                assignment.story_id, subscriber, assignment.item_id, now, sources, score
            )
            continue
        if assignment.kind == DUPLICATE or now - notice.last_at < policy.interval:
            continue
        changes = what_is_new(assignment, score, notice, policy)
        if not changes:
            continue
        out += [
            replace(p, story_id=assignment.story_id, kind=UPDATE, changes=changes) for p in plans
        ]
        told[subscriber] = replace(
            notice,
            last_at=now,
            sources=sources,
            score=max(notice.score, score),
            updates=notice.updates + 1,
        )
    return out, told
