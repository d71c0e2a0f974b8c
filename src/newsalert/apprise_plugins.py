"""Load only the apprise plugins a process uses (issue 19: worker memory).

apprise 2.3 imports every one of its plugins (217 ``apprise.plugins`` modules, 468 with
what they import; 14.6 MiB of Python heap) the first time anything asks its plugin
registry, the singleton ``N_MGR``, about a scheme. :func:`ensure_url` is called before apprise parses a URL
(``delivery._instantiate``) and loads just the plugin module of that URL's scheme, so a
process that only sends e-mail imports the e-mail plugin and nothing else.

How: ``N_MGR.load_modules(path, name)`` lists ``path`` and imports ``<name>.<file>`` for
every file there, registering its plugin exactly as for the real plugin folder. It is
pointed at a temporary folder holding one empty file named like the plugin module wanted
(``email``, ``slack``...), with ``name`` the real package (``apprise.plugins``): apprise
imports the real module, and, having loaded a folder, counts its registry as loaded, so it
no longer imports the other 467. The scheme -> module map this needs comes from importing
everything once, in a child process (the worker does not pay for it), and is cached in
``<cache dir>/apprise-schemes-<hash>.json`` (hash of apprise's version and plugin folder).

Anything doubtful loads every plugin, as apprise would have: a scheme not in the map
(``https://`` native URLs such as Slack webhooks are parsed by scanning every plugin),
a URL without a scheme, an apprise that is not 2.x, a map that cannot be built, a module
that did not register. Nothing here raises: delivery and the config check see apprise
exactly as before, only with fewer modules imported when that is safe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import apprise
from apprise.plugins import N_MGR

from newsalert import cachedir
from newsalert.cachedir import default_cache_dir

log = logging.getLogger(__name__)

__all__ = ["all_loaded", "ensure_url", "load_all", "scheme_map"]

# apprise's own pattern for the scheme of a URL (apprise.utils.parse.GET_SCHEMA_RE, 2.3)
_SCHEME = re.compile(r"\s*(?P<schema>[a-z0-9]{1,32})://", re.I)
_MODULE_NAME = re.compile(r"(?!base|_)[a-z0-9_]+")  # what load_modules imports from a folder
_LOCK = threading.RLock()
_SCHEMES: dict[str, str] | None = None  # scheme -> plugin module; {} when not available
_OURS: set[str] = set()  # plugin modules registered here (their later full load is quiet)

# Builds the map in a child: every plugin imported, each scheme by the module apprise
# registered it from (the key of N_MGR's module map, the file or folder name).
_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
import apprise
from apprise.plugins import N_MGR
N_MGR.load_modules()
owner = {}
for key, meta in N_MGR._module_map.items():
    if meta.get("native"):
        for plugin in meta["plugin"]:
            owner[id(plugin)] = key
schemes = {s: owner[id(p)] for s, p in N_MGR._schema_map.items() if id(p) in owner}
print(json.dumps({"apprise": apprise.__version__, "path": N_MGR.module_path,
                  "schemes": schemes}))
"""


def supported() -> bool:
    """True for the apprise this was written against (2.x, whose registry has these)."""
    return str(getattr(apprise, "__version__", "")).startswith("2.") and all(
        hasattr(N_MGR, a) for a in ("load_modules", "module_path", "_loaded", "_module_map")
    )


def all_loaded() -> bool:
    """Whether apprise's registry holds every plugin (its own plugin folder loaded)."""
    try:
        return N_MGR.module_path in N_MGR._loaded
    except Exception:
        return True  # another layout: apprise loads as it always does


def ensure_url(url: Any) -> None:
    """Make apprise's registry know the plugin of ``url``'s scheme, importing as little as
    is safe (see the module doc). Never raises."""
    try:
        if not supported() or all_loaded():
            return
        match = _SCHEME.match(url) if isinstance(url, str) else None
        module = scheme_map().get(match.group("schema").lower()) if match else None
        if module is None:
            load_all()
        else:
            _load_module(module)
    except Exception as exc:  # never a reason for a send or a config check to fail
        log.warning("apprise plugins: loading all of them (%s: %s)", type(exc).__name__, exc)
        load_all()


def load_all() -> None:
    """Every plugin, as apprise loads them by itself. Never raises (apprise then loads
    lazily, as without this module)."""
    try:
        with _LOCK:
            if not all_loaded():
                N_MGR.load_modules()
    except Exception as exc:
        log.warning("apprise plugins: loading all failed (%s: %s)", type(exc).__name__, exc)


