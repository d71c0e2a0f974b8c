"""Two parts of a storm's CPU per item, timed alone in a tight loop, for one checkout.

Usage (from the repository root; DB is the ``store.db`` a ``bench/storm_cpu.py`` run left
in its ``/tmp/storm-cpu-*`` folder: the storm's items and deliveries, copied, never
changed)::

    .venv/bin/python bench/storm_parts.py CHECKOUT --db DB explain
    .venv/bin/python bench/storm_parts.py CHECKOUT --db DB lease [--raw]

``explain``: ``predict_and_explain`` of the storm's items, every item explained (as in the
storm, where every item alerts), ms per item, and of it ``_contributions``; prints a
digest of the predictions (two checkouts that explain alike print the same one).
``lease``: the transaction a batch's sender commits per e-mail (mark the last delivery
sent under its lease, its Message-ID, lease the next one) through ``Store``, ms per
e-mail; ``--raw`` also times the same SQL on the DB-API connection (what SQLAlchemy
costs; a measurement, not a path the store has). Run checkouts alternately: the host's
load moves these figures by more than some changes do.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("project")
ap.add_argument("what", choices=["explain", "lease"])
ap.add_argument("--db", required=True, type=Path)
ap.add_argument("--rounds", type=int, default=9)
ap.add_argument("--raw", action="store_true")
args = ap.parse_args()
sys.path.insert(0, str(Path(args.project).resolve() / "src"))
MODEL = Path(__file__).resolve().parent.parent / ".pytest_cache/d/newsalert-data/model/model.joblib"


def explain() -> None:
    import sqlite3

    from newsalert import classifier

    model = classifier.load(MODEL)
    with sqlite3.connect(args.db) as db:
        texts = list(db.execute("SELECT title, summary, link FROM items ORDER BY id"))
    real = classifier.Classifier._contributions
    spent = [0.0]

    def timed(self, *a, **kw):  # type: ignore[no-untyped-def]
        t = time.process_time()
        try:
            return real(self, *a, **kw)
        finally:
            spent[0] += time.process_time() - t

    classifier.Classifier._contributions = timed  # type: ignore[method-assign]
    total, part, out = [], [], []
    for _ in range(args.rounds):
        spent[0] = 0.0
        t = time.process_time()
        out = model.predict_and_explain(texts, lambda found: range(len(found)))
        total.append((time.process_time() - t) * 1000 / len(texts))
        part.append(spent[0] * 1000 / len(texts))
    digest = hashlib.sha256(
        repr([(p.probability, p.category, p.terms) for p in out]).encode()
    ).hexdigest()[:16]
    print(
        f"{args.project}: {len(texts)} items, predict_and_explain "
        f"{statistics.median(total):.4f} ms/item, of it _contributions "
        f"{statistics.median(part):.4f} (medians of {args.rounds}); digest {digest}"
    )


def lease() -> None:
    from sqlalchemy import delete, select, update

    from newsalert.store import Store
    from newsalert.store import deliverystore as ds
    from newsalert.store.schema import FAILED, PENDING, SENDING, SENT, deliveries, sent_messages

    work = Path(tempfile.mkdtemp(prefix="storm-parts-"))
    shutil.copy(args.db, work / "store.db")
    store = Store(f"sqlite:///{work / 'store.db'}")
    with store.engine.connect() as conn:
        ids = list(conn.execute(select(deliveries.c.id).order_by(deliveries.c.id)).scalars())
    ids = ids[:300]

    def reset() -> None:
        with store.begin() as conn:
            conn.execute(delete(sent_messages).where(sent_messages.c.delivery_id.in_(ids)))
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids))
                .values(status=PENDING, lease_until=None, sent_at=None)
            )

    def through_store() -> float:
        reset()
        now = datetime.now(UTC)
        held: datetime | None = None
        # as Pipeline.deliver_many: one connection held for the batch where the store can
        holding = getattr(store, "holding", contextlib.nullcontext)
        t = time.process_time()
        with holding():
            for k, i in enumerate(ids):
                with store.together():  # as Pipeline.deliver_many's mark_and_lease_next
                    if k:
                        store.mark_sent(ids[k - 1], now, "<x@y>", lease=held)
                    [row] = store.lease_deliveries([i], now, 60)
                held = row.lease_until
        return (time.process_time() - t) / len(ids) * 1000

    mark_sql = str(ds._MARK_SENT_FENCED.compile(store.engine))
    one = getattr(ds, "_LEASE_DUE_ONE", None)
    lease_sql = str(one.compile(store.engine)) if one is not None else None
    insert_sql = "INSERT INTO sent_messages (delivery_id, remote_id) VALUES (?, ?)"

    def text(when: datetime) -> str:  # SQLAlchemy's SQLite DATETIME text
        return when.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    def raw() -> float:
        reset()
        now, until = datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=60)
        conn = store.engine.raw_connection()
        t = time.process_time()
        try:
            for k, i in enumerate(ids):
                cur = conn.cursor()
                if k:
                    cur.execute(
                        mark_sql, (SENT, 1, None, None, text(now), ids[k - 1], SENDING, text(until))
                    )
                    assert cur.rowcount == 1  # the mark held its lease, as through the store
                    cur.execute(insert_sql, (ids[k - 1], "<x@y>"))
                cur.execute(lease_sql, (SENDING, text(until), i, PENDING, FAILED, text(now)))
                assert len(cur.fetchall()) == 1
                conn.commit()
        finally:
            conn.close()
        return (time.process_time() - t) / len(ids) * 1000

    core, bare = [], []
    for _ in range(args.rounds):
        core.append(through_store())
        if args.raw and lease_sql is not None:
            bare.append(raw())
    line = f"{args.project}: mark + Message-ID + next lease {statistics.median(core):.4f} ms/e-mail"
    if bare:
        line += f"; the same SQL on the DB-API connection {statistics.median(bare):.4f}"
    print(line + f" (medians of {args.rounds} rounds of {len(ids)})")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    explain() if args.what == "explain" else lease()
