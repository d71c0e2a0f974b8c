"""Hot reload of the config: a changed file is loaded whole or not at all.

``ConfigWatcher.current()`` returns the running config, reloading it first when
the config file or the rules file it names changed (modification time, size or
inode). A reload that fails validation is rejected whole: the old config keeps
running, the error is kept (and logged once per change) until a good file
replaces it. Pure: no Celery, no threads; the caller asks when it wants to know.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from newsalert.config import LoadedConfig, config_path, load_config, unforeseen_error
from newsalert.errors import ConfigError

log = logging.getLogger(__name__)

Stamp = tuple[int, ...]


def file_stamp(paths: list[Path]) -> Stamp:
    """A change marker for ``paths`` (a missing file counts as zeros)."""
    marks: list[int] = []
    for path in paths:
        try:
            st = os.stat(path)
            marks += [st.st_mtime_ns, st.st_size, st.st_ino]
        except OSError:
            marks += [0, 0, 0]
    return tuple(marks)


REJECTED_RETRY = 30.0  # seconds between reads of a rejected config whose files look unchanged


class ConfigWatcher:
    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        loader: Callable[[Path], LoadedConfig] | None = None,
    ) -> None:
        self.path = config_path(path)
        self._load = loader or (lambda p: load_config(p, environ))
        self._config: LoadedConfig | None = None
        self._stamp: Stamp | None = None
        self.error: ConfigError | None = None  # the last rejected reload, until a good one
        self.reloads = 0  # successful reloads after the first load
        self._retry_at = 0.0

    def _files(self) -> list[Path]:
        files = [self.path]
        if self._config is not None and self._config.rules_path != self._config.path:
            files.append(self._config.rules_path)
        else:
            files.append(self.path.parent / "rules.yaml")  # before the first load: the usual place
        return files

    def current(self) -> LoadedConfig:
        """The running config; raises ConfigError only when no config ever loaded."""
        stamp = file_stamp(self._files())
        # a rejected config is read again now and then even so: it may name another
        # rules file than the running one, whose fix these stamps do not see
        settled = self.error is None or time.monotonic() < self._retry_at
        if self._config is not None and stamp == self._stamp and settled:
            return self._config
        try:
            loaded = self._load(self.path)
        except Exception as exc:  # whatever a half-written or odd file raises
            if self._config is None:
                raise
            if self.error is None or str(exc) != str(self.error):
                log.error("config reload rejected, keeping the running config:\n%s", exc)
            self.error = exc if isinstance(exc, ConfigError) else unforeseen_error(self.path, exc)
            self._stamp, self._retry_at = stamp, time.monotonic() + REJECTED_RETRY
            return self._config
        first = self._config is None
        self._config, self.error = loaded, None
        self._stamp = file_stamp(self._files())  # the rules file may have moved
        if not first:
            self.reloads += 1
            log.info("config reloaded from %s", self.path)
        return loaded

    def changed(self) -> bool:
        """True when the files differ from what ``current`` last looked at."""
        return self._stamp is None or file_stamp(self._files()) != self._stamp
