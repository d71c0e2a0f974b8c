"""The story index in the store: the raw-SQL reads and batch writes over the story tables
(``stories``, ``story_items``, ``story_keys``, ``story_notices``, ``delivery_stories``,
``sent_messages``), as the :class:`~newsalert.stories.state.Index` the clusterer reads.

Everything is bounded by the window: an item only finds keys seen within the window
before it, and older keys are pruned. Imports the store and the plain data of
``newsalert.stories`` (state, policy, text), never the desk or the clusterer.
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any

import numpy as np

from newsalert.store.schema import aware_utc
from newsalert.stories.policy import Notice
from newsalert.stories.state import (
    ALERT,
    Changes,
    Rows,
    StoryState,
)
from newsalert.stories.text import (
    _NO_WORDS,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from newsalert.store import Store


_first = operator.itemgetter(0)


_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


_JSON = json.JSONDecoder()
_CENTROID = '{"centroid":'


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _state_json(state: StoryState) -> str:
    """The JSON of a story's state: its centroid (weights to 5 decimals), vocabulary,
    weekdays and members. A centroid and a vocabulary unchanged since they were read are
    written back as they were read (the same text: encoding them was most of a write)."""
    centroid = state._stored_centroid
    if centroid is None:
        centroid = _json({t: round(w, 5) for t, w in state.centroid.items()})
    words = state._words if state._words is not None else " ".join(sorted(state.vocabulary))
    return (  # what json.dumps of the four, in this order, gives
        f'{_CENTROID}{centroid},"vocabulary":{_json(words)},'
        f'"days":{_json(sorted(state.days))},"members":{state.members:d}}}'
    )


def _bulk(
    conn: Connection,
    table: Any,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    where: str | None = None,
) -> None:
    """``executemany`` straight to the driver: many rows of plain values, fast (SQLAlchemy's
    parameter handling cost more than the database's work). Inserts ``columns``; with
    ``where``, updates every column but that one in the row where it matches (it comes
    last in each row). Values go through the columns' own bind processing, so they are
    stored exactly as SQLAlchemy would store them."""
    if not rows:
        return
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in columns]
    if any(processors):
        rows = [
            tuple(v if f is None or v is None else f(v) for f, v in zip(processors, r, strict=True))
            for r in rows
        ]
    if where is None and conn.dialect.driver == "psycopg":
        _copy(conn, table, columns, rows)
        return
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if mark is None:  # another driver: through SQLAlchemy, as before
        from sqlalchemy import bindparam, insert, update

        dicts = [dict(zip(columns, r, strict=True)) for r in rows]
        if where is None:
            conn.execute(insert(table), dicts)
        else:
            renamed = [{f"b_{k}": v for k, v in d.items()} for d in dicts]
            conn.execute(
                update(table)
                .where(table.c[where] == bindparam(f"b_{where}"))
                .values({c: bindparam(f"b_{c}") for c in columns if c != where}),
                renamed,
            )
        return
    quote = conn.dialect.identifier_preparer.quote
    if where is None:
        names, marks = ", ".join(map(quote, columns)), ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
    else:
        sets = ", ".join(f"{quote(c)} = {mark}" for c in columns if c != where)
        sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(where)} = {mark}"
    conn.exec_driver_sql(sql, list(rows))


def _copy(
    conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL (psycopg 3): rows in by ``COPY``, a stream, not a statement per row
    (``executemany`` of a batch's keys was most of a PostgreSQL batch's time). Errors are
    raised as SQLAlchemy's, as ``execute`` raises them."""
    from sqlalchemy.exc import DBAPIError

    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


_MEMBER_COLUMNS = (
    "item_id", "story_id", "kind", "duplicate_of", "similarity", "feed", "seen_at", "signature",
)  # fmt: skip
# a story row's columns, in the order _state_from takes them
_STORY_COLUMNS = (
    "id", "title", "first_seen", "last_seen", "item_count", "sources", "category", "peak_score",
    "state",
)  # fmt: skip


def _state_from(
    story_id: int,
    title: str,
    first_seen: Any,
    last_seen: Any,
    item_count: int,
    sources: str | None,
    category: str,
    peak_score: float,
    text: str | None,
) -> StoryState:
    """A story row (:data:`_STORY_COLUMNS`, times as the driver gives them) as state."""
    text = text or "{}"
    stored = None
    if text.startswith(_CENTROID):  # as _state_json writes it: keep the centroid's text
        centroid, end = _JSON.raw_decode(text, len(_CENTROID))
        stored = text[len(_CENTROID) : end]
        rest = text[end:]
        extra = json.loads("{" + rest[1:]) if rest.startswith(",") else json.loads(text)
        extra["centroid"] = centroid
    else:
        extra = json.loads(text)
    return StoryState(
        id=story_id,
        title=title,
        first_seen=aware_utc(first_seen),  # type: ignore[arg-type]
        last_seen=aware_utc(last_seen),  # type: ignore[arg-type]
        item_count=item_count,
        sources=json.loads(sources or "[]"),
        category=category,
        peak_score=peak_score,
        centroid=extra.get("centroid", {}),
        vocabulary=_NO_WORDS,  # until ``words`` reads ``_words``
        _words=extra.get("vocabulary", ""),
        days=frozenset(days) if (days := extra.get("days")) else _NO_WORDS,
        members=int(extra.get("members", 1)),
        _stored_centroid=stored,
    )


class StoryStore:
    """The :class:`Index` over the store's story tables, and the writer of a batch."""

    def __init__(self, store: Store, window: timedelta) -> None:
        from newsalert import store as tables

        self.store = store
        self.window = window
        self.t = tables
        # keys older than the window are deleted this often (a scan of the table: their
        # time has no index); lookups ask for the window only, so until then they are
        # merely kept, a twenty-fourth of the window at most
        self.prune_every = max(timedelta(minutes=10), window / 24)
        self._pruned_at: datetime | None = None

    # reads (Index)

    def lookup(self, keys: Sequence[int], since: datetime, per_key: int = 64) -> dict[int, Rows]:
        """The newest ``per_key`` rows of each key seen since ``since``: in item order
        (the primary key's) when there are no more, else newest first.

        One indexed ``IN`` query per 1,000 keys; the keys are Python ints (64-bit hashes)
        written into the SQL as literals (an ``IN`` list of bound parameters costs more to
        compile than the lookup). A key's rows come back as one row of lists (SQLite's
        ``group_concat`` of the rows as the primary key orders them, PostgreSQL's ordered
        arrays): a batch finds tens of thousands of rows, mostly the stories of its terms,
        and a Python tuple per row cost more than the query. A term shared by more stories
        than ``per_key`` finds none anyway (``Settings.max_key_stories``), and the newest
        copies of a text are enough to find it duplicated; the clusterer adds no rows to a
        key that has ``per_key`` already, so few keys have more.
        """
        dialect = self.store.engine.dialect
        quote = dialect.identifier_preparer.quote
        key, table = quote("key"), quote(self.t.story_keys.name)
        if dialect.name == "postgresql":
            columns = ", ".join(
                f"array_agg({c} ORDER BY item_id)" for c in ("item_id", "story_id", "seen_at")
            )
        elif dialect.name == "sqlite":
            columns = "group_concat(item_id), group_concat(story_id), group_concat(seen_at)"
        else:
            columns = ""  # other databases: a row per row, grouped here
        oldest = int(since.timestamp())
        out: dict[int, Rows] = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(keys), 1000):
                    listed = ",".join(map(str, map(int, chunk)))
                    where = f"WHERE {key} IN ({listed}) AND seen_at >= {oldest}"
                    if columns:
                        cursor.execute(
                            f"SELECT {key}, count(*), {columns} FROM {table} {where} GROUP BY {key}"
                        )
                        found = [Rows(*row) for row in cursor.fetchall()]
                    else:
                        cursor.execute(
                            f"SELECT {key}, item_id, story_id, seen_at FROM {table} {where} "
                            f"ORDER BY {key}, item_id"
                        )
                        found = []
                        for k, group in groupby(cursor.fetchall(), _first):
                            _, item_ids, story_ids, seen = zip(*group, strict=True)
                            found.append(Rows(k, len(item_ids), item_ids, story_ids, seen))
                    for rows in found:  # few keys exceed the cap: no key gets rows beyond it
                        out[rows.key] = rows.newest(per_key)
            finally:
                cursor.close()
        return out

    def signatures(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The MinHash signatures of the items that have one (through the driver's cursor,
        as :meth:`stories`)."""
        quote = self.store.engine.dialect.identifier_preparer.quote
        table = quote(self.t.story_items.name)
        out = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(item_ids)):
                    cursor.execute(
                        f"SELECT item_id, signature FROM {table} WHERE item_id IN "
                        f"({','.join(map(str, map(int, chunk)))}) AND signature IS NOT NULL"
                    )
                    for item_id, signature in cursor.fetchall():
                        out[item_id] = np.frombuffer(signature, dtype=np.uint32)
            finally:
                cursor.close()
        return out

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryState]:
        """The stories' states: read through the driver's cursor (a batch reads about two
        stories per item, and SQLAlchemy's row and type handling was a third of it)."""
        quote = self.store.engine.dialect.identifier_preparer.quote
        select = f"SELECT {', '.join(map(quote, _STORY_COLUMNS))} FROM {quote(self.t.stories.name)}"
        out = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(story_ids)):
                    cursor.execute(f"{select} WHERE id IN ({','.join(map(str, map(int, chunk)))})")
                    for row in cursor.fetchall():
                        out[row[0]] = _state_from(*row)
            finally:
                cursor.close()
        return out

    def notices(self, story_ids: Sequence[int]) -> dict[int, dict[str, Notice]]:
        from sqlalchemy import select

        c = self.t.story_notices.c
        out: dict[int, dict[str, Notice]] = defaultdict(dict)
        with self.store.engine.connect() as conn:
            for chunk in _chunks(list(story_ids)):
                for row in conn.execute(select(self.t.story_notices).where(c.story_id.in_(chunk))):
                    out[row.story_id][row.subscriber] = Notice(
                        row.story_id,
                        row.subscriber,
                        row.first_item_id,
                        row.last_at,
                        row.sources,
                        row.score,
                        row.updates,
                    )
        return out

    def delivery_story(self, delivery_id: int) -> tuple[int, str, tuple[str, ...]] | None:
        from sqlalchemy import select

        table = self.t.delivery_stories
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.delivery_id == delivery_id)
            ).one_or_none()
        if row is None:
            return None
        return row.story_id, row.kind, tuple(json.loads(row.changes or "[]"))

    def first_alert_remote_id(self, story_id: int, subscriber: str, target_id: str) -> str | None:
        """The service's id of the story's first alert sent to this subscriber's target
        (what an update replies to), if it was sent and the service gave one; of the
        digest message that listed it, when it went out in a digest."""
        from sqlalchemy import select

        ds, d, sm = self.t.delivery_stories, self.t.deliveries, self.t.sent_messages
        with self.store.engine.connect() as conn:
            return conn.execute(
                select(sm.c.remote_id)
                .select_from(ds.join(d, d.c.id == ds.c.delivery_id))
                .join(sm, sm.c.delivery_id == d.c.id)
                .where(
                    ds.c.story_id == story_id,
                    ds.c.kind == ALERT,
                    d.c.subscriber == subscriber,
                    d.c.target_id == target_id,
                    d.c.status == self.t.SENT,
                )
                .order_by(d.c.id)
                .limit(1)
            ).scalar_one_or_none()

    def members(self, story_ids: Sequence[int]) -> dict[int, list[Any]]:
        """Each story's items, oldest first: rows with item_id, kind, feed, seen_at, title."""
        from sqlalchemy import select

        si, items = self.t.story_items, self.t.items
        out: dict[int, list[Any]] = defaultdict(list)
        with self.store.engine.connect() as conn:
            for chunk in _chunks(list(story_ids)):
                rows = conn.execute(
                    select(
                        si.c.story_id,
                        si.c.item_id,
                        si.c.kind,
                        si.c.feed,
                        si.c.seen_at,
                        si.c.similarity,
                        items.c.title,
                        items.c.link,
                        items.c.score,
                    )
                    .join(items, items.c.id == si.c.item_id)
                    .where(si.c.story_id.in_(chunk))
                    .order_by(si.c.seen_at, si.c.item_id)
                )
                for row in rows:
                    out[row.story_id].append(row)
        return out

    def recent(self, since: datetime, limit: int = 100) -> list[StoryState]:
        from sqlalchemy import select

        table = self.t.stories
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(*(table.c[name] for name in _STORY_COLUMNS))
                .where(table.c.last_seen >= since)
                .order_by(table.c.last_seen.desc())
                .limit(limit)
            )
            return [_state_from(*r) for r in rows]

    # writes (inside the scoring transaction)

    @staticmethod
    def _insert_or_skip(
        conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """Insert the rows; those a concurrent worker inserted first are left as they are
        and returned."""
        from sqlalchemy.exc import IntegrityError

        try:
            with conn.begin_nested():
                _bulk(conn, table, columns, rows)
            return []
        except IntegrityError:
            skipped = []
            for row in rows:
                try:
                    with conn.begin_nested():
                        _bulk(conn, table, columns, [row])
                except IntegrityError:
                    skipped.append(row)
            return skipped

    def write(
        self,
        conn: Connection,
        changes: Changes,
        notices: Sequence[Notice],
        saved: set[int],
        now: datetime,
    ) -> None:
        from sqlalchemy import delete, insert, update
        from sqlalchemy.exc import IntegrityError

        t = self.t
        members = [m for m in changes.members if m.item_id in saved]
        if members:
            rows = [
                (
                    m.item_id,
                    m.story_id,
                    m.kind,
                    m.duplicate_of,
                    m.similarity,
                    m.feed[:64],
                    m.seen_at,
                    m.signature,
                )
                for m in members
            ]
            self._insert_or_skip(conn, t.story_items, _MEMBER_COLUMNS, rows)
            # in key order: the keys are random, and rows inserted in the primary key's
            # order find their index pages in turn, not all over the table (a third faster)
            keys = sorted((row for row in changes.keys if row[1] in saved), key=_first)
            _bulk(conn, t.story_keys, ("key", "item_id", "story_id", "seen_at"), keys)
            touched = {m.story_id for m in members}
            created, changed = [], []
            for sid, state in changes.stories.items():
                if sid not in touched:
                    continue
                row = (
                    sid,
                    state.title[:1000],
                    state.first_seen,
                    state.last_seen,
                    state.item_count,
                    json.dumps(state.sources),
                    state.category[:32],
                    state.peak_score,
                    _state_json(state),
                )
                (created if state.created else changed).append(row)
            # a story a concurrent worker made meanwhile: updated instead
            changed += self._insert_or_skip(conn, t.stories, _STORY_COLUMNS, created)
            # the id last, for the WHERE
            updates = [(*row[1:], row[0]) for row in changed]
            _bulk(conn, t.stories, (*_STORY_COLUMNS[1:], "id"), updates, where="id")
        for n in notices:
            values = {
                "first_item_id": n.first_item_id,
                "last_at": n.last_at,
                "sources": n.sources,
                "score": n.score,
                "updates": n.updates,
            }
            c = t.story_notices.c
            done = conn.execute(
                update(t.story_notices)
                .where(c.story_id == n.story_id, c.subscriber == n.subscriber)
                .values(**values)
            )
            if done.rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(t.story_notices).values(
                                story_id=n.story_id, subscriber=n.subscriber, **values
                            )
                        )
                except IntegrityError:
                    pass
        if self._pruned_at is None or now - self._pruned_at >= self.prune_every:
            oldest = int((now - self.window).timestamp())
            conn.execute(delete(t.story_keys).where(t.story_keys.c.seen_at < oldest))
            if conn.dialect.name == "postgresql":
                # the table turns over every window: with the statistics of an emptier
                # one, PostgreSQL read it whole for each lookup (40 ms, not 8, per 1,000
                # keys) until autovacuum caught up; ANALYZE samples a few thousand rows
                conn.exec_driver_sql(
                    f"ANALYZE {conn.dialect.identifier_preparer.quote(t.story_keys.name)}"
                )
            self._pruned_at = now
