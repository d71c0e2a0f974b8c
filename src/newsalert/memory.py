"""Give freed heap memory back to the system (glibc's ``malloc_trim``), throttled.

CPython frees small objects into its own arenas and large ones into glibc's heap, which keeps
freed pages mapped: a worker process that once held a big batch keeps its peak size. In the
worker's main process before the pool forks, trimming means the children do not inherit
(and later copy) the garbage of loading the model; in a pool process after tasks, it returns
what a busy minute left behind. ``malloc_trim(0)`` costs 0.01 ms when nothing is free and
about 0.35 ms (4 ms at worst) after a burst of allocations, measured on a worker's heap. After
tasks it runs at most once per ``MIN_INTERVAL`` seconds per process, and a task that comes
sooner schedules one trim for when the interval is over (a timer thread): the last task of
a burst is followed by a trim within ``MIN_INTERVAL``, not only when the next task comes.
Measured in a worker's pool after an alert storm (``bench/pool_memory.py --trimmed``): pool
processes held 1-13 MiB each of freed glibc heap that a trim gave back (345 -> 318 MiB of
PSS for the worker), the interval then being 30 s with no trailing trim.

Anything but glibc (musl, macOS, Windows): ``trim`` does nothing and returns False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ARENAS", "MIN_INTERVAL", "limit_arenas", "maybe_trim", "trim"]

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0  # seconds between two trims after tasks, per process
ARENAS = 2  # glibc malloc arenas per process (its default: 8 per core)
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)

_lock = threading.Lock()
_last: dict[int, float] = {}  # pid -> monotonic time of its last trim after a task
_pending: dict[int, Any] = {}  # pid -> its scheduled trailing trim (a started Timer)
_UNSET: object = object()
_malloc_trim: Any = _UNSET  # the function, None (not glibc), or _UNSET


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def _load() -> Callable[[int], int] | None:
    global _malloc_trim
    if _malloc_trim is _UNSET:
        found = None
        libc = _libc()
        if libc is not None:
            try:
                found = libc.malloc_trim  # only glibc has it
                found.argtypes = [ctypes.c_size_t]
                found.restype = ctypes.c_int
            except AttributeError:
                found = None
        _malloc_trim = found
    return _malloc_trim  # type: ignore[return-value]


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most ``arenas`` glibc malloc arenas in this process and the ones it forks
    (``mallopt(M_ARENA_MAX)``, what ``MALLOC_ARENA_MAX`` sets at start). glibc gives each
    thread that allocates at once its own arena, up to 8 per core: a pool process's fetch
    threads then leave freed memory in several heaps that are each only partly trimmed.
    An explicit ``MALLOC_ARENA_MAX`` in the environment is left alone. True when set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None) if libc is not None else None
    if mallopt is None:
        return False
    try:
        return bool(mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(arenas)))
    except Exception as exc:  # never fatal
        log.debug("mallopt failed: %s", exc)
        return False


def trim() -> bool:
    """``malloc_trim(0)`` now; True when glibc released memory, False otherwise."""
    fn = _load()
    if fn is None:
        return False
    try:
        return bool(fn(0))
    except Exception as exc:  # never fatal: memory is only given back later
        log.debug("malloc_trim failed: %s", exc)
        return False


def maybe_trim(
    now: float | None = None,
    interval: float = MIN_INTERVAL,
    timer: Callable[[float, Callable[[], None]], Any] | None = None,
) -> bool:
    """``trim`` unless this process trimmed less than ``interval`` seconds ago (the first
    call only starts the clock: a process that just forked has nothing to give back). A
    call that comes too soon schedules one trim for when the interval is over, unless one
    is scheduled already, so that memory freed by the last of a burst of tasks is given
    back too. ``timer(delay, function)`` starts the delayed call (a daemon
    ``threading.Timer`` by default). True when it trimmed now."""
    now = time.monotonic() if now is None else now
    pid = os.getpid()
    with _lock:
        last = _last.get(pid)
        if last is None:
            _last[pid] = now
            return False
        if now - last < interval:
            if pid not in _pending:
                _pending[pid] = (timer or _start_timer)(last + interval - now, _trailing)
            return False
        _last[pid] = now
    trim()
    return True


def _trailing() -> None:
    """The scheduled trim: counts as this process's last trim."""
    with _lock:
        _pending.pop(os.getpid(), None)
        _last[os.getpid()] = time.monotonic()
    trim()


def _start_timer(delay: float, function: Callable[[], None]) -> threading.Timer:
    t = threading.Timer(max(delay, 0.0), function)
    t.daemon = True  # never holds up a pool process's exit
    t.start()
    return t
