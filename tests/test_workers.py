"""The Celery layer with real worker and beat processes, real brokers, a real SMTP server.

Every test starts its processes with :class:`Processes` (own session, so the pool
children and an embedded beat die with them), polls for the state it expects
with a deadline, and stops everything at teardown, also on failure. Feeds live
on the loopback feed server; the model is the session's cached one (no training);
the store is a temporary SQLite file or a fresh PostgreSQL database. Redis tests
use DB 15 under a key prefix of their own (deleted afterwards; not FLUSHDB: other
test sessions on this machine may be using the DB at the same time), RabbitMQ
tests a virtual host of their own.

Configs use ``fetch.min_interval: 1`` so feeds may poll every second or two; the
scheduler's tick follows it (1 s). Delivery backoff, leases and the sweep are
shortened the same way, through the config only.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import html
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsalert.store import Store
from tests.feedserver import FeedServer, Request, Response
from tests.smtpserver import SMTPServer
from tests.test_pipeline import BALKANS, BUSINESS, SEED_TITLE

from .conftest import REDIS_URL, ROOT, service_unavailable

RABBIT_URL = os.environ.get("NEWSALERT_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
PYTHON = sys.executable
RSS_TYPE = {"Content-Type": "application/rss+xml"}


# --- helpers: feeds, config, waiting -------------------------------------------------------


def rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>https://news.example.org/{guid}</link>"
        f"<description>{html.escape(summary)}</description>"
        "<pubDate>Fri, 29 Sep 2023 18:00:00 GMT</pubDate></item>"
        for guid, title, summary in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
        f"{body}</channel></rss>"
    ).encode()


_PLACES = [
    "Oslo",
    "Lima",
    "Quito",
    "Hanoi",
    "Dakar",
    "Accra",
    "Riga",
    "Tallinn",
    "Vilnius",
    "Tbilisi",
    "Yerevan",
    "Baku",
    "Ankara",
    "Beirut",
    "Amman",
    "Doha",
    "Muscat",
    "Dhaka",
    "Manila",
    "Jakarta",
    "Seoul",
    "Taipei",
    "Perth",
    "Auckland",
    "Havana",
    "Bogota",
    "Caracas",
    "Santiago",
    "Montevideo",
    "Nairobi",
    "Kampala",
    "Harare",
    "Lusaka",
    "Luanda",
    "Maputo",
    "Windhoek",
    "Gaborone",
    "Bamako",
    "Niamey",
    "Conakry",
]
_SITES = [
    "bridge",
    "harbour",
    "pipeline",
    "airport",
    "refinery",
    "railway",
    "stadium",
    "embassy",
    "courthouse",
    "reservoir",
    "tunnel",
    "warehouse",
    "shipyard",
    "barracks",
    "substation",
    "dam",
    "terminal",
    "depot",
    "checkpoint",
    "consulate",
    "prison",
    "hospital",
    "ministry",
    "parliament",
    "garrison",
    "lighthouse",
    "observatory",
    "mine",
    "quarry",
    "factory",
    "brewery",
    "library",
    "museum",
    "cathedral",
    "market",
    "university",
    "laboratory",
    "ferry",
    "canal",
    "casino",
]
_EVENTS = [
    "blaze",
    "siege",
    "raid",
    "ambush",
    "shooting",
    "hijacking",
    "sabotage",
    "explosion",
    "riot",
    "standoff",
    "kidnapping",
    "stabbing",
    "bombing",
    "cyberattack",
    "breach",
    "evacuation",
    "lockdown",
    "mutiny",
    "arson",
    "looting",
    "blockade",
    "sniper",
    "grenade",
    "landslide",
    "derailment",
    "poisoning",
    "shelling",
    "drone",
    "mortar",
    "rocket",
    "intrusion",
    "stampede",
    "collapse",
    "leak",
    "outage",
    "flood",
    "wildfire",
    "tremor",
    "capsizing",
    "hailstorm",
]
_WHO = [
    "police",
    "soldiers",
    "guards",
    "rebels",
    "militants",
    "protesters",
    "firefighters",
    "sailors",
    "miners",
    "pilots",
    "students",
    "nurses",
    "farmers",
    "fishermen",
    "workers",
    "officials",
    "diplomats",
    "judges",
    "clerks",
    "engineers",
    "doctors",
    "teachers",
    "drivers",
    "traders",
    "pensioners",
    "tourists",
    "reporters",
    "priests",
    "cadets",
    "divers",
    "rangers",
    "medics",
    "scouts",
    "porters",
    "welders",
    "bakers",
    "tailors",
    "loggers",
    "herders",
    "monks",
]


def drill_feed(n: int) -> bytes:
    """``n`` items, each its own story (no words in common, so story clustering keeps
    them apart), each made relevant by an include rule on its code (X100Q, X101Q ...)."""
    assert n <= len(_PLACES)
    return rss(
        [
            (
                f"drill-{i}",
                f"{_EVENTS[i].title()} at {_PLACES[i]} {_SITES[i]} X{100 + i}Q",
                f"{_WHO[i].title()} near the {_PLACES[i]} {_SITES[i]} report a {_EVENTS[i]}.",
            )
            for i in range(n)
        ]
    )


DRILL_RULES = {"include": [{"name": "drill", "regex": [r"\bX1\d\dQ\b"]}]}
SPORT_RULES = {"exclude": [{"name": "sport", "terms": ["Premier League"]}]}


@dataclass
class Feed:
    name: str
    url: str
    interval: int = 2


def write_config(
    path: Path,
    *,
    model_dir: Path,
    database_url: str,
    mail_url: str,
    feeds: list[Feed],
    rules: dict[str, Any] | None = None,
    fetch: dict[str, Any] | None = None,
    delivery: dict[str, Any] | None = None,
) -> Path:
    config = {
        "storage": {"data_dir": str(path.parent / "data"), "database_url": database_url},
        # the session's cached model, loaded strictly: a worker never trains
        "model": {"path": str(model_dir / "model" / "model.joblib")},
        "fetch": {"min_interval": 1, "deadline": 5, **(fetch or {})},
        "delivery": {
            "backoff_base": 1,
            "backoff_max": 4,
            "lease": 5,
            "max_attempts": 30,
            "timeout": 10,
            **(delivery or {}),
        },
        "rules": rules if rules is not None else SPORT_RULES,
        "subscribers": [{"name": "duty-desk", "urls": [mail_url]}],
        "feeds": [
            {"name": f.name, "url": f.url, "interval": f.interval, "allow_private": True}
            for f in feeds
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def add_feed(path: Path, feed: Feed) -> None:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["feeds"].append(
        {"name": feed.name, "url": feed.url, "interval": feed.interval, "allow_private": True}
    )
    text = yaml.safe_dump(config, sort_keys=False)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # atomic, like an editor or a config-management tool


def wait_for(
    check: Callable[[], Any], timeout: float, what: str, *, procs: Processes | None = None
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the logs after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = procs.tails() if procs else ""
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n{logs}")
        time.sleep(0.1)


def subjects(smtp: SMTPServer) -> list[str]:
    return [str(m["Subject"]) for m in list(smtp.messages)]


def drill_numbers(smtp: SMTPServer) -> list[int]:
    return [int(m[1]) - 100 for s in subjects(smtp) if (m := re.search(r"X(1\d\d)Q", s))]


class TimedFeeds:
    """Records when each feed path was requested (the feed server records no times)."""

    def __init__(self, server: FeedServer) -> None:
        self.server = server
        self.times: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def serve(self, path: str, respond: Callable[[Request], Response]) -> str:
        def handler(request: Request) -> Response:
            with self._lock:
                self.times.setdefault(path, []).append(time.monotonic())
            return respond(request)

        self.server.handler(path, handler)
        return self.server.url(path)

    def count(self, path: str) -> int:
        with self._lock:
            return len(self.times.get(path, []))

    def gaps(self, path: str) -> list[float]:
        with self._lock:
            t = list(self.times.get(path, []))
        return [b - a for a, b in itertools.pairwise(t)]


class SlowSMTP(SMTPServer):
    """The real SMTP server, able to take its time over DATA (as a loaded relay does)."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0  # seconds before answering DATA
        self.slow_next: int | None = None  # None: every message; n: only the next n
        self.in_data = threading.Event()  # set when a DATA command arrives
        self._slow_lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_data.set()
        delay = self.delay
        with self._slow_lock:
            if self.slow_next is not None:
                if self.slow_next > 0:
                    self.slow_next -= 1
                else:
                    delay = 0.0
        if delay:
            await asyncio.sleep(delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SlowSMTP]:
    server = SlowSMTP()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- processes ---------------------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: pytest killed -> worker killed


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str, timeout: float, procs: Processes | None = None) -> None:
        wait_for(
            lambda: re.search(pattern, self.log()) or self._died(),
            timeout,
            f"{self.name} to log {pattern!r}",
            procs=procs,
        )
        if self.popen.poll() is not None and not re.search(pattern, self.log()):
            pytest.fail(f"{self.name} exited with {self.popen.returncode}:\n{self.log()[-4000:]}")

    def _died(self) -> bool:
        return self.popen.poll() is not None

    def children(self) -> list[int]:
        """Direct children (the prefork pool processes, an embedded beat)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.pid:
                found.append(int(entry))
        return found

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def kill_group(self) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(10)


class Processes:
    """Worker and beat subprocesses of one test; all stopped at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[Proc] = []
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("NEWSALERT_") and k not in ("PYTHONPATH", "CELERY_BROKER_URL")
        }
        self.env.update(
            PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            PYTHONUNBUFFERED="1",
            C_FORCE_ROOT="1",  # CI containers run as root
        )

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log_path = self.tmp_path / f"{name}.log"
        out = log_path.open("ab")
        popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        out.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def run_service(self, name: str, config: Path, broker: Broker) -> Proc:
        """``newsalert run``: worker + beat in one command."""
        env = {"NEWSALERT_CONFIG": str(config), **broker.env}
        return self.start(name, [PYTHON, "-m", "newsalert.cli", "-v", "run"], env)

    def worker(self, name: str, config: Path, broker: Broker, *, concurrency: int = 2) -> Proc:
        """``celery -A workers.app worker``, as docker-compose runs it."""
        argv = [
            PYTHON, "-m", "celery", "-A", "workers.app", "worker", "--loglevel=INFO",
            "--queues=newsalert,deliver", f"--concurrency={concurrency}",
            f"--hostname={name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        return self.start(name, argv, {"NEWSALERT_CONFIG": str(config), **broker.env})

    def beat(self, name: str, config: Path, broker: Broker, *, level: str = "INFO") -> Proc:
        schedule = self.tmp_path / f"{name}-schedule"
        argv = [
            PYTHON, "-m", "celery", "-A", "workers.app", "beat", f"--loglevel={level}",
            f"--schedule={schedule}",
        ]  # fmt: skip
        return self.start(name, argv, {"NEWSALERT_CONFIG": str(config), **broker.env})

    def tails(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {p.name} log (tail) ---\n{p.log()[-chars:]}" for p in self.procs)

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.5  # graceful stops are tested on their own
        for proc in self.procs:
            with suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            proc.kill_group()  # the pool children and embedded beat too, whatever happened


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.stop_all()


# --- brokers and stores --------------------------------------------------------------------


@dataclass(frozen=True)
class Broker:
    """How the processes of one test reach their broker (no URL: the embedded one)."""

    url: str | None = None
    transport_options: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {}
        if self.url:
            env["NEWSALERT_BROKER_URL"] = self.url
        if self.transport_options:
            env["NEWSALERT_BROKER_TRANSPORT_OPTIONS"] = json.dumps(self.transport_options)
        return env


def _redis_client() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def _redis_up() -> bool:
    try:
        return bool(_redis_client().ping())
    except Exception:
        return False


@contextmanager
def _redis_lock(exclusive: bool, timeout: float = 180) -> Iterator[None]:
    """Test sessions on this machine share one Redis: a test that restarts it waits for
    the others' Redis tests to finish, and they wait for the restart (fcntl.flock)."""
    with open(Path(tempfile.gettempdir()) / "newsalert-tests-redis.lock", "a+") as f:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.skip("another test session kept Redis busy")
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@pytest.fixture
def redis_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """Redis DB 15, with a key prefix of this test's own: test sessions running at the
    same time (they do, here) neither see nor flush each other's queues."""
    with _redis_lock(exclusive="restartable_redis" in request.fixturenames):
        if not _redis_up():
            try:
                _redis_client().ping()
            except Exception as exc:
                service_unavailable("Redis", exc)
        prefix = f"natest-{uuid.uuid4().hex[:10]}:"
        try:
            yield Broker(REDIS_URL, {"global_keyprefix": prefix})
        finally:
            with suppress(Exception):
                client = _redis_client()
                keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
                if keys:
                    client.delete(*keys)


@pytest.fixture
def rabbit_broker() -> Iterator[Broker]:
    """RabbitMQ in a virtual host of this test's own (rabbitmqctl); without rabbitmqctl,
    the default one with its queues purged."""
    from kombu import Connection

    vhost = f"natest-{uuid.uuid4().hex[:10]}"
    ctl = shutil.which("rabbitmqctl")
    created = False
    if ctl:
        created = (
            subprocess.run([ctl, "add_vhost", vhost], capture_output=True, timeout=60).returncode
            == 0
        )
        if created:
            subprocess.run(
                [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                capture_output=True, timeout=60, check=True,
            )  # fmt: skip
    url = RABBIT_URL.rstrip("/") + "/" + vhost if created else RABBIT_URL
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
            if not created:
                channel = conn.default_channel
                for name in ("newsalert", "deliver"):
                    with suppress(Exception):
                        channel.queue_purge(name)
    except Exception as exc:
        service_unavailable("RabbitMQ", exc)
    try:
        yield Broker(url)
    finally:
        if created:
            subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def client_app(broker: Broker) -> Any:
    """A bare Celery client that sends tasks by name (the tests never import workers.app)."""
    from celery import Celery

    app = Celery("newsalert-test", broker=broker.url, set_as_current=False)
    app.conf.broker_transport_options = dict(broker.transport_options)
    app.conf.task_routes = {"newsalert.deliver_batch": {"queue": "deliver"}}
    app.conf.task_default_queue = "newsalert"
    return app


@dataclass
class Setup:
    """One test's world: feeds, SMTP, config, store."""

    config: Path
    database_url: str
    stores: list[Store] = field(default_factory=list)

    def store(self) -> Store:
        store = Store(self.database_url)  # creates the tables if no worker has yet
        self.stores.append(store)
        return store

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture
def setup_factory(
    tmp_path: Path, model_dir: Path, classifier: object
) -> Iterator[Callable[..., Setup]]:
    made: list[Setup] = []
    # a copy of the session's model: other sessions on this machine may retrain the
    # cached one while this test's workers run
    own_model = tmp_path / "cached-model"
    shutil.copytree(model_dir / "model", own_model / "model", ignore=shutil.ignore_patterns(".*"))

    def make(database_url: str, mail_url: str, feeds: list[Feed], **kwargs: Any) -> Setup:
        config = write_config(
            tmp_path / "newsalert.yaml",
            model_dir=own_model,
            database_url=database_url,
            mail_url=mail_url,
            feeds=feeds,
            **kwargs,
        )
        setup = Setup(config, database_url)
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.close()


def prepare_deliveries(setup: Setup, feed: str) -> list[int]:
    """Poll and score in this process (no Celery), leaving delivery rows for workers to send."""
    from newsalert.config import load_config
    from newsalert.pipeline import Pipeline

    loaded = load_config(setup.config)
    pipeline = Pipeline(loaded, Store(loaded.database_url))
    try:
        outcome = pipeline.poll_feed(feed)
        return list(pipeline.score_items(list(outcome.new_item_ids)).delivery_ids)
    finally:
        pipeline.close()
        pipeline.store.close()


# === end to end: `newsalert run` on each broker =============================================


@pytest.mark.parametrize("broker", ["embedded", "redis", "rabbitmq"])
def test_run_polls_on_schedule_delivers_once_and_picks_up_new_feeds(
    broker: str,
    request: pytest.FixtureRequest,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    chosen = {
        "embedded": Broker,
        "redis": lambda: request.getfixturevalue("redis_broker"),
        "rabbitmq": lambda: request.getfixturevalue("rabbit_broker"),
    }[broker]()
    feeds = TimedFeeds(feed_server)
    balkans = feeds.serve("/balkans", lambda _r: Response(200, BALKANS, RSS_TYPE))
    business = feeds.serve("/business", lambda _r: Response(200, BUSINESS, RSS_TYPE))
    setup = setup_factory(sqlite_url, smtp_server.url(), [Feed("balkans", balkans, 2)])

    service = procs.run_service("run", setup.config, chosen)
    wait_for(lambda: smtp_server.messages, 30, "the seed alert", procs=procs)
    # what the main process says before the pool starts goes through Celery's log
    # handler (worker_init comes before Celery's logging set-up): under a supervisor a
    # first training's minutes are not silent
    assert re.search(r"INFO/MainProcess\] model preloaded for the pool in", service.log())
    [message] = smtp_server.messages
    assert SEED_TITLE in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "https://news.example.org/seed-1" in text and "Manchester" not in text

    # polled on schedule (interval 2 s, +-10 %), and nothing is sent twice
    seen = feeds.count("/balkans")
    wait_for(lambda: feeds.count("/balkans") >= seen + 1, 10, "another poll", procs=procs)
    assert min(feeds.gaps("/balkans")) > 1.5, feeds.gaps("/balkans")
    assert len(smtp_server.messages) == 1

    # a feed added to the config is polled without a restart
    add_feed(setup.config, Feed("business", business, 2))
    wait_for(lambda: feeds.count("/business") >= 1, 15, "the new feed polled", procs=procs)
    assert "config reloaded" in service.log()
    store = setup.store()
    wait_for(lambda: store.feed_state("business").last_status == "ok", 5, "business stored")
    assert store.count_items() == 3
    assert store.delivery_counts() == {"sent": 1}
    assert len(smtp_server.messages) == 1  # business news is not an alert

    if broker == "embedded":
        # a broken edit is rejected whole: the running config goes on polling
        good = setup.config.read_text(encoding="utf-8")
        add_feed(setup.config, Feed("broken", "gopher://127.0.0.1/feed", 2))
        wait_for(lambda: "config reload rejected" in service.log(), 10, "the rejection")
        seen = feeds.count("/business")
        wait_for(lambda: feeds.count("/business") > seen, 10, "polls with the running config")
        setup.config.write_text(good, encoding="utf-8")

    # SIGTERM: a warm shutdown, exit code 0
    service.signal(signal.SIGTERM)
    assert service.popen.wait(20) == 0, service.log()[-3000:]
    # at INFO a task is not worth two lines (nor a beat tick one): idle must be quiet
    chatter = re.findall(r"Task \S+ received|Task \S+ succeeded|Sending due task", service.log())
    assert chatter == [], chatter[:5]
    if broker == "embedded":
        broker_dir = setup.config.parent / "data" / "broker"
        assert (broker_dir / "queue").is_dir() and (broker_dir / "control").is_dir()


# === reliability settings: each test fails without its setting ===============================


def test_task_of_a_killed_pool_process_is_redelivered(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """acks_late + task_reject_on_worker_lost: the message of a task whose process died
    goes back to the queue and runs again. Without acks_late it was acked before it ran;
    without reject_on_worker_lost it is acked as failed. No beat runs: nothing else
    would ever poll the feed again."""
    first = threading.Event()

    def balkans(_r: Request) -> Response:
        if not first.is_set():
            first.set()
            feed_server.sleep(20)  # hangs until the process handling it is killed
        return Response(200, BALKANS, RSS_TYPE)

    feed_server.handler("/balkans", balkans)
    setup = setup_factory(
        sqlite_url, smtp_server.url(), [Feed("balkans", feed_server.url("/balkans"))],
        fetch={"deadline": 30},
    )  # fmt: skip
    worker = procs.worker("worker", setup.config, redis_broker, concurrency=1)
    worker.wait_log(r"ready\.", 20, procs)
    client_app(redis_broker).send_task("newsalert.poll_feeds", (["balkans"],))

    wait_for(first.is_set, 15, "the first fetch", procs=procs)
    [child] = worker.children()
    os.kill(child, signal.SIGKILL)

    wait_for(lambda: smtp_server.messages, 30, "the alert after redelivery", procs=procs)
    assert len([r for r in feed_server.requests if r.path == "/balkans"]) == 2
    assert re.search(r"WorkerLostError|exited with 'signal 9", worker.log())
    assert len(smtp_server.messages) == 1


def test_a_slow_delivery_does_not_hold_back_others(
    slow_smtp: SlowSMTP,
    feed_server: FeedServer,
    sqlite_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """worker_prefetch_multiplier 1: a worker busy with a slow send reserves nothing
    else, so another idle worker takes the rest. With Celery's default (4) the busy
    worker would sit on several of the other deliveries until the slow one finished."""
    feed_server.route("/drill", body=drill_feed(8), headers=RSS_TYPE)
    setup = setup_factory(
        sqlite_url, slow_smtp.url(), [Feed("drill", feed_server.url("/drill"))],
        rules=DRILL_RULES, delivery={"lease": 60},
    )  # fmt: skip
    ids = prepare_deliveries(setup, "drill")
    assert len(ids) == 8
    a = procs.worker("a", setup.config, redis_broker, concurrency=1)
    b = procs.worker("b", setup.config, redis_broker, concurrency=1)
    a.wait_log(r"ready\.", 20, procs)
    b.wait_log(r"ready\.", 20, procs)

    slow_smtp.delay, slow_smtp.slow_next = 6.0, 1  # the first message takes 6 s
    client = client_app(redis_broker)
    for delivery_id in ids:  # one task per delivery
        client.send_task("newsalert.deliver_batch", ([delivery_id],))
    started = time.monotonic()
    wait_for(lambda: len(slow_smtp.messages) >= 7, 4.5, "the 7 fast deliveries", procs=procs)
    assert time.monotonic() - started < 4.5
    wait_for(lambda: len(slow_smtp.messages) == 8, 10, "the slow delivery", procs=procs)
    assert sorted(drill_numbers(slow_smtp)) == list(range(8))


def test_sigterm_lets_the_running_delivery_finish(
    slow_smtp: SlowSMTP,
    feed_server: FeedServer,
    sqlite_url: str,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """Warm shutdown: `newsalert run` getting SIGTERM mid-send finishes the send, marks
    it sent and exits 0; nothing is left leased (a later start would flag it ambiguous)."""
    feed_server.route("/balkans", body=BALKANS, headers=RSS_TYPE)
    setup = setup_factory(
        sqlite_url, slow_smtp.url(), [Feed("balkans", feed_server.url("/balkans"))],
        delivery={"lease": 60},
    )  # fmt: skip
    slow_smtp.delay = 3.0
    service = procs.run_service("run", setup.config, Broker())
    wait_for(slow_smtp.in_data.is_set, 30, "the send to start", procs=procs)
    service.signal(signal.SIGTERM)
    assert service.popen.wait(30) == 0, service.log()[-3000:]
    assert len(slow_smtp.messages) == 1
    [delivery] = setup.store().list_deliveries()
    assert delivery.status == "sent" and not delivery.ambiguous
    assert "Warm shutdown" in service.log()


def test_sigterm_to_the_whole_process_group_still_exits(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """systemd (KillMode=control-group, its default) and a terminal's process-group
    signals send SIGTERM to the pool processes too. An idle pool process waits for work
    holding the pool's queue lock; killed there, it left the main process stuck at exit
    in billiard's _help_stuff_finish, forever (seen here). Pool processes leave SIGTERM
    to the main process, which stops them itself: the service exits 0, promptly."""
    feed_server.route("/balkans", body=BALKANS, headers=RSS_TYPE)
    setup = setup_factory(
        sqlite_url, smtp_server.url(), [Feed("balkans", feed_server.url("/balkans"))]
    )
    service = procs.run_service("run", setup.config, Broker())
    wait_for(lambda: smtp_server.messages, 60, "the alert", procs=procs)
    time.sleep(2)  # the pool is idle: each process waits for work, one holds the lock
    os.killpg(service.pid, signal.SIGTERM)
    assert service.popen.wait(30) == 0, service.log()[-3000:]
    assert "Warm shutdown" in service.log()
    assert "exited with 'signal 15" not in service.log()


def test_visibility_timeout_outlasts_every_task_and_retry_delay(
    tmp_path: Path, model_dir: Path, redis_broker: Broker
) -> None:
    """Redis re-delivers an unacked message after the visibility timeout, so it must be
    longer than a task can run plus the longest retry countdown. kombu's default (1 h)
    is too short once delivery.timeout or fetch.deadline are long: this config needs
    more, and a worker's channel must actually get it."""
    config = write_config(
        tmp_path / "newsalert.yaml",
        model_dir=model_dir,
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        mail_url="mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org",
        feeds=[],
        fetch={"deadline": 900},
        delivery={"timeout": 120, "backoff_base": 30, "backoff_max": 3600},
    )
    script = (
        "import json\n"
        "from workers.app import app\n"
        "from workers.tasks import PipelineTask, deliver_batch, poll_feeds\n"
        "t = app.conf.newsalert_timings\n"
        "with app.connection_for_write() as conn:\n"
        "    channel = conn.default_channel\n"
        "    print(json.dumps({'channel': channel.visibility_timeout, 't': t,\n"
        "        'retry_max': PipelineTask.retry_backoff_max,\n"
        "        'poll_limit': app.conf.task_time_limit,\n"
        "        'annotations': app.conf.task_annotations}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")} | {
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "NEWSALERT_CONFIG": str(config),
        **redis_broker.env,
    }
    out = subprocess.run(
        [PYTHON, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    longest_task = max([got["poll_limit"]] + [a["time_limit"] for a in got["annotations"].values()])
    assert longest_task >= 120 * 20  # a batch of 20 sends of up to 120 s each
    # digests are sends: the deliveries' limits, not a poll's
    annotations = got["annotations"]
    assert annotations["newsalert.send_digests"] == annotations["newsalert.deliver_batch"]
    assert got["channel"] == got["t"]["visibility_timeout"]
    assert got["channel"] > longest_task + got["retry_max"]
    assert got["channel"] > 3600  # kombu's default would re-deliver running tasks here


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        ("closed connection", True),  # InterfaceError: not an OperationalError
        ("invalidated connection", True),  # a DBAPIError flagged by SQLAlchemy
        ("pool exhausted", True),
        ("refused value", False),  # IntegrityError: the same on every try
    ],
)
def test_tasks_retry_every_database_error_the_pipeline_calls_passing(
    error: str, retried: bool
) -> None:
    """One list says what is passing (errors.is_transient), for the pipeline's own
    fallbacks and the tasks' retries: a worker whose database connection was closed
    under it retries the task rather than failing it."""
    from unittest import mock

    from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from newsalert.pipeline import ScoreOutcome
    from workers import tasks

    def fault() -> Exception:
        cause = Exception("server closed the connection")
        return {
            "closed connection": lambda: InterfaceError("SELECT 1", {}, cause),
            "invalidated connection": lambda: DBAPIError(
                "SELECT 1", {}, cause, connection_invalidated=True
            ),
            "pool exhausted": lambda: PoolTimeout("QueuePool limit reached"),
            "refused value": lambda: IntegrityError("INSERT", {}, cause),
        }[error]()

    calls: list[list[int]] = []

    class FlakyPipeline:  # fails twice, then scores
        def score_items(self, ids: list[int]) -> ScoreOutcome:
            calls.append(ids)
            if len(calls) <= 2:
                raise fault()
            return ScoreOutcome(scored=len(ids))

    with mock.patch.object(tasks.PipelineTask, "pipeline", new=FlakyPipeline()):
        result = tasks.score_items.apply(args=([1, 2],))  # eager: retries run inline
    if retried:
        assert (result.state, result.result, len(calls)) == ("SUCCESS", 2, 3)
    else:
        assert (result.state, len(calls)) == ("FAILURE", 1)
        assert isinstance(result.result, IntegrityError)


def test_embedded_broker_never_reads_a_half_written_message(tmp_path: Path) -> None:
    """kombu's filesystem transport writes a message into its final name, so a consumer
    listing the folder meanwhile reads an empty file, and the worker stops with
    "Unrecoverable error: JSONDecodeError" (it did, in `newsalert run`). With
    workers.compat the message appears whole, by rename. Unpatched, this loses about
    a fifth of the messages."""
    from kombu import Connection

    from workers import compat

    compat.patch_kombu_filesystem_atomic_put()
    compat.patch_kombu_filesystem_atomic_bind()
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 0.0,
    }
    n = 2000
    got: list[int] = []
    errors: list[str] = []

    def consume() -> None:
        with Connection("filesystem://localhost/", transport_options=options) as conn:
            queue = conn.SimpleQueue("q")
            deadline = time.monotonic() + 30
            while len(got) < n and time.monotonic() < deadline:
                try:
                    message = queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                except Exception as exc:
                    errors.append(repr(exc))
                    continue
                got.append(message.payload["i"])
                message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    with Connection("filesystem://localhost/", transport_options=options) as conn:
        queue = conn.SimpleQueue("q")
        for i in range(n):
            queue.put({"i": i, "pad": "x" * 2000})
    consumer.join(40)
    assert errors == [] and sorted(got) == list(range(n))
    assert not [p for p in folder.iterdir()]  # no stray partial files


def test_embedded_broker_never_reads_a_half_created_exchange_table(tmp_path: Path) -> None:
    """kombu creates an exchange's table file empty, then locks and fills it: a publisher
    looking it up in between read "" and failed with JSONDecodeError (seen in the test
    above, when the consumer declared its queue while the producer published). With
    workers.compat the table appears whole. Many rounds of a bind racing lookups, each
    on a new control folder; unpatched this fails within a few rounds."""
    from kombu import Connection

    from workers import compat

    compat.patch_kombu_filesystem_atomic_bind()
    errors: list[str] = []
    for round_ in range(150):
        control = tmp_path / f"control-{round_}"
        options = {
            "data_folder_in": str(tmp_path / "q"),
            "data_folder_out": str(tmp_path / "q"),
            "control_folder": str(control),
        }
        channel = Connection("filesystem://localhost/", transport_options=options).channel()
        control.mkdir(exist_ok=True)
        start = threading.Barrier(2)

        def look(ch: Any = channel, barrier: threading.Barrier = start) -> None:
            barrier.wait()
            for _ in range(200):
                try:
                    ch.get_table("celery")
                except Exception as exc:
                    errors.append(repr(exc))
                    return

        reader = threading.Thread(target=look)
        reader.start()
        start.wait()
        channel._queue_bind("celery", "celery", "", "celery")
        reader.join(10)
        assert channel.get_table("celery") == [("celery", "", "celery")]
        assert [p.name for p in control.iterdir()] == ["celery.exchange"]  # no partial files
        channel.close()
    assert errors == []


# === faults: real Redis, real worker processes, real SMTP ====================================


def test_worker_killed_mid_batch_delivers_everything_once_after_restart(
    slow_smtp: SlowSMTP,
    feed_server: FeedServer,
    postgres_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """SIGKILL to the whole worker (main process and pool) during a batch of 30 sends.
    After a restart the sweep re-dispatches what the store says is due: every alert
    arrives; the one being sent when the worker died may arrive twice, and only if
    it is flagged and logged ambiguous."""
    feed_server.route("/drill", body=drill_feed(30), headers=RSS_TYPE)
    setup = setup_factory(
        postgres_url, slow_smtp.url(), [Feed("drill", feed_server.url("/drill"), 60)],
        rules=DRILL_RULES, delivery={"lease": 3},
    )  # fmt: skip
    slow_smtp.delay = 0.15
    procs.beat("beat", setup.config, redis_broker)
    worker = procs.worker("worker-1", setup.config, redis_broker, concurrency=1)
    wait_for(lambda: len(slow_smtp.messages) >= 6, 40, "the batch to be under way", procs=procs)
    worker.kill_group()
    killed_at = len(slow_smtp.messages)
    assert killed_at < 30

    restarted = procs.worker("worker-2", setup.config, redis_broker, concurrency=1)
    wait_for(
        lambda: set(drill_numbers(slow_smtp)) == set(range(30)), 40, "all 30 alerts", procs=procs
    )
    time.sleep(2)  # a late duplicate would show up here
    numbers = drill_numbers(slow_smtp)
    twice = {n for n in numbers if numbers.count(n) > 1}
    assert len(numbers) - len(set(numbers)) <= 1, sorted(numbers)
    deliveries = setup.store().list_deliveries(limit=100)
    assert len(deliveries) == 30 and all(d.status == "sent" for d in deliveries)
    ambiguous = [d for d in deliveries if d.ambiguous]
    assert len(ambiguous) <= 1
    if twice:
        assert ambiguous, "a duplicate that is not flagged ambiguous"
        assert "ambiguous" in restarted.log()


def test_smtp_down_then_back_alerts_wait_retry_and_arrive_once(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    feed_server.route("/drill", body=drill_feed(3), headers=RSS_TYPE)
    feed_server.route("/balkans", body=BALKANS, headers=RSS_TYPE)
    setup = setup_factory(
        sqlite_url, smtp_server.url(),
        [Feed("drill", feed_server.url("/drill")), Feed("balkans", feed_server.url("/balkans"))],
        rules={**DRILL_RULES, **SPORT_RULES}, delivery={"backoff_base": 1, "backoff_max": 3},
    )  # fmt: skip
    smtp_server.stop()
    procs.beat("beat", setup.config, redis_broker)
    procs.worker("worker", setup.config, redis_broker)
    store = setup.store()

    def retried() -> bool:
        rows = store.list_deliveries()
        return len(rows) == 4 and all(d.attempts >= 2 for d in rows)

    wait_for(retried, 30, "every alert to fail twice", procs=procs)
    rows = store.list_deliveries()
    assert all(d.status in ("pending", "failed") and d.last_error for d in rows)
    smtp_server.start()
    wait_for(lambda: store.delivery_counts() == {"sent": 4}, 20, "all sent", procs=procs)
    time.sleep(2)
    assert sorted(drill_numbers(smtp_server)) == [0, 1, 2]
    assert len(smtp_server.messages) == 4
    assert sum(SEED_TITLE in s for s in subjects(smtp_server)) == 1


def test_schedule_per_feed_backoff_cache_and_two_beats(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    postgres_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """Two beats at once still poll each feed once per its own interval (the store's
    claim); a failing feed backs off; Retry-After and Cache-Control max-age push the
    next poll out."""
    feeds = TimedFeeds(feed_server)
    empty = rss([])
    urls = {
        "every2": feeds.serve("/every2", lambda _r: Response(200, empty, RSS_TYPE)),
        "every4": feeds.serve("/every4", lambda _r: Response(200, empty, RSS_TYPE)),
        "broken": feeds.serve("/broken", lambda _r: Response(500, b"oops")),
        "busy": feeds.serve("/busy", lambda _r: Response(503, b"later", {"Retry-After": "5"})),
        "cached": feeds.serve(
            "/cached",
            lambda _r: Response(200, empty, {**RSS_TYPE, "Cache-Control": "max-age=5"}),
        ),
    }
    intervals = {"every2": 2, "every4": 4, "broken": 1, "busy": 1, "cached": 1}
    setup = setup_factory(
        postgres_url, smtp_server.url(),
        [Feed(name, urls[name], intervals[name]) for name in urls],
    )  # fmt: skip
    worker = procs.worker("worker", setup.config, redis_broker)
    worker.wait_log(r"ready\.", 20, procs)
    # the ticks are DEBUG detail since the idle service went quiet at INFO
    beats = [procs.beat(f"beat-{i}", setup.config, redis_broker, level="DEBUG") for i in (1, 2)]
    wait_for(lambda: feeds.count("/every2") >= 1, 20, "the first poll", procs=procs)
    time.sleep(11)

    for beat in beats:  # both really ticked
        assert beat.log().count("Sending due task schedule-due-feeds") >= 8, beat.log()[-2000:]
    tick = 1.0
    gaps = {path: feeds.gaps(path) for path in ("/every2", "/every4", "/cached", "/busy")}
    # once per interval (jitter -10 %): never two polls of a feed in one interval
    assert min(gaps["/every2"]) > 1.8 - 0.2, gaps
    assert min(gaps["/every4"]) > 3.6 - 0.2, gaps
    assert 3 <= feeds.count("/every2") <= 7, gaps  # about 11 s / (2 s + up to a tick)
    assert 2 <= feeds.count("/every4") <= 4, gaps
    # interval 1 s, but the server asked for 5 s
    assert min(gaps["/cached"] + gaps["/busy"]) > 4.5 - 0.2, gaps
    assert feeds.count("/cached") <= 3 and feeds.count("/busy") <= 3, gaps
    # interval 1 s, failing: 2 s, 4 s, 8 s ... (+-10 %, + up to a tick)
    broken = feeds.gaps("/broken")
    assert len(broken) >= 2, broken
    for n, gap in enumerate(broken[:3], start=1):
        assert 2**n * 0.9 - 0.2 < gap < 2**n * 1.1 + tick + 1.5, broken
    state = setup.store().feed_state("broken")
    assert state.error_streak >= 2 and state.last_status == "error"


def test_a_hanging_feed_times_out_and_others_keep_their_schedule(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    feeds = TimedFeeds(feed_server)

    def hang(_r: Request) -> Response:
        return Response(200, BALKANS, RSS_TYPE, drip=30.0)  # a byte every 30 s

    hanging = feeds.serve("/hang", hang)
    steady = feeds.serve("/steady", lambda _r: Response(200, rss([]), RSS_TYPE))
    setup = setup_factory(
        sqlite_url, smtp_server.url(), [Feed("hang", hanging, 1), Feed("steady", steady, 2)],
        fetch={"deadline": 2},
    )  # fmt: skip
    procs.beat("beat", setup.config, redis_broker)
    procs.worker("worker", setup.config, redis_broker, concurrency=2)
    wait_for(lambda: feeds.count("/hang") >= 2, 30, "the hanging feed retried", procs=procs)
    store = setup.store()
    state = store.feed_state("hang")
    assert state.last_status == "error" and "deadline of 2s exceeded" in (state.last_error or "")
    assert state.error_streak >= 1
    # the steady feed kept its 2 s interval all along
    wait_for(lambda: feeds.count("/steady") >= 5, 15, "steady polls", procs=procs)
    # 2 s +10 %, up to a tick late, some slack for a busy machine; a poll stuck behind
    # the hanging one would wait its 2 s deadline on top
    assert max(feeds.gaps("/steady")) < 2 * 1.1 + 1.0 + 1.5, feeds.gaps("/steady")
    assert smtp_server.messages == []  # nothing half-fetched was ever stored


def test_a_slow_feed_holds_back_no_alert_of_its_poll_batch(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    redis_broker: Broker,
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """Both feeds fall due at the first tick, so one poll task fetches them together (the
    fetch batch is 16). The seed alert of the feed that answers at once is e-mailed while
    the other feed's server still holds its answer. Before, the task scored its batch
    only once every fetch had ended: the alert waited for the hanging feed's deadline or
    for the sweep to score its items (every 30 s with these delivery settings, 15 s with
    the defaults), longer than this test waits."""
    feeds = TimedFeeds(feed_server)
    release = threading.Event()

    def held(_r: Request) -> Response:
        release.wait(60)
        return Response(200, BUSINESS, RSS_TYPE)

    slow = feeds.serve("/slow", held)
    balkans = feeds.serve("/balkans", lambda _r: Response(200, BALKANS, RSS_TYPE))
    setup = setup_factory(
        sqlite_url, smtp_server.url(), [Feed("slow", slow, 600), Feed("balkans", balkans, 600)],
        fetch={"deadline": 60}, delivery={"backoff_base": 60, "lease": 120},
    )  # fmt: skip
    procs.beat("beat", setup.config, redis_broker)
    procs.worker("worker", setup.config, redis_broker, concurrency=2)
    try:
        wait_for(lambda: feeds.count("/slow") and feeds.count("/balkans"), 30, "both polled",
                 procs=procs)  # fmt: skip
        wait_for(lambda: smtp_server.messages, 15, "the seed alert, slow still held", procs=procs)
        store = setup.store()
        # the slow feed's answer is still held: its poll has not ended
        assert not release.is_set() and store.feed_state("slow").last_status is None
        assert feeds.count("/slow") == 1
        [message] = smtp_server.messages
        assert SEED_TITLE in message["Subject"]
    finally:
        release.set()
    wait_for(lambda: store.feed_state("slow").last_status == "ok", 30, "the slow feed stored")
    assert store.count_items() == 3  # its item too, scored: business news, no alert
    wait_for(lambda: not store.unscored_item_ids(10), 30, "every item scored", procs=procs)
    assert store.delivery_counts() == {"sent": 1} and len(smtp_server.messages) == 1


REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


@pytest.fixture
def restartable_redis(redis_broker: Broker) -> Iterator[Callable[[], None]]:
    """A way to restart the real redis-server (memory only: queued messages vanish);
    Redis is running again when the test ends, whatever happened."""
    if not REDIS_URL.startswith("redis://127.0.0.1:6379/"):
        pytest.skip("restarts only the local Redis on 127.0.0.1:6379")

    def start() -> None:
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(REDIS_START, check=True, timeout=20, capture_output=True)
        wait_for(_redis_up, 20, "Redis to come back")

    def restart() -> None:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
            timeout=20, capture_output=True,
        )  # fmt: skip
        wait_for(lambda: not _redis_up(), 10, "Redis to stop")
        time.sleep(1.0)  # the workers notice the broker is gone
        start()

    try:
        yield restart
    finally:
        if not _redis_up():
            start()


def test_redis_restart_loses_queued_messages_the_store_recovers_the_work(
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    sqlite_url: str,
    redis_broker: Broker,
    restartable_redis: Callable[[], None],
    setup_factory: Callable[..., Setup],
    procs: Processes,
) -> None:
    """Redis (keeping nothing on disk) restarts while alerts wait for their retry and a
    poll is running (its message unacknowledged, the consumer waiting in BRPOP: the
    case that used to stop the worker, see workers/compat.py). The worker reconnects,
    the running poll finishes, and the sweep re-dispatches the lost work."""
    feeds = TimedFeeds(feed_server)
    drill = feeds.serve("/drill", lambda _r: Response(200, drill_feed(5), RSS_TYPE))
    slow_started = threading.Event()

    def slow(_r: Request) -> Response:
        slow_started.set()
        feed_server.sleep(6)
        return Response(200, BALKANS, RSS_TYPE)

    slow_url = feeds.serve("/slow", slow)
    setup = setup_factory(
        sqlite_url, smtp_server.url(), [Feed("drill", drill, 2), Feed("slow", slow_url, 30)],
        rules={**DRILL_RULES, **SPORT_RULES}, fetch={"deadline": 10},
        delivery={"backoff_base": 2, "backoff_max": 4},
    )  # fmt: skip
    smtp_server.stop()  # alerts queue up as retries
    procs.beat("beat", setup.config, redis_broker)
    # spare pool processes: the consumer keeps waiting in BRPOP while the poll runs
    worker = procs.worker("worker", setup.config, redis_broker, concurrency=4)
    store = setup.store()
    wait_for(lambda: len(store.list_deliveries()) == 5, 30, "5 alerts pending", procs=procs)
    wait_for(lambda: feeds.count("/slow") >= 1, 10, "the slow poll", procs=procs)
    assert feeds.count("/slow") == 1 and slow_started.is_set()

    restartable_redis()  # the slow poll is still running
    polls_after_restart = feeds.count("/drill")
    smtp_server.start()
    wait_for(lambda: store.delivery_counts() == {"sent": 6}, 40, "all sent", procs=procs)
    wait_for(
        lambda: feeds.count("/drill") >= polls_after_restart + 2, 15, "polling again", procs=procs
    )
    time.sleep(1.5)
    assert sorted(drill_numbers(smtp_server)) == [0, 1, 2, 3, 4]
    assert sum(SEED_TITLE in s for s in subjects(smtp_server)) == 1  # from the slow poll
    assert "Connection to broker lost" in worker.log()
    assert "Unrecoverable error" not in worker.log()
    assert worker.popen.poll() is None  # reconnected, not crashed


# === docker-compose ============================================================================


def test_docker_compose_wires_the_services_the_code_expects(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"redis", "postgres", "worker", "beat", "flower"} <= set(services)
    for name in ("redis", "postgres", "worker"):
        check = services[name].get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"

    known_env = {
        "NEWSALERT_CONFIG",
        "NEWSALERT_DATA_DIR",
        "NEWSALERT_BROKER_URL",
        "NEWSALERT_DATABASE_URL",
        "NEWSALERT_DATABASE_PASSWORD",
    }
    from newsalert import config as config_module

    read_by_code = {
        getattr(config_module, n)
        for n in (
            "ENV_CONFIG",
            "ENV_DATA_DIR",
            "ENV_BROKER_URL",
            "ENV_DATABASE_URL",
            "ENV_DATABASE_PASSWORD",
        )
    }
    assert read_by_code == known_env
    declared_volumes = set(compose.get("volumes") or {})
    built = set()
    for name in ("worker", "beat"):
        service = services[name]
        command = service["command"]
        command = command if isinstance(command, list) else command.split()
        assert command[:3] == ["celery", "-A", "workers.app"], command
        assert command[3] == {"worker": "worker", "beat": "beat"}[name]
        env = service.get("environment") or {}
        newsalert_env = {k for k in env if k.startswith("NEWSALERT_")}
        assert newsalert_env <= known_env, newsalert_env - known_env
        assert {"NEWSALERT_CONFIG", "NEWSALERT_BROKER_URL", "NEWSALERT_DATABASE_URL"} <= set(env)
        assert env["NEWSALERT_BROKER_URL"].startswith("redis://redis:")
        assert "@postgres:" in env["NEWSALERT_DATABASE_URL"]
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared_volumes, f"{name}: volume {source} not declared"
        depends = service.get("depends_on") or {}
        assert {"redis", "postgres"} <= set(depends)
        build = service.get("build")
        assert build, f"{name} is not built from this repository"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        built.add(ROOT / context / dockerfile)
    for volume in services["redis"].get("volumes", []) + services["postgres"].get("volumes", []):
        assert volume.split(":", 1)[0] in declared_volumes
    flower = services["flower"]
    flower_cmd = " ".join(
        flower["command"] if isinstance(flower["command"], list) else [flower["command"]]
    )
    assert "redis://redis:6379" in flower_cmd or "NEWSALERT_BROKER_URL" in str(
        flower.get("environment")
    )

    # the Dockerfile exists and ships what the worker imports
    [dockerfile] = built
    text = dockerfile.read_text(encoding="utf-8")
    for needed in ("src", "workers", "config"):
        assert re.search(rf"^COPY\s+(\S+\s+)*{needed}\b", text, re.M), (
            f"Dockerfile does not copy {needed}"
        )
    assert re.search(r"pip install[^\n]*\.\[postgres\]", text)  # psycopg for postgresql+psycopg

    # the command the worker and beat run imports, with the compose environment
    worker_env = services["worker"]["environment"]
    config = tmp_path / "newsalert.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")} | {
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "NEWSALERT_CONFIG": str(config),
        "NEWSALERT_DATA_DIR": str(tmp_path / "data"),
        "NEWSALERT_BROKER_URL": worker_env["NEWSALERT_BROKER_URL"],
        "NEWSALERT_DATABASE_URL": "postgresql+psycopg://newsalert:pw@postgres:5432/newsalert",
    }
    script = (
        "from workers.app import app\n"
        "print(app.conf.broker_url, sorted(t for t in app.tasks if t.startswith('newsalert.')))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "redis://redis:6379/0" in out.stdout
    tasks = ("poll_feeds", "deliver_batch", "schedule_due_feeds", "sweep", "score_items")
    for task in (*tasks, "send_digests"):
        assert f"newsalert.{task}" in out.stdout
    assert (tmp_path / "data").is_dir()  # NEWSALERT_DATA_DIR is where the app keeps its files
