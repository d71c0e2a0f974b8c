"""Alert storms: e-mail every item, newsalert side by side with rss2email, in one run.

Usage (from the repository root; a few minutes at the defaults)::

    .venv/bin/python bench/mail_all.py
    .venv/bin/python bench/mail_all.py --rows rss2email,embedded --feeds 20 --items 10
    .venv/bin/python bench/mail_all.py --project /path/to/other/checkout  # before/after

``--feeds`` loopback feeds with ``--items`` fresh items each (a poll with the feed's ETag
gets 304, as from real feeds); one loopback SMTP server.
Rows:

* rss2email 3.14 (its own venv, ``--r2e``; made with pip on first use): ``r2e run`` once,
  one process, feeds in sequence, an e-mail per item over SMTP. Time includes start-up.
* newsalert embedded / Redis: ``newsalert run`` (``--concurrency`` pool processes) with
  an include rule that every item matches (every item alerts), stories off and the e-mail
  rate limit lifted as for a local relay. The feeds first serve no items, so the worker
  is measured idle (per-process PSS) once the model is preloaded; then they serve the
  items: the time is from the first request that gets items until the last e-mail is
  received, and PSS is measured again after that busy run.
* poll --once: ``newsalert poll --once`` as a process (model load included) with default
  routing (the model decides what is relevant): items per second, e-mails sent.
* baseline-embedded / baseline-redis / baseline-poll-once: the same run on ``--baseline``'s
  code (before/after).
* breakdown: ``deliver_due`` in this process (``--feeds`` / 5 feeds), timed by step, with
  and without the batch's shared connections.
* per e-mail: ``Notifier.send`` to the loopback server without and with the connection
  pool (``--project``'s own code): where the time of one e-mail goes.

Each row also gives the CPU its processes used per item (the worker's whole process tree,
rss2email's process, ``poll --once``'s) and the CPU of this process, which runs the feeds
and the SMTP server for every row (``server CPU``): on 2 cores, CPU is what the rows share.
The service rows also give the highest total PSS sampled (twice a second) during the storm.
``--profile DIR`` samples the service rows with py-spy (collapsed stacks).

Everything talks to 127.0.0.1 only; every loop is bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench import timeline  # noqa: E402
from bench.steptimer import time_step  # noqa: E402
from bench.throughput import (  # noqa: E402
    REDIS_PREFIX,
    clean_redis,
    feed_body,
    process_tree,
    pss_kib,
    stop_worker,
)
from tests.feedserver import FeedServer, Request, Response  # noqa: E402
from tests.smtpserver import SMTPServer  # noqa: E402

EMPTY = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title></channel></rss>'


class Feeds:
    """``n`` loopback feeds that serve no items until :meth:`arm`, then ``items`` each."""

    def __init__(self, n: int, items: int) -> None:
        self.server = FeedServer()
        self.n = n
        self.armed = False
        self.first_full: float | None = None
        self.lock = threading.Lock()
        for k in range(n):
            self._route(k, feed_body(k, items))

    def _route(self, k: int, body: bytes) -> None:
        # each state has its ETag: a feed polled again answers 304, as real feeds do
        empty_tag, full_tag = '"empty"', f'"full-{k}"'

        def handler(request: Request) -> Response:
            etag = full_tag if self.armed else empty_tag
            if request.headers.get("if-none-match") == etag:
                return Response(304, b"", {"ETag": etag})
            if not self.armed:
                return Response(200, EMPTY, {"Content-Type": "application/rss+xml", "ETag": etag})
            with self.lock:
                if self.first_full is None:
                    self.first_full = time.monotonic()
            return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})

        self.server.handler(f"/feed/{k}", handler)

    def url(self, k: int) -> str:
        return self.server.url(f"/feed/{k}")

    def arm(self, on: bool = True) -> None:
        with self.lock:
            self.armed, self.first_full = on, None

    def close(self) -> None:
        self.server.close()


@dataclass
class Row:
    name: str
    seconds: float
    items: int
    emails: int
    pss_idle: list[float] = field(default_factory=list)  # MiB per process
    pss_busy: list[float] = field(default_factory=list)
    pss_peak: float = 0.0  # MiB, the highest total sampled during the storm
    note: str = ""
    cpu: float = 0.0  # CPU seconds of the row's processes during the run
    server_cpu: float = 0.0  # CPU seconds of this process (the loopback feeds and SMTP server)
    # the service rows' CPU seconds during the storm by process (main's threads apart)
    cpu_split: dict[str, float] = field(default_factory=dict)
    task_cpu: list[str] = field(default_factory=list)  # --task-cpu's table
    timeline: list[str] = field(default_factory=list)  # --timeline's
    smtp: str = ""  # what the SMTP server received: message size, commands (--timeline)


def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of ``pids`` (ended processes count as 0: compare live trees)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += timeline.cpu_ticks(timeline.stat_fields(Path(f"/proc/{pid}/stat")))
    return total / tick


def cpu_snapshot(root: int, pids: list[int]) -> dict[str, int]:
    """CPU ticks of each process of ``pids`` and of each thread of ``root`` (the worker's
    main process: its consumer, beat and timer threads), keyed ``pid`` / ``root:tid``."""
    out: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = timeline.stat_fields(
                Path(f"/proc/{pid}/stat")
            )  # read once: all three from one moment
            out[str(pid)] = timeline.cpu_ticks(fields)
            out[f"{pid}/sys"], out[f"{pid}/faults"] = int(fields[12]), int(fields[7])
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{root}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[f"{root}:{tid}"] = timeline.cpu_ticks(
                    timeline.stat_fields(Path(f"/proc/{root}/task/{tid}/stat"))
                )
    return out


def cpu_split(root: int, before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """Seconds of CPU between two snapshots: the main process, each of its threads that
    used any (its main thread first), the pool processes together and each."""
    tick = os.sysconf("SC_CLK_TCK")
    spent = {k: (v - before.get(k, 0)) / tick for k, v in after.items()}
    out = {"main process": spent.get(str(root), 0.0)}
    threads = sorted(
        (k for k in spent if ":" in k and spent[k] > 0),
        key=lambda k: (k != f"{root}:{root}", -spent[k]),
    )
    for k in threads:
        tid = k.split(":")[1]
        out[f"  thread {tid}" + (" (main)" if tid == str(root) else "")] = spent[k]
    out["  of it system (kernel)"] = spent.get(f"{root}/sys", 0.0)
    pool = [k for k in spent if ":" not in k and "/" not in k and k != str(root)]
    out["pool processes"] = sum(spent[k] for k in pool)
    out["  of it system (kernel)  "] = sum(spent.get(f"{k}/sys", 0.0) for k in pool)
    # minor page faults (thousands, not seconds): pages the processes touched anew
    out["  page faults, 1000s (per item)"] = (
        sum(after.get(f"{k}/faults", 0) - before.get(f"{k}/faults", 0) for k in pool) / 1000
    )
    for k in sorted(pool, key=lambda k: -spent[k]):
        out[f"  pool {k}"] = spent[k]
    return out


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def pss_list(root: int) -> list[float]:
    return [pss_kib(p) / 1024 for p in sorted(process_tree(root))]


def write_config(
    work: Path, feeds: Feeds, smtp: SMTPServer, *, mail_all: bool, interval: int = 1
) -> Path:
    config: dict = {
        "storage": {
            "data_dir": str(work / "data"),
            "database_url": f"sqlite:///{work / 'store.db'}",
        },
        "model": {"path": str(MODEL)},
        "fetch": {"min_interval": 1, "deadline": 20},  # min_interval 1: the beat ticks each second
        "delivery": {"rate_limits": {"email": 100000}},  # lifted, as for a local relay
        "stories": {"enabled": False},
        "subscribers": [{"name": "desk", "urls": [smtp.url()]}],
        "feeds": [
            {"name": f"f{k}", "url": feeds.url(k), "interval": interval, "allow_private": True}
            for k in range(feeds.n)
        ],
    }
    if mail_all:  # every bench item says "officials": every item alerts
        config["rules"] = {"include": [{"name": "every-item", "terms": ["officials"]}]}
    work.mkdir(parents=True, exist_ok=True)
    path = work / "newsalert.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def environment(project: Path, config: Path, broker: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")} | {
        "NEWSALERT_CONFIG": str(config),
        "PYTHONPATH": f"{project / 'src'}{os.pathsep}{project}",
        "C_FORCE_ROOT": "1",
    }
    if broker:
        env["NEWSALERT_BROKER_URL"] = broker
        clean_redis(broker)
        env["NEWSALERT_BROKER_TRANSPORT_OPTIONS"] = json.dumps({"global_keyprefix": REDIS_PREFIX})
    return env


_RUN = (
    "import sys\n"
    "from workers.service import run_service\n"
    "sys.exit(run_service(None, concurrency={concurrency}))\n"
)
# --task-cpu / --timeline: each pool process writes a line per task it ran (its CPU,
# including its fetch threads', wall time, and its start and end on the monotonic clock,
# which all processes share) to the file named by NA_TASK_CPU; with NA_TASK_STEPS the
# pipeline's steps are timed too (task_cpu_table)
_TASK_CPU = (
    "import json, os, time\n"
    "from celery import signals\n"
    "_t = {{}}\n"
    "_steps, _prof = {{}}, None\n"
    "if os.environ.get('NA_TASK_STEPS'):\n"
    "    from bench.mail_all import install_step_timers, install_task_profile\n"
    "    _steps = install_step_timers()\n"
    "    _prof = install_task_profile()\n"
    "def _pre(task_id=None, **_):\n"
    "    _t[task_id] = (time.process_time(), time.perf_counter(), time.monotonic())\n"
    "    if _prof is not None:\n"
    "        _prof.enable()\n"
    "def _post(task_id=None, task=None, retval=None, **_):\n"
    "    if _prof is not None:\n"
    "        _prof.disable()\n"
    "        _prof.dump_stats(os.environ['NA_TASK_PROF'] + f'/pool-{{os.getpid()}}.prof')\n"
    "    c, w, m = _t.pop(task_id, (None, None, None))\n"
    "    if c is None:\n"
    "        return\n"
    "    row = [os.getpid(), task.name, time.process_time() - c, time.perf_counter() - w,\n"
    "           retval if isinstance(retval, dict) else None, m, time.monotonic()]\n"
    "    with open(os.environ['NA_TASK_CPU'], 'a') as f:\n"
    "        f.write(json.dumps(row, default=str) + '\\n')\n"
    "    if _steps:\n"
    "        with open(os.environ['NA_TASK_CPU'] + f'.steps.{{os.getpid()}}', 'w') as f:\n"
    "            f.write(json.dumps(_steps))\n"
    "signals.task_prerun.connect(_pre, weak=False)\n"
    "signals.task_postrun.connect(_post, weak=False)\n"
)


def install_task_profile() -> Any:
    """``--task-prof DIR``: a cProfile of the tasks a pool process runs (CPU of the task's
    thread), written to DIR after each task; None without it."""
    if not os.environ.get("NA_TASK_PROF"):
        return None
    import cProfile

    return cProfile.Profile(time.thread_time)


def install_step_timers() -> dict[str, float]:
    """In the worker (``--task-cpu``): the CPU of the pipeline's steps, each call timed
    with ``time.thread_time`` (the task's thread; poll_feeds' fetch threads apart)."""
    import logging

    from celery.app.task import Task

    from newsalert.delivery import Notifier
    from newsalert.pipeline import Pipeline
    from newsalert.store import Store

    spent: dict[str, float] = {}
    for owner, name, step in (
        (Pipeline, "poll_feeds", "poll_feeds (its thread)"),
        (Pipeline, "score_items", "score_items"),
        (Pipeline, "deliver_many", "deliver_many"),
        (Store, "get_deliveries", " get_deliveries"),
        (Store, "lease_deliveries", " lease_deliveries"),
        (Store, "lease_delivery", " lease_delivery"),
        (Pipeline, "_take_token", " token"),
        (Pipeline, "_message", " render"),
        (Notifier, "send", " send"),
        (Store, "mark_sent", " mark_sent"),
        (Task, "apply_async", "apply_async"),
        (logging.Logger, "handle", "logging handle"),
    ):
        time_step(owner, name, step, spent, time.thread_time)
    return spent


def read_steps(path: Path) -> dict[str, float]:
    """The step timers' seconds so far, all pool processes together (``--task-cpu``)."""
    steps: dict[str, float] = {}
    for each in path.parent.glob(path.name + ".steps.*"):
        with contextlib.suppress(OSError, ValueError):
            for step, sec in json.loads(each.read_text()).items():
                steps[step] = steps.get(step, 0.0) + sec
    return steps


