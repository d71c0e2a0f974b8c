"""Read-only store queries for the console's pages, over the store's own tables.

Each list is paged by id ("before"), newest first, and reads one page and what its
rows need (their deliveries, their feedback) in a few indexed queries, so a page costs
the same with 100 or 100,000 stored items (``bench/web.py``).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Index, exists, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from newsalert import answers
from newsalert.feedback import item_feedback
from newsalert.geo.filters import map_link
from newsalert.geo.model import Location
from newsalert.store import (
    Delivery,
    Store,
    deliveries,
    feeds,
    items,
    stories,
    story_items,
)

PAGE = 50

# lookups the console makes that the pipeline never does: a page's deliveries by item,
# and the alert list filtered by category or subscriber
_INDEXES = (
    Index("ix_web_deliveries_item", deliveries.c.item_id, deliveries.c.subscriber),
    Index("ix_web_items_category", items.c.category, items.c.id),
    Index("ix_web_items_feed", items.c.feed_id, items.c.id),
)
_ready: weakref.WeakSet[Engine] = weakref.WeakSet()


def ensure_schema(engine: Engine) -> None:
    """The console's indexes and the answers' tables (each made once, if missing)."""
    if engine in _ready:
        return
    answers.ensure_schema(engine)
    for index in _INDEXES:
        try:
            index.create(engine, checkfirst=True)
        except SQLAlchemyError as exc:  # another process made it at the same moment
            if "already exists" not in str(exc).lower():
                raise
    _ready.add(engine)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    title: str
    feed: str
    score: float | None
    category: str | None
    published_at: datetime | None
    fetched_at: datetime
    subscribers: tuple[str, ...] = ()
    label: int | None = None


@dataclass(frozen=True, slots=True)
class Filters:
    subscriber: str | None = None
    category: str | None = None
    feed: str | None = None
    country: str | None = None  # ISO alpha-2, as stored in items.geo_country


def alerts(
    store: Store, filters: Filters, *, before: int | None = None, limit: int = PAGE
) -> list[AlertRow]:
    """Items that were routed to a subscriber (had a delivery), newest first."""
    ensure_schema(store.engine)
    routed = select(deliveries.c.id).where(deliveries.c.item_id == items.c.id)
    if filters.subscriber:
        routed = routed.where(deliveries.c.subscriber == filters.subscriber)
    query = (
        select(
            items.c.id,
            items.c.title,
            feeds.c.name.label("feed"),
            items.c.score,
            items.c.category,
            items.c.published_at,
            items.c.fetched_at,
        )
        .join(feeds, feeds.c.id == items.c.feed_id)
        .where(exists(routed))
        .order_by(items.c.id.desc())
        .limit(limit)
    )
    if filters.category:
        query = query.where(items.c.category == filters.category)
    if filters.feed:
        query = query.where(feeds.c.name == filters.feed)
    if filters.country:
        country = filters.country.upper()
        # an event at a border named as the country's ("on the Kosovo border") is its too
        query = query.where(or_(items.c.geo_country == country, items.c.geo_across == country))
    if before is not None:
        query = query.where(items.c.id < before)
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
        ids = [r.id for r in rows]
        subs: dict[int, list[str]] = {}
        labels: dict[int, int] = {}
        if ids:
            for item_id, sub in conn.execute(
                select(deliveries.c.item_id, deliveries.c.subscriber)
                .where(deliveries.c.item_id.in_(ids))
                .distinct()
            ):
                subs.setdefault(item_id, []).append(sub)
            labels = dict(
                conn.execute(
                    select(item_feedback.c.item_id, item_feedback.c.label).where(
                        item_feedback.c.item_id.in_(ids)
                    )
                ).all()
            )
    return [
        AlertRow(
            r.id,
            r.title,
            r.feed,
            r.score,
            r.category,
            r.published_at,
            r.fetched_at,
            tuple(sorted(subs.get(r.id, ()))),
            labels.get(r.id),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class StoryRow:
    id: int
    title: str
    first_seen: datetime
    last_seen: datetime
    item_count: int
    sources: tuple[str, ...]
    category: str
    peak_score: float


def _story(row: Any) -> StoryRow:
    try:
        sources = tuple(str(s) for s in json.loads(row.sources or "[]"))
    except ValueError:
        sources = ()
    return StoryRow(
        row.id,
        row.title,
        row.first_seen,
        row.last_seen,
        row.item_count,
        sources,
        row.category,
        row.peak_score,
    )


_STORY_COLUMNS = (
    stories.c.id,
    stories.c.title,
    stories.c.first_seen,
    stories.c.last_seen,
    stories.c.item_count,
    stories.c.sources,
    stories.c.category,
    stories.c.peak_score,
)


def recent_stories(
    store: Store, *, category: str | None = None, limit: int = PAGE
) -> list[StoryRow]:
    ensure_schema(store.engine)
    query = select(*_STORY_COLUMNS).order_by(stories.c.last_seen.desc()).limit(limit)
    if category:
        query = query.where(stories.c.category == category)
    with store.engine.connect() as conn:
        return [_story(r) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class ItemPage:
    """Everything the item page shows."""

    id: int
    feed: str
    title: str
    summary: str
    link: str | None
    language: str | None
    published_at: datetime | None
    fetched_at: datetime
    score: float | None
    model_probability: float | None
    relevant: bool | None
    category: str | None
    reasons: tuple[tuple[str, str, float], ...]
    story: StoryRow | None
    story_kind: str | None  # report, duplicate
    story_items: tuple[tuple[int, str, str], ...]  # (id, feed, title) of its other reports
    deliveries: tuple[Delivery, ...]
    answers: tuple[answers.Answer, ...]
    label: int | None
    extra: dict[str, Any] = field(default_factory=dict)
    location: Location | None = None
    location_why: str = ""
    places: tuple[dict[str, Any], ...] = ()  # the other places the text mentions
    map_url: str = ""


def _places(raw: str | None) -> tuple[dict[str, Any], ...]:
    try:
        found = json.loads(raw or "[]")
    except ValueError:
        return ()
    return tuple(p for p in found if isinstance(p, dict)) if isinstance(found, list) else ()


@dataclass(frozen=True, slots=True)
class MapPoint:
    """A located item on the console's map, at equirectangular x/y (0-360, 0-180)."""

    id: int
    title: str
    place: str
    country: str
    lat: float
    lon: float

    @property
    def x(self) -> float:
        return round(self.lon + 180.0, 2)

    @property
    def y(self) -> float:
        return round(90.0 - self.lat, 2)


