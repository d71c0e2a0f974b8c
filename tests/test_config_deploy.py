"""Deployment faults of issue 16: what an operator sees on a fresh install.

Empty secrets from `cp .env.example .env`, `newsalert check`'s summary and its
warnings (once each, expat in `check` only), feeds on private addresses without
`allow_private`, and a database password that a URL cannot carry as written.
"""

from __future__ import annotations

import logging
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsalert import parse
from newsalert.cli import main
from newsalert.config import load_config
from newsalert.errors import ConfigError

from .conftest import ROOT

EXAMPLE = ROOT / "config" / "newsalert.yaml"
SECRET_NAMES = (
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SLACK_WEBHOOK_TOKENS",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_CHAT_ID",
)
SECRETS = {
    "SMTP_USER": "alerts",
    "SMTP_PASSWORD": "s3cret-smtp-pw",
    "SLACK_WEBHOOK_TOKENS": "T1AAAAAAA/B1BBBBBBB/c3cretslackTOKENabcdefgh",
    "TELEGRAM_BOT_TOKEN": "123456789:AAsecretTelegramBotToken_abcdefghij",
    "TELEGRAM_CHAT_ID": "-100123456",
}
PASSWORD = "p@ss/w:rd"  # every character a URL's userinfo cannot carry as written


def env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as docker compose reads an env file (no quoting in ours)."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


@pytest.fixture
def no_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_NAMES:
        monkeypatch.delenv(name, raising=False)


# --- empty secrets (cp .env.example .env) ----------------------------------------------


def test_env_example_leaves_secrets_empty_and_check_passes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_file(ROOT / ".env.example")
    assert {name: env[name] for name in SECRET_NAMES} == dict.fromkeys(SECRET_NAMES, "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    out = capsys.readouterr()
    assert "config OK" in out.out
    assert "apprise cannot use" not in out.err
    assert main(["--config", str(EXAMPLE), "check", "--strict"]) == 2


def test_empty_secret_disables_that_subscriber_with_one_warning() -> None:
    loaded = load_config(EXAMPLE, {**SECRETS, "SLACK_WEBHOOK_TOKENS": ""})
    assert [s.name for s in loaded.subscribers] == ["duty-desk", "ops-telegram"]
    [warning] = [str(w) for w in loaded.warnings]
    assert "subscribers[1].urls[0]" in warning and "balkans-slack" in warning
    assert "SLACK_WEBHOOK_TOKENS is empty" in warning and "hint:" in warning
    [warning] = [
        str(w) for w in load_config(EXAMPLE, {"SMTP_USER": ""}).warnings if "[0]." in w.key
    ]
    assert "SMTP_PASSWORD is not set; SMTP_USER is empty" in warning
    env = dict.fromkeys(SECRETS, "")
    [warning] = [str(w) for w in load_config(EXAMPLE, env).warnings if "[0]." in w.key]
    assert "SMTP_PASSWORD and SMTP_USER are empty" in warning


def test_unset_and_empty_secrets_of_one_subscriber_are_named_in_one_warning() -> None:
    env = {k: v for k, v in SECRETS.items() if k != "TELEGRAM_BOT_TOKEN"}
    loaded = load_config(EXAMPLE, {**env, "TELEGRAM_CHAT_ID": ""})
    [warning] = [str(w) for w in loaded.warnings]
    assert "subscribers[2].urls[0]" in warning
    assert "TELEGRAM_BOT_TOKEN is not set; TELEGRAM_CHAT_ID is empty" in warning


def test_empty_variable_takes_the_default_like_the_shell(tmp_path: Path) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        "subscribers:\n  - name: desk\n    urls: ['json://127.0.0.1/hook']\n"
        '    timezone: "${DESK_TZ:-Europe/Belgrade}"\n'
    )
    assert load_config(path, {"DESK_TZ": ""}).subscriber("desk").timezone == "Europe/Belgrade"


