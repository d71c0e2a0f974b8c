"""Hot reload without Celery: a bad change is rejected whole, the old config keeps running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsalert.errors import ConfigError
from newsalert.reload import ConfigWatcher

GOOD = """\
rules: {rules}
subscribers:
  - name: desk
    urls: ["json://127.0.0.1:9/x"]
    min_score: {min_score}
"""
RULES = "include:\n  - name: {name}\n    terms: [{term}]\n"


def write(path: Path, text: str) -> None:
    """Write and move the mtime on, as an editor a second later would."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config, rules = tmp_path / "newsalert.yaml", tmp_path / "desk-rules.yaml"
    write(rules, RULES.format(name="troops", term="troops"))
    write(config, GOOD.format(rules="desk-rules.yaml", min_score=0.5))
    return config, rules


def test_a_bad_reload_keeps_the_old_config_running(files: tuple[Path, Path]) -> None:
    config, _ = files
    watcher = ConfigWatcher(config, environ={})
    first = watcher.current()
    assert first.subscriber("desk").min_score == 0.5
    assert watcher.current() is first  # unchanged: not reloaded

    # a typo in a key: the whole file is rejected, the running config stays
    write(
        config, GOOD.format(rules="desk-rules.yaml", min_score=0.7).replace("min_score", "min_scor")
    )
    assert watcher.current() is first
    assert isinstance(watcher.error, ConfigError)
    assert "min_scor" in str(watcher.error)
    assert watcher.current() is first and watcher.reloads == 0  # rejected once, not retried

    # an invalid value together with a valid change: still nothing of it applies
    write(config, GOOD.format(rules="desk-rules.yaml", min_score=7))
    assert watcher.current() is first

    # fixed: the new config runs, the error is gone
    write(config, GOOD.format(rules="desk-rules.yaml", min_score=0.7))
    second = watcher.current()
    assert second is not first and second.subscriber("desk").min_score == 0.7
    assert watcher.error is None and watcher.reloads == 1


def test_the_rules_file_the_config_names_is_watched_too(files: tuple[Path, Path]) -> None:
    config, rules = files
    watcher = ConfigWatcher(config, environ={})
    first = watcher.current()
    assert [r.name for r in first.rules.include] == ["troops"]
    write(rules, "include:\n  - name: broken\n    regex: '(unclosed'\n")
    assert watcher.current() is first and watcher.error is not None
    write(rules, RULES.format(name="tanks", term="tanks"))
    assert [r.name for r in watcher.current().rules.include] == ["tanks"]


def test_a_config_that_never_loaded_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "newsalert.yaml"
    write(config, "feeds: 3\n")
    with pytest.raises(ConfigError):
        ConfigWatcher(config, environ={}).current()
