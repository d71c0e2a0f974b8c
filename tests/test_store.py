"""The store on SQLite and PostgreSQL: dedup, the outbox, leases and claims."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from newsalert.models import Item, Reason, Score
from newsalert.store import DEAD, PENDING, SENDING, SENT, PlannedDelivery, Store

T0 = datetime(2023, 9, 29, 12, 0, tzinfo=UTC)


def item(key: str, title: str = "Armed attack on police in Banjska") -> Item:
    return Item(
        key=key, feed="f", title=title, summary="s", link=f"https://example.org/{key}", published=T0
    )


def relevant(score: float = 0.9) -> Score:
    return Score(score, True, "armed_conflict", score, (Reason("model", '"attack"', 1.2),))


@pytest.fixture
def store(database_url: str) -> Store:
    s = Store(database_url)
    s.sync_feeds([("f", "https://example.org/feed"), ("g", "https://example.org/g")])
    yield s
    s.close()


def test_items_are_stored_once_per_feed(store: Store) -> None:
    fid = store.feed_state("f").id
    first = store.add_items(fid, [item("a"), item("b")], T0)
    again = store.add_items(fid, [item("a"), item("b"), item("c")], T0)
    assert len(first) == 2 and len(again) == 1
    assert store.count_items() == 3
    assert store.feed_state("f").items_seen == 3
    # the same key in another feed is another item (cross-feed duplicates are stories' job)
    assert len(store.add_items(store.feed_state("g").id, [item("a")], T0)) == 1


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    assert store.get_item(iid).item.published == T0


def test_scores_and_deliveries_are_written_together_once(store: Store) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    plans = [
        PlannedDelivery("desk", "t1", "mailto://***"),
        PlannedDelivery("desk", "t2", "tgram://***"),
    ]
    created = store.save_scores([(iid, relevant(), plans)], T0)
    assert len(created) == 2
    # a second scorer (another worker) finds it scored and writes nothing
    assert store.save_scores([(iid, relevant(), plans)], T0) == []
    stored = store.get_item(iid)
    assert stored.score is not None and stored.score.reasons[0].label == '"attack"'
    assert store.unscored_item_ids() == []
    assert store.delivery_counts() == {PENDING: 2}


def test_delivery_lease_send_mark_and_retry(store: Store) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores([(iid, relevant(), [PlannedDelivery("desk", "t1", "x")])], T0)
    leased = store.lease_delivery(did, T0, lease=60)
    assert leased is not None and leased.status == SENDING
    assert store.lease_delivery(did, T0, lease=60) is None  # nobody else can take it
    store.mark_failed(did, "SMTP down", retry_at=T0 + timedelta(seconds=30), now=T0)
    assert store.due_delivery_ids(T0) == []
    assert store.due_delivery_ids(T0 + timedelta(seconds=31)) == [did]
    again = store.lease_delivery(did, T0 + timedelta(seconds=31), lease=60)
    assert again is not None and again.attempts == 1 and again.last_error == "SMTP down"
    store.mark_sent(did, T0 + timedelta(seconds=32))
    [row] = store.list_deliveries()
    assert (row.status, row.attempts, row.ambiguous) == (SENT, 2, False)
    assert store.lease_delivery(did, T0 + timedelta(hours=1), lease=60) is None


def test_expired_lease_is_taken_back_as_ambiguous(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores(
        [(iid, relevant(), [PlannedDelivery("desk", "t1", "mailto://***")])], T0
    )
    assert store.lease_delivery(did, T0, lease=60) is not None  # ...and the sender dies
    assert store.due_delivery_ids(T0 + timedelta(seconds=30)) == []
    later = T0 + timedelta(seconds=61)
    assert store.due_delivery_ids(later) == [did]
    taken = store.lease_delivery(did, later, lease=60)
    assert taken is not None and taken.ambiguous
    assert "ambiguous" in caplog.text and "mailto://***" in caplog.text


def test_dead_deliveries_can_be_replayed(store: Store) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores([(iid, relevant(), [PlannedDelivery("desk", "t1", "x")])], T0)
    store.lease_delivery(did, T0, lease=60)
    assert store.mark_failed(did, "gave up", retry_at=None, now=T0) == DEAD
    assert store.due_delivery_ids(T0 + timedelta(days=1)) == []
    assert store.replay_dead(T0) == 1
    assert store.due_delivery_ids(T0) == [did]
    assert store.list_deliveries(PENDING)[0].attempts == 0


def test_two_schedulers_claim_each_due_feed_once(database_url: str) -> None:
    a, b = Store(database_url), Store(database_url, create=False)
    a.sync_feeds([("f", "https://example.org/f"), ("g", "https://example.org/g")])
    first = a.claim_due_feeds(["f", "g"], T0, lease=90)
    second = b.claim_due_feeds(["f", "g"], T0, lease=90)
    assert sorted(first) == ["f", "g"] and second == []
    # when the lease runs out (the poll died) the feed is due again
    assert sorted(b.claim_due_feeds(["f", "g"], T0 + timedelta(seconds=91), lease=90)) == ["f", "g"]
    a.close()
    b.close()


def test_changed_feed_url_resets_validators(store: Store) -> None:
    fid = store.feed_state("f").id
    store.record_poll(fid, status="ok", now=T0, next_poll_at=T0, etag='"v1"', last_modified="x")
    assert store.feed_state("f").etag == '"v1"'
    store.sync_feeds([("f", "https://example.org/new-feed")])
    state = store.feed_state("f")
    assert state.url.endswith("new-feed") and state.etag is None


def test_error_streak_counts_and_resets(store: Store) -> None:
    fid = store.feed_state("f").id
    for _ in range(3):
        store.record_poll(fid, status="error", now=T0, next_poll_at=T0, error="timeout")
    assert store.feed_state("f").error_streak == 3
    store.record_poll(fid, status="ok", now=T0, next_poll_at=T0)
    state = store.feed_state("f")
    assert (state.error_streak, state.last_error, state.last_success_at) == (0, None, T0)


def test_a_poller_losing_the_insert_race_skips_the_rows_the_winner_stored(store: Store) -> None:
    fid = store.feed_state("f").id
    [first] = store.add_items(fid, [item("a")], T0)
    row = {"feed_id": fid, "title": "t", "summary": "s", "fetched_at": T0}
    # what a concurrent poll does after its own "known keys" check came up empty
    with store.begin() as conn:
        ids = store._insert_new_items(conn, [{**row, "key": "a"}, {**row, "key": "b"}])
    assert len(ids) == 1 and first not in ids
    assert store.count_items() == 2


def test_a_sender_whose_lease_was_taken_back_cannot_overwrite_the_outcome(store: Store) -> None:
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores([(iid, relevant(), [PlannedDelivery("desk", "t1", "x")])], T0)
    assert store.lease_delivery(did, T0, lease=60) is not None  # slow sender A
    later = T0 + timedelta(seconds=61)
    assert store.lease_delivery(did, later, lease=60) is not None  # B takes it back...
    store.mark_sent(did, later)  # ...and delivers
    store.mark_failed(did, "A timed out", retry_at=later + timedelta(seconds=30), now=later)
    [row] = store.list_deliveries()
    assert (row.status, row.last_error) == (SENT, None)  # A's late failure changes nothing
    assert store.due_delivery_ids(later + timedelta(hours=1)) == []


def test_a_late_sender_cannot_finish_a_delivery_another_has_taken_back(store: Store) -> None:
    """A's lease runs out while it is still sending; B takes the delivery back. A's late
    failure must not change B's row (it would be sent a third time), and B's success must
    stand: each mark is fenced by the lease its sender was given."""
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores([(iid, relevant(), [PlannedDelivery("desk", "t1", "x")])], T0)
    a = store.lease_delivery(did, T0, lease=60)
    later = T0 + timedelta(seconds=61)
    b = store.lease_delivery(did, later, lease=60)
    assert a is not None and b is not None and a.lease_until != b.lease_until
    store.mark_failed(did, "A timed out", retry_at=later, now=later, lease=a.lease_until)
    store.release_delivery(did, later, lease=a.lease_until)
    [row] = store.list_deliveries()
    assert (row.status, row.attempts, row.last_error) == (SENDING, 1, None)  # A's attempt
    assert store.due_delivery_ids(later + timedelta(seconds=30)) == []  # B's lease holds
    store.mark_sent(did, later, remote_id="42", lease=b.lease_until)
    [row] = store.list_deliveries()
    assert (row.status, row.attempts) == (SENT, 2)
    with store.engine.connect() as conn:
        found = conn.exec_driver_sql("SELECT delivery_id, remote_id FROM sent_messages").all()
    assert [tuple(r) for r in found] == [(did, "42")]


def test_a_digest_lease_is_renewed_only_while_every_row_is_held(store: Store) -> None:
    fid = store.feed_state("f").id
    ids = store.add_items(fid, [item("a"), item("b", "Second report")], T0)
    planned = PlannedDelivery("desk", "t1", "x", hold_until=T0)
    dids = store.save_scores([(i, relevant(), [planned]) for i in ids], T0)
    rows = store.lease_group(dids, T0, lease=60)
    lease = rows[0].lease_until
    assert lease is not None and {r.lease_until for r in rows} == {lease}
    renewed = store.renew_lease(dids, lease, T0 + timedelta(seconds=50), 60)
    assert renewed == T0 + timedelta(seconds=110)
    # after the old lease's end, nothing is due: the renewed lease holds
    assert store.due_delivery_ids(T0 + timedelta(seconds=100)) == []
    assert store.renew_lease(dids, lease, T0 + timedelta(seconds=60), 60) is None  # stale
    store.mark_group_sent(dids[:1], T0, lease=renewed)
    assert store.renew_lease(dids, renewed, T0 + timedelta(seconds=60), 60) is None
    # a refused renewal changed nothing
    assert store.due_delivery_ids(T0 + timedelta(seconds=111)) == [dids[1]]


def test_a_delivery_whose_senders_keep_dying_ends_dead_not_in_a_loop(store: Store) -> None:
    """Each take-back of an expired lease is an attempt: a delivery that kills its
    sender every time (or always outlasts the lease) reaches the dead letters."""
    [iid] = store.add_items(store.feed_state("f").id, [item("a")], T0)
    [did] = store.save_scores([(iid, relevant(), [PlannedDelivery("desk", "t1", "x")])], T0)
    at = T0
    assert store.lease_delivery(did, at, lease=60, max_attempts=3) is not None
    for attempts in (1, 2):  # the sender dies; taken back, sent again, dies again
        at += timedelta(seconds=61)
        taken = store.lease_delivery(did, at, lease=60, max_attempts=3)
        assert taken is not None and (taken.attempts, taken.ambiguous) == (attempts, True)
    at += timedelta(seconds=61)
    assert store.lease_delivery(did, at, lease=60, max_attempts=3) is None
    [row] = store.list_deliveries()
    assert (row.status, row.attempts) == (DEAD, 3)
    assert row.last_error is not None and "attempt 3 of 3" in row.last_error
    assert store.due_delivery_ids(at + timedelta(days=1)) == []


def test_a_mark_and_the_next_lease_in_one_commit_stay_fenced(store: Store) -> None:
    """A batch marks a delivery sent and leases the next in one transaction
    (``Store.together``): the mark is still fenced by its own lease (a sender whose lease
    was taken back changes nothing), and the two commit together or not at all."""
    fid = store.feed_state("f").id
    iids = store.add_items(fid, [item("a"), item("b"), item("c")], T0)
    plan = [PlannedDelivery("desk", "t1", "x")]
    d1, d2, d3 = store.save_scores([(i, relevant(), plan) for i in iids], T0)
    [a] = store.lease_deliveries([d1], T0, 60)  # slow sender A
    later = T0 + timedelta(seconds=61)
    b = store.lease_delivery(d1, later, lease=60)  # B takes it back (A is presumed dead)
    assert b is not None and b.ambiguous
    with store.together():  # A's late mark of d1, with its lease of d2
        store.mark_sent(d1, later, remote_id="<a@x>", lease=a.lease_until)
        [nxt] = store.lease_deliveries([d2], later, 60)
    rows = {d.id: d for d in store.list_deliveries()}
    assert (rows[d1].status, rows[d1].lease_until) == (SENDING, b.lease_until)  # B's still
    assert rows[d2].status == SENDING and nxt.lease_until == rows[d2].lease_until
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sent_messages").scalar_one() == 0
    # B's mark under its own lease stands, with its message id
    store.mark_sent(d1, later, remote_id="<b@x>", lease=b.lease_until)
    assert {d.id: d.status for d in store.list_deliveries()}[d1] == SENT
    # a failure inside the block: neither the mark nor the next lease is kept
    with pytest.raises(RuntimeError), store.together():
        store.mark_sent(d2, later, lease=nxt.lease_until)
        store.lease_deliveries([d3], later, 60)
        raise RuntimeError("the database went away")
    rows = {d.id: d for d in store.list_deliveries()}
    assert (rows[d2].status, rows[d3].status) == (SENDING, PENDING)
    assert store.lease_deliveries([d3], later, 60)[0].id == d3


def test_leasing_one_delivery_takes_what_leasing_it_in_a_list_takes(store: Store) -> None:
    """A sender leases one delivery at a time (``lease_deliveries([id])``) on a statement of
    its own, ``id = ?`` with no list in it (a list is rendered into the SQL at every
    execution): it takes exactly the rows, with the same values, that the list form
    takes, whatever state they are in."""
    from sqlalchemy import event

    fid = store.feed_state("f").id
    names = ["due", "failed-due", "failed-later", "sending", "sent", "dead"]
    plan = [PlannedDelivery("desk", "t1", "x")]
    iids = store.add_items(fid, [item(f"{n}-{k}") for k in (1, 2) for n in names], T0)
    dids = store.save_scores([(i, relevant(), plan) for i in iids], T0)
    one = dict(zip(names, dids[: len(names)], strict=True))
    listed = dict(zip(names, dids[len(names) :], strict=True))
    for group in (one, listed):  # the same states in both groups
        for name, delay in (("failed-due", 5), ("failed-later", 30), ("dead", None)):
            assert store.lease_delivery(group[name], T0, lease=60) is not None
            at = None if delay is None else T0 + timedelta(seconds=delay)
            store.mark_failed(group[name], "down", retry_at=at, now=T0)
        assert store.lease_delivery(group["sending"], T0, lease=60) is not None
        assert store.lease_delivery(group["sent"], T0, lease=60) is not None
        store.mark_sent(group["sent"], T0)
    statements: list[str] = []

    def seen(*args: object) -> None:  # before_cursor_execute(conn, cursor, statement, ...)
        statements.append(str(args[2]))

    now = T0 + timedelta(seconds=10)
    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        taken_one = {n: store.lease_deliveries([one[n]], now, 60) for n in names}
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    leases = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(leases) == len(names) and not any(" IN (" in s.upper() for s in leases)
    taken_listed = {d.id: d for d in store.lease_deliveries(list(listed.values()), now, 60)}
    for name in names:
        other = taken_listed.get(listed[name])
        if other is None:
            assert taken_one[name] == [], name
        else:
            [mine] = taken_one[name]
            assert mine.item_id != other.item_id
            assert replace(mine, id=0, item_id=0) == replace(other, id=0, item_id=0), name
    assert {n for n in names if taken_one[n]} == {"due", "failed-due"}


def test_a_batch_of_scores_goes_in_at_once_or_item_by_item_with_the_same_result(
    store: Store,
) -> None:
    """A batch whose items are all unscored is written by one executemany per statement;
    one holding an item scored already (a redelivered task, a concurrent worker) or an
    item twice is written item by item: the scored one and the repeat are skipped with
    their deliveries, as ever, and nothing of the first try is left behind."""
    from newsalert.models import Language

    fid = store.feed_state("f").id
    ids = store.add_items(fid, [item(k, f"Report {k}") for k in "abcde"], T0)
    plan = [PlannedDelivery("desk", "t1", "x")]
    lang = Score(0.8, True, "crime", 0.8, (), language=Language("sr-Latn", 1.0, "feed"))
    executemany: list[int] = []

    from sqlalchemy import event

    @event.listens_for(store.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, many) -> None:  # type: ignore[no-untyped-def]
        if many and statement.startswith("UPDATE items"):
            executemany.append(len(parameters))

    first = store.save_scores([(ids[0], relevant(), plan), (ids[1], lang, plan)], T0)
    assert len(first) == 2 and executemany == []  # one of each statement: no executemany
    store.save_scores([(ids[2], relevant(), plan), (ids[3], relevant(), plan)], T0)
    assert executemany == [2]
    executemany.clear()
    # ids[0] scored already, ids[4] given twice: item by item, after the rolled-back try
    later = T0 + timedelta(minutes=1)
    again = store.save_scores(
        [(ids[0], relevant(0.1), plan), (ids[4], relevant(), plan), (ids[4], lang, plan)], later
    )
    assert executemany == [2] and len(again) == 1  # the two without a language together
    rows = {r.item_id: r for r in store.list_deliveries()}
    assert sorted(rows) == sorted(ids) and rows[ids[4]].id == again[0]
    kept = store.get_item(ids[0]).score
    assert kept is not None and kept.score == 0.9  # the first score stands
    s4 = store.get_item(ids[4]).score
    assert s4 is not None and s4.score == 0.9
    with store.engine.connect() as conn:
        langs = dict(conn.exec_driver_sql("SELECT id, language_method FROM items").all())
    assert (langs[ids[1]], langs[ids[4]]) == ("feed", None)  # ids[4]: its first entry won
    event.remove(store.engine, "before_cursor_execute", count)


def test_feed_states_named_as_the_statement_built_per_call_read_them(database_url: str) -> None:
    """The prepared IN query reads the same feed rows as the select built per call did:
    names not stored left out, a list longer than a chunk (500) read whole."""
    from sqlalchemy import select

    from newsalert.store.feedstore import _feed_state
    from newsalert.store.schema import feeds

    s = Store(database_url)
    s.sync_feeds([(f"f{k}", f"https://example.org/{k}") for k in range(620)])
    for names in ([], ["f3"], ["f1", "nope", "f2", "f1"], [f"f{k}" for k in range(620)] + ["x"]):
        before: dict[str, object] = {}
        with s.engine.connect() as conn:
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                for row in conn.execute(select(feeds).where(feeds.c.name.in_(chunk))):
                    before[row.name] = _feed_state(row)
        got = s.feed_states_named(names)
        assert got == before
        assert sorted(got) == sorted({n for n in names if n != "nope" and n != "x"})
    s.close()