def task_cpu_table(path: Path, items: int, steps0: dict[str, float]) -> list[str]:
    """CPU by task name over the storm (ms per item), from ``--task-cpu``'s file."""
    if not path.exists():
        return []
    by: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        _, name, cpu, wall, ret = json.loads(line)[:5]
        key = name.removeprefix("newsalert.")
        if key == "poll_feeds" and ret is not None:
            key += " (new items)" if ret.get("new") else " (nothing new)"
        n, c, w = by.get(key, [0, 0.0, 0.0])
        by[key] = [n + 1, c + cpu, w + wall]
    out = [f"    {'task':<28}{'runs':>6}{'CPU s':>8}{'ms/item':>9}{'ms/run':>8}{'wall s':>8}"]
    for key, (n, c, w) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        out.append(
            f"    {key:<28}{n:>6}{c:>8.2f}{c * 1000 / items:>9.2f}{c * 1000 / n:>8.2f}{w:>8.2f}"
        )
    total = sum(v[1] for v in by.values())
    out.append(f"    {'in tasks, all':<28}{'':>6}{total:>8.2f}{total * 1000 / items:>9.2f}")
    out.append("    steps (the task's thread, CPU, ms per item)")
    for step, sec in read_steps(path).items():
        sec -= steps0.get(step, 0.0)
        out.append(f"      {step:<26}{sec * 1000 / items:>8.2f}")
    return out


