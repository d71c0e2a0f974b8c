"""Work-arounds for bugs in the libraries the Celery layer runs on. Each is small,
idempotent, explains itself, and changes nothing but the failing case.

kombu 5.7 Redis transport, a worker dying when Redis restarts
---------------------------------------------------------------
When the broker connection drops while a task runs (acks_late: its message is still
unacknowledged) and the consumer is waiting in BRPOP, Celery's consumer first calls
``Connection.collect()``: closing the channel fails (reading the BRPOP reply raises a
connection error, which is swallowed) and the transport's ``client`` is then set to
None. Celery then calls ``connection.close()``: the channel is closed again, now
tries to put the unacknowledged message back, needs a new Redis client, and
``Channel._connparams`` reads ``self.connection.client.hostname`` ->
``AttributeError``. That is not a connection error, so nothing ignores it and the
worker stops with "Unrecoverable error". Reproduced here with Redis 7 and redis-py
8 by restarting redis-server while a task runs (tests/test_workers.py, the Redis
restart test).

The fix raises redis' ``ConnectionError`` instead, which is what the situation is:
kombu and Celery ignore it while closing, reconnect, and go on. The message that
could not be restored stays in Redis' unacked set (restored after the visibility
timeout) or was lost with a Redis that keeps nothing; the store's sweep
re-dispatches the work either way.
"""

from __future__ import annotations

import os
import sys
import uuid
from time import monotonic
from typing import Any


def patch_kombu_redis_closed_client() -> None:
    try:
        from kombu.transport import redis as kombu_redis
        from redis.exceptions import ConnectionError as RedisConnectionError
    except ImportError:  # no redis client installed: the transport is unusable anyway
        return
    original = kombu_redis.Channel._connparams
    if getattr(original, "_newsalert_patched", False):
        return

    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        if getattr(self.connection, "client", None) is None:
            raise RedisConnectionError("the broker connection is already closed")
        return original(self, asynchronous)

    _connparams._newsalert_patched = True  # type: ignore[attr-defined]
    kombu_redis.Channel._connparams = _connparams


def quiet_cancel_on_connection_loss_warning() -> None:
    """Celery warns on every connection loss that ``worker_cancel_long_running_tasks_
    on_connection_loss`` will default to True in Celery 6. We set it to False on
    purpose (workers/app.py says why); the warning is noise in the operators' logs."""
    import warnings

    from celery.exceptions import CPendingDeprecationWarning

    warnings.filterwarnings(
        "ignore",
        message=r"(?s).*worker_cancel_long_running_tasks_on_connection_loss",
        category=CPendingDeprecationWarning,
    )


def patch_kombu_filesystem_atomic_put() -> None:
    """kombu 5.7 filesystem transport, a worker dying on a half-written message.

    ``Channel._put`` creates ``<time>_<uuid>.<queue>.msg`` and then writes into it;
    the consumer's ``_get`` lists the folder, moves the first matching file away and
    reads it, without waiting for the writer. When a message is published (by the
    beat, or by a task) while the worker looks at the folder, it reads an empty file
    and ``json.loads`` raises: "Unrecoverable error: JSONDecodeError", the worker
    stops (seen here with ``newsalert run`` on a tick of 1 s).

    The fix writes the message under a name ``_get`` does not match (a leading dot,
    a ``.tmp`` suffix) and renames it into place, which is atomic on POSIX.
    """
    try:
        from kombu.exceptions import ChannelError
        from kombu.transport import filesystem
        from kombu.utils.encoding import str_to_bytes
        from kombu.utils.json import dumps
    except ImportError:
        return
    original = filesystem.Channel._put
    if getattr(original, "_newsalert_patched", False):
        return

    def _put(self: Any, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.tmp")
        try:
            with open(partial, "wb", buffering=0) as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    _put._newsalert_patched = True  # type: ignore[attr-defined]
    filesystem.Channel._put = _put


def patch_kombu_filesystem_atomic_bind() -> None:
    """kombu 5.7 filesystem transport, a publisher reading a half-created exchange table.

    ``Channel._queue_bind`` creates ``<exchange>.exchange`` with ``open("wb")`` and
    only then locks and writes it; a publisher's ``get_table`` that opens the file in
    between gets its shared lock first and reads an empty file: "JSONDecodeError"
    (seen here when a worker and a publisher declare the same queue at once).

    The fix creates the table whole: written under a temporary name, then linked into
    place, which fails if another process created it first; then kombu's own locked
    read-modify-write adds the binding to the existing table.

    And a lookup that finds no table on disk yet falls back to the bindings this process
    declared: kombu records a binding in its process-wide state *before* writing the
    file, so a second connection of the same process skips its own bind, publishes,
    finds no file and drops the message without a word (seen in the test of
    half-written messages: a consumer thread and a producer starting together).
    """
    try:
        from kombu.transport import filesystem
        from kombu.utils.encoding import str_to_bytes
        from kombu.utils.json import dumps
    except ImportError:
        return
    original = filesystem.Channel._queue_bind
    if getattr(original, "_newsalert_patched", False):
        return

    def _queue_bind(self: Any, exchange: str, routing_key: str, pattern: str, queue: str) -> Any:
        file = self._exchange_file(exchange)
        if not file.exists():
            self.control_folder.mkdir(exist_ok=True)
            row = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = file.with_name(f".{file.name}.{uuid.uuid4()}.tmp")
            try:
                partial.write_bytes(str_to_bytes(dumps([row])))
                os.link(partial, file)  # whole, or not at all when it exists already
                return None
            except FileExistsError:
                pass  # another process made it meanwhile: add to it below
            finally:
                partial.unlink(missing_ok=True)
        return original(self, exchange, routing_key, pattern, queue)

    _queue_bind._newsalert_patched = True  # type: ignore[attr-defined]
    filesystem.Channel._queue_bind = _queue_bind
    read_table = filesystem.Channel.get_table

    def get_table(self: Any, exchange: str) -> Any:
        try:
            table = read_table(self, exchange)
        except ValueError:  # a table another (unpatched) writer is filling: not yet there
            table = []
        if table:
            return table
        declared = self.state.exchanges.get(exchange) or {}
        return [filesystem.exchange_queue_t(*row) for row in declared.get("table", ())]

    filesystem.Channel.get_table = get_table


def apply() -> None:
    # the Redis transport's patch waits for a Redis broker (``workers.app`` applies it
    # then): importing redis-py and its asyncio client costs a worker on the embedded
    # broker about 6 MiB for nothing. Patched now if something imported it already.
    if "kombu.transport.redis" in sys.modules:
        patch_kombu_redis_closed_client()
    patch_kombu_filesystem_atomic_put()
    patch_kombu_filesystem_atomic_bind()
    quiet_cancel_on_connection_loss_warning()
