"""Answers to alerts: what a subscriber (through a signed link) or an operator (in the
console) said about an item, with who said it.

Every answer is kept as a row (``feedback_answers``). "Relevant" and "Not relevant" are
also written as the item's label (:mod:`newsalert.feedback`, the last answer wins), so
they count in ``newsalert feedback``, ``backtest`` and ``model train --with-feedback``.
"Duplicate" is kept as an answer only. "Mute this story" also stops every further
delivery of the item's story to that subscriber (``story_mutes``, read when a batch is
routed: :func:`drop_muted`).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from newsalert import feedback
from newsalert.store import PlannedDelivery, Store, UTCDateTime, metadata, story_items, utcnow

# action -> the words every alert and page shows for it
ACTIONS: dict[str, str] = {
    "relevant": "Relevant",
    "not_relevant": "Not relevant",
    "duplicate": "Duplicate",
    "wrong_place": "Wrong place",
    "mute": "Mute this story",
}
# offered in alerts; "wrong_place" too when the alert has a location (feedback_links)
OFFERED: tuple[str, ...] = ("relevant", "not_relevant", "duplicate", "mute")
LABELS = {"relevant": 1, "not_relevant": 0}

feedback_answers = Table(
    "feedback_answers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("subscriber", String(64)),  # whose alert it answers (None: an operator's own)
    Column("given_by", String(80), nullable=False),  # "subscriber:NAME" or "operator:NAME"
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feedback_answers_item", "item_id"),
    Index("ix_feedback_answers_created", "created_at"),
)

story_mutes = Table(
    "story_mutes",
    metadata,
    Column("story_id", Integer, primary_key=True, autoincrement=False),
    Column("subscriber", String(64), primary_key=True),
    Column("item_id", Integer, nullable=False),  # the alert the mute answered
    Column("created_at", UTCDateTime, nullable=False),
)

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_schema(engine: Engine) -> None:
    if engine in _ready:
        return
    feedback.create_tables(engine, [feedback.item_feedback, feedback_answers, story_mutes])
    _ready.add(engine)


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    item_id: int
    action: str
    subscriber: str | None
    given_by: str
    created_at: datetime
    title: str = ""

    @property
    def words(self) -> str:
        return ACTIONS.get(self.action, self.action)


def record(
    store: Store,
    item_id: int,
    action: str,
    *,
    given_by: str,
    subscriber: str | None = None,
    now: datetime | None = None,
) -> Answer:
    """Keep one answer; StoreError for an unknown item, ValueError for an unknown action."""
    if action not in ACTIONS:
        raise ValueError(f"unknown answer {action!r}; one of {list(ACTIONS)}")
    ensure_schema(store.engine)
    now = now or utcnow()
    if action in LABELS:  # raises StoreError for an unknown item, before anything is written
        feedback.record(store, item_id, LABELS[action], now=now)
    else:
        store.get_item(item_id)
    with store.begin() as conn:
        new_id = conn.execute(
            insert(feedback_answers).values(
                item_id=item_id,
                action=action,
                subscriber=subscriber,
                given_by=given_by[:80],
                created_at=now,
            )
        ).inserted_primary_key[0]
        if action == "mute" and subscriber:
            story = conn.execute(
                select(story_items.c.story_id).where(story_items.c.item_id == item_id)
            ).scalar()
            if story is not None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(story_mutes).values(
                                story_id=story,
                                subscriber=subscriber,
                                item_id=item_id,
                                created_at=now,
                            )
                        )
                except IntegrityError:  # muted already (the same link twice)
                    pass
    return Answer(int(new_id), item_id, action, subscriber, given_by, now)


def _rows(query: object, store: Store) -> list[Answer]:
    from newsalert.store import items

    with store.engine.connect() as conn:
        return [
            Answer(r.id, r.item_id, r.action, r.subscriber, r.given_by, r.created_at, r.title)
            for r in conn.execute(query.join(items, items.c.id == feedback_answers.c.item_id))  # type: ignore[attr-defined]
        ]


def for_item(store: Store, item_id: int) -> list[Answer]:
    from newsalert.store import items

    ensure_schema(store.engine)
    query = (
        select(feedback_answers, items.c.title)
        .select_from(feedback_answers)
        .where(feedback_answers.c.item_id == item_id)
        .order_by(feedback_answers.c.id)
    )
    return _rows(query, store)


def recent(store: Store, limit: int = 100, before: int | None = None) -> list[Answer]:
    from newsalert.store import items

    ensure_schema(store.engine)
    query = select(feedback_answers, items.c.title).select_from(feedback_answers)
    if before is not None:
        query = query.where(feedback_answers.c.id < before)
    return _rows(query.order_by(feedback_answers.c.id.desc()).limit(limit), store)


def muted(store: Store, story_ids: Iterable[int]) -> dict[int, set[str]]:
    """story id -> the subscribers who muted it (only stories with a mute)."""
    wanted = sorted(set(story_ids))
    if not wanted:
        return {}
    ensure_schema(store.engine)
    out: dict[int, set[str]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            rows = conn.execute(
                select(story_mutes.c.story_id, story_mutes.c.subscriber).where(
                    story_mutes.c.story_id.in_(wanted[start : start + 500])
                )
            )
            for story, subscriber in rows:
                out.setdefault(int(story), set()).add(subscriber)
    return out


def drop_muted(store: Store, planned: list[list[PlannedDelivery]]) -> list[list[PlannedDelivery]]:
    """The planned deliveries (one list per item) without those of a story to a subscriber
    who muted it."""
    stories = {d.story_id for ds in planned for d in ds if d.story_id is not None}
    mutes = muted(store, stories) if stories else {}
    if not mutes:
        return planned
    return [
        [d for d in ds if d.story_id is None or d.subscriber not in mutes.get(d.story_id, ())]
        for ds in planned
    ]


__all__ = [
    "ACTIONS",
    "LABELS",
    "OFFERED",
    "Answer",
    "drop_muted",
    "ensure_schema",
    "feedback_answers",
    "for_item",
    "muted",
    "recent",
    "record",
    "story_mutes",
]
