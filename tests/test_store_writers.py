"""SQLite: the store's writers queue for their turn (a lock file) instead of polling for
SQLite's write lock in its busy handler; SQLite's own locking still decides.

Each test gives the second writer a busy timeout of 0: where it would have had to wait in
SQLite's busy handler, it fails at once with "database is locked". So the tests show
whether the writer waited for its turn, without timing anything.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from newsalert.store import Store


def _no_busy_wait(store: Store) -> Store:
    """Connections of ``store`` fail at once on SQLite's write lock (no busy handler)."""

    def zero(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(store.engine, "connect", zero)  # after the store's own pragmas
    return store


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    Store(url).close()  # the tables, made once
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("CREATE TABLE probe (writer TEXT)")
    return url


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(url: str) -> None:
    first, second = Store(url, create=False), _no_busy_wait(Store(url, create=False))
    holding, go = threading.Event(), threading.Event()
    outcome: list[str] = []

    def write_first() -> None:
        with first.begin() as conn:
            conn.execute(text("INSERT INTO probe VALUES ('first')"))
            holding.set()  # SQLite's write lock is this transaction's now
            go.wait(10)

    def write_second() -> None:
        try:
            with second.begin() as conn:
                conn.execute(text("INSERT INTO probe VALUES ('second')"))
            outcome.append("written")
        except OperationalError as exc:  # the old code: "database is locked" at once
            outcome.append(f"failed: {exc.orig}")

    one = threading.Thread(target=write_first)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=write_second)
    two.start()
    two.join(0.5)
    # queued behind the first (not failed, not written): it did not meet SQLite's lock
    assert outcome == []
    go.set()
    one.join(10)
    two.join(10)
    assert outcome == ["written"]
    with second.engine.connect() as conn:
        rows = conn.execute(text("SELECT writer FROM probe ORDER BY rowid")).scalars().all()
    assert rows == ["first", "second"]
    first.close()
    second.close()


def test_reads_do_not_wait_for_a_writer(url: str) -> None:
    writer, reader = Store(url, create=False), _no_busy_wait(Store(url, create=False))
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO probe VALUES ('committed')"))
    with writer.begin() as conn:
        conn.execute(text("INSERT INTO probe VALUES ('open')"))
        # WAL: a reader sees the last commit while a write is open, in this thread too
        with reader.engine.connect() as other:
            seen = other.execute(text("SELECT writer FROM probe")).scalars().all()
    assert seen == ["committed"]
    writer.close()
    reader.close()


def test_a_thread_writing_on_two_connections_does_not_wait_on_itself(url: str) -> None:
    # as before the queue: SQLite's busy handler answers (here at once: timeout 0), where
    # waiting for its own turn would hang the thread for good
    first, second = Store(url, create=False), _no_busy_wait(Store(url, create=False))
    outcome: list[str] = []

    def both() -> None:
        with first.begin() as conn:
            conn.execute(text("INSERT INTO probe VALUES ('first')"))
            try:
                with second.begin() as other:
                    other.execute(text("INSERT INTO probe VALUES ('second')"))
            except OperationalError as exc:
                outcome.append(str(exc.orig))

    thread = threading.Thread(target=both, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert outcome == ["database is locked"]
    first.close()
    second.close()


def test_the_turn_is_given_back_when_a_write_fails(url: str) -> None:
    first, second = Store(url, create=False), _no_busy_wait(Store(url, create=False))
    with pytest.raises(OperationalError), first.begin() as conn:
        conn.execute(text("INSERT INTO probe VALUES ('rolled back')"))
        conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
    with second.begin() as conn:  # neither queued forever nor locked out
        conn.execute(text("INSERT INTO probe VALUES ('second')"))
    with second.engine.connect() as conn:
        assert conn.execute(text("SELECT writer FROM probe")).scalars().all() == ["second"]
    first.close()
    second.close()
