"""Activity read from the store: what ``newsalert stats``, ``feeds`` and the metrics show.

Everything here is computed from rows every process writes (items, scores,
deliveries, feed state), so it is the same whichever worker process, host or
command asks, and it survives restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from newsalert.store import DELIVERY_STATES, Store, aware_utc, deliveries, feeds, items

# seconds from an item being fetched to its alert being sent (digests wait by design)
LATENCY_BUCKETS: tuple[float, ...] = (
    1,
    5,
    15,
    30,
    60,
    120,
    300,
    600,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
)


@dataclass(frozen=True, slots=True)
class HourRow:
    hour: datetime  # start of the hour, UTC
    items: int
    alerts: int  # items scored relevant
    deliveries: dict[str, int]  # deliveries created in the hour, by their status now

    @property
    def deliveries_total(self) -> int:
        return sum(self.deliveries.values())


@dataclass(frozen=True, slots=True)
class SubscriberRow:
    subscriber: str
    alerts: int  # distinct items
    deliveries: dict[str, int]  # by status now
    ambiguous: int


@dataclass(frozen=True, slots=True)
class FeedActivity:
    items: int
    alerts: int
    last_alert_at: datetime | None


@dataclass(slots=True)
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)  # cumulative, one per bucket
    count: int = 0
    total: float = 0.0


def floor_hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def hourly(store: Store, hours: int, now: datetime) -> list[HourRow]:
    """One row per hour of the last ``hours`` (oldest first, the current hour last)."""
    end = floor_hour(now) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    item_counts: Counter[datetime] = Counter()
    alert_counts: Counter[datetime] = Counter()
    by_status: dict[datetime, Counter[str]] = {}
    with store.engine.connect() as conn:
        for fetched_at, relevant in conn.execute(
            select(items.c.fetched_at, items.c.relevant).where(items.c.fetched_at >= start)
        ):
            hour = floor_hour(fetched_at)
            item_counts[hour] += 1
            if relevant:
                alert_counts[hour] += 1
        for created_at, status in conn.execute(
            select(deliveries.c.created_at, deliveries.c.status).where(
                deliveries.c.created_at >= start
            )
        ):
            by_status.setdefault(floor_hour(created_at), Counter())[status] += 1
    rows = []
    for n in range(hours):
        hour = start + timedelta(hours=n)
        rows.append(
            HourRow(hour, item_counts[hour], alert_counts[hour], dict(by_status.get(hour, {})))
        )
    return rows


def by_subscriber(store: Store, since: datetime | None = None) -> list[SubscriberRow]:
    """Deliveries per subscriber (created since ``since``), by status now."""
    query = select(
        deliveries.c.subscriber,
        deliveries.c.status,
        func.count(),
        func.sum(case((deliveries.c.ambiguous.is_(True), 1), else_=0)),
    ).group_by(deliveries.c.subscriber, deliveries.c.status)
    if since is not None:
        query = query.where(deliveries.c.created_at >= since)
    alerts_query = select(
        deliveries.c.subscriber, func.count(func.distinct(deliveries.c.item_id))
    ).group_by(deliveries.c.subscriber)
    if since is not None:
        alerts_query = alerts_query.where(deliveries.c.created_at >= since)
    per: dict[str, dict[str, int]] = {}
    ambiguous: Counter[str] = Counter()
    with store.engine.connect() as conn:
        for subscriber, status, n, amb in conn.execute(query):
            per.setdefault(subscriber, {})[status] = int(n)
            ambiguous[subscriber] += int(amb or 0)
        alerts = {s: int(n) for s, n in conn.execute(alerts_query)}
    return [
        SubscriberRow(name, alerts.get(name, 0), per[name], ambiguous[name]) for name in sorted(per)
    ]


def feed_activity(store: Store) -> dict[str, FeedActivity]:
    """feed name -> items stored and alerts (items scored relevant), all time."""
    query = (
        select(
            feeds.c.name,
            func.count(items.c.id),
            func.sum(case((items.c.relevant.is_(True), 1), else_=0)),
            func.max(case((items.c.relevant.is_(True), items.c.fetched_at), else_=None)),
        )
        .select_from(feeds.outerjoin(items, items.c.feed_id == feeds.c.id))
        .group_by(feeds.c.name)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = {}
    for name, n, alerts, last in rows:
        out[name] = FeedActivity(int(n or 0), int(alerts or 0), aware_utc(last))
    return out


def delivery_status_counts(store: Store) -> dict[str, int]:
    """Every delivery state (zero when none), plus ``ambiguous`` (a flag, not a state)."""
    counts = dict.fromkeys(DELIVERY_STATES, 0)
    with store.engine.connect() as conn:
        for status, n in conn.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        ):
            counts[status] = int(n)
        counts["ambiguous"] = int(
            conn.execute(
                select(func.count()).select_from(deliveries).where(deliveries.c.ambiguous.is_(True))
            ).scalar_one()
        )
    return counts


def item_totals(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(
                func.count(),
                func.sum(case((items.c.relevant.is_(True), 1), else_=0)),
                func.sum(case((items.c.scored_at.is_(None), 1), else_=0)),
                func.sum(
                    case(
                        (and_(items.c.scored_at.is_(None), items.c.score_failures > 0), 1), else_=0
                    )
                ),
            ).select_from(items)
        ).one()
    return {
        "items": int(row[0] or 0),
        "alerts": int(row[1] or 0),
        "unscored": int(row[2] or 0),
        "failing": int(row[3] or 0),  # unscored because scoring fails on them
    }


def _seconds(later: Any, earlier: Any, dialect: str) -> ColumnElement[float] | None:
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    return None


def latency_histogram(store: Store, buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
    """Seconds from fetch to send of every sent delivery, as a cumulative histogram.

    Computed in the database (one aggregate query) on SQLite and PostgreSQL.
    """
    hist = Histogram(tuple(buckets))
    dialect = store.engine.dialect.name
    joined = deliveries.join(items, items.c.id == deliveries.c.item_id)
    sent = deliveries.c.sent_at.is_not(None)
    lat = _seconds(deliveries.c.sent_at, items.c.fetched_at, dialect)
    with store.engine.connect() as conn:
        if lat is not None:
            lat = func.max(lat, 0.0) if dialect == "sqlite" else func.greatest(lat, 0.0)
            columns = [func.sum(case((lat <= b, 1), else_=0)) for b in hist.buckets]
            row = conn.execute(
                select(func.count(), func.sum(lat), *columns).select_from(joined).where(sent)
            ).one()
            hist.count = int(row[0] or 0)
            hist.total = float(row[1] or 0.0)
            hist.counts = [int(v or 0) for v in row[2:]]
            return hist
        values = [
            max(0.0, (s - f).total_seconds())
            for s, f in conn.execute(
                select(deliveries.c.sent_at, items.c.fetched_at).select_from(joined).where(sent)
            )
        ]
    hist.count = len(values)
    hist.total = sum(values)
    hist.counts = [sum(1 for v in values if v <= b) for b in hist.buckets]
    return hist
