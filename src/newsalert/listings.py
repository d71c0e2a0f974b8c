"""Read-only queries behind the operator's listings: ``newsalert deliveries`` and ``items``.

Filters run in SQL before the row limit, so a filter never looks at only the newest rows.
One function per listing, reading the store's tables: nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from newsalert.geo.model import Location
from newsalert.geo.records import locations_of
from newsalert.store import (
    Delivery,
    Store,
    _delivery,
    deliveries,
    feeds,
    items,
    story_items,
)

AMBIGUOUS = "ambiguous"  # a filter of its own: a flag, not a status


def list_deliveries(
    store: Store, status: str | None = None, limit: int = 50
) -> tuple[list[Delivery], int]:
    """The newest ``limit`` deliveries with ``status`` (or ``"ambiguous"``: sent or not,
    the sender cannot tell), and how many match in all."""
    where = []
    if status == AMBIGUOUS:
        where.append(deliveries.c.ambiguous.is_(True))
    elif status:
        where.append(deliveries.c.status == status)
    query = select(deliveries).where(*where).order_by(deliveries.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = [_delivery(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(deliveries).where(*where)).scalar()
    return rows, int(total or 0)


@dataclass(frozen=True, slots=True)
class ItemRow:
    """A scored item as ``newsalert items`` lists it. ``title`` is feed text: hostile."""

    id: int
    fetched_at: datetime
    published_at: datetime | None
    feed: str
    title: str
    link: str | None
    score: float
    relevant: bool
    category: str
    story_id: int | None  # None: not clustered (not relevant, or stories off)
    story_kind: str | None  # new, duplicate, related
    # subscriber -> the best status of its deliveries of the item (sent before the others)
    alerted: dict[str, str]
    where: Location | None = None  # where its event happened (None: names no place)


_STATUS_RANK = {"sent": 0, "sending": 1, "pending": 2, "held": 3, "failed": 4, "dead": 5}


def recent_items(
    store: Store,
    since: datetime,
    *,
    min_score: float | None = None,
    feed: str | None = None,
    relevant: bool | None = None,
    limit: int = 100,
) -> tuple[list[ItemRow], int]:
    """Scored items fetched since ``since``, newest first, at most ``limit``, with their
    story and the subscribers they were routed to; and how many match in all."""
    where = [items.c.scored_at.is_not(None), items.c.fetched_at >= since]
    if min_score is not None:
        where.append(items.c.score >= min_score)
    if feed is not None:
        where.append(feeds.c.name == feed)
    if relevant is not None:
        where.append(items.c.relevant.is_(relevant))
    joined = items.join(feeds, feeds.c.id == items.c.feed_id)
    query = (
        select(
            items.c.id,
            items.c.fetched_at,
            items.c.published_at,
            feeds.c.name,
            items.c.title,
            items.c.link,
            items.c.score,
            items.c.relevant,
            items.c.category,
            story_items.c.story_id,
            story_items.c.kind,
        )
        .select_from(joined.outerjoin(story_items, story_items.c.item_id == items.c.id))
        .where(*where)
        .order_by(items.c.fetched_at.desc(), items.c.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        total = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar()
        alerted: dict[int, dict[str, str]] = defaultdict(dict)
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 500):
            found = conn.execute(
                select(deliveries.c.item_id, deliveries.c.subscriber, deliveries.c.status)
                .where(deliveries.c.item_id.in_(ids[start : start + 500]))
                .order_by(deliveries.c.id)
            )
            for item_id, subscriber, status in found:
                best = alerted[item_id].get(subscriber)
                if best is None or _STATUS_RANK.get(status, 9) < _STATUS_RANK.get(best, 9):
                    alerted[item_id][subscriber] = status
    places = locations_of(store.engine, ids)
    return [
        ItemRow(
            id=r.id,
            fetched_at=r.fetched_at,
            published_at=r.published_at,
            feed=r.name,
            title=r.title,
            link=r.link,
            score=float(r.score),
            relevant=bool(r.relevant),
            category=r.category or "none",
            story_id=r.story_id,
            story_kind=r.kind,
            alerted=dict(alerted.get(r.id, {})),
            where=places.get(r.id, (None, ""))[0],
        )
        for r in rows
    ], int(total or 0)
