"""Connections shared by one batch of deliveries (newsalert.delivery_pool), against a real
SMTP server on loopback: one connection per server, every delivery still sent and marked
on its own, nothing lost or sent twice when the server drops the connection."""

from __future__ import annotations

import ssl
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from newsalert.config import load_config
from newsalert.delivery import Notifier
from newsalert.delivery_pool import connection_pool
from newsalert.errors import TransientDeliveryError
from newsalert.models import Message
from newsalert.pipeline import Pipeline
from newsalert.store import Store
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer, TLSCollect
from tests.test_pipeline import BALKANS

MESSAGE = Message(
    title="Armed attack in Banjska", body="Police station attacked.", body_format="text"
)


def recipients(n: int) -> list[str]:
    return [f"duty{k}@example.org" for k in range(n)]


def four_due(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    clock: Any = None,
) -> tuple[Pipeline, list[int]]:
    """The seed alert for four e-mail targets on one loopback server: the pipeline (on
    ``clock`` if given) and its four due deliveries."""
    feed_server.route("/balkans", body=BALKANS)
    urls = [smtp_server.url(to=to) for to in recipients(4)]
    config = write_config(tmp_path, model_dir, database_url, feed_server.url("/balkans"), urls)
    loaded = load_config(config)
    timed = {"clock": clock} if clock is not None else {}
    pipeline = Pipeline(loaded, Store(loaded.database_url), **timed)
    pipeline.poll_feeds(["balkans"])
    pipeline.score_pending()
    ids = pipeline.store.due_delivery_ids(pipeline.clock())
    assert len(ids) == 4
    return pipeline, ids


def test_sends_in_a_pool_share_one_connection_per_server(smtp_server: SMTPServer) -> None:
    other = SMTPServer()
    other.start()
    try:
        notifier = Notifier(timeout=5)
        with connection_pool() as pool:
            for to in recipients(4):
                notifier.send(smtp_server.url(to=to), MESSAGE)
                notifier.send(other.url(to=to), MESSAGE)
        assert [e.rcpt_tos for e in smtp_server.envelopes] == [[to] for to in recipients(4)]
        assert len(other.envelopes) == 4
        assert smtp_server.connections == 1 and other.connections == 1
        assert pool.opened == 2 and pool.reused == 6
    finally:
        other.stop()


def test_without_a_pool_each_send_has_its_own_connection(smtp_server: SMTPServer) -> None:
    notifier = Notifier(timeout=5)
    for to in recipients(3):
        notifier.send(smtp_server.url(to=to), MESSAGE)
    assert smtp_server.connections == 3


def test_different_credentials_never_share_a_connection(smtp_server: SMTPServer) -> None:
    notifier = Notifier(timeout=5)
    with connection_pool() as pool:
        notifier.send(smtp_server.url(user="alerts", password="one"), MESSAGE)
        notifier.send(smtp_server.url(user="alerts", password="two"), MESSAGE)
        notifier.send(smtp_server.url(user="alerts", password="one"), MESSAGE)
    assert pool.opened == 2
    assert smtp_server.logins == ["alerts", "alerts"]
    assert smtp_server.connections == 2


def test_a_connection_closed_by_the_server_while_idle_is_replaced_before_sending(
    smtp_server: SMTPServer,
) -> None:
    smtp_server.hang_up_after = 2  # closes the first connection after its second message
    notifier = Notifier(timeout=5)
    with connection_pool() as pool:
        for to in recipients(4):
            notifier.send(smtp_server.url(to=to), MESSAGE)
            threading.Event().wait(0.15)  # the server's close lands while the pool holds it
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [[to] for to in recipients(4)]
    assert smtp_server.connections == 2 and pool.opened == 2