def _load_module(module: str) -> None:
    with _LOCK:
        registry = N_MGR._module_map
        if registry and module in registry:
            return
        with tempfile.TemporaryDirectory(prefix="newsalert-apprise-") as folder:
            # no .py: should the real import fail, apprise cannot load this empty file instead
            Path(folder, module).touch()
            N_MGR.load_modules(path=folder, name=N_MGR.module_name_prefix)
        if module not in (N_MGR._module_map or {}):
            log.warning("apprise plugins: %s did not register; loading all of them", module)
            load_all()
            return
        _OURS.add(module)


# --- the scheme -> module map, cached per apprise version ------------------------------------


def scheme_map() -> dict[str, str]:
    """Every scheme apprise knows -> the plugin module registering it; {} if not available
    (then every URL loads all). Read from the cache, else built in a child process."""
    global _SCHEMES
    with _LOCK:
        if _SCHEMES is None:
            try:
                _SCHEMES = _cached_map()
            except Exception as exc:
                log.warning(
                    "apprise plugins: no scheme map (%s: %s); loading all of them",
                    type(exc).__name__,
                    exc,
                )
                _SCHEMES = {}
        return _SCHEMES


def cache_path() -> Path:
    """``<cache dir>/apprise-schemes-<hash>.json``: apprise's version and plugin folder."""
    folder = N_MGR.module_path
    digest = hashlib.sha256()
    for part in (apprise.__version__, folder, *sorted(os.listdir(folder))):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return default_cache_dir() / f"apprise-schemes-{digest.hexdigest()[:16]}.json"


def _cached_map() -> dict[str, str]:
    path = cache_path()
    try:
        schemes = _valid(json.loads(path.read_text(encoding="utf-8")))
        if schemes:
            cachedir.touch(path)  # in use: another install's cleanup keeps it
            return schemes
        log.warning("apprise plugins: rebuilding %s (not a scheme map)", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("apprise plugins: rebuilding %s (%s)", path, exc)
    schemes = _build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".apprise-schemes-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(
                    {"apprise": apprise.__version__, "path": N_MGR.module_path, "schemes": schemes},
                    f,
                    sort_keys=True,
                )
            os.replace(tmp, path)  # atomic: concurrent builders never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:  # a read-only home: work on, rebuild next start
        log.warning("apprise scheme map not cached (%s): set XDG_CACHE_HOME", exc)
        return schemes
    # each apprise version and install (venv) has its own map: the others', once unread
    # for a day, are left over from an upgrade or a removed venv
    cachedir.remove_stale(path, _CACHE_FILES)
    return schemes


_CACHE_FILES = re.compile(r"apprise-schemes-[0-9a-f]{16}\.json")


def _valid(data: Any) -> dict[str, str] | None:
    """The schemes of a map written for this very apprise; None for anything else."""
    if not isinstance(data, dict) or data.get("apprise") != apprise.__version__:
        return None
    if data.get("path") != N_MGR.module_path:
        return None
    schemes = data.get("schemes")
    if not isinstance(schemes, dict):
        return None
    if not all(isinstance(s, str) and isinstance(m, str) for s, m in schemes.items()):
        return None
    if not all(_MODULE_NAME.fullmatch(m) for m in schemes.values()):
        return None
    # a scheme apprise's parser cannot read from a URL is never looked up: left out
    usable = {s: m for s, m in schemes.items() if _SCHEME.fullmatch(f"{s}://")}
    return usable or None


def _build() -> dict[str, str]:
    """The map, from a child process that imports every plugin (this one imports none)."""
    package_parent = str(Path(apprise.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, package_parent],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the child exited {done.returncode}: {done.stderr.strip()[-300:]}")
    lines = done.stdout.strip().splitlines()
    schemes = _valid(json.loads(lines[-1])) if lines else None
    if not schemes:
        raise RuntimeError("the child's map is not for this apprise")
    return schemes


def _quiet_own_modules(record: logging.LogRecord) -> bool:
    """Drops apprise's "already loaded; ignoring" warning for a module registered here:
    the full load then skips it, as it must (same module, same plugin class)."""
    if record.msg == "%s(s) (%s) already loaded; ignoring %s":
        args = record.args
        if isinstance(args, tuple) and len(args) == 3 and args[1] in _OURS:
            return False
    return True


logging.getLogger(apprise.LOGGER_NAME).addFilter(_quiet_own_modules)
