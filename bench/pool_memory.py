"""What a worker's pool processes hold, idle and after an alert storm (Linux, as root).

Usage (from the repository root)::

    .venv/bin/python bench/pool_memory.py [--broker redis://127.0.0.1:6379/N]
        [--feeds 100 --items 30] [--tracemalloc FRAMES] [--project OTHER_CHECKOUT]

The storm of ``bench/mail_all.py`` (every item e-mailed, loopback feeds and SMTP server),
with the worker's pool probed (``bench/pool_probe.py``). For each process, idle and after the
storm: smaps_rollup (PSS, its anonymous and file parts, private dirty), and each private
page (``/proc/kpagecount`` 1) classed by whether the main process had a page at that address
when read (a pre-fork page the child copied: reference counts, the garbage collector, new
objects in old free space) or not (new memory), by mapping kind ([heap]: glibc's main
arena; anonymous mappings: pymalloc's arenas, other arenas' heaps, big buffers). The probe
adds what each pool process imported since the fork, glibc's and pymalloc's free space and,
with ``--tracemalloc``, the largest allocations made since the fork (tracemalloc costs
memory and time itself: PSS figures of such a run are not figures).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from bench.mail_all import MODEL, Feeds, _wait, environment, write_config  # noqa: E402
from bench.throughput import process_tree, stop_worker  # noqa: E402
from tests.smtpserver import SMTPServer  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
_RUN = (
    "import sys\n"
    "sys.path.insert(0, {bench!r})\n"
    "import pool_probe\n"
    "pool_probe.install({folder!r})\n"
    "from workers.service import run_service\n"
    "sys.exit(run_service(None, concurrency={concurrency}))\n"
)
DIFF = False
ADDRESSES: dict[int, dict[str, list[int]]] = {}  # copied pages by changed words, per child
ROLLUP = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Private_Clean", "Private_Dirty", "Anonymous")


def rollup(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split()[:2]
        if key[:-1] in ROLLUP:
            out[key[:-1]] = int(value) / 1024
    return out


def file_pss(pid: int) -> dict[str, float]:
    """PSS MiB of each mapped file (smaps), summed over the file's mappings."""
    out: dict[str, float] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        first = line.split(maxsplit=5)
        if "-" in first[0] and not first[0].endswith(":"):
            name = first[5] if len(first) > 5 and first[5].startswith("/") else ""
        elif name and first[0] == "Pss:":
            out[name] = out.get(name, 0.0) + int(first[1]) / 1024
    return out


def mappings(pid: int) -> list[tuple[int, int, str]]:
    out = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(maxsplit=5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5] if len(parts) > 5 else ""
        out.append((lo, hi, name))
    return out