def test_a_connection_handed_back_moments_ago_is_reused_without_noop(
    smtp_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smtplib

    import newsalert.delivery_pool as delivery_pool

    noops: list[int] = []
    real_noop = smtplib.SMTP.noop
    monkeypatch.setattr(smtplib.SMTP, "noop", lambda self: noops.append(1) or real_noop(self))
    notifier = Notifier(timeout=5)
    with connection_pool() as pool:
        for to in recipients(3):
            notifier.send(smtp_server.url(to=to), MESSAGE)
        assert noops == [] and pool.reused == 2
        monkeypatch.setattr(delivery_pool, "QUIET_REUSE", 0.0)  # idle "long": checked again
        notifier.send(smtp_server.url(to="d@example.org"), MESSAGE)
        assert noops == [1] and pool.reused == 3
    assert smtp_server.connections == 1 and len(smtp_server.envelopes) == 4


def test_a_send_that_fails_on_a_pooled_connection_drops_it(smtp_server: SMTPServer) -> None:
    notifier = Notifier(timeout=5)
    with connection_pool() as pool:
        notifier.send(smtp_server.url(to="a@example.org"), MESSAGE)
        smtp_server.hang_up_in_data = True
        with pytest.raises(TransientDeliveryError):
            notifier.send(smtp_server.url(to="b@example.org"), MESSAGE)
        smtp_server.refuse(550, stage="rcpt")  # a refusal leaves the session unusable to us
        with pytest.raises(TransientDeliveryError):
            notifier.send(smtp_server.url(to="c@example.org"), MESSAGE)
        smtp_server.accept()
        notifier.send(smtp_server.url(to="d@example.org"), MESSAGE)
    assert [e.rcpt_tos for e in smtp_server.envelopes] == [["a@example.org"], ["d@example.org"]]
    assert pool.opened == 3  # a fresh connection after each failure


def test_a_connection_carries_a_bounded_number_of_messages(smtp_server: SMTPServer) -> None:
    notifier = Notifier(timeout=5)
    with connection_pool(max_messages=2) as pool:
        for to in recipients(5):
            notifier.send(smtp_server.url(to=to), MESSAGE)
    assert pool.opened == 3 and smtp_server.connections == 3


# --- a batch of deliveries through the pipeline ----------------------------------------------


def write_config(
    tmp_path: Path, model_dir: Path, database_url: str, feed: str, urls: list[str]
) -> Path:
    quoted = ", ".join(f'"{u}"' for u in urls)
    text = textwrap.dedent(
        f"""\
        storage:
          data_dir: {model_dir}
          database_url: {database_url}
        delivery:
          backoff_base: 60
          rate_limits: {{email: 1000}}
        subscribers:
          - name: duty-desk
            urls: [{quoted}]
        feeds:
          - name: balkans
            url: {feed}
            allow_private: true
        """
    )
    path = tmp_path / "newsalert.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_batch_uses_one_connection_and_marks_every_delivery_on_its_own(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    feed_server.route("/balkans", body=BALKANS)
    urls = [smtp_server.url(to=to) for to in recipients(4)]
    config = write_config(tmp_path, model_dir, database_url, feed_server.url("/balkans"), urls)
    now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    loaded = load_config(config)
    pipeline = Pipeline(loaded, Store(loaded.database_url), clock=lambda: now[0])
    original = smtp_server.handle_DATA
    calls = [0]

    async def second_drops(server: Any, session: Any, envelope: Any) -> str:
        calls[0] += 1
        if calls[0] == 3:  # the third message is cut off in DATA: never accepted
            smtp_server.hang_up_in_data = True
        return await original(server, session, envelope)

    smtp_server.handle_DATA = second_drops  # type: ignore[method-assign]
    summary = pipeline.run_once()
    assert summary.deliveries_created == 4
    assert summary.delivered == {"sent": 3, "failed": 1}
    deliveries = pipeline.store.list_deliveries()
    assert sorted(d.status for d in deliveries) == ["failed", "sent", "sent", "sent"]
    [failed] = [d for d in deliveries if d.status == "failed"]
    assert failed.attempts == 1
    assert len(smtp_server.envelopes) == 3
    assert smtp_server.connections == 2  # the first until it dropped, then a fresh one
    now[0] += timedelta(minutes=5)  # past the backoff: retried, sent once
    assert pipeline.deliver_due() == {"sent": 1}
    rcpts = sorted(to for e in smtp_server.envelopes for to in e.rcpt_tos)
    assert rcpts == sorted(recipients(4))  # each once: nothing lost, nothing twice
    assert all(d.status == "sent" for d in pipeline.store.list_deliveries())
    pipeline.close()


def test_a_batch_leases_each_delivery_only_when_its_turn_comes(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    pipeline, ids = four_due(
        tmp_path, model_dir, database_url, feed_server, smtp_server, clock=lambda: now[0]
    )
    lease = pipeline.loaded.config.delivery.lease
    other = pipeline.store.lease_delivery(ids[0], now[0], lease)
    assert other is not None  # another sender has this one
    original = smtp_server.handle_DATA
    seen: list[list[str]] = []

    async def look(server: Any, session: Any, envelope: Any) -> str:
        # while one is being sent, the ones after it are not leased yet: a worker killed
        # here leaves only this one to be taken back as ambiguous
        status = {d.id: d.status for d in pipeline.store.get_deliveries(ids)}
        seen.append([status[i] for i in ids[1:]])
        return await original(server, session, envelope)

    smtp_server.handle_DATA = look  # type: ignore[method-assign]
    assert pipeline.deliver_many(ids) == {"skipped": 1, "sent": 3}
    assert seen[0] == ["sending", "pending", "pending"]
    assert seen[2] == ["sent", "sent", "sending"]
    by_id = {d.id: d for d in pipeline.store.list_deliveries()}
    assert [by_id[i].status for i in ids] == ["sending", "sent", "sent", "sent"]
    assert not any(d.ambiguous for d in by_id.values())
    assert len(smtp_server.envelopes) == 3
    assert pipeline.deliver_many(ids) == {"skipped": 4}  # a redelivered batch sends nothing
    pipeline.close()


def test_a_batch_skips_the_rows_it_reads_as_sent_without_leasing_them(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """A batch dispatched twice (a storm's sweep finds its deliveries still waiting in the
    queue): the copy that comes second reads its rows sent, counts them skipped as before,
    and spends no lease statement (nor token) on them; the rest it sends, each once."""
    pipeline, ids = four_due(tmp_path, model_dir, database_url, feed_server, smtp_server)
    assert pipeline.deliver_many(ids[:2]) == {"sent": 2}
    leased: list[int] = []
    store = pipeline.store
    real_many, real_one = store.lease_deliveries, store.lease_delivery

    def lease_many(these: Any, *args: Any, **kwargs: Any) -> Any:
        leased.extend(these)
        return real_many(these, *args, **kwargs)

    def lease_one(delivery_id: int, *args: Any, **kwargs: Any) -> Any:
        leased.append(delivery_id)
        return real_one(delivery_id, *args, **kwargs)

    store.lease_deliveries, store.lease_delivery = lease_many, lease_one  # type: ignore[method-assign]
    assert pipeline.deliver_many(ids) == {"skipped": 2, "sent": 2}
    assert leased == ids[2:]  # each of the two still due leased once, the sent ones never
    assert pipeline.deliver_many(ids) == {"skipped": 4}
    assert leased == ids[2:]
    rcpts = sorted(to for e in smtp_server.envelopes for to in e.rcpt_tos)
    assert rcpts == sorted(recipients(4))  # each once
    assert all(d.status == "sent" for d in store.list_deliveries())
    pipeline.close()


# --- TLS: one context, one handshake per connection ------------------------------------------


def test_starttls_sends_share_the_tls_context_and_the_connection(
    starttls_server: tuple[int, TLSCollect], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, handler = starttls_server
    url = f"mailtos://127.0.0.1:{port}?from=a@example.org&to=b@example.org&mode=starttls&verify=no"
    Notifier(timeout=5).send(url, MESSAGE)  # the shared context exists from here on
    made: list[object] = []
    real = ssl.SSLContext.__new__

    def counting(cls: type, *args: Any, **kwargs: Any) -> Any:
        made.append(cls)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "__new__", counting)
    Notifier(timeout=5).send(url, MESSAGE)  # without a pool: a new connection, same context
    with connection_pool() as pool:
        for _ in range(3):
            Notifier(timeout=5).send(url, MESSAGE)
    assert made == []
    assert len(handler.peers) == 5
    assert len(set(handler.peers)) == 3 and pool.opened == 1


# --- webhooks: keep-alive to the same host ---------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    peers: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).peers.append(self.client_address)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.send_header("Set-Cookie", "session=abc; Path=/")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return None


def test_webhook_sends_in_a_pool_reuse_the_connection_and_keep_no_cookies() -> None:
    _Hook.peers = []
    cookies: list[str | None] = []

    class Hook(_Hook):
        def do_POST(self) -> None:
            cookies.append(self.headers.get("Cookie"))
            super().do_POST()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"json://127.0.0.1:{server.server_port}/hook"
        with connection_pool():
            for _ in range(3):
                Notifier(timeout=5).send(url, MESSAGE)
        Notifier(timeout=5).send(url, MESSAGE)
    finally:
        server.shutdown()
        server.server_close()
    assert len(_Hook.peers) == 4
    assert len(set(_Hook.peers)) == 2  # the pool's connection, then one without the pool
    assert cookies == [None] * 4


def test_a_batch_commits_each_delivery_on_one_held_store_connection(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
) -> None:
    """The batch's per-delivery transactions (lease, mark sent and lease the next) run on
    one store connection held for the batch, not one checked out of the pool (and reset)
    per transaction (main: a new one each time); each delivery is still marked and
    committed on its own."""
    from contextlib import contextmanager

    pipeline, ids = four_due(tmp_path, model_dir, database_url, feed_server, smtp_server)
    store = pipeline.store
    used: list[Any] = []  # the Connection objects, kept alive: ids stay distinct
    real = store.begin

    @contextmanager
    def recorded() -> Any:
        with real() as conn:
            used.append(conn)
            yield conn

    store.begin = recorded  # type: ignore[method-assign]
    assert pipeline.deliver_many(ids) == {"sent": 4}
    assert len(used) >= 2 * len(ids) - 1  # the transactions went through the store
    assert len({id(c) for c in used}) == 1
    assert all(d.status == "sent" for d in store.list_deliveries())
    rcpts = sorted(to for e in smtp_server.envelopes for to in e.rcpt_tos)
    assert rcpts == sorted(recipients(4))  # each once
    pipeline.close()
