"""Where newsalert caches what it builds once per machine (the gazetteer, apprise's scheme
map): ``$XDG_CACHE_HOME/newsalert``, else ``~/.cache/newsalert``. Imports nothing heavy,
so any module can ask."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsalert"