def test_empty_variable_outside_subscribers_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("include:\n  - terms: ['${WATCH_TERM}']\n")
    path = tmp_path / "newsalert.yaml"
    path.write_text("rules: rules.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, {"WATCH_TERM": ""})
    [found] = [str(p) for p in info.value.problems]
    assert "(environment): environment variable WATCH_TERM is empty" in found


# --- check: summary, warnings once, expat in check only --------------------------------


def test_check_says_how_many_subscribers_are_configured_and_why_disabled(
    capsys: pytest.CaptureFixture[str], no_secrets: None
) -> None:
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    out = capsys.readouterr().out
    assert (
        "  subscribers: 3 configured, 0 enabled (3 disabled: unset SLACK_WEBHOOK_TOKENS, "
        "SMTP_PASSWORD, SMTP_USER, TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID)\n"
    ) in out
    assert "  targets: 0 of 3 enabled\n" in out


def test_check_summary_with_every_secret_set(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    out = capsys.readouterr().out
    assert "  subscribers: 3 configured, 3 enabled\n" in out
    assert "  targets: 3 of 3 enabled\n" in out


@pytest.mark.parametrize("strict", [False, True])
def test_check_prints_each_problem_once(
    capsys: pytest.CaptureFixture[str], no_secrets: None, strict: bool
) -> None:
    code = main(["--config", str(EXAMPLE), "check", *(["--strict"] if strict else [])])
    assert code == (2 if strict else 0)
    err = capsys.readouterr().err
    for key in ("subscribers[0].urls[0]", "subscribers[1].urls[0]", "operators[0]"):
        assert err.count(f": {key}: ") == 1, err


def _old_expat(monkeypatch: pytest.MonkeyPatch) -> None:
    real = parse.expat_warning
    monkeypatch.setattr(parse, "expat_warning", lambda: real((2, 5, 0)))


def test_check_says_once_how_to_fix_an_old_expat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, no_secrets: None
) -> None:
    _old_expat(monkeypatch)
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    err = capsys.readouterr().err
    assert err.count("expat") >= 1 and err.count("warning: this Python") == 1
    assert "2.7.2" in err and "pyexpat" in err  # the fix, and how to see the version


def test_other_commands_do_not_repeat_the_expat_warning(
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _old_expat(monkeypatch)
    path = tmp_path / "newsalert.yaml"
    path.write_text("feeds:\n  - {name: a, url: 'https://example.org/feed'}\n")
    with caplog.at_level(logging.WARNING):
        # an unknown feed ends the command before any pipeline or network is touched
        assert main(["--config", str(path), "poll", "--once", "--feed", "nope"]) == 2
    assert "expat" not in capsys.readouterr().err + caplog.text


# --- feeds on private addresses --------------------------------------------------------


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def getaddrinfo(host: Any, *_: Any, **__: Any) -> Any:
        asked.append(str(host))
        raise AssertionError(f"check resolved {host!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


FEEDS = """
feeds:
  - {name: loop, url: 'http://127.0.0.1:8080/feed'}
  - {name: lan, url: 'http://10.0.0.1/rss'}
  - {name: v6, url: 'http://[::1]/rss'}
  - {name: local, url: 'http://localhost:9000/rss'}
  - {name: own, url: 'http://10.0.0.2/rss', allow_private: true}
  - {name: public, url: 'https://example.org/rss'}
  - {name: unpolled, url: 'http://192.168.1.1/rss', enabled: false}
"""


def test_feed_on_private_address_without_allow_private_is_reported(
    tmp_path: Path, no_dns: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(FEEDS)
    loaded = load_config(path, {})
    found = {w.key: str(w) for w in loaded.warnings}
    assert sorted(found) == ["feeds[0].url", "feeds[1].url", "feeds[2].url", "feeds[3].url"]
    assert "feed 'loop'" in found["feeds[0].url"] and "127.0.0.1" in found["feeds[0].url"]
    assert "feed 'lan'" in found["feeds[1].url"] and "10.0.0.1" in found["feeds[1].url"]
    assert "localhost" in found["feeds[3].url"]
    for text in found.values():
        assert "allow_private: true" in text and "refused" in text
    assert main(["--config", str(path), "check"]) == 0
    err = capsys.readouterr().err
    assert "feeds[1].url" in err and "allow_private: true" in err
    assert main(["--config", str(path), "check", "--strict"]) == 2
    assert no_dns == []  # judged from the URL alone: nothing resolved, nothing connected


def test_fetch_allow_private_silences_the_private_feed_warning(
    tmp_path: Path, no_dns: list[str]
) -> None:
    path = tmp_path / "newsalert.yaml"
    path.write_text(FEEDS + "fetch: {allow_private: true}\n")
    assert load_config(path, {}).warnings == []


# --- database password that a URL cannot carry as written ------------------------------


def compose_env(password: str) -> dict[str, str]:
    """The worker's environment as docker compose gives it, POSTGRES_PASSWORD substituted."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    assert compose["services"]["beat"]["environment"] == worker["environment"]
    env = {}
    for key, value in worker["environment"].items():
        assert "${" not in value.replace("${POSTGRES_PASSWORD}", ""), value
        env[key] = value.replace("${POSTGRES_PASSWORD}", password)
    return env


def test_compose_environment_carries_any_postgres_password(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    path = tmp_path / "newsalert.yaml"
    path.write_text("feeds: []\n")
    url = make_url(load_config(path, compose_env(PASSWORD)).database_url)
    assert (url.drivername, url.username, url.password) == (
        "postgresql+psycopg",
        "newsalert",
        PASSWORD,
    )
    assert (url.host, url.port, url.database) == ("postgres", 5432, "newsalert")


def test_database_password_variable_replaces_the_urls_password(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    path = tmp_path / "newsalert.yaml"
    path.write_text("storage: {database_url: 'postgresql+psycopg://u:old@db/x'}\n")
    loaded = load_config(path, {"NEWSALERT_DATABASE_PASSWORD": PASSWORD})
    assert make_url(loaded.database_url).password == PASSWORD
    # SQLite has no password: the variable leaves its URL alone
    path.write_text("storage: {database_url: 'sqlite:////tmp/x.db'}\n")
    loaded = load_config(path, {"NEWSALERT_DATABASE_PASSWORD": PASSWORD})
    assert loaded.database_url == "sqlite:////tmp/x.db"


@pytest.fixture
def role_with_password(postgres_admin_url: str) -> Iterator[str]:
    """A login role whose password is PASSWORD, on the loopback server."""
    from sqlalchemy import create_engine

    name = f"natest_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # no bind parameters in CREATE ROLE; PASSWORD holds no quote
        conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'")
    try:
        yield name
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {name}")
        engine.dispose()


def test_compose_password_reaches_postgresql(
    tmp_path: Path, postgres_admin_url: str, role_with_password: str
) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(postgres_admin_url)
    env = compose_env(PASSWORD)
    # the compose URL, pointed at the loopback server and the new role
    env["NEWSALERT_DATABASE_URL"] = re.sub(
        r"//newsalert@postgres:5432/newsalert",
        f"//{role_with_password}@{admin.host}:{admin.port or 5432}/{admin.database}",
        env["NEWSALERT_DATABASE_URL"],
    )
    path = tmp_path / "newsalert.yaml"
    path.write_text("feeds: []\n")
    engine = create_engine(load_config(path, env).database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == role_with_password
            # what libpq sent (the server here trusts loopback, so it cannot refuse a bad one)
            assert conn.connection.dbapi_connection.info.password == PASSWORD  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_worker_logs_the_config_warnings_once_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The compose worker is started with `celery worker`, not `check`: its log is where an
    operator sees that a subscriber is disabled (here by an empty secret)."""
    from types import SimpleNamespace

    from workers.tasks import preload_model

    path = tmp_path / "newsalert.yaml"
    path.write_text(
        "model: {path: missing.joblib}\n"  # a strict model path that fails at once: no training
        "subscribers:\n  - {name: desk, urls: ['tgram://${BOT_TOKEN}/1']}\n"
    )
    app = SimpleNamespace(conf={"newsalert_config_path": str(path)})
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.WARNING):
        mp.setenv("BOT_TOKEN", "")
        preload_model(sender=SimpleNamespace(app=app))
    said = [r.getMessage() for r in caplog.records if "subscribers[0]" in r.getMessage()]
    assert len(said) == 1 and "BOT_TOKEN is empty" in said[0]