def frames(pid: int, lo: int, hi: int) -> list[int]:
    """Page frame numbers of [lo, hi) in ``pid`` (0: not present)."""
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(lo // PAGE * 8)
        raw = f.read((hi - lo) // PAGE * 8)
    out = []
    for (entry,) in struct.iter_unpack("Q", raw):
        out.append(entry & ((1 << 55) - 1) if entry >> 63 & 1 else 0)
    return out


def kind(name: str) -> str:
    if name == "[heap]":
        return "heap"
    if name.startswith("[stack"):
        return "stack"
    if not name:
        return "anon"
    if name.startswith("/"):
        return "file"
    return "other"


def classify(
    child: int, parent: int, diff: dict[str, list[tuple[int, int]]] | None = None
) -> dict[str, float]:
    """MiB of the child's private pages (mapped once), by mapping kind and by whether the
    parent has a page at that address."""
    counts: dict[str, int] = {}
    with open("/proc/kpagecount", "rb") as kpc:
        parent_maps = mappings(parent)
        for lo, hi, name in mappings(child):
            if hi - lo > 1 << 34 or name == "[vsyscall]":
                continue
            mine = frames(child, lo, hi)
            theirs = [0] * len(mine)
            for plo, phi, _ in parent_maps:
                a, b = max(lo, plo), min(hi, phi)
                if a < b:
                    got = frames(parent, a, b)
                    start = (a - lo) // PAGE
                    theirs[start : start + len(got)] = got
            theirs = theirs[: len(mine)]
            for k, (pfn, other) in enumerate(zip(mine, theirs, strict=True)):
                if not pfn:
                    continue
                kpc.seek(pfn * 8)
                (count,) = struct.unpack("Q", kpc.read(8))
                if count != 1:
                    continue
                where = "pre-fork address" if other else "new address"
                key = f"{kind(name)}, {where}"
                counts[key] = counts.get(key, 0) + 1
                if other and diff is not None:
                    addr = lo + k * PAGE
                    changed = changed_words(child, parent, addr)
                    diff.setdefault(kind(name), []).append(changed)
                    cls = "0-4" if changed[0] <= 4 else "5-64" if changed[0] <= 64 else "65+"
                    ADDRESSES.setdefault(child, {}).setdefault(cls, []).append(addr)
    return {k: v * PAGE / 2**20 for k, v in sorted(counts.items())}


def changed_words(child: int, parent: int, addr: int) -> tuple[int, int]:
    """(words that differ, of them small deltas as a reference count's) between the two
    processes' pages at ``addr`` (the parent's page as it is now)."""
    pages = []
    for pid in (child, parent):
        with open(f"/proc/{pid}/mem", "rb") as f:
            f.seek(addr)
            pages.append(f.read(PAGE))
    a = struct.unpack(f"{PAGE // 8}Q", pages[0])
    b = struct.unpack(f"{PAGE // 8}Q", pages[1])
    changed = small = 0
    for x, y in zip(a, b, strict=True):
        if x != y:
            changed += 1
            if x < 1 << 32 and y < 1 << 32 and abs(x - y) < 4096:
                small += 1
    return changed, small


def diff_summary(diff: dict[str, list[tuple[int, int]]]) -> dict[str, Any]:
    out = {}
    for name, pages in diff.items():
        bins = {"0": 0, "1-4": 0, "5-16": 0, "17-64": 0, "65-256": 0, "257+": 0}
        for changed, _ in pages:
            label = (
                "0" if changed == 0 else "1-4" if changed <= 4 else "5-16" if changed <= 16
                else "17-64" if changed <= 64 else "65-256" if changed <= 256 else "257+"
            )  # fmt: skip
            bins[label] += 1
        words = sum(c for c, _ in pages)
        small = sum(s for _, s in pages)
        out[name] = {"pages": len(pages), "by changed words": bins, "words": words,
                     "small deltas": small}  # fmt: skip
    return out


def snapshot(root: int, folder: Path, tag: str) -> dict[str, Any]:
    pids = sorted(process_tree(root))
    main = root  # the launched process is the worker's main process (run_service)
    children = [p for p in pids if p != main]
    (folder / "tag").write_text(tag)
    for pid in children:
        os.kill(pid, signal.SIGWINCH)
    out: dict[str, Any] = {"tag": tag, "processes": {}}
    for pid in pids:
        entry: dict[str, Any] = {"rollup": rollup(pid), "files": file_pss(pid)}
        if pid != main:
            diff: dict[str, list[tuple[int, int]]] | None = {} if DIFF else None
            entry["private"] = classify(pid, main, diff)
            if diff is not None:
                entry["diff"] = diff_summary(diff)
        out["processes"][pid] = entry
    deadline = time.monotonic() + 30
    reports = {}
    while time.monotonic() < deadline and len(reports) < len(children):
        for pid in children:
            path = folder / f"{pid}-{tag}.json"
            if pid not in reports and path.exists():
                with contextlib.suppress(ValueError):  # still being written
                    reports[pid] = json.loads(path.read_text())
        time.sleep(0.2)
    for pid, data in reports.items():
        out["processes"][pid]["probe"] = data
    return out


def show(snap: dict[str, Any]) -> None:
    print(f"\n== {snap['tag']}")
    total = 0.0
    for pid, entry in snap["processes"].items():
        r = entry["rollup"]
        total += r["Pss"]
        print(
            f"  {pid}: PSS {r['Pss']:.1f} (anon {r.get('Pss_Anon', 0):.1f}, file "
            f"{r.get('Pss_File', 0):.1f}), private dirty {r['Private_Dirty']:.1f}, "
            f"RSS {r['Rss']:.1f} MiB"
        )
        for k, v in entry.get("private", {}).items():
            print(f"      private {k:<28} {v:7.1f} MiB")
        files = sorted(entry.get("files", {}).items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{Path(k).name} {v:.1f}" for k, v in files[:6])
        print(f"      file PSS, largest: {shown}")
        for k, v in entry.get("diff", {}).items():
            print(f"      copied {k}: {v}")
        probe = entry.get("probe")
        if probe:
            mi, pm = probe["mallinfo2"], probe["pymalloc"]
            print(
                f"      threads {probe['os_threads']}, blocks {probe['blocks_at_fork']} -> "
                f"{probe['allocated_blocks']}, glibc in use {mi.get('uordblks', 0) / 2**20:.1f} "
                f"free {mi.get('fordblks', 0) / 2**20:.1f} mmapped {mi.get('hblkhd', 0) / 2**20:.1f}"
                f" MiB, pymalloc arenas {pm.get('arenas allocated current')} "
                f"(in blocks {pm.get('# bytes in allocated blocks', 0) / 2**20:.1f}, free blocks "
                f"{pm.get('# bytes in available blocks', 0) / 2**20:.1f}, unused pools "
                f"{pm.get('unused pools * 16384 bytes', pm.get('unused pools * 4096 bytes', 0)) / 2**20:.1f} MiB)"
            )
            print(
                f"      gc: frozen {probe['gc_freeze_count']}, unfrozen at the fork by generation "
                f"{probe.get('gc_unfrozen_at_fork')}, collections {[g['collections'] for g in probe.get('gc_stats', [])]}"
            )
            added = probe["modules_added"]
            print(f"      modules imported since the fork: {len(added)}: {' '.join(added[:60])}")
            searched = probe.get("imports_searched") or []
            if searched:
                shown = " ".join(f"{name}x{n}" for name, n in searched[:30])
                print(f"      imports that searched the path since the fork: {shown}")
            run = probe.get("functions_run") or []
            if run:
                shown = " ".join(f"{name} {n}" for name, n in run[:25])
                print(f"      functions run since the fork, by package: {shown}")
            if "traced" in probe:
                print(
                    f"      tracemalloc since the fork: {probe['traced']['current'] / 2**20:.2f} MiB"
                )
                for name, size, count in probe["by_package"][:12]:
                    print(f"        {size / 2**20:7.2f} MiB {count:>7} blocks  {name}")
                for line, size, count in probe["top_lines"][:15]:
                    print(f"        {size / 1024:8.0f} KiB {count:>7}  {line}")
    print(f"  total PSS {total:.0f} MiB")
    files: dict[str, float] = {}
    for entry in snap["processes"].values():
        for k, v in entry.get("files", {}).items():
            files[k] = files.get(k, 0.0) + v
    shown = ", ".join(
        f"{Path(k).name} {v:.1f}" for k, v in sorted(files.items(), key=lambda kv: -kv[1])[:8]
    )
    print(f"  file PSS of all the processes, largest: {shown}")


def attribution(folder: Path) -> None:
    """Ask one pool process which objects lie on the pages it copied (bench/pool_probe.py)."""
    if not ADDRESSES:
        return
    pid = max(ADDRESSES, key=lambda p: sum(len(v) for v in ADDRESSES[p].values()))
    (folder / f"pages-{pid}.json").write_text(json.dumps(ADDRESSES[pid]))
    os.kill(pid, signal.SIGURG)
    path = folder / f"{pid}-attribution.json"
    _wait(path.exists, 300, "the attribution")
    time.sleep(1)
    data = json.loads(path.read_text())
    print(f"\n== objects on the pages process {pid} copied (pages per object kind)")
    for cls, entry in data.items():
        print(f"  pages with {cls} changed words: {entry['pages']} "
              f"({entry['pages with a known object']} with a known object)")  # fmt: skip
        for label, n, total in entry["top"][:30]:
            print(f"    {n:6d} of {total:6d} pages holding a {label}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--broker", default=None, help="a Redis URL; default: embedded")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--tracemalloc", type=int, default=0, help="frames; 0: off")
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="write both snapshots here")
    parser.add_argument(
        "--trimmed", action="store_true", help="a third snapshot after malloc_trim in each"
    )
    parser.add_argument(
        "--diff", action="store_true", help="compare each copied page with the main process's"
    )
    parser.add_argument(
        "--calls",
        action="store_true",
        help="record every function each pool process runs (slow; --json keeps the names)",
    )
    args = parser.parse_args()
    args.project = args.project.resolve()
    global DIFF
    DIFF = args.diff
    work = Path(tempfile.mkdtemp(prefix="newsalert-pool-memory-"))
    folder = work / "probe"
    folder.mkdir()
    feeds = Feeds(args.feeds, args.items)
    smtp = SMTPServer()
    smtp.start()
    import bench.mail_all as mail_all

    mail_all.MODEL = MODEL
    config = write_config(work, feeds, smtp, mail_all=True)
    env = environment(args.project, config, args.broker)
    if args.tracemalloc:
        env["NEWSALERT_PROBE_TRACEMALLOC"] = str(args.tracemalloc)
    if args.calls:
        env["NEWSALERT_PROBE_CALLS"] = "1"
    log_path = work / "service.log"
    code = _RUN.format(bench=str(ROOT / "bench"), folder=str(folder), concurrency=args.concurrency)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=args.project, env=env,
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    snaps = []
    try:
        _wait(lambda: b"ready." in log_path.read_bytes(), args.timeout, "the worker")
        time.sleep(args.idle)
        snaps.append(snapshot(proc.pid, folder, "idle"))
        show(snaps[-1])
        feeds.arm()
        total = feeds.n * args.items
        _wait(lambda: len(smtp.messages) >= total, args.timeout, f"{total} e-mails")
        time.sleep(2)
        snaps.append(snapshot(proc.pid, folder, "storm"))
        show(snaps[-1])
        if args.trimmed:
            # the probe makes each pool process call malloc_trim(0) before it reports
            (folder / "tag").write_text("storm-trimmed")
            for pid in sorted(process_tree(proc.pid)):
                if pid != proc.pid:
                    os.kill(pid, signal.SIGWINCH)
            time.sleep(3)
            snaps.append(snapshot(proc.pid, folder, "storm, then trimmed"))
            show(snaps[-1])
        if DIFF:
            attribution(folder)
    finally:
        stop_worker(proc)
        smtp.stop()
        feeds.close()
        if args.json:
            args.json.write_text(json.dumps(snaps, indent=1))
        if os.environ.get("KEEP"):
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
