"""The store: feeds, items, scores and deliveries, on SQLAlchemy Core.

SQLite by default (a file under the data directory), PostgreSQL by URL. Items are
unique per (feed, key), so re-polling never stores or alerts an item twice;
deliveries are unique per (subscriber, target, item) and are written in the same
transaction as the item's score (the outbox): an item is never relevant without
its deliveries, and a crash never loses one.

Delivery states: pending -> sending (leased) -> sent; a failed attempt becomes
failed with a later ``next_attempt_at``; after the last attempt, dead. Held rows
(quiet hours, digests) wait for ``next_attempt_at`` and go out together. A
lease that expires while ``sending`` means the process died between send and
mark: the row is flagged ``ambiguous`` and sent again (at-least-once).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.types import TypeDecorator

from newsalert.errors import StoreError
from newsalert.models import Item, Reason, Score

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
FAILED = "failed"  # an attempt failed; retried at next_attempt_at
HELD = "held"  # waiting for quiet hours to end or for the subscriber's digest
DELIVERY_STATES = (PENDING, HELD, SENDING, FAILED, SENT, DEAD)
RETRYABLE = (PENDING, FAILED)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def aware_utc(value: Any) -> datetime | None:
    """A UTCDateTime column's value read past SQLAlchemy's types (a raw driver cursor,
    or an aggregate some backends return untyped): SQLite's text, or a naive datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("moved_to", Text),  # a permanent redirect seen: update the config
    Column("next_poll_at", UTCDateTime),
    Column("last_polled_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_status", String(32)),  # ok, not_modified, error, rejected, gone
    Column("last_error", Text),
    Column("error_streak", Integer, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),  # 410 Gone
    Column("items_seen", Integer, nullable=False, default=0),
    # health (see health.py): first failure of the current streak; NULL when healthy
    Column("failing_since", UTCDateTime),
    Column("unhealthy_since", UTCDateTime),  # NULL: healthy (operators were told when set)
)

