"""Deliveries: the whole leasing state machine in one place.

pending -> sending (leased) -> sent; a failed attempt becomes failed with a later
``next_attempt_at``; after the last attempt, dead. Held rows (quiet hours, digests) wait
for ``next_attempt_at`` and go out together. A lease that expires while ``sending`` means
the process died between send and mark: the row is flagged ``ambiguous`` and sent again
(at-least-once). Every mark is fenced by the lease it was leased under.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)

from newsalert.models import (
    Delivery,
)
from newsalert.store.schema import (
    DEAD,
    FAILED,
    HELD,
    PENDING,
    RETRYABLE,
    SENDING,
    SENT,
    StoreBase,
    deliveries,
    log,
    sent_messages,
)


def _param(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


# The two statements of every send, built once: building a statement costs more CPU here
# than SQLite takes to run it (SQLAlchemy's coercions and cache key), twice per delivery.


def _lease_due(which: Any) -> Any:
    return (
        update(deliveries)
        .where(
            which,
            # not `in_`: a list there is rendered into the SQL again at every execution
            or_(*(deliveries.c.status == status for status in RETRYABLE)),
            deliveries.c.next_attempt_at <= _param("b_now", deliveries.c.next_attempt_at),
        )
        .values(status=SENDING, lease_until=_param("b_until", deliveries.c.lease_until))
        .returning(*deliveries.c)
    )


_LEASE_DUE = _lease_due(deliveries.c.id.in_(bindparam("b_ids", expanding=True)))
# A sender leases one delivery at a time (the next one with each mark): `id = ?`, no
# list to render into the statement per execution.
_LEASE_DUE_ONE = _lease_due(deliveries.c.id == bindparam("b_id"))
_SENT_VALUES = {
    "status": SENT,
    "sent_at": _param("b_sent_at", deliveries.c.sent_at),
    "attempts": deliveries.c.attempts + 1,
    "last_error": None,
    "lease_until": None,
}
_MARK_SENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == SENDING)
    .values(**_SENT_VALUES)
)
_MARK_SENT_FENCED = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.status == SENDING,
        deliveries.c.lease_until == _param("b_lease", deliveries.c.lease_until),
    )
    .values(**_SENT_VALUES)
)

_SENT_MESSAGE = insert(sent_messages)
# A row of `deliveries` as a prepared statement returns it (its columns in table order).
_DeliveryRow = namedtuple("_DeliveryRow", [c.name for c in deliveries.c])  # type: ignore[misc]


class DeliveryStore(StoreBase):
    """The delivery reads and writes of :class:`~newsalert.store.Store`."""

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

    def get_deliveries(self, ids: Sequence[int]) -> list[Delivery]:
        """The rows of ``ids`` as they are now, by id (no lease taken)."""
        if not ids:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries).where(deliveries.c.id.in_(list(ids))).order_by(deliveries.c.id)
            )
            return [_delivery(r) for r in rows]

    def lease_deliveries(self, ids: Sequence[int], now: datetime, lease: float) -> list[Delivery]:
        """Take the plainly due ones of ``ids`` for sending in one statement: pending or
        failed rows whose time has come, under a lease until ``now + lease``, as
        :meth:`lease_delivery` would take them. Rows whose lease expired (a sender died) are
        left to :meth:`lease_delivery`, which counts that attempt and flags them ambiguous.
        A row two senders race for goes to one of them (the update re-checks its status).
        A sender leases each delivery just before sending it: a lease taken back from a
        dead sender means "may have been sent"."""
        if not ids:
            return []
        until = now + timedelta(seconds=lease)
        if len(ids) == 1:  # a sender's next delivery, once per e-mail: prepared
            params = {"b_id": ids[0], "b_now": now, "b_until": until}
            prepared = self.prepared(_LEASE_DUE_ONE, params)
            with self.begin() as conn:
                _count, found = prepared.run(conn, params)
            return [_delivery(_DeliveryRow(*r)) for r in found]
        params = {"b_ids": list(ids), "b_now": now, "b_until": until}
        with self.begin() as conn:
            rows = conn.execute(_LEASE_DUE, params).all()
        return [_delivery(r) for r in rows]

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
        """Sent; ``remote_id`` is the service's id of the message, when it gave one.
        On statements built and compiled once (:meth:`prepared`): this runs once per
        alert sent."""
        params: dict[str, Any] = {"b_id": delivery_id, "b_sent_at": now}
        if lease is None:
            mark = self.prepared(_MARK_SENT, params)
        else:
            params["b_lease"] = lease
            mark = self.prepared(_MARK_SENT_FENCED, params)
        with self.begin() as conn:
            done, _rows = mark.run(conn, params)
            # only when this sender still held it: a lease taken back is the other's to
            # write; a cut id would name another message: one too long is dropped
            limit = sent_messages.c.remote_id.type.length or 0
            if done == 1 and remote_id and len(remote_id) <= limit:
                message = {"delivery_id": delivery_id, "remote_id": remote_id}
                self.prepared(_SENT_MESSAGE, message).run(conn, message)

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
