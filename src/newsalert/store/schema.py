"""The store's schema: the tables, the delivery states, the column type for UTC times, and
the engine every part of the store shares (:class:`StoreBase`: connect, create the tables,
add the columns a newer version needs, the cross-process lock). Imports no other part of
the store.

Delivery states: pending -> sending (leased) -> sent; a failed attempt becomes
failed with a later ``next_attempt_at``; after the last attempt, dead. Held rows
(quiet hours, digests) wait for ``next_attempt_at`` and go out together (the state
machine: deliverystore.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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
    create_engine,
    event,
    inspect,
    literal,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeDecorator

from newsalert.errors import StoreError
from newsalert.store.prepared import Prepared

log = logging.getLogger("newsalert.store")  # one logger for the whole store, as before the split


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
    Column("language", String(35)),  # the feed's tag; once scored, the one judged in
    # what decided it (newsalert.language): feed, words, script, langid or default
    Column("language_method", String(8)),
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
    Column("geo_across", String(2)),  # the country across the border the event is at
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


def utcnow() -> datetime:
    return datetime.now(UTC)


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


class StoreBase:
    """The engine and the schema; the parts of :class:`~newsalert.store.Store` add the reads
    and writes."""

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
        """A transaction; inside :meth:`together` (on this thread), that one."""
        local = self._together
        shared = getattr(local, "conn", None)
        if shared is not None:
            yield shared
            return
        held = getattr(local, "held", None)
        if held is not None and not held.in_transaction():
            with held.begin():
                yield held
            return
        with self.engine.begin() as conn:
            yield conn

    def prepared(self, statement: ClauseElement, keys: Iterable[str]) -> Prepared:
        """``statement`` compiled once for this store's engine (for parameters named
        ``keys``, the same at every call of one statement), kept on the store: see
        :class:`Prepared`."""
        cache: dict[int, Prepared] = self.__dict__.setdefault("_prepared_cache", {})
        found = cache.get(id(statement))
        if found is None or found.statement is not statement:
            found = cache[id(statement)] = Prepared(statement, self.engine.dialect, keys)
        return found

    @property
    def _together(self) -> threading.local:
        found = self.__dict__.get("_together_local")
        if found is None:
            found = self.__dict__.setdefault("_together_local", threading.local())
        return found

    @contextmanager
    def together(self) -> Iterator[None]:
        """Run the writes made on this thread inside the block in one transaction: all
        of them commit together, or none (a sender marks one delivery sent and leases
        the next in one commit instead of two). Nested: the outer one decides."""
        local = self._together
        if getattr(local, "conn", None) is not None:
            yield
            return
        with self.begin() as conn:
            local.conn = conn
            try:
                yield
            finally:
                local.conn = None

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Within the block, run this thread's transactions (:meth:`begin`,
        :meth:`together`) one after another on one connection, checked out of the pool
        once, instead of a checkout (a ping on PostgreSQL) and a reset on return per
        transaction: a batch's sender commits once per e-mail. Each transaction still
        commits (or rolls back) at the end of its own block; a transaction begun while
        another is open on the held connection takes a pooled one, as without this.
        Nested: the outer one holds."""
        local = self._together
        if getattr(local, "held", None) is not None:
            yield
            return
        with self.engine.connect() as conn:
            local.held = conn
            try:
                yield
            finally:
                local.held = None


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