# one row per feed-health change told to operators; its deliveries point here
feed_notices = Table(
    "feed_notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # unhealthy, recovered
    Column("created_at", UTCDateTime, nullable=False),
    Column("since", UTCDateTime),  # unhealthy: failing since; recovered: unhealthy since
    Column("error", Text),  # the feed's last error when it became unhealthy
    Column("error_streak", Integer, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),  # gone (410)
    Column("url", Text, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("guid", Text),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text),  # full text when the feed carries it; rules may match it
    Column("link", Text),
    Column("language", String(35)),
    Column("published_at", UTCDateTime),
    Column("fetched_at", UTCDateTime, nullable=False),
    # filled by the scoring stage; NULL means "not scored yet" (kept, retried)
    Column("scored_at", UTCDateTime),
    Column("score", Float),
    Column("model_probability", Float),
    Column("relevant", Boolean),
    Column("category", String(32)),
    Column("reasons", Text),  # JSON list of [kind, label, weight]
    # times scoring failed on this item alone (a bug it triggers): the sweep takes such
    # items after the others, so a pile of them never holds up new items
    Column("score_failures", Integer, nullable=False, default=0),
    # where the reported event happened (newsalert.geo), set with the score; NULL: nowhere
    Column("geo_place", Text),
    Column("geo_country", String(2)),
    Column("geo_admin1", Text),
    Column("geo_lat", Float),
    Column("geo_lon", Float),
    Column("geo_precision", String(8)),
    Column("geo_places", Text),  # JSON list of every place named, as geo.Location dicts
    Column("geo_why", Text),
    UniqueConstraint("feed_id", "key", name="uq_items_feed_key"),
    Index("ix_items_unscored", "scored_at"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id")),  # NULL for a feed-health notice
    Column("notice_id", Integer, ForeignKey("feed_notices.id")),  # set instead of item_id
    Column("subscriber", String(64), nullable=False),
    # sha256 prefix of the target URL: the store never holds the secret URL
    Column("target_id", String(16), nullable=False),
    Column("target_label", Text, nullable=False),  # the URL with secrets masked
    Column("status", String(16), nullable=False, default=PENDING),
    Column("attempts", Integer, nullable=False, default=0),
    Column("ambiguous", Boolean, nullable=False, default=False),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("sent_at", UTCDateTime),
    UniqueConstraint("subscriber", "target_id", "item_id", name="uq_deliveries_target_item"),
    UniqueConstraint("subscriber", "target_id", "notice_id", name="uq_deliveries_target_notice"),
    CheckConstraint("(item_id IS NULL) <> (notice_id IS NULL)", name="ck_deliveries_one_subject"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

# --- stories (stories.py): new tables only, so databases made before them keep working ---

# one row per story; its id is the id of its first item
stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("sources", Text, nullable=False),  # JSON list of feed names, first seen first
    Column("category", String(32), nullable=False),
    Column("peak_score", Float, nullable=False),
    Column("state", Text, nullable=False),  # JSON: centroid, vocabulary, weekdays
    Index("ix_stories_last_seen", "last_seen"),
)

# which story each scored item joined, and how (new, duplicate, related)
story_items = Table(
    "story_items",
    metadata,
    Column("item_id", Integer, ForeignKey("items.id"), primary_key=True, autoincrement=False),
    Column("story_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("duplicate_of", Integer),
    Column("similarity", Float),
    Column("feed", String(64), nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("signature", LargeBinary),  # MinHash, uint32 x 128; NULL for very short texts
    Index("ix_story_items_story", "story_id"),
)

# LSH band hashes, canonical links and rare terms of recent items: looked up by key,
# pruned after the stories window
story_keys = Table(
    "story_keys",
    metadata,
    # (key, item) is the primary key: lookups by key read the rows in key order, and on
    # SQLite (WITHOUT ROWID) the table is that index, with no second copy of the key
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column("item_id", Integer, primary_key=True, autoincrement=False),
    Column("story_id", Integer, nullable=False),
    Column("seen_at", BigInteger, nullable=False),  # Unix seconds: written in bulk, compared only
    # no index on seen_at: keeping one up to date was a third of writing the keys, and the
    # pruning it served scans the table in a tenth of a second every 10 minutes instead
    # (databases made with one keep it)
    sqlite_with_rowid=False,
)

# what each subscriber was last told about a story (first alert, then updates)
story_notices = Table(
    "story_notices",
    metadata,
    Column("story_id", Integer, primary_key=True, autoincrement=False),
    Column("subscriber", String(64), primary_key=True),
    Column("first_item_id", Integer, nullable=False),  # the item of the first alert
    Column("last_at", UTCDateTime, nullable=False),
    Column("sources", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("updates", Integer, nullable=False),
)

# a delivery that belongs to a story: the first alert ("alert") or an "update"
delivery_stories = Table(
    "delivery_stories",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("story_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("changes", Text, nullable=False),  # JSON list: what an update adds
)

# the service's id of what a delivery sent, when it gave one (a Telegram message_id, a Slack
# ts, an e-mail's Message-ID; of several chats, a JSON object by chat: see delivery.py), also
# for each delivery a digest message carried: story updates reply to or thread under the
# first alert's. A table of its own, not a column: create_all adds new tables to existing
# databases, never new columns.
sent_messages = Table(
    "sent_messages",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("remote_id", String(128), nullable=False),
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


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_error: str | None
    error_streak: int
    disabled: bool
    items_seen: int
    moved_to: str | None
    failing_since: datetime | None = None  # first failure of the current streak
    unhealthy_since: datetime | None = None  # None: healthy (see health.py)


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


@dataclass(frozen=True, slots=True)
class FeedNotice:
    """A feed-health change told to operators (see health.py)."""

    id: int
    feed: str
    kind: str  # unhealthy, recovered
    created_at: datetime
    since: datetime | None  # unhealthy: failing since; recovered: unhealthy since
    error: str | None
    error_streak: int
    disabled: bool  # gone (410)
    url: str


@dataclass(frozen=True, slots=True)
class StoredItem:
    id: int
    feed: str
    item: Item
    score: Score | None


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """A delivery the router decided on, before it has a row."""

    subscriber: str
    target_id: str
    target_label: str
    hold_until: datetime | None = None  # quiet hours or digest: sent together then
    story_id: int | None = None  # set by stories.py: the story this delivery tells of
    kind: str = "alert"  # "alert", or "update" on a story already alerted
    changes: tuple[str, ...] = ()  # what an update adds


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    item_id: int | None  # None for a feed-health notice (then notice_id is set)
    subscriber: str
    target_id: str
    target_label: str
    status: str
    attempts: int
    ambiguous: bool
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    notice_id: int | None = None
    lease_until: datetime | None = None  # while sending: the sender's lease, its fence
    taken_back: bool = False  # leased from a sender that died (or outlasted its lease)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the worker write while the CLI reads; busy_timeout waits out short locks
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def masked_database_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


class Store:
    """All reads and writes of newsalert's state. Build one per process."""

    def __init__(self, database_url: str, *, create: bool = True) -> None:
        self.url = database_url
        try:
            url = make_url(database_url)
        except Exception as exc:
            raise StoreError(f"invalid database URL {masked_database_url(database_url)}") from exc
        kwargs: dict[str, Any] = {"future": True}
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg2":
            try:
                import psycopg2  # noqa: F401
            except ImportError:
                url = url.set(drivername="postgresql+psycopg")
        self.engine: Engine = create_engine(url, **kwargs)
        if url.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            self.create_schema()

    def create_schema(self) -> None:
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                self._check_columns()
                return
            except SQLAlchemyError as exc:
                # processes starting together race to create the tables: the
                # loser's check-then-create fails, and its next check sees them
                if attempt < 2 and _lost_create_race(exc):
                    continue
                raise StoreError(
                    f"cannot open the store at {masked_database_url(self.url)}: {exc.__class__.__name__}: "
                    f"{str(exc.orig if hasattr(exc, 'orig') else exc).strip().splitlines()[0]}"
                ) from None

    def _check_columns(self) -> None:
        """A database made by an older version lacks newer columns: add them, or say so.

        ``create_all`` adds missing tables, never missing columns. A missing column
        that may be NULL, or has a constant default, is added in place (``ALTER TABLE
        ... ADD COLUMN``: the upgrade of every column added so far). Any other is named
        in a warning: there are no other migrations before the first release. (Only a
        warning: a process that never touches those tables, e.g. one sharing the
        database for rate limits, still works.)
        """
        missing = self._missing_columns()
        for column in missing:
            ddl = _add_column_ddl(column, self.engine.dialect)
            if ddl is None:
                continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(text(ddl))
                log.info("store: added column %s.%s", column.table.name, column.name)
            except SQLAlchemyError:
                pass  # another process starting at the same time may have added it
        missing = self._missing_columns()
        if missing:
            log.warning(
                "the store at %s was created by an older newsalert and lacks columns %s, "
                "which cannot be added in place (NOT NULL without a default); move the "
                "database aside to start a new one (this pre-release has no other schema "
                "migrations)",
                masked_database_url(self.url),
                ", ".join(f"{c.table.name}.{c.name}" for c in missing),
            )

    def _missing_columns(self) -> list[Column[Any]]:
        found = inspect(self.engine)
        return [
            column
            for table in metadata.sorted_tables
            if found.has_table(table.name)
            for have in [{c["name"] for c in found.get_columns(table.name)}]
            for column in table.columns
            if column.name not in have
        ]

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a lock named ``name`` across every process using this store.

        For work that reads, decides and writes, and must not interleave with another
        worker doing the same (assigning items to stories: two workers that both find no
        story for one incident would each start one, and alert twice). PostgreSQL: a
        session advisory lock, on a connection of its own. SQLite (one machine): an
        exclusive ``flock`` on a file beside the database; an in-memory database has
        only this process.
        """
        key = int.from_bytes(
            hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
        )
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            return
        database = make_url(self.url).database
        if not database or database == ":memory:":
            yield
            return
        # flock belongs to the open file: threads of one process, each opening the file,
        # exclude each other as other processes do
        with Path(f"{database}.{name}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

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
                for row in conn.execute(select(feeds).where(feeds.c.name.in_(chunk))):
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
        dialect = self.engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            # one statement for the batch; ON CONFLICT covers the race with another poller
            module = sqlite_dialect if dialect == "sqlite" else postgresql_dialect
            stmt = (
                module.insert(items)
                .on_conflict_do_nothing(index_elements=["feed_id", "key"])
                .returning(items.c.id)
            )
            return sorted(int(i) for i in conn.execute(stmt, rows).scalars())
        ids = []
        for row in rows:  # other databases: a savepoint per row
            try:
                with conn.begin_nested():
                    ids.append(
                        int(conn.execute(insert(items).values(**row)).inserted_primary_key[0])
                    )
            except IntegrityError:
                continue
        return ids

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
        """
        created: list[int] = []
        saved: set[int] = set()
        with self.begin() as conn:
            for item_id, score, planned in scored:
                done = conn.execute(
                    update(items)
                    .where(items.c.id == item_id, items.c.scored_at.is_(None))
                    .values(
                        scored_at=now,
                        score=score.score,
                        model_probability=score.model_probability,
                        relevant=score.relevant,
                        category=score.category,
                        reasons=json.dumps([[r.kind, r.label, r.weight] for r in score.reasons]),
                    )
                )
                if done.rowcount != 1:
                    continue
                saved.add(item_id)
                for plan in planned:
                    try:
                        with conn.begin_nested():
                            result = conn.execute(
                                insert(deliveries).values(
                                    item_id=item_id,
                                    subscriber=plan.subscriber,
                                    target_id=plan.target_id,
                                    target_label=plan.target_label,
                                    status=HELD if plan.hold_until else PENDING,
                                    attempts=0,
                                    ambiguous=False,
                                    created_at=now,
                                    next_attempt_at=plan.hold_until or now,
                                )
                            )
                            delivery_id = int(result.inserted_primary_key[0])
                            if plan.story_id is not None:
                                conn.execute(
                                    insert(delivery_stories).values(
                                        delivery_id=delivery_id,
                                        story_id=plan.story_id,
                                        kind=plan.kind,
                                        changes=json.dumps(list(plan.changes)),
                                    )
                                )
                        created.append(delivery_id)
                    except IntegrityError:
                        continue
            if also is not None:
                also(conn, saved)
        return created

    def count_items(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())

    # --- deliveries ----------------------------------------------------------

    def due_delivery_ids(self, now: datetime, limit: int = 100) -> list[int]:
        """Pending rows whose time has come, plus rows whose send lease expired."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(deliveries.c.id)
                    .where(
                        or_(
                            and_(
                                deliveries.c.status.in_(RETRYABLE),
                                deliveries.c.next_attempt_at <= now,
                            ),
                            and_(deliveries.c.status == SENDING, deliveries.c.lease_until <= now),
                        )
                    )
                    .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                    .limit(limit)
                ).scalars()
            )

    def lease_delivery(
        self, delivery_id: int, now: datetime, lease: float, *, max_attempts: int | None = None
    ) -> Delivery | None:
        """Take a due delivery for sending; None if it is not due or someone else has it.

        Taking back an expired lease means an earlier sender died (or outlasted its lease)
        between send and mark: that counts as an attempt, and the row is flagged
        ambiguous (it may reach the target twice). With ``max_attempts``, a delivery
        whose senders keep dying goes to the dead letters instead of looping forever.
        """
        until = now + timedelta(seconds=lease)
        with self.begin() as conn:
            row = conn.execute(
                select(deliveries).where(deliveries.c.id == delivery_id)
            ).one_or_none()
            if row is None:
                return None
            values: dict[str, Any] = {"status": SENDING, "lease_until": until}
            taken_back = False
            if row.status in RETRYABLE and row.next_attempt_at <= now:
                # the row as read, due time included: one given back meanwhile (rate
                # limited, with a later time) is not taken past its wait
                cond = and_(
                    deliveries.c.status == row.status,
                    deliveries.c.attempts == row.attempts,
                    deliveries.c.next_attempt_at == row.next_attempt_at,
                )
                values["ambiguous"] = row.ambiguous
            elif row.status == SENDING and row.lease_until is not None and row.lease_until <= now:
                cond = and_(
                    deliveries.c.status == SENDING, deliveries.c.lease_until == row.lease_until
                )
                values.update(ambiguous=True, attempts=row.attempts + 1)
                taken_back = True
                if max_attempts is not None and row.attempts + 1 >= max_attempts:
                    error = (
                        f"its sender died or outlasted the lease on attempt {row.attempts + 1} "
                        f"of {max_attempts}; it may have been sent (`deliveries replay` "
                        "sends it again)"
                    )
                    values.update(
                        status=DEAD, lease_until=None, next_attempt_at=now, last_error=error
                    )
                    log.error("delivery %s to %s: dead, %s", delivery_id, row.target_label, error)
                else:
                    log.warning(
                        "delivery %s to %s: ambiguous, the previous sender died between send "
                        "and mark; sending again (the subscriber may get it twice)",
                        delivery_id,
                        row.target_label,
                    )
            else:
                return None
            taken = conn.execute(
                update(deliveries).where(deliveries.c.id == delivery_id, cond).values(**values)
            )
            if taken.rowcount != 1 or values["status"] == DEAD:
                return None
            row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).one()
        return replace(_delivery(row), taken_back=taken_back)

    def due_digest_groups(self, now: datetime) -> dict[tuple[str, str], list[int]]:
        """Held deliveries whose time has come, grouped per (subscriber, target)."""
        groups: dict[tuple[str, str], list[int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.id, deliveries.c.subscriber, deliveries.c.target_id)
                .where(deliveries.c.status == HELD, deliveries.c.next_attempt_at <= now)
                .order_by(deliveries.c.id)
            )
            for row in rows:
                groups.setdefault((row.subscriber, row.target_id), []).append(row.id)
        return groups

    def lease_group(self, ids: Sequence[int], now: datetime, lease: float) -> list[Delivery]:
        """Take held deliveries for one digest send; only those still held are taken."""
        until = now + timedelta(seconds=lease)
        with self.begin() as conn:
            taken = list(
                conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_(list(ids)),
                        deliveries.c.status == HELD,
                        deliveries.c.next_attempt_at <= now,
                    )
                    .values(status=SENDING, lease_until=until)
                    .returning(deliveries.c.id)
                ).scalars()
            )
            if not taken:
                return []
            rows = conn.execute(select(deliveries).where(deliveries.c.id.in_(taken)))
            return [_delivery(r) for r in rows]

    # Marking what a sender leased: single deliveries and digest groups alike. Only rows
    # still leased (``sending``) change, and with ``lease`` (the ``lease_until`` the sender
    # was given) only rows still under that lease: a sender whose lease expired and was
    # taken back cannot overwrite the outcome of the one that took it.

    def renew_lease(
        self, ids: Sequence[int], lease: datetime, now: datetime, seconds: float
    ) -> datetime | None:
        """Extend a lease held on every one of ``ids``: the new lease, or None (and nothing
        changed) when any of them is no longer held under ``lease``."""
        until = now + timedelta(seconds=seconds)
        with self.begin() as conn:
            renewed = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(list(ids)),
                    deliveries.c.status == SENDING,
                    deliveries.c.lease_until == lease,
                )
                .values(lease_until=until)
            ).rowcount
            if renewed != len(set(ids)):
                conn.rollback()
                return None
        return until

    def _finish(
        self,
        ids: Sequence[int],
        *,
        lease: datetime | None = None,
        remote_ids: Mapping[int, str] | None = None,
        **values: Any,
    ) -> None:
        """Finish the rows still leased (under ``lease``, when given); ``remote_ids`` of
        those rows are written with them."""
        held = [deliveries.c.id.in_(list(ids)), deliveries.c.status == SENDING]
        if lease is not None:
            held.append(deliveries.c.lease_until == lease)
        with self.begin() as conn:
            query = update(deliveries).where(*held).values(lease_until=None, **values)
            if not remote_ids:
                conn.execute(query)
                return
            # only for rows this sender still held: a lease taken back is the other's to write
            finished = set(conn.execute(query.returning(deliveries.c.id)).scalars())
            # a cut id would name another message: one too long for the column is dropped
            limit = sent_messages.c.remote_id.type.length or 0
            rows = [
                {"delivery_id": i, "remote_id": r}
                for i, r in remote_ids.items()
                if i in finished and r and len(r) <= limit
            ]
            if rows:  # a row turns sent once only: no earlier remote id to replace
                conn.execute(insert(sent_messages), rows)

    def mark_sent(
        self,
        delivery_id: int,
        now: datetime,
        remote_id: str | None = None,
        *,
        lease: datetime | None = None,
    ) -> None:
        """Sent; ``remote_id`` is the service's id of the message, when it gave one."""
        self._finish(
            [delivery_id],
            lease=lease,
            remote_ids={delivery_id: remote_id} if remote_id else None,
            status=SENT,
            sent_at=now,
            attempts=deliveries.c.attempts + 1,
            last_error=None,
        )

    def mark_group_sent(
        self,
        ids: Sequence[int],
        now: datetime,
        remote_ids: Mapping[int, str] | None = None,
        *,
        lease: datetime | None = None,
    ) -> None:
        """A digest was sent; ``remote_ids``: per delivery, the id of the message carrying it."""
        self._finish(
            ids,
            lease=lease,
            remote_ids=remote_ids,
            status=SENT,
            sent_at=now,
            attempts=deliveries.c.attempts + 1,
            last_error=None,
        )

    def mark_failed(
        self,
        delivery_id: int,
        error: str,
        *,
        retry_at: datetime | None,
        now: datetime,
        lease: datetime | None = None,
    ) -> str:
        """Record a failed attempt: failed until ``retry_at``, or dead when None."""
        return self._failed([delivery_id], FAILED, error, retry_at, now, lease)

    def mark_group_failed(
        self,
        ids: Sequence[int],
        error: str,
        *,
        retry_at: datetime | None,
        now: datetime,
        lease: datetime | None = None,
    ) -> str:
        """A digest send failed: held again until ``retry_at``, or dead when None."""
        return self._failed(ids, HELD, error, retry_at, now, lease)

    def _failed(
        self,
        ids: Sequence[int],
        retry_status: str,
        error: str,
        retry_at: datetime | None,
        now: datetime,
        lease: datetime | None,
    ) -> str:
        status = retry_status if retry_at is not None else DEAD
        self._finish(
            ids,
            lease=lease,
            status=status,
            attempts=deliveries.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=retry_at or now,
        )
        return status

    def release_delivery(
        self, delivery_id: int, retry_at: datetime, *, lease: datetime | None = None
    ) -> None:
        """Give a lease back without counting an attempt (e.g. rate limited before sending)."""
        self._finish([delivery_id], lease=lease, status=PENDING, next_attempt_at=retry_at)

    def release_group(
        self, ids: Sequence[int], retry_at: datetime, *, lease: datetime | None = None
    ) -> None:
        """Give a digest lease back without counting an attempt (rate limited)."""
        self._finish(ids, lease=lease, status=HELD, next_attempt_at=retry_at)

    def list_deliveries(self, status: str | None = None, limit: int = 50) -> list[Delivery]:
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if status:
            query = query.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query)]

    def replay_dead(self, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Put dead deliveries back in the queue with a fresh attempt budget."""
        query = update(deliveries).where(deliveries.c.status == DEAD)
        if ids:
            query = query.where(deliveries.c.id.in_(list(ids)))
        with self.begin() as conn:
            return int(
                conn.execute(query.values(status=PENDING, attempts=0, next_attempt_at=now)).rowcount
            )

    def delivery_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            )
            return {status: int(n) for status, n in rows}


def _add_column_ddl(column: Column[Any], dialect: Any) -> str | None:
    """``ALTER TABLE ... ADD COLUMN`` for a column that may be NULL or has a constant
    default (existing rows take it); None for one that can be added only with values."""
    preparer = dialect.identifier_preparer
    sql = (
        f"ALTER TABLE {preparer.format_table(column.table)} "
        f"ADD COLUMN {preparer.format_column(column)} {column.type.compile(dialect=dialect)}"
    )
    if column.nullable:
        return sql
    default = column.default
    if default is None or not getattr(default, "is_scalar", False):
        return None
    value = literal(default.arg, column.type).compile(
        dialect=dialect, compile_kwargs={"literal_binds": True}
    )
    return f"{sql} NOT NULL DEFAULT {value}"


def _lost_create_race(exc: SQLAlchemyError) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "duplicate key" in text


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


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


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        item_id=row.item_id,
        subscriber=row.subscriber,
        target_id=row.target_id,
        target_label=row.target_label,
        status=row.status,
        attempts=row.attempts,
        ambiguous=bool(row.ambiguous),
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        notice_id=row.notice_id,
        lease_until=row.lease_until,
    )
