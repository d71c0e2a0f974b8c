"""Read-only queries behind the operator's listings: ``newsalert deliveries`` and ``items``.

Filters run in SQL before the row limit, so a filter never looks at only the newest rows.
One function per listing, reading the store's tables: nothing here writes.
"""

from __future__ import annotations

from sqlalchemy import func, select

from newsalert.store import Delivery, Store, _delivery, deliveries

AMBIGUOUS = "ambiguous"  # a filter of its own: a flag, not a status


def list_deliveries(
    store: Store, status: str | None = None, limit: int = 50
) -> tuple[list[Delivery], int]:
    """The newest ``limit`` deliveries with ``status`` (or ``"ambiguous"``: sent or not,
    the sender cannot tell), and how many match in all."""
    where = []
    if status == AMBIGUOUS:
        where.append(deliveries.c.ambiguous.is_(True))
    elif status:
        where.append(deliveries.c.status == status)
    query = select(deliveries).where(*where).order_by(deliveries.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        rows = [_delivery(r) for r in conn.execute(query)]
        total = conn.execute(select(func.count()).select_from(deliveries).where(*where)).scalar()
    return rows, int(total or 0)
