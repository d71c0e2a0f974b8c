"""Throughput of the real Celery path, side by side with rss2email, on loopback feeds only.

Usage (from the repository root; about ten minutes at the defaults)::

    PYTHONPATH=src:. /work/venv/bin/python bench/throughput.py
    PYTHONPATH=src:. /work/venv/bin/python bench/throughput.py --feeds 100 --items 10 --rows embedded

What it does, for each row:

* newsalert rows start ``newsalert run`` (worker + embedded beat, ``--concurrency`` pool
  processes) with ``fetch.min_interval: 1`` and every feed at ``interval: 1``, against
  ``--feeds`` feeds on a loopback HTTP server, each with ``--items`` fresh items (about
  1 in 20 is a security incident and alerts a subscriber on a loopback SMTP server).

  - fresh: from the first feed request until every item is stored and scored (the
    relevant ones routed and queued for delivery): items per second.
  - steady: every feed now answers 304 to its ETag; feeds are due every second (at the
    default 2000 feeds, about 1000 polls/s: more than the worker can poll), so the rate measured over
    ``--window`` seconds is the capacity of the whole path (beat tick, claim in the
    store, broker, poll task, conditional GET, store update): polls per second. With
    few feeds the rate is the schedule's demand instead (the table says which).
  - memory: PSS (``/proc/PID/smaps_rollup``) of the service's process tree (main
    process, pool processes, beat), summed, at the end of the steady window.

* the rss2email row runs ``r2e run`` twice over the same feeds (one process, feeds one
  after the other): the first run mails every item (rss2email has no relevance filter)
  over SMTP to the same loopback server; the second gets 304s. Its memory is the peak
  PSS of the ``r2e`` process.

Everything talks to 127.0.0.1 only. The feed and SMTP servers run in this process and
share the machine's CPUs with what is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.feedserver import FeedServer, Request, Response  # noqa: E402
from tests.smtpserver import SMTPServer  # noqa: E402

PYTHON = sys.executable
R2E = str(Path(PYTHON).with_name("r2e"))

BENIGN = [
    "{town} council approves budget for new library wing {n}",
    "Local bakery in {town} wins regional bread award {n}",
    "{town} marathon draws record field of runners, edition {n}",
    "Museum in {town} opens exhibition of early photography, part {n}",
    "Farmers near {town} expect good harvest after mild spring {n}",
    "{town} schools introduce new coding classes for pupils {n}",
    "Tech firm in {town} hires 200 engineers for new office {n}",
    "{town} orchestra announces summer concert series {n}",
    "Heavy traffic expected on {town} ring road during repairs {n}",
]
INCIDENT = "Gunmen attack police station in {town}, killing {n} officers; army deployed"
TOWNS = ["Zvecan", "Mitrovica", "Novi Pazar", "Prizren", "Pec", "Gnjilane", "Leposavic", "Kraljevo"]


def feed_body(k: int, items: int) -> bytes:
    parts = []
    for j in range(items):
        town = TOWNS[(k + j) % len(TOWNS)]
        n = k * items + j
        title = (INCIDENT if n % 20 == 7 else BENIGN[n % len(BENIGN)]).format(
            town=town, n=n % 97 + 2
        )
        parts.append(
            f"<item><guid>bench-{k}-{j}</guid><title>{title}</title>"
            f"<link>https://news.example.org/{k}/{j}</link>"
            f"<description>{title}. More details were given by officials on the day.</description>"
            "<pubDate>Fri, 29 Sep 2023 18:00:00 GMT</pubDate></item>"
        )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>'
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


class Feeds:
    """``n`` feeds on a loopback server; each answers 304 to its own ETag."""

    def __init__(self, n: int, items: int) -> None:
        self.server = FeedServer()
        self.n = n
        self.lock = threading.Lock()
        self.log: list[tuple[float, int]] = []  # (time, status)
        for k in range(n):
            self._route(k, feed_body(k, items))

    def _route(self, k: int, body: bytes) -> None:
        etag = f'"bench-{k}"'
        ok = Response(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})
        not_modified = Response(304, b"", {"ETag": etag})

        def handler(request: Request) -> Response:
            response = not_modified if request.headers.get("if-none-match") == etag else ok
            with self.lock:
                self.log.append((time.monotonic(), response.status))
            return response

        self.server.handler(f"/feed/{k}", handler)

    def url(self, k: int) -> str:
        return self.server.url(f"/feed/{k}")

    def reset(self) -> None:
        with self.lock:
            self.log.clear()

    def since(self, start: float, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for t, s in self.log if t >= start and (status is None or s == status))

    def first(self) -> float | None:
        with self.lock:
            return self.log[0][0] if self.log else None

    def close(self) -> None:
        self.server.close()


# --- memory --------------------------------------------------------------------------------


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def stop_worker(proc: subprocess.Popen) -> None:
    """SIGTERM (a warm shutdown), then the whole process group if it outlasts 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_pss_mib(root: int) -> tuple[float, int]:
    pids = process_tree(root)
    return sum(pss_kib(p) for p in pids) / 1024, len(pids)


