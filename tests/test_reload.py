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


def test_a_truncated_or_odd_file_never_replaces_the_running_config(
    files: tuple[Path, Path],
) -> None:
    config, _ = files
    watcher = ConfigWatcher(config, environ={})
    first = watcher.current()
    write(config, "")  # an editor's truncate-then-write, caught in between
    assert watcher.current() is first and "the file is empty" in str(watcher.error)
    write(config, 'rules: "desk\\0rules.yaml"\n')  # a NUL in a path: a ValueError inside
    assert watcher.current() is first and "(file)" in str(watcher.error)
    write(config, GOOD.format(rules="desk-rules.yaml", min_score=0.6))
    assert watcher.current().subscriber("desk").min_score == 0.6 and watcher.error is None


def test_a_rejected_config_naming_a_new_rules_file_picks_up_its_fix(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new config names rules2.yaml, which has a typo: rejected. Fixing rules2.yaml
    changes no file the running config names, yet the fix is loaded (on the next read
    of the rejected config, at most REJECTED_RETRY seconds later)."""
    import newsalert.reload as reload

    config, _ = files
    rules2 = config.parent / "rules2.yaml"
    watcher = ConfigWatcher(config, environ={})
    first = watcher.current()
    write(rules2, "include:\n  - name: r2\n    term: [militia]\n")  # typo: term
    write(config, GOOD.format(rules="rules2.yaml", min_score=0.5))
    assert watcher.current() is first and "term" in str(watcher.error)
    write(rules2, RULES.format(name="r2", term="militia"))
    clock = [reload.time.monotonic()]
    monkeypatch.setattr(reload.time, "monotonic", lambda: clock[0])
    assert watcher.current() is first  # not yet: the rejected config is not re-read at once
    clock[0] += reload.REJECTED_RETRY + 1
    loaded = watcher.current()
    assert loaded is not first and watcher.error is None
    assert loaded.rules_path == rules2


def test_a_reload_with_a_url_check_refuses_is_rejected(files: tuple[Path, Path]) -> None:
    config, _ = files
    watcher = ConfigWatcher(config, environ={})
    first = watcher.current()
    write(config, GOOD.format(rules="desk-rules.yaml", min_score=0.5).replace("json://", "foo://"))
    assert watcher.current() is first
    assert "subscribers[0].urls[0]" in str(watcher.error)
