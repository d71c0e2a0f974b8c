"""Only the apprise plugins in use are imported (issue 19), and nothing else changes.

Each test runs a fresh interpreter (``subprocess``): which modules a process imports is
decided by the first URL it hands apprise, which this test process did long ago. The
cache of the scheme map goes to a folder of the test's own (``XDG_CACHE_HOME``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .smtpserver import SMTPServer

# what a child prints last: the apprise plugin modules it imported, and whether apprise
# counts every plugin as loaded
_REPORT = """
import json, sys
from newsalert import apprise_plugins
def report(**extra):
    plugins = sorted(m for m in sys.modules if m.startswith("apprise.plugins."))
    print(json.dumps({"plugins": plugins, "all": apprise_plugins.all_loaded(), **extra}))
"""
FULL = 150  # apprise 2.3 imports 217 apprise.plugins modules when it loads all of them


def run(code: str, cache: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", _REPORT + code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "newsalert").glob("apprise-schemes-*.json"))


SEND = """
from newsalert.delivery import Notifier
from newsalert.models import Message
message = Message(title="Flood warning", body="River at 7.2 m", body_format="text")
remote_id = Notifier(timeout=10).send(sys.argv[1], message)
report(remote_id=remote_id)
"""


def test_a_mailto_process_imports_only_the_e_mail_plugin_and_sends(
    smtp_server: SMTPServer, tmp_path: Path
) -> None:
    found = run(SEND, tmp_path, smtp_server.url())
    [message] = smtp_server.messages
    assert message["Subject"] == "Flood warning"
    assert found["remote_id"] == " ".join(message["Message-ID"].split())
    assert not found["all"]
    assert "apprise.plugins.email" in found["plugins"]
    assert len(found["plugins"]) <= 10, found["plugins"]  # a handful, not 217
    assert "apprise.plugins.slack" not in found["plugins"]  # _replies_kind imports none
    [cached] = cache_files(tmp_path)
    schemes = json.loads(cached.read_text())["schemes"]
    assert schemes["mailto"] == schemes["mailtos"] == "email"
    assert schemes["tgram"] == "telegram" and schemes["slack"] == "slack"

    again = run(SEND, tmp_path, smtp_server.url())  # from the cache: the same
    assert again["plugins"] == found["plugins"] and len(smtp_server.messages) == 2


CHECK = """
import logging
from newsalert.delivery import validate_url
heard = []
class Heard(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            heard.append(record.getMessage())
logging.getLogger("apprise").addHandler(Heard())
results = {}
for url in sys.argv[1:]:
    results[url] = validate_url(url)
    results[url + " all"] = apprise_plugins.all_loaded()
report(results=results, heard=heard)
"""


def test_an_unknown_scheme_loads_every_plugin_and_stays_a_clear_error(tmp_path: Path) -> None:
    mail = "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org"
    unknown = "nosuchservice://x/y"
    found = run(CHECK, tmp_path, mail, unknown, "json://127.0.0.1/hook")
    results = found["results"]
    assert results[mail] is None and not results[mail + " all"]  # the e-mail plugin only
    assert "unsupported scheme nosuchservice://" in results[unknown]
    assert results[unknown + " all"] and found["all"]
    assert len(found["plugins"]) > FULL
    assert results["json://127.0.0.1/hook"] is None
    # the full load after a partial one: apprise skips the module loaded already, quietly
    assert not [h for h in found["heard"] if "already loaded" in h or "mismatch" in h]


def test_urls_apprise_parses_by_scanning_every_plugin_still_work(tmp_path: Path) -> None:
    # a Slack webhook as Slack gives it (https://): apprise asks every plugin's
    # parse_native_url, so all of them are loaded; a URL without a scheme is doubtful too
    webhook = "https://hooks.slack.com/services/T1AAAAAAA/B1BBBBBBB/c3cretslackTOKENabcdefgh"
    found = run(CHECK, tmp_path, webhook)
    assert found["results"][webhook] is None and found["all"]
    found = run(CHECK, tmp_path, "garbage")
    assert "not an apprise URL" in found["results"]["garbage"] and found["all"]


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    mail = "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org"
    run(CHECK, tmp_path, mail)
    [cached] = cache_files(tmp_path)
    good = json.loads(cached.read_text())
    stale = {**good, "apprise": "0.1"}
    bad_module = {**good, "schemes": {"mailto": "../email"}}
    for corrupt in ("{not json", "", json.dumps(stale), json.dumps(bad_module), "[]"):
        cached.write_text(corrupt)
        found = run(CHECK, tmp_path, mail)
        assert found["results"][mail] is None
        assert not found["all"] and "apprise.plugins.email" in found["plugins"], corrupt
        assert json.loads(cached.read_text()) == good, corrupt


def test_other_installs_maps_are_removed_once_unread_for_a_day(tmp_path: Path) -> None:
    folder = tmp_path / "newsalert"
    folder.mkdir()
    old = folder / "apprise-schemes-0123456789abcdef.json"  # a removed venv's, unread
    recent = folder / "apprise-schemes-fedcba9876543210.json"  # another install's, in use
    other = folder / "apprise-schemes-notours.json"
    for path in (old, recent, other):
        path.write_text("{}")
    os.utime(old, (1, 1))
    os.utime(other, (1, 1))
    mail = "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org"
    run(CHECK, tmp_path, mail)  # builds and writes this install's map
    assert not old.exists() and recent.exists() and other.exists()
    assert len(cache_files(tmp_path)) == 3  # this install's, the recent one, "notours"


@pytest.mark.parametrize(
    "setup",
    [
        # the map cannot be built (no cache, the child fails)
        "def fail(): raise RuntimeError('no child today')\napprise_plugins._build = fail\n",
        # an apprise this was not written for
        "import apprise\napprise.__version__ = '3.0.0'\n",
    ],
    ids=["no-map", "apprise-3"],
)
def test_when_in_doubt_every_plugin_is_loaded(tmp_path: Path, setup: str) -> None:
    mail = "mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org"
    found = run(setup + CHECK, tmp_path, mail)
    assert found["results"][mail] is None and found["all"]  # delivers as before
    assert len(found["plugins"]) > FULL
    assert cache_files(tmp_path) == []


CONFIG = """
from newsalert.config import load_config
from newsalert.errors import ConfigError
try:
    load_config(sys.argv[1], {})
    problems = []
except ConfigError as exc:
    problems = [str(p) for p in exc.problems]
report(problems=problems)
"""


def test_the_config_check_still_rejects_an_unknown_scheme(tmp_path: Path) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        "feeds:\n  - name: a\n    url: https://example.org/feed\n"
        "subscribers:\n  - name: desk\n    urls:\n"
        "      - mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org\n"
        "      - nosuchservice://x/y\n"
        "      - tgram://123456789:AAsecretTelegramBotToken_abcdefghij/-100123456\n",
        encoding="utf-8",
    )
    found = run(CONFIG, tmp_path, str(path))
    [problem] = found["problems"]
    assert problem.startswith(f"{path}: subscribers[0].urls[1]: ")
    assert "unsupported scheme nosuchservice://" in problem
    assert "hint: see https://github.com/caronc/apprise/wiki" in problem
