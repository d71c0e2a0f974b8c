"""Feeds: their rows, the outcome of each poll (:class:`PollRecord`), due feeds and their
leases, and feed-health changes with the notices they queue."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from newsalert.errors import StoreError
from newsalert.models import (
    FeedNotice,
    FeedState,
    PlannedDelivery,
)
from newsalert.store.schema import (
    PENDING,
    StoreBase,
    _chunks,
    deliveries,
    feed_notices,
    feeds,
)

# after a success, its warning (items not stored) stays until a poll brings the feed
# again: a 304 says nothing new about them; after a failure, the error goes
_KEEP_WARNING = case((feeds.c.error_streak == 0, feeds.c.last_error), else_=None)

# a 304: new times, any error streak cleared (PollRecord.values() for the same case)
_PLAIN_POLL = (
    update(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        last_status=bindparam("b_status"),
        last_polled_at=bindparam("b_now"),
        next_poll_at=bindparam("b_next"),
        last_success_at=bindparam("b_now"),
        last_error=_KEEP_WARNING,
        error_streak=0,
        failing_since=None,
    )
)

# every poll task reads its feeds' states first: built once, as _PLAIN_POLL
_FEEDS_NAMED = select(feeds).where(feeds.c.name.in_(bindparam("b_names", expanding=True)))


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll changes in its feed's row (see :meth:`Store.record_polls`)."""

    feed_id: int
    status: str  # ok, not_modified, error, rejected, gone
    now: datetime
    next_poll_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    moved_to: str | None = None
    disabled: bool = False
    warning: str | None = None  # a successful poll's trouble (items not stored): shown, no streak

    @property
    def plain(self) -> bool:
        """A 304 that changes nothing but the times and clears any error streak."""
        return (
            self.status == "not_modified"
            and self.error is None
            and self.warning is None
            and not self.moved_to
            and not self.disabled
        )

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "last_status": self.status,
            "last_polled_at": self.now,
            "next_poll_at": self.next_poll_at,
        }
        if self.error is None:
            values.update(
                last_error=(
                    self.warning[:2000]
                    if self.warning
                    else (_KEEP_WARNING if self.status == "not_modified" else None)
                ),
                error_streak=0,
                last_success_at=self.now,
                failing_since=None,
            )
            if self.status == "ok":
                values.update(etag=self.etag, last_modified=self.last_modified)
        else:
            values.update(
                last_error=self.error[:2000],
                error_streak=feeds.c.error_streak + 1,
                failing_since=func.coalesce(feeds.c.failing_since, self.now),
            )
        if self.moved_to:
            values["moved_to"] = self.moved_to
        if self.disabled:
            values["disabled"] = True
        return values


