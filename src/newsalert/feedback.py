"""Operator feedback: "this alert was (not) relevant", stored per item.

``newsalert feedback ITEM yes|no`` writes one row per item (the last answer wins);
``newsalert model train --with-feedback`` adds the labelled items to the training
data, and ``newsalert backtest`` uses them for precision and recall.

The table lives in the store's database, declared on the store's metadata (so
``Store.create_schema`` creates it too) and created on first use otherwise.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, String, Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from newsalert.models import CATEGORIES
from newsalert.store import Store, UTCDateTime, items, metadata, utcnow

item_feedback = Table(
    "item_feedback",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True),
    Column("label", Integer, nullable=False),  # 1 relevant, 0 not relevant
    Column("category", String(32)),  # for relevant items: what it is about (optional)
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

YES = frozenset({"yes", "y", "1", "true", "relevant"})
NO = frozenset({"no", "n", "0", "false", "irrelevant", "not-relevant"})

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines whose table exists


@dataclass(frozen=True, slots=True)
class Feedback:
    item_id: int
    label: int
    category: str | None
    title: str
    feed: str
    updated_at: datetime


def parse_label(text: str) -> int:
    """ "yes" -> 1, "no" -> 0 (also y/n, 1/0, true/false); ValueError otherwise."""
    word = text.strip().lower()
    if word in YES:
        return 1
    if word in NO:
        return 0
    raise ValueError(f"expected yes or no, got {text!r}")


def ensure_schema(engine: Engine) -> None:
    if engine in _ready:
        return
    create_tables(engine, [item_feedback])
    _ready.add(engine)


def create_tables(engine: Engine, tables: list[Table]) -> None:
    """Create ``tables`` if missing; processes starting together may race to do it."""
    for attempt in range(3):
        try:
            metadata.create_all(engine, tables=tables)
            return
        except SQLAlchemyError as exc:
            text = str(exc).lower()
            if attempt == 2 or not ("already exists" in text or "duplicate key" in text):
                raise


def record(
    store: Store,
    item_id: int,
    label: int,
    *,
    category: str | None = None,
    now: datetime | None = None,
) -> Feedback:
    """Store (or replace) the label of a stored item; StoreError if there is no such item."""
    if label not in (0, 1):
        raise ValueError("label must be 0 or 1")
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; choose from {list(CATEGORIES)}")
    ensure_schema(store.engine)
    now = now or utcnow()
    stored = store.get_item(item_id)  # raises StoreError for an unknown id
    values: dict[str, Any] = {"label": label, "category": category if label else None}
    with store.begin() as conn:
        done = conn.execute(
            update(item_feedback)
            .where(item_feedback.c.item_id == item_id)
            .values(updated_at=now, **values)
        )
        if done.rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(item_feedback).values(
                            item_id=item_id, created_at=now, updated_at=now, **values
                        )
                    )
            except IntegrityError:  # a concurrent answer for the same item: last one wins
                conn.execute(
                    update(item_feedback)
                    .where(item_feedback.c.item_id == item_id)
                    .values(updated_at=now, **values)
                )
    return Feedback(item_id, label, values["category"], stored.item.title, stored.feed, now)


def labels(store: Store, ids: Iterable[int] | None = None) -> dict[int, int]:
    """item id -> label for every item with feedback (or only those in ``ids``)."""
    ensure_schema(store.engine)
    query = select(item_feedback.c.item_id, item_feedback.c.label)
    wanted = None if ids is None else set(ids)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {int(i): int(label) for i, label in rows if wanted is None or int(i) in wanted}


def training_items(store: Store) -> list[dict[str, Any]]:
    """Labelled items for ``classifier.train(extra_items=...)``.

    A relevant item's category is the one given with the feedback, else the one
    it was scored with (when it is a known category), else none.
    """
    ensure_schema(store.engine)
    query = (
        select(
            item_feedback.c.item_id,
            item_feedback.c.label,
            item_feedback.c.category,
            items.c.title,
            items.c.summary,
            items.c.category.label("scored_category"),
        )
        .join(items, items.c.id == item_feedback.c.item_id)
        .order_by(item_feedback.c.item_id)
    )
    out = []
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            category = row.category or row.scored_category
            out.append(
                {
                    "title": row.title,
                    "summary": row.summary,
                    "label": int(row.label),
                    "category": category if row.label and category in CATEGORIES else None,
                    "source": "feedback",
                }
            )
    return out


def recent(store: Store, limit: int = 50) -> list[Feedback]:
    from newsalert.store import feeds

    ensure_schema(store.engine)
    query = (
        select(
            item_feedback.c.item_id,
            item_feedback.c.label,
            item_feedback.c.category,
            item_feedback.c.updated_at,
            items.c.title,
            feeds.c.name,
        )
        .join(items, items.c.id == item_feedback.c.item_id)
        .join(feeds, feeds.c.id == items.c.feed_id)
        .order_by(item_feedback.c.updated_at.desc(), item_feedback.c.item_id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [
            Feedback(r.item_id, int(r.label), r.category, r.title, r.name, r.updated_at)
            for r in conn.execute(query)
        ]


__all__ = [
    "Feedback",
    "ensure_schema",
    "item_feedback",
    "labels",
    "parse_label",
    "recent",
    "record",
    "training_items",
]
