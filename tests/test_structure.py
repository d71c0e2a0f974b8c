"""The layout of the code: no import cycle between modules, and no module of the packages
split by issue 15 (``store``, ``stories``) growing past what one can read at once.

Why keep these guards: the split of ``stories`` and ``store`` (issue 15) needs the story
index (``store.storystore``) to import the story data while the desk imports the index;
an eager import in the wrong ``__init__`` makes that a cycle that only fails when a
module is imported first (a worker, a script), never in the tests' usual order. The size
guard keeps the next features from growing a module back into a room too big to see.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

SOURCES = [ROOT / "src" / "newsalert", ROOT / "workers"]
MAX_LINES = 600
# the packages split by issue 15: they stay in rooms one can see at once. (Not every
# module: one that grows past the line in a parallel change should be split in a
# change of its own, not fail the other's merge.)
GUARDED = ("newsalert.store", "newsalert.stories")


def _modules() -> dict[str, Path]:
    found = {}
    for top in SOURCES:
        base = top.parent
        for path in sorted(top.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _module_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """What importing the module runs at once: imports outside functions and outside
    ``if TYPE_CHECKING:``, each with the packages its import initialises."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets.add(base)
                targets.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.With | ast.ClassDef):
                visit(node.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    edges = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            # (its own packages are initialised before it: no edge back to them)
            if prefix in known and prefix != name and not name.startswith(f"{prefix}."):
                edges.add(prefix)
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_import_cycle_at_import_time() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _module_level_imports(path, name, known) for name, path in modules.items()}
    # the package roots import nothing that imports them back
    graph = {
        n: {t for t in edges if t not in ("newsalert", "workers")} for n, edges in graph.items()
    }
    assert "newsalert.store.storystore" in graph["newsalert.stories.desk"]  # the walk sees it
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_split_modules_import_alone_in_a_fresh_interpreter() -> None:
    """The modules whose order matters (the story index imports story data, the desk
    imports the index): each first in a fresh interpreter, as a worker might."""
    for name in ("newsalert.store.storystore", "newsalert.stories.desk", "newsalert.store"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {name}; from newsalert.stories import StoryDesk"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"import {name} first: {done.stderr[-2000:]}"


def test_no_module_of_the_split_packages_over_600_lines() -> None:
    too_long = {
        name: n
        for name, path in _modules().items()
        if name.startswith(GUARDED)
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these modules (over {MAX_LINES} lines): {too_long}"


def test_poll_once_does_not_import_what_only_the_service_uses() -> None:
    """`poll --once` starts in a fresh interpreter every time: the modules only the Celery
    service or the metrics endpoint use (Celery's tracer, ``http.server``) and httpx's
    command-line client (click, pygments) stay unloaded by the CLI, the pipeline and
    logging set-up."""
    code = (
        "import sys\n"
        "import newsalert.cli, newsalert.pipeline\n"
        "from newsalert import logs\n"
        "logs.setup(20, 'text')\n"
        "unused = ('celery', 'celery.app.trace', 'http.server', 'click', 'pygments')\n"
        "print(sorted(m for m in unused if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
