"""A statement compiled once for a store's dialect and run on the DB-API cursor
(``StoreBase.prepared``): a sender's per-e-mail statements without SQLAlchemy's
per-execution work, with SQLAlchemy's SQL, bind order and type processing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement

__all__ = ["Prepared"]


class Prepared:
    """A statement SQLAlchemy compiled once for a dialect, run on the DB-API cursor of a
    connection in a transaction of the store's: SQLAlchemy's SQL, its bind names in its
    order, its bind processors (``UTCDateTime`` to naive UTC, then SQLite's DATETIME text)
    and its result processors, each looked up once instead of at every execution.

    What SQLAlchemy does per execution besides (the compiled cache's lookup, the execution
    context, the parameters' construction, the result object) costs more CPU than SQLite
    takes to run the statement; a sender runs three per e-mail. Taken only where SQLAlchemy
    would do nothing more that anyone can see: with statement events listened to or
    ``echo`` on, :meth:`run` executes through ``Connection.execute`` as before. An error
    (the DB-API's, a bind processor's) is handed to SQLAlchemy's own handling (wrapped as
    ``Connection.execute`` wraps it, the connection invalidated on a disconnect). For
    statements without expanding (``IN`` list) or post-compile parameters.
    """

    __slots__ = ("params", "positional", "results", "sql", "statement")

    def __init__(self, statement: ClauseElement, dialect: Any, keys: Iterable[str]) -> None:
        # compiled as Connection.execute compiles it for parameters named ``keys``
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
        self.statement = statement
        self.sql: str = compiled.string
        self.positional: bool = bool(compiled.positional)
        names = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        # per bind, in order: (name sent, the caller's key or None, constant, processor)
        self.params: list[tuple[str, str | None, Any, Any]] = []
        seen: set[str] = set()
        for name in names:
            bind = by_name.get(name)
            if bind is None or name in seen:  # compiled.binds also holds anonymous keys
                continue
            if not self.positional:
                seen.add(name)
            if bind.expanding or getattr(bind, "literal_execute", False):
                raise ValueError(f"{name}: a list parameter cannot be prepared")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            sent = compiled.escaped_bind_names.get(name, name)
            if bind.required:
                self.params.append((sent, bind.key, None, process))
            else:
                value = bind.effective_value
                self.params.append((sent, None, process(value) if process else value, None))
        # (position, processor) of the RETURNING columns that have one
        self.results: list[tuple[int, Any]] = [
            (k, process)
            for k, column in enumerate(getattr(compiled, "returning", None) or ())
            for process in [column.type.dialect_impl(dialect).result_processor(dialect, None)]
            if process is not None
        ]

    def run(self, conn: Connection, params: dict[str, Any]) -> tuple[int, list[tuple[Any, ...]]]:
        """Execute with ``params`` (by the bind parameters' keys) on ``conn``'s DB-API
        connection: the rows changed and the rows returned, as SQLAlchemy types them."""
        if _through_sqlalchemy(conn):
            result = conn.execute(self.statement, params)
            rows = [tuple(r) for r in result] if result.returns_rows else []
            return result.rowcount if not rows else len(rows), rows
        cursor = None
        bound: Any = None
        try:
            values = [
                constant if key is None else (process(params[key]) if process else params[key])
                for _sent, key, constant, process in self.params
            ]
            bound = (
                tuple(values)
                if self.positional
                else {sent: v for (sent, *_rest), v in zip(self.params, values, strict=True)}
            )
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(self.sql, bound)
            rows = cursor.fetchall() if cursor.description is not None else []
            count = cursor.rowcount
        except BaseException as exc:
            # as Connection.execute: the DB-API's errors and a bind processor's (a naive
            # datetime: StatementError) wrapped, a disconnect invalidating the connection
            conn._handle_dbapi_exception(exc, self.sql, bound, cursor, None)
        finally:
            if cursor is not None:
                cursor.close()
        if rows and self.results:
            processed = []
            for row in rows:
                out = list(row)
                for k, process in self.results:
                    out[k] = process(out[k])
                processed.append(tuple(out))
            rows = processed
        return (count if not rows else len(rows)), rows


def _through_sqlalchemy(conn: Connection) -> bool:
    """Whether :meth:`Prepared.run` must execute through ``Connection.execute``: someone
    listens to statement events or echo is on (they must see the statement), or this
    SQLAlchemy lacks the connection internals the direct path relies on (a release that
    renamed them loses only the speed-up)."""
    try:
        return bool(conn._has_events or conn.engine._has_events or conn._echo) or not callable(
            conn._handle_dbapi_exception
        )
    except AttributeError:
        return True
