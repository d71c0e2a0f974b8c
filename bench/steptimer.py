"""Time steps of the pipeline by wrapping methods, for the benchmarks (mail_all, storm_cpu).

``time_step(owner, "name", "step", spent)`` replaces ``owner.name`` with a pass-through
that adds the time each call took to ``spent["step"]`` (seconds). ``clock`` is what is
read: ``time.perf_counter`` (wall, the default) or ``time.thread_time`` (this thread's
CPU). Callers restore class attributes they wrapped themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def time_step(
    owner: Any,
    name: str,
    step: str,
    spent: dict[str, float],
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    real = getattr(owner, name)

    def wrapper(*a: Any, **kw: Any) -> Any:
        t = clock()
        try:
            return real(*a, **kw)
        finally:
            spent[step] = spent.get(step, 0.0) + clock() - t

    setattr(owner, name, wrapper)