class FeedStore(StoreBase):
    """The feed reads and writes of :class:`~newsalert.store.Store`."""

    # --- feeds ---------------------------------------------------------------

    def sync_feeds(self, configured: Iterable[tuple[str, str]]) -> None:
        """Make sure every configured (name, url) has a row; a changed URL resets validators."""
        with self.begin() as conn:
            existing = {
                r.name: r for r in conn.execute(select(feeds.c.id, feeds.c.name, feeds.c.url))
            }
            for name, url in configured:
                row = existing.get(name)
                if row is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(feeds).values(
                                    name=name, url=url, error_streak=0, disabled=False, items_seen=0
                                )
                            )
                    except IntegrityError:  # another process inserted it first
                        pass
                elif row.url != url:
                    conn.execute(
                        update(feeds)
                        .where(feeds.c.id == row.id)
                        .values(
                            url=url,
                            etag=None,
                            last_modified=None,
                            moved_to=None,
                            disabled=False,
                            next_poll_at=None,
                        )
                    )

    def feed_state(self, name: str) -> FeedState:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.name == name)).one_or_none()
        if row is None:
            raise StoreError(f"feed {name!r} is not in the store; is it in the config?")
        return _feed_state(row)

    def feed_states(self) -> list[FeedState]:
        with self.engine.connect() as conn:
            return [_feed_state(r) for r in conn.execute(select(feeds).order_by(feeds.c.name))]

    def claim_due_feeds(self, names: Sequence[str], now: datetime, lease: float) -> list[str]:
        """Claim the feeds that are due, so exactly one scheduler polls each.

        The claim pushes ``next_poll_at`` ``lease`` seconds ahead in one atomic
        update; the poll then sets the real next time. Two beats racing
        get disjoint sets; a poll that dies is retried when the lease runs out.
        """
        until = now + timedelta(seconds=lease)
        due = and_(
            feeds.c.name.in_(list(names)),
            feeds.c.disabled.is_(False),
            or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now),
        )
        # One UPDATE ... RETURNING: PostgreSQL re-checks the WHERE on a row another
        # claimer just updated (so it is skipped), and SQLite serialises writers.
        with self.begin() as conn:
            names_claimed = conn.execute(
                update(feeds).where(due).values(next_poll_at=until).returning(feeds.c.name)
            ).scalars()
            return sorted(names_claimed)

    def feed_states_named(self, names: Sequence[str]) -> dict[str, FeedState]:
        """The states of the named feeds that are in the store, in one query."""
        out: dict[str, FeedState] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(names), 500):
                for row in conn.execute(_FEEDS_NAMED, {"b_names": chunk}):
                    out[row.name] = _feed_state(row)
        return out

    def record_poll(
        self,
        feed_id: int,
        *,
        status: str,
        now: datetime,
        next_poll_at: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
        moved_to: str | None = None,
        disabled: bool = False,
    ) -> None:
        self.record_polls(
            [
                PollRecord(
                    feed_id, status, now, next_poll_at, etag, last_modified, error, moved_to,
                    disabled,
                )
            ]
        )  # fmt: skip

    def record_polls(
        self, records: Sequence[PollRecord], *, also: Callable[[Connection], None] | None = None
    ) -> None:
        """Write the outcome of several polls in one transaction; ``also(conn)`` writes
        more in it (the poll counters).

        The common case, a 304 or a success with nothing else to change, goes as one
        executemany of one prepared UPDATE: at hundreds of polls a second the cost of
        building a statement per feed is what the store would otherwise spend.
        """
        plain = [r for r in records if r.plain]
        other = [r for r in records if not r.plain]
        with self.begin() as conn:
            if plain:
                conn.execute(
                    _PLAIN_POLL,
                    [
                        {"b_id": r.feed_id, "b_status": r.status, "b_now": r.now,
                         "b_next": r.next_poll_at}
                        for r in plain
                    ],
                )  # fmt: skip
            for r in other:
                conn.execute(update(feeds).where(feeds.c.id == r.feed_id).values(**r.values()))
            if also is not None:
                also(conn)

    def change_health(
        self,
        feed_id: int,
        *,
        unhealthy: bool,
        now: datetime,
        planned: Sequence[PlannedDelivery],
    ) -> tuple[FeedNotice, list[int]] | None:
        """Record a feed-health change once, with its notice and the notice's deliveries.

        One transaction. ``unhealthy_since`` is flipped by a conditional update (set
        only while the feed is failing and not yet unhealthy; cleared only once it is
        no longer failing), so when several workers see the change, exactly one
        records it and operators are told once. None if the change was not (or no
        longer) due; else the notice and the new delivery ids (pending, due now).
        """
        if unhealthy:
            due = and_(feeds.c.unhealthy_since.is_(None), feeds.c.failing_since.is_not(None))
        else:
            due = and_(feeds.c.unhealthy_since.is_not(None), feeds.c.failing_since.is_(None))
        with self.begin() as conn:
            row = conn.execute(select(feeds).where(feeds.c.id == feed_id, due)).one_or_none()
            if row is None:
                return None
            flipped = conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id, due)
                .values(unhealthy_since=now if unhealthy else None)
            )
            if flipped.rowcount != 1:
                return None
            values = {
                "feed_id": feed_id,
                "kind": "unhealthy" if unhealthy else "recovered",
                "created_at": now,
                "since": row.failing_since if unhealthy else row.unhealthy_since,
                "error": row.last_error if unhealthy else None,
                "error_streak": row.error_streak or 0,
                "disabled": bool(row.disabled),
                "url": row.url,
            }
            notice_id = int(
                conn.execute(insert(feed_notices).values(**values)).inserted_primary_key[0]
            )
            created = [
                int(
                    conn.execute(
                        insert(deliveries).values(
                            notice_id=notice_id,
                            subscriber=plan.subscriber,
                            target_id=plan.target_id,
                            target_label=plan.target_label,
                            status=PENDING,
                            attempts=0,
                            ambiguous=False,
                            created_at=now,
                            next_attempt_at=now,
                        )
                    ).inserted_primary_key[0]
                )
                for plan in planned
            ]
        del values["feed_id"]
        return FeedNotice(id=notice_id, feed=row.name, **values), created

    def get_notice(self, notice_id: int) -> FeedNotice:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(feed_notices, feeds.c.name.label("feed_name"))
                .join(feeds, feeds.c.id == feed_notices.c.feed_id)
                .where(feed_notices.c.id == notice_id)
            ).one_or_none()
        if row is None:
            raise StoreError(f"no feed notice with id {notice_id}")
        return FeedNotice(
            id=row.id,
            feed=row.feed_name,
            kind=row.kind,
            created_at=row.created_at,
            since=row.since,
            error=row.error,
            error_streak=row.error_streak or 0,
            disabled=bool(row.disabled),
            url=row.url,
        )


def _feed_state(row: Any) -> FeedState:
    return FeedState(
        id=row.id,
        name=row.name,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        next_poll_at=row.next_poll_at,
        last_polled_at=row.last_polled_at,
        last_success_at=row.last_success_at,
        last_status=row.last_status,
        last_error=row.last_error,
        error_streak=row.error_streak or 0,
        disabled=bool(row.disabled),
        items_seen=row.items_seen or 0,
        moved_to=row.moved_to,
        failing_since=row.failing_since,
        unhealthy_since=row.unhealthy_since,
    )