def located(store: Store, *, limit: int = 200) -> list[MapPoint]:
    """The most recent scored items that have a location, newest first."""
    query = (
        select(
            items.c.id,
            items.c.title,
            items.c.geo_place,
            items.c.geo_country,
            items.c.geo_lat,
            items.c.geo_lon,
        )
        .where(items.c.geo_lat.is_not(None), items.c.geo_lon.is_not(None))
        .order_by(items.c.id.desc())
        .limit(limit)
    )
    with store.engine.connect() as conn:
        return [
            MapPoint(
                r.id,
                r.title,
                r.geo_place or r.geo_country or "",
                r.geo_country or "",
                max(-90.0, min(90.0, r.geo_lat)),
                max(-180.0, min(180.0, r.geo_lon)),
            )
            for r in conn.execute(query)
        ]


def item_page(store: Store, item_id: int) -> ItemPage | None:
    from newsalert.store import _delivery

    ensure_schema(store.engine)
    with store.engine.connect() as conn:
        row = conn.execute(
            select(items, feeds.c.name.label("feed"))
            .join(feeds, feeds.c.id == items.c.feed_id)
            .where(items.c.id == item_id)
        ).first()
        if row is None:
            return None
        try:
            reasons = tuple(
                (str(k), str(label), float(w)) for k, label, w in json.loads(row.reasons or "[]")
            )
        except (ValueError, TypeError):
            reasons = ()
        link = conn.execute(
            select(story_items.c.story_id, story_items.c.kind).where(
                story_items.c.item_id == item_id
            )
        ).first()
        story = None
        members: tuple[tuple[int, str, str], ...] = ()
        if link is not None:
            found = conn.execute(
                select(*_STORY_COLUMNS).where(stories.c.id == link.story_id)
            ).first()
            story = _story(found) if found is not None else None
            members = tuple(
                (r.id, r.feed, r.title)
                for r in conn.execute(
                    select(items.c.id, story_items.c.feed, items.c.title)
                    .join(items, items.c.id == story_items.c.item_id)
                    .where(story_items.c.story_id == link.story_id, items.c.id != item_id)
                    .order_by(items.c.id)
                    .limit(20)
                )
            )
        sent = tuple(
            _delivery(r)
            for r in conn.execute(
                select(deliveries).where(deliveries.c.item_id == item_id).order_by(deliveries.c.id)
            )
        )
        label = conn.execute(
            select(item_feedback.c.label).where(item_feedback.c.item_id == item_id)
        ).scalar()
    where = None
    if row.geo_country is not None and row.geo_lat is not None and row.geo_lon is not None:
        where = Location(
            place=row.geo_place or row.geo_country,
            country=row.geo_country,
            admin1=row.geo_admin1,
            lat=row.geo_lat,
            lon=row.geo_lon,
            precision=row.geo_precision or "country",
            across=row.geo_across,
        )
    return ItemPage(
        id=row.id,
        feed=row.feed,
        title=row.title,
        summary=row.summary,
        link=row.link,
        language=row.language,
        published_at=row.published_at,
        fetched_at=row.fetched_at,
        score=row.score,
        model_probability=row.model_probability,
        relevant=row.relevant,
        category=row.category,
        reasons=reasons,
        story=story,
        story_kind=link.kind if link is not None else None,
        story_items=members,
        deliveries=sent,
        answers=tuple(answers.for_item(store, item_id)),
        label=None if label is None else int(label),
        location=where,
        location_why=row.geo_why or "",
        places=_places(row.geo_places),
        map_url=map_link(where) if where else "",
    )


def delivery_page(
    store: Store, *, status: str | None = None, before: int | None = None, limit: int = PAGE
) -> list[Delivery]:
    from newsalert.store import _delivery

    query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
    if status:
        query = query.where(deliveries.c.status == status)
    if before is not None:
        query = query.where(deliveries.c.id < before)
    with store.engine.connect() as conn:
        return [_delivery(r) for r in conn.execute(query)]


def titles(store: Store, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    with store.engine.connect() as conn:
        return dict(
            conn.execute(select(items.c.id, items.c.title).where(items.c.id.in_(list(ids)))).all()
        )


__all__ = [
    "AlertRow",
    "Filters",
    "ItemPage",
    "StoryRow",
    "alerts",
    "delivery_page",
    "ensure_schema",
    "item_page",
    "recent_stories",
    "titles",
]
