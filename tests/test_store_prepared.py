"""The sender's per-e-mail transaction on prepared statements (``Store.prepared``): the
same SQL, the same stored values and the same fencing as through ``Connection.execute``,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection

from newsalert.store import PENDING, SENDING, SENT, PlannedDelivery, Store
from newsalert.store import deliverystore as ds
from tests.test_store import T0, item, relevant


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.sync_feeds([("f", "https://example.org/feed")])
    yield s
    s.close()


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The statements run through ``Connection.execute`` from now on, in order."""
    seen: list[object] = []
    real = Connection.execute

    def counted(self: Connection, statement: Any, *a: Any, **kw: Any) -> Any:
        seen.append(statement)
        return real(self, statement, *a, **kw)

    monkeypatch.setattr(Connection, "execute", counted)
    return seen


def _deliveries(store: Store, keys: list[str]) -> list[int]:
    fid = store.feed_state("f").id
    iids = store.add_items(fid, [item(k) for k in keys], T0)
    return store.save_scores(
        [(i, relevant(), [PlannedDelivery("desk", "t1", "x")]) for i in iids], T0
    )


COLUMNS = (
    "subscriber, target_id, target_label, status, attempts, ambiguous, last_error,"
    " created_at, next_attempt_at, lease_until, sent_at"
)
STATUS, LEASE_UNTIL, SENT_AT, REMOTE_ID = 3, 9, 10, 11  # in a row of _raw


