"""Where newsalert caches what it builds once per machine (the gazetteer, the language
model, apprise's scheme map): ``$XDG_CACHE_HOME/newsalert``, else ``~/.cache/newsalert``;
and how a mapped cache file is loaded or built. Imports nothing heavy, so any module can
ask."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from newsalert import mapfile

log = logging.getLogger(__name__)

STALE_AFTER = 24 * 3600.0  # seconds another build's cache file must lie unloaded
T = TypeVar("T")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsalert"


def touch(path: Path) -> None:
    """Mark ``path`` loaded now (its mtime): another build's cleanup keeps it."""
    # a cache folder shared read-only, another user's file: not marked, loaded all the same
    with contextlib.suppress(OSError):
        os.utime(path)


def remove_stale(current: Path, pattern: re.Pattern[str]) -> None:
    """Remove the files of ``current``'s folder named by ``pattern`` (other builds' cache
    files of the same thing), other than ``current``, that no process has loaded for
    ``STALE_AFTER``: an upgrade left them there for good. A process that has such a file
    open reads it whole all the same (an unlinked file lives while open, and
    ``mapfile.load`` opens it once); one that just wrote or loaded it has touched it, so
    two versions running side by side do not remove each other's file. Temporary files
    of a write in progress (a leading ``.``) must not match. Errors are ignored."""
    cutoff = time.time() - STALE_AFTER
    try:
        entries = list(os.scandir(current.parent))
    except OSError:
        return
    for entry in entries:
        if entry.name == current.name or not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                log.info("removed a stale cache file: %s", entry.path)
        except OSError:
            continue


def mapped(
    path: Path,
    load: Callable[[Path], T],
    build: Callable[[], T],
    *,
    stored: Callable[[T], Any] = lambda value: value,
    stale: re.Pattern[str],
    what: str,
) -> T:
    """What ``path`` (a ``mapfile``) holds, by ``load``; the file marked in use. A missing,
    torn, edited or unreadable file is rebuilt: ``build``, written (``stored`` of it) and
    loaded back, so a first start is served from the mapping as every later one; then
    other builds' files (``stale``) unloaded for a day go. Where the file cannot be
    written, the built value is used from memory."""
    try:
        value = load(path)
    except FileNotFoundError:
        pass
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, KeyError, TypeError,
            ValueError) as exc:  # fmt: skip
        log.warning("rebuilding %s: cached copy %s unreadable (%s)", what, path, exc)
    else:
        touch(path)
        return value
    value = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mapfile.dump(stored(value), path)
    except OSError as exc:  # a read-only home: work on, rebuild next start
        log.warning("%s not cached (%s): set XDG_CACHE_HOME to a writable place", what, exc)
        return value
    del value
    loaded = load(path)
    remove_stale(path, stale)  # only now that the new file is in place and loaded
    return loaded