def service_row(
    name: str,
    feeds: Feeds,
    smtp: SMTPServer,
    work: Path,
    args: argparse.Namespace,
    broker: str | None,
) -> Row:
    config = write_config(work, feeds, smtp, mail_all=True, interval=args.interval)
    env = environment(args.project, config, broker)
    feeds.arm(False)
    smtp.clear()
    log_path = work / "service.log"
    log = log_path.open("wb")
    task_cpu = work / "task-cpu.jsonl"
    code = _RUN.format(concurrency=args.concurrency)
    if args.task_cpu or args.task_prof or args.timeline:
        env["NA_TASK_CPU"] = str(task_cpu)
        if args.task_cpu or args.task_prof:
            env["NA_TASK_STEPS"] = "1"
        if args.task_prof:
            args.task_prof.mkdir(parents=True, exist_ok=True)
            env["NA_TASK_PROF"] = str(args.task_prof.resolve())
        code = _TASK_CPU.format() + code
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=args.project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    total = feeds.n * args.items
    try:
        _wait(lambda: b"ready." in log_path.read_bytes(), args.timeout, "the worker")
        time.sleep(args.idle)  # polling empty feeds: the worker as it sits idle
        idle = pss_list(proc.pid)
        spy = _profiler(proc.pid, name, args)
        tree = process_tree(proc.pid)
        cpu0, server0 = cpu_seconds(tree), own_cpu()
        split0 = cpu_snapshot(proc.pid, tree)
        peak = [0.0]
        sampling = threading.Event()

        def sample() -> None:  # the worker's total PSS during the storm, twice a second
            while not sampling.wait(0.5):
                with contextlib.suppress(OSError, ValueError):
                    peak[0] = max(peak[0], sum(pss_list(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        task_cpu.unlink(missing_ok=True)  # the storm's tasks only
        steps0 = read_steps(task_cpu)
        timed = None
        if args.timeline:
            depth = (
                timeline.redis_depth(broker, REDIS_PREFIX)
                if broker
                else timeline.filesystem_depth(work / "data" / "broker" / "queue")
            )
            timed = timeline.Sampler(tree, depth)
            timed.start()
        feeds.arm()
        armed = time.monotonic()
        if args.interval > 1:
            due_now(work / "store.db")  # polled empty at the worker's start: due again now
        sampler.start()
        _wait(lambda: len(smtp.messages) >= total, args.timeout, f"{total} e-mails")
        sampling.set()
        sampler.join()
        if timed is not None:
            time.sleep(0.3)  # the last task's line is written after its last e-mail
            timed.stop()
        start = feeds.first_full or time.monotonic()
        seconds = time.monotonic() - start
        cpu, server_cpu = cpu_seconds(tree) - cpu0, own_cpu() - server0
        split = cpu_split(proc.pid, split0, cpu_snapshot(proc.pid, tree))
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        time.sleep(2)
        busy = pss_list(proc.pid)
        emails = len(smtp.messages)
    finally:
        stop_worker(proc)
        log.close()
        feeds.arm(False)
    row = Row(name, seconds, total, emails, idle, busy, cpu=cpu, server_cpu=server_cpu)
    row.pss_peak = peak[0]
    row.cpu_split = split
    if args.task_cpu or args.task_prof:
        row.task_cpu = task_cpu_table(task_cpu, total, steps0)
    if timed is not None:
        row.timeline = timeline.report(
            start, timeline.read_tasks(task_cpu), list(getattr(smtp, "arrivals", [])),
            timed.samples, [p for p in tree if p != proc.pid],
            [len(e.data) for e in smtp.envelopes], timeline.COMMANDS.copy(), args.timeline_bin,
        )  # fmt: skip
        # the beat's tick (1 s here) and the claim: not counted in the storm's time
        row.timeline.append(f"      first feed response with items {start - armed:.2f} s after "
                            f"the feeds were armed (interval {args.interval} s)")  # fmt: skip
    return row


def smtp_stats(smtp: SMTPServer) -> str:
    """Mean message size, SMTP commands per message and connections of the last row."""
    n = max(1, len(smtp.envelopes))
    size = sum(len(e.data) for e in smtp.envelopes) / n
    commands = ", ".join(
        f"{c} {timeline.COMMANDS[c] / n:.2f}"
        for c in timeline.SMTP_COMMANDS
        if timeline.COMMANDS.get(c)
    )
    return f"{size:.0f} bytes per message; per message: {commands}; {smtp.connections} connections"


def due_now(db: Path) -> None:
    """``--interval``: the worker polled the feeds (empty) at its start and would not poll
    them again for an interval; the storm's items are published as the next poll falls
    due, so the bench makes every feed due now (the next tick claims them, as with
    ``interval: 1``). The SQLite store's own column, written as a claim that ended."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn, conn:
        conn.execute("UPDATE feeds SET next_poll_at = NULL")


def _profiler(pid: int, name: str, args: argparse.Namespace) -> subprocess.Popen | None:
    """``--profile DIR``: py-spy samples the worker and its pool during the storm (collapsed
    stacks, one file per row; sampling slows the run, so its time is not a figure)."""
    if args.profile is None:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / (name.replace(" ", "-").replace(",", "") + ".txt")
    exe = Path(sys.executable).with_name("py-spy")
    spy = subprocess.Popen(
        [str(exe) if exe.exists() else "py-spy", "record", "--subprocesses", "--nonblocking", "--threads", "--rate", "50", "--format",
         "raw", "--pid", str(pid), "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # attached before the feeds serve items
    return spy


def poll_once_row(feeds: Feeds, smtp: SMTPServer, work: Path, args: argparse.Namespace) -> Row:
    config = write_config(work, feeds, smtp, mail_all=False)
    env = environment(args.project, config, None)
    feeds.arm()
    smtp.clear()
    start, server0 = time.monotonic(), own_cpu()
    children0 = os.times().children_user + os.times().children_system
    subprocess.run(
        [sys.executable, "-m", "newsalert.cli", "--config", str(config), "poll", "--once"],
        cwd=args.project, env=env, check=True, timeout=args.timeout,
        stdout=(work / "poll.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    seconds = time.monotonic() - start
    server_cpu = own_cpu() - server0
    cpu = os.times().children_user + os.times().children_system - children0
    feeds.arm(False)
    return Row("newsalert poll --once", seconds, feeds.n * args.items, len(smtp.messages),
               note="default routing: the model picks the relevant items; model load included",
               cpu=cpu, server_cpu=server_cpu)  # fmt: skip


def ensure_r2e(path: Path) -> Path:
    r2e = path / "bin" / "r2e"
    if not r2e.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", "rss2email==3.14"], check=True)
    return r2e


def rss2email_row(feeds: Feeds, smtp: SMTPServer, work: Path, args: argparse.Namespace) -> Row:
    r2e = ensure_r2e(args.r2e)
    work.mkdir(parents=True, exist_ok=True)
    lines = [
        "[DEFAULT]", "from = bench@example.org", "to = desk@example.org",
        "email-protocol = smtp", f"smtp-server = 127.0.0.1:{smtp.port}", "smtp-auth = False",
        "smtp-ssl = False", "feed-timeout = 20", "html-mail = False", "",
    ]  # fmt: skip
    for k in range(feeds.n):
        lines += [f"[feed.f{k}]", f"url = {feeds.url(k)}", ""]
    cfg = work / "rss2email.cfg"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("http_proxy", "https_proxy")}
    env |= {"HOME": str(work), "XDG_CONFIG_HOME": str(work), "XDG_DATA_HOME": str(work)}
    feeds.arm()
    smtp.clear()
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(r2e), "-c", str(cfg), "-d", str(work / "r2e.json"), "run"],
        env=env, stdout=subprocess.DEVNULL, stderr=(work / "r2e.log").open("ab"),
    )  # fmt: skip
    peak, server0 = 0.0, own_cpu()
    children0 = os.times().children_user + os.times().children_system
    while proc.poll() is None:
        peak = max(peak, pss_kib(proc.pid) / 1024)
        if time.monotonic() - start > args.timeout:
            proc.kill()
            raise TimeoutError("rss2email took too long")
        time.sleep(0.05)
    seconds = time.monotonic() - start
    server_cpu = own_cpu() - server0
    cpu = os.times().children_user + os.times().children_system - children0  # reaped above
    feeds.arm(False)
    return Row("rss2email 3.14", seconds, feeds.n * args.items, len(smtp.messages),
               pss_busy=[peak], note="one process, feeds in sequence; start-up included",
               cpu=cpu, server_cpu=server_cpu)  # fmt: skip


def per_email(smtp: SMTPServer, args: argparse.Namespace) -> list[tuple[str, float]]:
    """ms per e-mail through Notifier.send, without and with the pool (in a subprocess
    on ``--project``'s code, so a before/after compares the same measurement)."""
    code = (
        "import json, sys, time\n"
        "from newsalert.delivery import Notifier\n"
        "from newsalert.models import Message\n"
        "url, n = sys.argv[1], int(sys.argv[2])\n"
        "m = Message(title='t', body='b', body_format='text')\n"
        "notifier = Notifier(timeout=5)\n"
        "notifier.send(url, m)\n"
        "out = {}\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        "for _ in range(n): notifier.send(url, m)\n"
        "out['a connection per e-mail'] = (time.perf_counter() - t) / n * 1000\n"
        "out['  its CPU'] = (time.process_time() - c) / n * 1000\n"
        "try:\n"
        "    from newsalert.delivery_pool import connection_pool\n"
        "except ImportError:\n"
        "    pass\n"
        "else:\n"
        "    t, c = time.perf_counter(), time.process_time()\n"
        "    with connection_pool():\n"
        "        for _ in range(n): notifier.send(url, m)\n"
        "    out['pooled, one batch'] = (time.perf_counter() - t) / n * 1000\n"
        "    out['  its CPU (pooled)'] = (time.process_time() - c) / n * 1000\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{args.project / 'src'}{os.pathsep}{args.project}"}
    done = subprocess.run(
        [sys.executable, "-c", code, smtp.url(), "200"],
        env=env, check=True, capture_output=True, text=True, timeout=args.timeout,
    )  # fmt: skip
    return list(json.loads(done.stdout.strip().splitlines()[-1]).items())


def breakdown(
    smtp: SMTPServer, work: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Where a delivery's time goes: ``deliver_due`` in this process over ``--feeds`` / 5
    feeds, every item alerting, with and without the batch's shared connections (ms per
    delivery, wall clock, by step)."""
    from apprise.plugins.email.smtp import AppriseSMTPController

    import newsalert.pipeline as pipeline_module
    from newsalert.config import load_config
    from newsalert.pipeline import Pipeline
    from newsalert.store import Store

    n_feeds = max(1, args.feeds // 5)
    out: dict[str, dict[str, float]] = {}
    for label, pooled in (("a connection per e-mail", False), ("shared per batch", True)):
        feeds = Feeds(n_feeds, args.items)
        feeds.arm()
        config = write_config(work / label.replace(" ", "-"), feeds, smtp, mail_all=True)
        loaded = load_config(config)
        pipeline = Pipeline(loaded, Store(loaded.database_url))
        pipeline.scorer()
        pipeline.poll_feeds([f"f{k}" for k in range(n_feeds)])
        pipeline.score_pending()
        spent: dict[str, float] = {}

        def timed(owner: Any, name: str, step: str, spent: dict[str, float] = spent) -> None:
            time_step(owner, name, step, spent)

        timed(pipeline.store, "lease_delivery", "lease")
        timed(pipeline, "_take_token", "rate-limit token")
        timed(pipeline, "_message", "render")
        timed(pipeline.notifier, "send", "apprise send (all)")
        timed(pipeline.store, "mark_sent", "mark sent")
        saved = (AppriseSMTPController.__enter__, smtplib.SMTP.sendmail)
        timed(AppriseSMTPController, "__enter__", "  SMTP connect (or NOOP)")
        timed(smtplib.SMTP, "sendmail", "  SMTP sendmail")
        real_pool = pipeline_module.connection_pool
        if not pooled:
            pipeline_module.connection_pool = contextlib.nullcontext  # type: ignore[assignment]
        try:
            smtp.clear()
            t = time.perf_counter()
            counts = pipeline.deliver_due(100_000)
            total = time.perf_counter() - t
        finally:
            pipeline_module.connection_pool = real_pool  # type: ignore[assignment]
            AppriseSMTPController.__enter__, smtplib.SMTP.sendmail = saved  # type: ignore[method-assign]
            pipeline.close()
            feeds.close()
        sent = max(1, counts.get("sent", 0))
        rows = {k: v * 1000 / sent for k, v in spent.items()}
        rows["  apprise: parse URL, build message"] = rows["apprise send (all)"] - sum(
            v for k, v in rows.items() if k.startswith("  ")
        )
        rows["other"] = total * 1000 / sent - sum(
            v for k, v in rows.items() if not k.startswith("  ") and k != "other"
        )
        rows["total"] = total * 1000 / sent
        order = ["lease", "rate-limit token", "render", "apprise send (all)",
                 "  SMTP connect (or NOOP)", "  SMTP sendmail",
                 "  apprise: parse URL, build message", "mark sent", "other", "total"]  # fmt: skip
        out[label] = {step: rows.get(step, 0.0) for step in order}
    return out


def print_table(rows: list[Row], per: list[tuple[str, float]], args: argparse.Namespace) -> None:
    print(f"\n{args.feeds} loopback feeds x {args.items} items, pool of {args.concurrency}, "
          f"{os.cpu_count()} CPUs, code of {args.project}\n")  # fmt: skip
    peer = next((r for r in rows if r.name.startswith("rss2email")), None)
    head = (
        f"{'row':<26}{'items':>7}{'e-mails':>9}{'seconds':>9}{'items/s':>9}{'x rss2email':>12}"
        f"{'CPU ms/item':>12}{'server CPU':>11}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        rate = r.items / r.seconds
        vs = f"{rate / (peer.items / peer.seconds):.2f}x" if peer else "-"
        print(
            f"{r.name:<26}{r.items:>7}{r.emails:>9}{r.seconds:>9.1f}{rate:>9.0f}{vs:>12}"
            f"{r.cpu * 1000 / r.items:>12.2f}{r.server_cpu:>10.1f}s"
        )
    print("\nmemory, PSS MiB per process (main process first)")
    for r in rows:
        if r.pss_idle or r.pss_busy:
            for label, values in (("idle", r.pss_idle), ("after the storm", r.pss_busy)):
                if values:
                    each = " ".join(f"{v:.0f}" for v in values)
                    print(f"  {r.name:<24} {label:<16} total {sum(values):>5.0f}  [{each}]")
            if r.pss_peak:
                print(f"  {r.name:<24} {'storm peak':<16} total {r.pss_peak:>5.0f}")
    split = [r for r in rows if r.cpu_split]
    if split:
        print("\nCPU during the storm by process, s (ms per item)")
        for r in split:
            print(f"  {r.name}")
            for label, sec in r.cpu_split.items():
                print(f"    {label:<28}{sec:>7.2f}  ({sec * 1000 / r.items:.2f})")
            for line in r.task_cpu:
                print(line)
    if any(r.smtp for r in rows):
        print("\nthe SMTP server's side (--timeline)")
        for r in rows:
            if r.smtp:
                print(f"  {r.name:<26}{r.smtp}")
    for r in rows:
        if r.timeline:
            print(f"\n{r.name}")
            for line in r.timeline:
                print(line)
    if BREAKDOWN:
        labels = list(BREAKDOWN)
        print("\nwhere a delivery's time goes (deliver_due in-process), ms per delivery")
        print(f"  {'step':<36}" + "".join(f"{label:>26}" for label in labels))
        for step in BREAKDOWN[labels[0]]:
            print(f"  {step:<36}" + "".join(f"{BREAKDOWN[x].get(step, 0):>26.2f}" for x in labels))
    if per:
        print("\none e-mail through Notifier.send to the loopback server, ms")
        for label, ms in per:
            print(f"  {label:<26}{ms:>7.2f}")
    for r in rows:
        if r.note:
            print(f"  {r.name}: {r.note}")


BREAKDOWN: dict[str, dict[str, float]] = {}
MODEL = ROOT / ".pytest_cache" / "d" / "newsalert-data" / "model" / "model.joblib"


def main() -> int:
    global MODEL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rows", default="rss2email,embedded,redis,poll-once,breakdown,per-email")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--r2e", type=Path, default=ROOT / ".venv-r2e", help="rss2email's venv")
    parser.add_argument("--project", type=Path, default=ROOT, help="the newsalert tree to run")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout for the baseline-embedded/-redis rows"
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds idle before PSS")
    parser.add_argument("--timeout", type=float, default=300.0, help="per phase")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    parser.add_argument(
        "--task-cpu",
        action="store_true",
        help="the service rows' CPU by task (each pool process notes every task it runs)",
    )
    parser.add_argument(
        "--task-prof", type=Path, help="cProfile the pool's tasks (CPU) into this folder"
    )
    parser.add_argument(
        "--profile", type=Path, help="py-spy the service rows into this folder (needs py-spy)"
    )
    parser.add_argument(
        "--timeline",
        action="store_true",
        help="the service rows' storm over time: e-mails received, the pool's tasks and CPU, "
        "the broker's queues, the SMTP commands",
    )
    parser.add_argument("--timeline-bin", type=float, default=0.5, help="seconds per row")
    parser.add_argument(
        "--smtp-lazy",
        action="store_true",
        help="the SMTP server keeps each message's bytes and does not parse it (see "
        "bench/timeline.py TimedSMTP; the default parses, as the earlier rounds' figures did)",
    )
    parser.add_argument(
        "--interval",
        type=int,
        default=1,
        help="the feeds' poll interval in the service rows (1: polled again every second "
        "of the storm; a longer one: polled once, as a real feed would be)",
    )
    args = parser.parse_args()
    args.project = args.project.resolve()
    MODEL = args.model
    if not MODEL.exists():
        from newsalert.classifier import load_or_train

        load_or_train(None, MODEL.parent.parent)
    work = Path(tempfile.mkdtemp(prefix="newsalert-mail-all-"))
    feeds = Feeds(args.feeds, args.items)
    smtp = timeline.TimedSMTP(lazy=args.smtp_lazy)  # the tests' server, arrivals stamped
    if args.timeline:
        timeline.count_smtp_commands()
    smtp.start()
    rows: list[Row] = []
    per: list[tuple[str, float]] = []
    try:
        seen: dict[str, int] = {}
        for row in [r.strip() for r in args.rows.split(",") if r.strip()]:
            print(f"running {row} ...", file=sys.stderr, flush=True)
            # a row named again (alternated pairs) gets a work dir and store of its own: in
            # the first one's store the items are seen already, and nothing would alert
            seen[row] = seen.get(row, 0) + 1
            here = work / (row if seen[row] == 1 else f"{row}-{seen[row]}")
            if row == "rss2email":
                rows.append(rss2email_row(feeds, smtp, here, args))
            elif row == "embedded":
                rows.append(service_row("newsalert run, embedded", feeds, smtp, here, args, None))
            elif row == "redis":
                rows.append(
                    service_row("newsalert run, Redis", feeds, smtp, here, args, args.redis)
                )
            elif row in ("baseline-embedded", "baseline-redis"):
                if args.baseline is None:
                    parser.error(f"{row} needs --baseline")
                base = argparse.Namespace(**{**vars(args), "project": args.baseline.resolve()})
                broker = args.redis if row == "baseline-redis" else None
                name = f"baseline run, {row.split('-')[1]}"
                rows.append(service_row(name, feeds, smtp, here, base, broker))
            elif row == "poll-once":
                rows.append(poll_once_row(feeds, smtp, here, args))
            elif row == "baseline-poll-once":
                if args.baseline is None:
                    parser.error(f"{row} needs --baseline")
                base = argparse.Namespace(**{**vars(args), "project": args.baseline.resolve()})
                found = poll_once_row(feeds, smtp, here, base)
                rows.append(replace(found, name="baseline poll --once"))
            elif row == "breakdown":
                BREAKDOWN.update(breakdown(smtp, here, args))
            elif row == "per-email":
                per = per_email(smtp, args)
            else:
                parser.error(f"unknown row {row!r}")
            if rows and args.timeline and not rows[-1].smtp:
                rows[-1].smtp = smtp_stats(smtp)
            if rows:
                r = rows[-1]
                print(f"  {r.name}: {r.emails} e-mails in {r.seconds:.1f}s", file=sys.stderr)
    finally:
        smtp.stop()
        feeds.close()
        with contextlib.suppress(Exception):
            clean_redis(args.redis)
        if args.keep:
            print(f"work dir kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows, per, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