def _raw(store: Store, ids: list[int]) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (SQLite: DATETIME as its text), id and item
    left out, each with its Message-ID."""
    with store.engine.connect() as conn:
        rows = {
            r[0]: tuple(r[1:])
            for r in conn.exec_driver_sql(f"SELECT id, {COLUMNS} FROM deliveries")
        }
        sent = dict(conn.exec_driver_sql("SELECT delivery_id, remote_id FROM sent_messages").all())
    return [(*rows[i], sent.get(i)) for i in ids]


def _storm(store: Store, ids: list[int]) -> list[Any]:
    """What a sender does, as ``Pipeline.deliver_many``'s ``mark_and_lease_next``: mark the
    last delivery sent under its lease with its Message-ID and lease the next, in one
    commit; then the marks that must not land and the ones without a lease or an id."""
    seen: list[Any] = []
    now = T0 + timedelta(seconds=5)
    [first] = store.lease_deliveries([ids[0]], now, 60)
    seen.append(first)
    held = first.lease_until
    for k in range(1, 4):
        with store.together():
            store.mark_sent(ids[k - 1], now, f"<m{k}@example.org>", lease=held)
            [nxt] = store.lease_deliveries([ids[k]], now, 60)
        seen.append(nxt)
        held = nxt.lease_until
    assert held is not None
    # a stale lease (a second off) marks nothing, and its Message-ID is not written
    store.mark_sent(ids[3], now, "<stale@example.org>", lease=held - timedelta(seconds=1))
    # not due (sent already; later than now): nothing taken
    seen.append(store.lease_deliveries([ids[0]], now, 60))
    seen.append(store.lease_deliveries([ids[4]], T0 - timedelta(seconds=1), 60))
    # unfenced mark; an id too long for the column is dropped, the mark lands
    store.mark_sent(ids[3], now + timedelta(microseconds=7), "<" + "x" * 200 + ">", lease=held)
    [five] = store.lease_deliveries([ids[4]], now + timedelta(microseconds=123456), 30.5)
    seen.append(five)
    store.mark_sent(ids[4], now + timedelta(seconds=1))
    return seen


def _sqlalchemy_path(store: Store) -> list[str]:
    """Force ``Connection.execute`` (statement events listened to): the statements seen."""
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    return statements


def test_the_prepared_path_writes_and_returns_what_sqlalchemy_does(store: Store) -> None:
    """The same sender's work through the prepared statements and through
    ``Connection.execute`` (a statement listener forces that path): the same rows stored
    (SQLite: the DATETIME text byte-equal, microseconds and all), the same deliveries
    returned, the same SQL sent."""
    fast_ids = _deliveries(store, [f"a{k}" for k in range(5)])
    slow_ids = _deliveries(store, [f"b{k}" for k in range(5)])
    fast = _storm(store, fast_ids)
    statements = _sqlalchemy_path(store)
    slow = _storm(store, slow_ids)

    def plain(d: Any) -> Any:  # a Delivery but its id and item
        if isinstance(d, list):
            return [plain(x) for x in d]
        return replace(d, id=0, item_id=0)

    assert [plain(d) for d in fast] == [plain(d) for d in slow]
    assert [type(getattr(fast[0], f)) for f in ("lease_until", "ambiguous", "attempts")] == [
        type(getattr(slow[0], f)) for f in ("lease_until", "ambiguous", "attempts")
    ]
    raw_fast, raw_slow = _raw(store, fast_ids), _raw(store, slow_ids)
    assert raw_fast == raw_slow
    assert [type(v) for r in raw_fast for v in r] == [type(v) for r in raw_slow for v in r]
    assert [r[STATUS] for r in raw_fast] == [SENT] * 5
    assert [r[REMOTE_ID] for r in raw_fast] == [
        "<m1@example.org>",
        "<m2@example.org>",
        "<m3@example.org>",
        None,
        None,
    ]
    if store.engine.dialect.name == "sqlite":  # the text SQLAlchemy's DATETIME writes
        assert raw_fast[3][SENT_AT] == "2023-09-29 12:00:05.000007"
        assert raw_fast[4][LEASE_UNTIL] is None
        assert raw_fast[4][SENT_AT] == "2023-09-29 12:00:06.000000"
        assert raw_fast[0][SENT_AT] == "2023-09-29 12:00:05.000000"
    keys = {"b_id": 0, "b_sent_at": 0, "b_lease": 0}
    for statement, params in (
        (ds._MARK_SENT_FENCED, keys),
        (ds._MARK_SENT, {"b_id": 0, "b_sent_at": 0}),
        (ds._SENT_MESSAGE, {"delivery_id": 0, "remote_id": ""}),
        (ds._LEASE_DUE_ONE, {"b_id": 0, "b_now": 0, "b_until": 0}),
    ):
        assert store.prepared(statement, params).sql in statements


def test_the_per_email_transaction_runs_no_statement_through_connection_execute(
    store: Store, executed: list[object]
) -> None:
    """Mark sent (fenced) with a Message-ID and lease the next: three statements on the
    DB-API cursor, each compiled once per store, no ``Connection.execute`` (whose
    per-execution work cost more CPU than the statements)."""
    ids = _deliveries(store, ["a", "b", "c"])
    [row] = store.lease_deliveries([ids[0]], T0, 60)
    executed.clear()  # the set-up's statements
    held = row.lease_until
    for k in (1, 2):
        with store.together():
            store.mark_sent(ids[k - 1], T0, f"<m{k}@x>", lease=held)
            [nxt] = store.lease_deliveries([ids[k]], T0, 60)
        held = nxt.lease_until
    assert executed == []
    cache = store.__dict__["_prepared_cache"]
    assert len(cache) == 3  # lease, fenced mark, Message-ID
    again = store.prepared(ds._LEASE_DUE_ONE, {"b_id": 0, "b_now": 0, "b_until": 0})
    assert again is cache[id(ds._LEASE_DUE_ONE)]
    other = Store(store.url)  # per store, not global
    try:
        assert "_prepared_cache" not in other.__dict__
    finally:
        other.close()


def test_without_the_connection_internals_it_relies_on_the_prepared_path_is_sqlalchemys(
    store: Store, executed: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLAlchemy release that renamed ``Connection._handle_dbapi_exception`` (a private
    name the direct path hands its errors to) loses the speed-up, not correctness: every
    statement goes through ``Connection.execute`` and the marks and leases are the same."""
    ids = _deliveries(store, ["a", "b"])
    [row] = store.lease_deliveries([ids[0]], T0, 60)
    executed.clear()  # the set-up's statements
    monkeypatch.delattr(Connection, "_handle_dbapi_exception")
    with store.together():
        store.mark_sent(ids[0], T0, "<m1@x>", lease=row.lease_until)
        [nxt] = store.lease_deliveries([ids[1]], T0, 60)
    store.mark_sent(ids[1], T0, "<stale@x>", lease=T0)  # not its lease: nothing lands
    assert executed == [ds._MARK_SENT_FENCED, ds._SENT_MESSAGE, ds._LEASE_DUE_ONE,
                        ds._MARK_SENT_FENCED]  # fmt: skip
    raw = _raw(store, ids)
    assert (raw[0][STATUS], raw[0][REMOTE_ID]) == (SENT, "<m1@x>")
    assert (raw[1][STATUS], raw[1][REMOTE_ID]) == (SENDING, None) and nxt.id == ids[1]