# --- rows ----------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    items_per_s: float
    items: int
    fresh_s: float
    polls_per_s: float
    share_304: float
    mem_mib: float
    procs: int
    emails: int
    note: str = ""


def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = os.environ.get(
        "NEWSALERT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    name = f"newsalert_bench_{os.getpid()}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


REDIS_PREFIX = f"nabench-{os.getpid()}:"  # our keys only: other users of the DB are left alone


def clean_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    keys = list(client.scan_iter(match=f"{REDIS_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


def newsalert_row(
    name: str,
    feeds: Feeds,
    smtp: SMTPServer,
    work: Path,
    *,
    broker: str | None,
    database_url: str,
    model_path: Path,
    items: int,
    concurrency: int,
    window: float,
    timeout: float,
) -> Row:
    from newsalert.store import Store

    work.mkdir(parents=True, exist_ok=True)
    config = {
        "storage": {"data_dir": str(work / "data"), "database_url": database_url},
        "model": {"path": str(model_path)},
        "fetch": {"min_interval": 1, "deadline": 20},
        "delivery": {"backoff_base": 5, "backoff_max": 60},
        "subscribers": [{"name": "desk", "urls": [smtp.url()]}],
        "feeds": [
            {"name": f"f{k}", "url": feeds.url(k), "interval": 1, "allow_private": True}
            for k in range(feeds.n)
        ],
    }
    path = work / "newsalert.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")} | {
        "NEWSALERT_CONFIG": str(path),
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "C_FORCE_ROOT": "1",
    }
    if broker:
        env["NEWSALERT_BROKER_URL"] = broker
        if broker.startswith("redis://"):
            clean_redis(broker)
            env["NEWSALERT_BROKER_TRANSPORT_OPTIONS"] = json.dumps(
                {"global_keyprefix": REDIS_PREFIX}
            )
    feeds.reset()
    smtp.clear()
    store = Store(database_url)
    log = (work / "service.log").open("wb")
    argv = [PYTHON, "-c", _RUN.format(concurrency=concurrency)]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    total = feeds.n * items
    try:
        _wait(lambda: feeds.first() is not None, 60, "the first poll")
        start = feeds.first() or time.monotonic()

        def fresh_done() -> bool:
            return store.count_items() >= total and not store.unscored_item_ids(1)

        _wait(fresh_done, timeout, f"{total} items stored and scored")
        fresh_s = time.monotonic() - start
        time.sleep(3)  # the backlog of fresh polls drains; every feed now answers 304
        begin = time.monotonic()
        time.sleep(window)
        polls = feeds.since(begin)
        not_modified = feeds.since(begin, 304)
        mem, nprocs = tree_pss_mib(proc.pid)
        emails = len(smtp.messages)
    finally:
        stop_worker(proc)
        log.close()
        store.close()
    return Row(
        name,
        total / fresh_s,
        total,
        fresh_s,
        polls / window,
        not_modified / max(1, polls),
        mem,
        nprocs,
        emails,
    )


# `newsalert run` with a chosen pool size (the CLI picks min(4, CPUs))
_RUN = (
    "import sys\n"
    "from workers.service import run_service\n"
    "sys.exit(run_service(None, concurrency={concurrency}))\n"
)


def rss2email_row(feeds: Feeds, smtp: SMTPServer, work: Path, *, items: int, timeout: float) -> Row:
    work.mkdir(parents=True, exist_ok=True)
    host, port = "127.0.0.1", smtp.port
    lines = [
        "[DEFAULT]",
        "from = bench@example.org",
        "to = desk@example.org",
        "email-protocol = smtp",
        f"smtp-server = {host}:{port}",
        "smtp-auth = False",
        "smtp-ssl = False",
        "feed-timeout = 20",
        "html-mail = False",
        "",
    ]
    for k in range(feeds.n):
        lines += [f"[feed.f{k}]", f"url = {feeds.url(k)}", ""]
    cfg = work / "rss2email.cfg"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    data = work / "rss2email.json"
    env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy")}
    env |= {"HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_DATA_HOME": str(work)}

    def run() -> tuple[float, float]:
        started = time.monotonic()
        proc = subprocess.Popen(
            [R2E, "-c", str(cfg), "-d", str(data), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(work / "r2e.log").open("ab"),
        )
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, pss_kib(proc.pid) / 1024)
            if time.monotonic() - started > timeout:
                proc.kill()
                raise TimeoutError("rss2email took too long")
            time.sleep(0.05)
        return time.monotonic() - started, peak

    feeds.reset()
    smtp.clear()
    fresh_s, peak1 = run()
    emails = len(smtp.messages)
    total = feeds.n * items
    feeds.reset()
    steady_s, peak2 = run()
    polls = feeds.since(0)
    not_modified = feeds.since(0, 304)
    return Row(
        "rss2email 3.14",
        total / fresh_s,
        total,
        fresh_s,
        polls / steady_s,
        not_modified / max(1, polls),
        max(peak1, peak2),
        1,
        emails,
        note="mails every item; one process, feeds in sequence; times include start-up",
    )


def print_row(r: Row, file: Any = None) -> None:
    print(
        f"{r.name:<28} {r.items_per_s:>13.0f} {r.fresh_s:>8.1f} {r.polls_per_s:>14.1f} "
        f"{100 * r.share_304:>6.0f} {r.mem_mib:>8.0f} {r.procs:>5} {r.emails:>6}",
        file=file or sys.stdout,
        flush=True,
    )


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(
        f"\n{args.feeds} feeds x {args.items} items, newsalert pool --concurrency "
        f"{args.concurrency}, steady window {args.window:g}s, {os.cpu_count()} CPUs\n"
    )
    head = (
        f"{'row':<28} {'fresh items/s':>13} {'fresh s':>8} {'steady polls/s':>14} "
        f"{'304 %':>6} {'PSS MiB':>8} {'procs':>5} {'emails':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print_row(r)
    # a feed is due 1 s after its last poll, claimed on the next 1 s tick and polled
    # a moment later: measured, one poll per feed about every 2 s when nothing queues
    print(
        f"  steady demand: about {args.feeds / 2:.0f} polls/s (each feed about every 2 s: due "
        "1 s after its last poll, claimed on a 1 s tick); a newsalert row below it is at capacity"
    )
    for r in rows:
        if r.note:
            print(f"  {r.name}: {r.note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--window", type=float, default=10.0, help="steady-state seconds")
    parser.add_argument(
        "--rows",
        default="embedded,redis,redis+postgres,rss2email",
        help="comma list of: embedded, redis, redis+postgres, rabbitmq, rss2email",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--rabbitmq", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--model", type=Path, help="model.joblib (default: the test cache's)")
    parser.add_argument("--timeout", type=float, default=300.0, help="per phase")
    args = parser.parse_args()

    model = args.model or ROOT / ".pytest_cache" / "d" / "newsalert-data" / "model" / "model.joblib"
    if not model.exists():
        from newsalert.classifier import load_or_train

        load_or_train(None, model.parent.parent)
    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    work = Path(tempfile.mkdtemp(prefix="newsalert-bench-"))
    feeds = Feeds(args.feeds, args.items)
    smtp = SMTPServer()
    smtp.start()
    rows: list[Row] = []
    common = dict(
        model_path=model,
        items=args.items,
        concurrency=args.concurrency,
        window=args.window,
        timeout=args.timeout,
    )
    try:
        for row in wanted:
            print(f"running {row} ...", file=sys.stderr, flush=True)
            if row == "embedded":
                db = f"sqlite:///{work / 'embedded' / 'store.db'}"
                rows.append(
                    newsalert_row(
                        "newsalert embedded+SQLite", feeds, smtp, work / "embedded",
                        broker=None, database_url=db, **common,
                    )
                )  # fmt: skip
            elif row == "redis":
                db = f"sqlite:///{work / 'redis' / 'store.db'}"
                rows.append(
                    newsalert_row(
                        "newsalert Redis+SQLite", feeds, smtp, work / "redis",
                        broker=args.redis, database_url=db, **common,
                    )
                )  # fmt: skip
            elif row == "redis+postgres":
                with postgres_database() as db:
                    rows.append(
                        newsalert_row(
                            "newsalert Redis+PostgreSQL", feeds, smtp, work / "redis-pg",
                            broker=args.redis, database_url=db, **common,
                        )
                    )  # fmt: skip
            elif row == "rabbitmq":
                db = f"sqlite:///{work / 'rabbitmq' / 'store.db'}"
                rows.append(
                    newsalert_row(
                        "newsalert RabbitMQ+SQLite", feeds, smtp, work / "rabbitmq",
                        broker=args.rabbitmq, database_url=db, **common,
                    )
                )  # fmt: skip
            elif row == "rss2email":
                if not Path(R2E).exists():
                    print("rss2email is not installed (pip install rss2email); skipped")
                    continue
                rows.append(
                    rss2email_row(
                        feeds, smtp, work / "rss2email", items=args.items, timeout=args.timeout
                    )
                )
            else:
                parser.error(f"unknown row {row!r}")
            print_row(rows[-1], file=sys.stderr)  # as it comes: a later row may fail
    finally:
        smtp.stop()
        feeds.close()
        if args.redis:
            with contextlib.suppress(Exception):
                clean_redis(args.redis)
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
