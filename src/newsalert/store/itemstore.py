"""Items: stored once per (feed, key), so re-polling never stores or alerts an item twice;
their scores, written in the same transaction as their deliveries (the outbox): an item
is never relevant without its deliveries, and a crash never loses one."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from newsalert.errors import StoreError
from newsalert.models import (
    Item,
    PlannedDelivery,
    Reason,
    Score,
    StoredItem,
)
from newsalert.store.schema import (
    HELD,
    PENDING,
    StoreBase,
    _chunks,
    deliveries,
    delivery_stories,
    feeds,
    items,
)


def _score_statement(*, language: bool) -> Any:
    values = {
        name: bindparam(f"b_{name}", type_=items.c[name].type)
        for name in ("scored_at", "score", "model_probability", "relevant", "category", "reasons")
        + (("language", "language_method") if language else ())
    }
    return (
        update(items)
        .where(items.c.id == bindparam("b_id"), items.c.scored_at.is_(None))
        .values(**values)
    )


# an item's score, on statements built once (building one costs more than running it)
_SAVE_SCORE = _score_statement(language=False)
_SAVE_SCORE_LANGUAGE = _score_statement(language=True)


class _NotAllUnscored(Exception):
    """A batch's scores did not all go in at once: save them one by one instead."""


class ItemStore(StoreBase):
    """The item reads and writes of :class:`~newsalert.store.Store`."""

    # --- items ---------------------------------------------------------------

    def add_items(self, feed_id: int, new: Sequence[Item], now: datetime) -> list[int]:
        """Store items not seen before for this feed; return the ids of the new ones."""
        if not new:
            return []
        ids: list[int] = []
        with self.begin() as conn:
            keys = [i.key for i in new]
            known: set[str] = set()
            for chunk in _chunks(keys, 500):
                known.update(
                    conn.execute(
                        select(items.c.key).where(
                            items.c.feed_id == feed_id, items.c.key.in_(chunk)
                        )
                    ).scalars()
                )
            rows = [
                {
                    "feed_id": feed_id,
                    "key": item.key,
                    "guid": item.guid,
                    "title": item.title,
                    "summary": item.summary,
                    "content": item.content or None,
                    "link": item.link,
                    "language": item.language,
                    "published_at": item.published,
                    "fetched_at": now,
                }
                for item in new
                if item.key not in known
            ]
            ids = self._insert_new_items(conn, rows)
            if ids:
                conn.execute(
                    update(feeds)
                    .where(feeds.c.id == feed_id)
                    .values(items_seen=feeds.c.items_seen + len(ids))
                )
        return ids

    def _insert_new_items(self, conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows, skipping keys a concurrent poll of the same feed stored first."""
        if not rows:
            return []
        # ON CONFLICT covers the race with another poller of the same feed
        made = _insert_skipping_conflicts(
            conn, items, rows, [items.c.id], index_elements=["feed_id", "key"]
        )
        return sorted(int(i) for (i,) in made)

    def unscored_item_ids(self, limit: int = 1000) -> list[int]:
        """The oldest unscored items first, those that failed scoring before last."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(items.c.id)
                    .where(items.c.scored_at.is_(None))
                    .order_by(items.c.score_failures, items.c.id)
                    .limit(limit)
                ).scalars()
            )

    def note_score_failure(self, item_id: int) -> int:
        """Count a failure to score this item alone; the count so far."""
        with self.begin() as conn:
            count = conn.execute(
                update(items)
                .where(items.c.id == item_id)
                .values(score_failures=items.c.score_failures + 1)
                .returning(items.c.score_failures)
            ).scalar_one_or_none()
        return int(count or 0)

    def get_items(self, ids: Sequence[int]) -> list[StoredItem]:
        out: list[StoredItem] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids), 500):
                rows = conn.execute(
                    select(items, feeds.c.name.label("feed_name"))
                    .join(feeds, feeds.c.id == items.c.feed_id)
                    .where(items.c.id.in_(chunk))
                    .order_by(items.c.id)
                )
                out.extend(_stored_item(r) for r in rows)
        return out

    def get_item(self, item_id: int) -> StoredItem:
        found = self.get_items([item_id])
        if not found:
            raise StoreError(f"no item with id {item_id}")
        return found[0]

    def save_scores(
        self,
        scored: Sequence[tuple[int, Score, Sequence[PlannedDelivery]]],
        now: datetime,
        *,
        also: Callable[[Connection, set[int]], None] | None = None,
    ) -> list[int]:
        """Write scores and their deliveries in one transaction; return new delivery ids.

        An item already scored (by a concurrent worker) is skipped with its deliveries.
        ``also(conn, saved_item_ids)`` writes more in the same transaction (stories).

        The scores go in as one ``executemany`` per statement when every item of the batch
        was still unscored (the row counts add up to the batch): one statement per item
        cost SQLAlchemy about 0.05 ms each. When they do not add up (an item scored
        already, by a redelivered task or a concurrent worker), that transaction is rolled
        back before anything else was written and the batch is saved item by item, as ever.
        """
        batch_ok = (
            len(scored) > 1
            and getattr(self._together, "conn", None) is None  # a rollback must be ours alone
            and self.engine.dialect.supports_sane_multi_rowcount
        )
        if batch_ok:
            try:
                return self._save_scores(scored, now, also, at_once=True)
            except _NotAllUnscored:
                pass
        return self._save_scores(scored, now, also, at_once=False)

    def _save_scores(
        self,
        scored: Sequence[tuple[int, Score, Sequence[PlannedDelivery]]],
        now: datetime,
        also: Callable[[Connection, set[int]], None] | None,
        *,
        at_once: bool,
    ) -> list[int]:
        created: list[int] = []
        saved: set[int] = set()
        with self.begin() as conn:
            wanted: list[tuple[int, PlannedDelivery]] = []
            plain: list[dict[str, Any]] = []
            with_language: list[dict[str, Any]] = []
            for item_id, score, planned in scored:
                values = {
                    "b_id": item_id,
                    "b_scored_at": now,
                    "b_score": score.score,
                    "b_model_probability": score.model_probability,
                    "b_relevant": score.relevant,
                    "b_category": score.category,
                    "b_reasons": json.dumps([[r.kind, r.label, r.weight] for r in score.reasons]),
                }
                if score.language is not None:
                    values["b_language"] = score.language.code[:35]
                    values["b_language_method"] = score.language.method
                if at_once:
                    (plain if score.language is None else with_language).append(values)
                    saved.add(item_id)
                    wanted += ((item_id, plan) for plan in planned)
                    continue
                statement = _SAVE_SCORE if score.language is None else _SAVE_SCORE_LANGUAGE
                if conn.execute(statement, values).rowcount != 1:
                    continue
                saved.add(item_id)
                wanted += ((item_id, plan) for plan in planned)
            if at_once:
                done = sum(
                    conn.execute(statement, rows).rowcount
                    for statement, rows in (
                        (_SAVE_SCORE, plain),
                        (_SAVE_SCORE_LANGUAGE, with_language),
                    )
                    if rows
                )
                if done != len(scored):
                    raise _NotAllUnscored  # rolls back these updates: nothing else written yet
            if wanted:
                created = self._insert_deliveries(conn, wanted, now)
            if also is not None:
                also(conn, saved)
        return created

    def _insert_deliveries(
        self, conn: Connection, wanted: list[tuple[int, PlannedDelivery]], now: datetime
    ) -> list[int]:
        """Insert the planned deliveries (with their story links); the ids of those made,
        in the order planned. One already there (unique per subscriber, target and item)
        is skipped: one statement with ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
        rows = [
            {
                "item_id": item_id,
                "subscriber": plan.subscriber,
                "target_id": plan.target_id,
                "target_label": plan.target_label,
                "status": HELD if plan.hold_until else PENDING,
                "attempts": 0,
                "ambiguous": False,
                "created_at": now,
                "next_attempt_at": plan.hold_until or now,
            }
            for item_id, plan in wanted
        ]
        c = deliveries.c
        made = {
            (item_id, subscriber, target_id): int(delivery_id)
            for delivery_id, item_id, subscriber, target_id in _insert_skipping_conflicts(
                conn, deliveries, rows, [c.id, c.item_id, c.subscriber, c.target_id]
            )
        }
        created: list[int] = []
        links = []
        for item_id, plan in wanted:
            delivery_id = made.get((item_id, plan.subscriber, plan.target_id))
            if delivery_id is None:
                continue
            created.append(delivery_id)
            if plan.story_id is not None:
                links.append(
                    {
                        "delivery_id": delivery_id,
                        "story_id": plan.story_id,
                        "kind": plan.kind,
                        "changes": json.dumps(list(plan.changes)),
                    }
                )
        if links:
            conn.execute(insert(delivery_stories), links)
        return created

    def count_items(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())


def _insert_skipping_conflicts(
    conn: Connection,
    table: Any,
    rows: list[dict[str, Any]],
    returning: list[Any],
    *,
    index_elements: list[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows``, skipping those a unique constraint refuses (another worker's);
    the ``returning`` columns of the rows inserted. SQLite and PostgreSQL: one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` for the batch; other databases: a
    savepoint per row (the primary key from the insert, the other columns from the row)."""
    dialect = conn.dialect.name
    if dialect in ("sqlite", "postgresql"):
        module = sqlite_dialect if dialect == "sqlite" else postgresql_dialect
        stmt = (
            module.insert(table)
            .on_conflict_do_nothing(index_elements=index_elements)
            .returning(*returning)
        )
        return [tuple(row) for row in conn.execute(stmt, rows)]
    made = []
    for row in rows:
        try:
            with conn.begin_nested():
                key = conn.execute(insert(table).values(**row)).inserted_primary_key[0]
        except IntegrityError:
            continue
        made.append(tuple(key if col.primary_key else row[col.name] for col in returning))
    return made


def _stored_item(row: Any) -> StoredItem:
    item = Item(
        key=row.key,
        feed=row.feed_name,
        title=row.title,
        summary=row.summary,
        content=row.content or "",
        link=row.link,
        published=row.published_at,
        language=row.language,
        guid=row.guid,
    )
    score = None
    if row.scored_at is not None:
        reasons = tuple(
            Reason(k, label, float(w)) for k, label, w in json.loads(row.reasons or "[]")
        )
        score = Score(
            score=float(row.score),
            relevant=bool(row.relevant),
            category=row.category or "none",
            model_probability=row.model_probability,
            reasons=reasons,
        )
    return StoredItem(id=row.id, feed=row.feed_name, item=item, score=score)
