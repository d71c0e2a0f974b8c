"""In-process probe of a worker's pool processes, for ``bench/pool_memory.py`` (Linux only).

``install(folder)`` runs in the worker's main process before the service starts: each pool
process, once forked (``worker_process_init``), notes the modules it inherited and the
Python heap's block count, optionally starts tracemalloc (``NEWSALERT_PROBE_TRACEMALLOC=N``
frames), and on SIGWINCH writes ``folder/<pid>-<tag>.json`` (``tag`` read from
``folder/tag``): the modules imported since the fork, glibc's ``mallinfo2``, pymalloc's
arenas (``sys._debugmallocstats``), threads, and tracemalloc's largest allocations made
since the fork, by file and line and by package (a tag ending in "trimmed": after
``malloc_trim(0)``). On SIGURG it writes which objects lie on the pages listed in
``folder/pages-<pid>.json`` (``attribute``; it unfreezes the heap, so it comes last).
SIGUSR1 is billiard's soft time limit in a pool process, hence these two signals. The probe
is a bench tool: the product never imports it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import json
import os
import re
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {}


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def mallinfo() -> dict[str, int]:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {name: int(getattr(info, name)) for name, _ in _MallInfo2._fields_}


_ARENA_LINES = re.compile(
    r"^# (arenas allocated total|arenas reclaimed|arenas highwater mark|arenas allocated current)"
    r"\s*=\s*([\d,]+)|^(Total|# bytes in allocated blocks|# bytes in available blocks"
    r"|\d+ unused pools \* \d+ bytes|# bytes lost to pool headers|# bytes lost to quantization"
    r"|# bytes lost to arena alignment)\s*=\s*([\d,]+)",
    re.M,
)


def pymalloc_stats() -> dict[str, int]:
    """The summary lines of ``sys._debugmallocstats()`` (it writes to fd 2)."""
    with tempfile.TemporaryFile("w+") as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    found = {}
    for m in _ARENA_LINES.finditer(text):
        key, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found[re.sub(r"^\d+ ", "", key)] = int(value.replace(",", ""))
    return found


def _package(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            if marker == "/lib/python3":
                rest = "stdlib:" + rest.split("/", 1)[1] if "/" in rest else rest
                return rest.split("/")[0].removesuffix(".py")
            return rest.split("/")[0].removesuffix(".py")
    return filename


def report(folder: Path) -> None:
    import tracemalloc

    tag = (folder / "tag").read_text().strip() if (folder / "tag").exists() else "now"
    if tag.endswith("trimmed"):  # glibc's malloc_trim(0) first: what trimming gives back
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    out: dict[str, Any] = {
        "pid": os.getpid(),
        "tag": tag,
        "threads": threading.active_count(),
        "os_threads": len(os.listdir("/proc/self/task")),
        "allocated_blocks": sys.getallocatedblocks(),
        "blocks_at_fork": _STATE.get("blocks"),
        "gc_freeze_count": gc.get_freeze_count(),
        "gc_count": gc.get_count(),
        "gc_unfrozen_at_fork": _STATE.get("unfrozen_at_fork"),
        "gc_stats": gc.get_stats(),
        "mallinfo2": mallinfo(),
        "pymalloc": pymalloc_stats(),
    }
    before = _STATE.get("modules", set())
    added = sorted(set(sys.modules) - before)
    out["modules_added"] = added
    searched = _STATE.get("searched", {})
    out["imports_searched"] = sorted(searched.items(), key=lambda e: -e[1])[:60]
    if "called" in _STATE:
        by_pkg_called: dict[str, int] = {}
        for code in list(_STATE["called"]):
            pkg = _package(code.co_filename)
            by_pkg_called[pkg] = by_pkg_called.get(pkg, 0) + 1
        out["functions_run"] = sorted(by_pkg_called.items(), key=lambda e: -e[1])
        out["functions_run_names"] = sorted(
            f"{_package(c.co_filename)}:{c.co_qualname}" for c in list(_STATE["called"])
        )
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        current, peak = tracemalloc.get_traced_memory()
        out["traced"] = {"current": current, "peak": peak}
        out["top_lines"] = [
            [str(s.traceback[0]), s.size, s.count] for s in snap.statistics("lineno")[:40]
        ]
        by_pkg: dict[str, list[int]] = {}
        for s in snap.statistics("filename"):
            entry = by_pkg.setdefault(_package(s.traceback[0].filename), [0, 0])
            entry[0] += s.size
            entry[1] += s.count
        out["by_package"] = sorted(([k, *v] for k, v in by_pkg.items()), key=lambda e: -e[1])
        if int(os.environ.get("NEWSALERT_PROBE_TRACEMALLOC", "1")) > 1:
            out["top_tracebacks"] = [
                [[str(f) for f in s.traceback][-8:], s.size, s.count]
                for s in snap.statistics("traceback")[:15]
            ]
    (folder / f"{os.getpid()}-{tag}.json").write_text(json.dumps(out, indent=1))


def install(folder: str) -> None:
    from celery import signals

    path = Path(folder)

    @signals.worker_process_init.connect(weak=False)
    def _child(**_: Any) -> None:
        _STATE["modules"] = set(sys.modules)
        _STATE["blocks"] = sys.getallocatedblocks()
        _STATE["unfrozen_at_fork"] = [len(gc.get_objects(g)) for g in range(3)]
        # imports that searched the path since the fork (the module not loaded: a first
        # import, or a failing one tried again): each touches the path's finders
        searched: dict[str, int] = {}
        _STATE["searched"] = searched

        def _audit(event: str, args: Any) -> None:
            if event == "import" and args[0] not in sys.modules:
                searched[args[0]] = searched.get(args[0], 0) + 1

        sys.addaudithook(_audit)
        if os.environ.get("NEWSALERT_PROBE_CALLS"):
            # every function run since the fork, once (slow: attribution only)
            called: set[Any] = set()
            _STATE["called"] = called

            def _profile(frame: Any, event: str, arg: Any) -> None:
                if event == "call":
                    called.add(frame.f_code)

            sys.setprofile(_profile)
            threading.setprofile(_profile)
        frames = int(os.environ.get("NEWSALERT_PROBE_TRACEMALLOC", "0"))
        if frames:
            import tracemalloc

            tracemalloc.start(frames)
        signal.signal(signal.SIGWINCH, lambda *_: _safe_report(path))
        signal.signal(signal.SIGURG, lambda *_: _safe_attribute(path))

    # the main process answers SIGWINCH too (its modules, heap), unless Celery takes it
    signal.signal(signal.SIGWINCH, lambda *_: _safe_report(path))


def _safe_report(path: Path) -> None:
    with contextlib.suppress(Exception):
        report(path)


def _label(obj: Any) -> str:
    kind = type(obj)
    name = kind.__name__
    if name in ("function", "code", "cell", "method"):
        code = getattr(obj, "__code__", obj if name == "code" else None)
        filename = getattr(code, "co_filename", "") if code is not None else ""
        return f"{name} {_package(filename)}" if filename else name
    if name == "dict":
        return "dict"
    if name in ("module", "ModuleSpec", "SourceFileLoader", "ExtensionFileLoader"):
        # which package's import metadata: touched by imports run after the fork
        spec_name = getattr(obj, "name", None) or getattr(obj, "__name__", "") or ""
        return f"{name} {str(spec_name).split('.')[0]}"
    if name == "type" or isinstance(obj, type):
        return "type"
    module = getattr(kind, "__module__", "") or ""
    return f"{name} ({module.split('.')[0]})" if module not in ("builtins", "") else name


def attribute(folder: Path) -> None:
    """Which objects lie on the pages the bench found copied (``pages-<pid>.json``: lists
    of page addresses by class): pages per object label, each label once per page. Runs
    last: it unfreezes the heap and touches every object."""
    pages_file = folder / f"pages-{os.getpid()}.json"
    classes = json.loads(pages_file.read_text())
    page = os.sysconf("SC_PAGE_SIZE")
    wanted = {name: {a // page for a in addrs} for name, addrs in classes.items()}
    gc.unfreeze()
    containers = gc.get_objects()
    seen = {id(o) for o in containers}
    extra = []
    for start in range(0, len(containers), 1000):
        for ref in gc.get_referents(*containers[start : start + 1000]):
            if id(ref) not in seen:
                seen.add(id(ref))
                extra.append(ref)
    tallies: dict[str, dict[str, int]] = {name: {} for name in wanted}
    hit_pages: dict[str, set[int]] = {name: set() for name in wanted}
    totals: dict[str, int] = {}
    all_pages: set[tuple[int, str]] = set()
    for obj in (*containers, *extra):
        try:
            size = sys.getsizeof(obj)
        except Exception:
            continue
        spans = [(id(obj) - (16 if type(obj).__flags__ & (1 << 14) else 0), size)]
        label = _label(obj)
        data = None
        with contextlib.suppress(Exception):
            if type(obj).__name__ == "ndarray" and obj.base is None:
                data = (obj.ctypes.data, obj.nbytes, "ndarray data")
            elif type(obj).__name__ == "array":
                address, n = obj.buffer_info()
                data = (address, n * obj.itemsize, "array data")
        if data is not None:
            spans.append((data[0], data[1]))
            # getsizeof counts the buffer too, which lies elsewhere: the object's own span
            # is its header only (else a big array "covers" the pages after it)
            spans[0] = (spans[0][0], max(1, size - data[1]))
        for k, (start, length) in enumerate(spans):
            first, last = start // page, (start + max(length, 1) - 1) // page
            name_here = label if k == 0 else data[2]  # type: ignore[index]
            for p in range(first, last + 1):
                if (p, name_here) not in all_pages:
                    all_pages.add((p, name_here))
                    totals[name_here] = totals.get(name_here, 0) + 1
                for cls, pages in wanted.items():
                    if p in pages:
                        tally = tallies[cls]
                        key = (p, name_here)
                        if key not in hit_pages[cls]:
                            hit_pages[cls].add(key)  # type: ignore[arg-type]
                            tally[name_here] = tally.get(name_here, 0) + 1
    out = {}
    for cls, tally in tallies.items():
        covered = {p for p, _ in hit_pages[cls]}  # type: ignore[misc]
        out[cls] = {
            "pages": len(wanted[cls]),
            "pages with a known object": len(covered),
            "top": [
                (k, v, totals.get(k, 0)) for k, v in sorted(tally.items(), key=lambda e: -e[1])[:40]
            ],
        }
    (folder / f"{os.getpid()}-attribution.json").write_text(json.dumps(out, indent=1))


def _safe_attribute(path: Path) -> None:
    with contextlib.suppress(Exception):
        attribute(path)