def test_a_sender_whose_lease_was_taken_back_cannot_mark_through_the_prepared_path(
    store: Store,
) -> None:
    """A sender outlives its lease, another takes the delivery back and sends it: the first
    one's mark (and its Message-ID) does not land; the second one's does."""
    [did] = _deliveries(store, ["a"])
    [mine] = store.lease_deliveries([did], T0, 60)
    later = T0 + timedelta(seconds=120)
    theirs = store.lease_delivery(did, later, 60)
    assert theirs is not None and theirs.taken_back and theirs.lease_until != mine.lease_until
    with store.together():
        store.mark_sent(did, later, "<late@x>", lease=mine.lease_until)
    [row] = _raw(store, [did])
    assert row[STATUS] == SENDING and row[SENT_AT] is None and row[REMOTE_ID] is None
    store.mark_sent(did, later, "<theirs@x>", lease=theirs.lease_until)
    [row] = _raw(store, [did])
    assert row[STATUS] == SENT and row[REMOTE_ID] == "<theirs@x>"


def test_a_database_error_on_the_prepared_path_is_sqlalchemys_and_rolls_back(
    store: Store,
) -> None:
    """The DB-API's error is wrapped as ``Connection.execute`` wraps it (the pipeline's
    retry rules read SQLAlchemy's classes), and the transaction it broke commits nothing:
    the mark before it does not land."""
    a, b = _deliveries(store, ["a", "b"])
    [row] = store.lease_deliveries([a], T0, 60)
    with store.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE sent_messages RENAME COLUMN remote_id TO rid")
    with pytest.raises(exc.DBAPIError) as raised, store.together():
        store.mark_sent(a, T0, "<m@x>", lease=row.lease_until)
        store.lease_deliveries([b], T0, 60)
    assert isinstance(raised.value, (exc.OperationalError, exc.ProgrammingError))
    with store.engine.connect() as conn:
        status = dict(conn.exec_driver_sql("SELECT id, status FROM deliveries").all())
    assert (status[a], status[b]) == (SENDING, PENDING)


def test_a_naive_datetime_on_the_prepared_path_is_refused_as_through_sqlalchemy(
    store: Store,
) -> None:
    """A bind processor's error (``UTCDateTime`` refuses a naive datetime) comes out as
    ``Connection.execute`` gives it: SQLAlchemy's ``StatementError`` around the
    ``ValueError``, nothing written."""
    [did] = _deliveries(store, ["a"])
    naive = T0.replace(tzinfo=None)
    with pytest.raises(exc.StatementError) as raised:
        store.lease_deliveries([did], naive, 60)
    assert isinstance(raised.value.orig, ValueError)
    [row] = store.lease_deliveries([did], T0, 60)
    with pytest.raises(exc.StatementError):
        store.mark_sent(did, T0, "<m@x>", lease=naive)
    [raw] = _raw(store, [did])
    assert raw[STATUS] == SENDING and raw[REMOTE_ID] is None
    store.mark_sent(did, T0, "<m@x>", lease=row.lease_until)


