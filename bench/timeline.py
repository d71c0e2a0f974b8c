"""``bench/mail_all.py --timeline``: what the worker waits on during an alert storm.

Every clock here is ``time.monotonic()``, which on Linux is one clock for every process,
so the pool's task stamps, the SMTP server's arrivals and this process's samples line up.

* :class:`Sampler` (a thread of the bench): every ``step`` seconds the CPU ticks of each
  process of the worker and of the bench itself, and the broker's queue depth (files in
  the embedded broker's folder, or the Redis lists).
* :func:`count_smtp_commands`: counts the SMTP commands the loopback server answers
  (EHLO, NOOP, RSET, MAIL, ...) and :class:`TimedSMTP` stamps each message's arrival.
* The pool's tasks are stamped by the ``--task-cpu`` hook in the worker (start, end, pid).

:func:`report` bins all of it by ``bin`` seconds from the storm's start (the first feed
response that carries items) and sums it up: when the first and last e-mails arrived,
when the polls with new items ended, how busy each pool process was (in a task, on CPU).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.smtpserver import Envelope, SMTPServer

SMTP_COMMANDS = ("EHLO", "HELO", "NOOP", "RSET", "MAIL", "RCPT", "DATA", "QUIT", "AUTH")
COMMANDS: Counter[str] = Counter()  # SMTP commands answered, since the last clear


def count_smtp_commands() -> None:
    """Count every SMTP command aiosmtpd answers, in this process (once)."""
    from aiosmtpd.smtp import SMTP

    if getattr(SMTP, "_bench_counted", False):
        return
    for name in SMTP_COMMANDS:
        method = getattr(SMTP, f"smtp_{name}", None)
        if method is None:
            continue

        def make(method: Any = method, name: str = name) -> Any:
            @functools.wraps(method)  # keeps aiosmtpd's syntax attributes
            async def counted(self: Any, arg: Any) -> Any:
                COMMANDS[name] += 1
                return await method(self, arg)

            return counted

        setattr(SMTP, f"smtp_{name}", make())
    SMTP._bench_counted = True  # type: ignore[attr-defined]


class TimedSMTP(SMTPServer):
    """The tests' SMTP server, with each message's arrival time and connection.

    ``lazy``: the raw message is kept and not parsed (``messages`` holds ``None`` for
    each): the tests' server parses every message into an ``EmailMessage``
    (``email.policy.default``), about 0.77 ms of CPU for a newsalert alert (multipart,
    2.2 KB) and 0.19 ms for rss2email's text/plain one, where a real relay spends
    microseconds; the bench's server shares the 2 cores with the worker."""

    def __init__(self, *, lazy: bool = False) -> None:
        super().__init__()
        self.lazy = lazy
        self.arrivals: list[tuple[float, Any]] = []

    def clear(self) -> None:
        super().clear()
        with self._lock:
            self.arrivals.clear()
        COMMANDS.clear()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.lazy:
            return self._keep_raw(session, envelope)
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            with self._lock:
                self.arrivals.append((time.monotonic(), session.peer))
        return answer

    def _keep_raw(self, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self._lock:
            self.envelopes.append(
                Envelope(envelope.mail_from, list(envelope.rcpt_tos), data, session.peer)
            )
            self.messages.append(None)  # type: ignore[arg-type]
            self.arrivals.append((time.monotonic(), session.peer))
        return "250 Message accepted for delivery"


def _runqueue_wait(pid: int) -> float:
    """Seconds the threads of ``pid`` have waited for a core so far (runnable, not
    running: the kernel's schedstat), so waiting for a CPU is told from waiting on I/O."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[1])
    return total / 1e9


def stat_fields(path: Path) -> list[str]:
    """The fields of a /proc stat file after the command's name (which may hold spaces)."""
    return path.read_text().rsplit(")", 1)[1].split()


def cpu_ticks(fields: list[str]) -> int:
    return int(fields[11]) + int(fields[12])  # utime + stime


def _ticks(pid: int) -> int | None:
    try:
        return cpu_ticks(stat_fields(Path(f"/proc/{pid}/stat")))
    except OSError:
        return None


class Sampler:
    """Samples the worker's processes' CPU and the broker's queue depth in a thread."""

    def __init__(self, pids: list[int], queue_depth: Any, step: float = 0.25) -> None:
        self.pids = pids
        self.queue_depth = queue_depth  # () -> {queue: messages}
        self.step = step
        self.samples: list[tuple[float, dict[str, int], dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            cpu = {str(p): t for p in self.pids if (t := _ticks(p)) is not None}
            cpu["bench"] = _ticks(os.getpid()) or 0
            for p in self.pids:  # waits for a core, in microseconds (ints, like the ticks)
                cpu[f"{p}/rq"] = int(_runqueue_wait(p) * 1e6)
            cpu["bench/rq"] = int(_runqueue_wait(os.getpid()) * 1e6)
            depth: dict[str, int] = {}
            with contextlib.suppress(Exception):
                depth = self.queue_depth()
            self.samples.append((now, cpu, depth))
            if self._stop.wait(self.step):
                return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def filesystem_depth(folder: Path) -> Any:
    """The embedded broker's queues: one file per message, ``<stamp>_<id>.<queue>.msg``."""

    def depth() -> dict[str, int]:
        out: Counter[str] = Counter()
        for name in os.listdir(folder):
            if name.endswith(".msg"):
                out[name.partition(".")[2].removesuffix(".msg")] += 1
        return dict(out)

    return depth


def redis_depth(url: str, prefix: str, queues: tuple[str, ...] = ("newsalert", "deliver")) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2)

    def depth() -> dict[str, int]:
        # kombu's Redis transport keeps a queue as a list, or one per priority step
        # ("<queue>\x06\x16<n>"); the default priority's is the bare name
        out: dict[str, int] = {}
        for q in queues:
            n = 0
            for key in client.scan_iter(match=f"{prefix}{q}*", count=100):
                with contextlib.suppress(Exception):
                    n += int(client.llen(key))
            out[q] = n
        return out

    return depth


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """The pool's tasks from the ``--task-cpu`` file: pid, name, CPU, start and end."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if len(row) < 7:
            continue
        pid, name, cpu, _wall, ret, start, end = row[:7]
        out.append({"pid": pid, "name": name.removeprefix("newsalert."), "cpu": cpu,
                    "ret": ret, "start": start, "end": end})  # fmt: skip
    return out


def report(
    start: float,
    tasks: list[dict[str, Any]],
    arrivals: list[tuple[float, Any]],
    samples: list[tuple[float, dict[str, int], dict[str, int]]],
    pool: list[int],
    sizes: list[int],
    commands: Counter[str],
    bin_s: float = 0.5,
) -> list[str]:
    """The storm's timeline, binned, and a summary; times in seconds from ``start``."""
    tick = os.sysconf("SC_CLK_TCK")
    if not arrivals:
        return ["    no e-mail arrived"]
    end = max(t for t, _ in arrivals)
    span = end - start
    nbins = int(span / bin_s) + 1
    pool_keys = [str(p) for p in pool]

    def clip(a: float, b: float, lo: float, hi: float) -> float:
        return max(0.0, min(b, hi) - max(a, lo))

    mails = [0] * nbins
    for t, _ in arrivals:
        mails[min(nbins - 1, max(0, int((t - start) / bin_s)))] += 1
    # seconds each process spent in a task, by kind, per bin
    busy: dict[str, list[float]] = {k: [0.0] * nbins for k in pool_keys}
    kinds: dict[str, list[float]] = {}
    for task in tasks:
        kind = task["name"]
        if kind == "poll_feeds" and isinstance(task["ret"], dict):
            kind = "poll (new)" if task["ret"].get("new") else "poll (304)"
        kinds.setdefault(kind, [0.0] * nbins)
        for b in range(nbins):
            lo, hi = start + b * bin_s, start + (b + 1) * bin_s
            share = clip(task["start"], task["end"], lo, hi)
            if share:
                kinds[kind][b] += share
                if str(task["pid"]) in busy:
                    busy[str(task["pid"])][b] += share
    # CPU per bin: the difference of the two samples around each bin's edges
    cpu_pool, cpu_bench, depth_at = [0.0] * nbins, [0.0] * nbins, [{} for _ in range(nbins)]
    rq_pool = [0.0] * nbins
    for (_t0, c0, _), (t1, c1, d1) in itertools.pairwise(samples):
        b = int((t1 - start) / bin_s)
        if t1 < start or b >= nbins:
            continue
        cpu_pool[b] += sum(c1.get(k, 0) - c0.get(k, 0) for k in pool_keys if k in c0) / tick
        cpu_bench[b] += (c1.get("bench", 0) - c0.get("bench", 0)) / tick
        rq_pool[b] += (
            sum(c1.get(f"{k}/rq", 0) - c0.get(f"{k}/rq", 0) for k in pool_keys if f"{k}/rq" in c0)
            / 1e6
        )
        depth_at[b] = d1
    names = sorted(kinds, key=lambda k: -sum(kinds[k]))
    head = (f"    {'t s':>5}{'mails':>6}{'cum':>6}{'pool in task':>13}{'pool CPU':>9}{'pool RQ':>8}"
            f"{'bench CPU':>10}{'queued n/d':>11}  " + "".join(f"{n[:12]:>13}" for n in names))  # fmt: skip
    out = [
        f"    timeline, {bin_s:g} s bins: processes busy (a process-second per second); RQ:"
        " runnable but waiting for a core",
        head,
    ]
    cum = 0
    for b in range(nbins):
        cum += mails[b]
        in_task = sum(busy[k][b] for k in pool_keys) / bin_s
        d = depth_at[b]
        queued = f"{d.get('newsalert', 0)}/{d.get('deliver', 0)}" if d else "-"
        out.append(
            f"    {b * bin_s:>5.1f}{mails[b]:>6}{cum:>6}{in_task:>13.2f}{cpu_pool[b] / bin_s:>9.2f}"
            f"{rq_pool[b] / bin_s:>8.2f}"
            f"{cpu_bench[b] / bin_s:>10.2f}{queued:>11}  "
            + "".join(f"{kinds[n][b] / bin_s:>13.2f}" for n in names)
        )
    # the summary
    polls_new = [t for t in tasks if t["name"] == "poll_feeds" and (t["ret"] or {}).get("new")]
    batches = [t for t in tasks if t["name"] == "deliver_batch" and t["end"] >= start]
    first_mail = min(t for t, _ in arrivals) - start
    out.append("    summary (s from the first feed response with items)")
    if polls_new:
        out.append(
            f"      polls with new items: {len(polls_new)}, first starts "
            f"{min(t['start'] for t in polls_new) - start:.2f}, first ends "
            f"{min(t['end'] for t in polls_new) - start:.2f}, last ends "
            f"{max(t['end'] for t in polls_new) - start:.2f}"
        )
    if batches:
        durations = sorted(t["end"] - t["start"] for t in batches)
        out.append(
            f"      deliver_batch: {len(batches)} runs, first starts "
            f"{min(t['start'] for t in batches) - start:.2f}, last starts "
            f"{max(t['start'] for t in batches) - start:.2f}, ends "
            f"{max(t['end'] for t in batches) - start:.2f}; "
            f"median {durations[len(durations) // 2]:.3f} s, max {durations[-1]:.3f} s"
        )
    out.append(f"      e-mails: first {first_mail:.2f}, last {span:.2f}")
    by_kind: dict[str, list[float]] = {}  # the storm's tasks: runs, CPU s, wall s
    for task in tasks:
        if task["end"] < start:
            continue
        kind = task["name"]
        if kind == "poll_feeds" and isinstance(task["ret"], dict):
            kind = "poll (new)" if task["ret"].get("new") else "poll (304)"
        n, c, w = by_kind.get(kind, [0, 0.0, 0.0])
        by_kind[kind] = [n + 1, c + task["cpu"], w + task["end"] - max(task["start"], start)]
    out.append(
        "      tasks in the storm (runs, CPU s, wall s): "
        + "; ".join(
            f"{k} {int(n)}, {c:.2f}, {w:.2f}"
            for k, (n, c, w) in sorted(by_kind.items(), key=lambda kv: -kv[1][1])
        )
    )
    in_task = {k: sum(busy[k]) for k in pool_keys}
    cpu_total: dict[str, float] = {}
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) >= 2:
        c0, c1 = inside[0][1], inside[-1][1]
        cpu_total = {k: (c1.get(k, 0) - c0.get(k, 0)) / tick for k in [*pool_keys, "bench"]}
        cpu_total |= {
            f"{k}/rq": (c1.get(f"{k}/rq", 0) - c0.get(f"{k}/rq", 0)) / 1e6
            for k in [*pool_keys, "bench"]
        }
    for k in pool_keys:
        cpu, rq = cpu_total.get(k, 0.0), cpu_total.get(f"{k}/rq", 0.0)
        out.append(
            f"      pool {k}: in a task {in_task[k]:.2f} s ({in_task[k] / span:.0%} of the "
            f"storm), on a core {cpu:.2f} s, waiting for one {rq:.2f} s (all its threads), "
            f"so sleeping (I/O, locks) about {max(0.0, in_task[k] - cpu - rq):.2f} s"
        )
    if cpu_total:
        out.append(
            f"      bench process (feeds + SMTP server) CPU {cpu_total['bench']:.2f} s, "
            f"waiting for a core {cpu_total['bench/rq']:.2f} s"
        )
    gaps = _gaps(arrivals, start)
    if gaps:
        out.append("      longest waits between two e-mails: " + ", ".join(
            f"{g:.2f} s at {t:.2f}" for g, t in gaps))  # fmt: skip
    if sizes:
        out.append(f"      message size: mean {sum(sizes) / len(sizes):.0f} bytes")
    if commands:
        n = max(1, commands.get("DATA", 0))
        out.append("      SMTP commands per message: " + ", ".join(
            f"{c} {commands[c] / n:.2f}" for c in SMTP_COMMANDS if commands.get(c)))  # fmt: skip
        out.append(f"      connections: {len({p for _, p in arrivals})}")
    return out


def _gaps(arrivals: list[tuple[float, Any]], start: float, n: int = 3) -> list[tuple[float, float]]:
    times = sorted([start] + [t for t, _ in arrivals])
    gaps = sorted(((b - a, a - start) for a, b in itertools.pairwise(times)), reverse=True)
    return gaps[:n]
