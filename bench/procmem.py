"""Memory of this process and of a forked child, for the benchmarks (Linux only).

A worker loads its model, gazetteer and language detector before the pool forks; what
a pool process costs is what it has to copy of those pages once it works. ``in_child``
measures exactly that: fork, run the work, report the child's memory before and after.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable


def memory_kb() -> dict[str, int]:
    """RSS, PSS and private pages of this process (smaps_rollup), in kB."""
    out = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:", "Private_Clean:", "Private_Dirty:"):
                out[parts[0][:-1]] = int(parts[1])
    return out


def in_child(work: Callable[[], object]) -> tuple[dict[str, int], dict[str, int]]:
    """``memory_kb()`` of a forked child before and after it runs ``work``."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: work, report, leave without running the parent's exit code
        os.close(read)
        base = memory_kb()
        work()
        os.write(write, json.dumps([base, memory_kb()]).encode())
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.waitpid(pid, 0)
    base, now = json.loads(data)
    return base, now