def _checkouts(store: Store) -> list[int]:
    """Pool checkouts on the store's engine, counted (a pool event: it does not send the
    statements through ``Connection.execute``)."""
    seen: list[int] = []
    event.listen(store.engine, "checkout", lambda *a: seen.append(1))
    return seen


def _status(store: Store, did: int) -> str:
    with store.engine.connect() as conn:  # another connection: what is committed
        return str(
            conn.exec_driver_sql(f"SELECT status FROM deliveries WHERE id = {int(did)}").scalar()
        )


def test_a_held_connection_serves_a_batchs_transactions_each_committed_on_its_own(
    store: Store,
) -> None:
    """Within ``holding()``, the sender's per-e-mail transactions run on one connection
    checked out once (not one checkout and reset per e-mail), and each commits at the end
    of its block: another connection sees every mark as soon as its block ends."""
    ids = _deliveries(store, [f"a{k}" for k in range(5)])
    checkouts = _checkouts(store)
    with store.holding():
        [row] = store.lease_deliveries([ids[0]], T0, 60)
        held = row.lease_until
        for k in range(1, 5):
            with store.together():
                store.mark_sent(ids[k - 1], T0, f"<m{k}@x>", lease=held)
                [nxt] = store.lease_deliveries([ids[k]], T0, 60)
            held = nxt.lease_until
            assert _status(store, ids[k - 1]) == SENT  # committed with its block
            assert _status(store, ids[k]) == SENDING
        store.mark_sent(ids[4], T0, "<m5@x>", lease=held)
        store.mark_failed(ids[4], "late", retry_at=None, now=T0)  # not held any more: no-op
    # one for the batch, plus one per _status read (another connection, on purpose)
    assert len(checkouts) == 1 + 8
    assert [_status(store, i) for i in ids] == [SENT] * 5


def test_a_failed_transaction_on_the_held_connection_rolls_back_alone(store: Store) -> None:
    """A transaction that fails on the held connection rolls back only itself; the next
    one on the same connection works (after renew_lease's own rollback too), and one
    begun while another is open on it takes a pooled connection (as without holding)."""
    a, b, c = _deliveries(store, ["a", "b", "c"])
    with store.holding():
        [row] = store.lease_deliveries([a], T0, 60)
        with pytest.raises(RuntimeError), store.together():
            store.mark_sent(a, T0, "<m@x>", lease=row.lease_until)
            raise RuntimeError("the send's bookkeeping failed")
        assert _status(store, a) == SENDING  # the mark went with the failed transaction
        store.mark_sent(a, T0, "<m@x>", lease=row.lease_until)
        assert _status(store, a) == SENT
        # renew_lease rolls back inside its block when a row is not held: the held
        # connection is left without a transaction, ready for the next one
        assert store.renew_lease([a], T0, T0, 60) is None
        with store.begin() as outer:
            outer.exec_driver_sql(f"UPDATE deliveries SET last_error = 'x' WHERE id = {int(b)}")
            if store.engine.dialect.name == "postgresql":  # SQLite: one writer at a time
                assert store.lease_deliveries([c], T0, 60) != []  # a pooled connection
        assert _status(store, c) == (
            SENDING if store.engine.dialect.name == "postgresql" else PENDING
        )
    with store.engine.connect() as conn:
        assert (
            conn.exec_driver_sql(f"SELECT last_error FROM deliveries WHERE id = {int(b)}").scalar()
            == "x"
        )


def test_nested_holding_keeps_the_outer_connection(store: Store) -> None:
    """A holding inside another (a batch inside a task that holds) uses the outer one's
    connection: one checkout in all."""
    [a] = _deliveries(store, ["a"])
    checkouts = _checkouts(store)
    with store.holding(), store.holding():
        store.lease_deliveries([a], T0, 60)
        with store.holding():
            store.mark_sent(a, T0)
    assert len(checkouts) == 1
