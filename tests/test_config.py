"""Config loading: every problem reported with file, key and hint; secrets from env."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from newsalert.cli import main
from newsalert.config import Config, load_config
from newsalert.errors import ConfigError

from .conftest import ROOT

EXAMPLE = ROOT / "config" / "newsalert.yaml"
SECRETS = {
    "SMTP_USER": "alerts",
    "SMTP_PASSWORD": "s3cret-smtp-pw",
    "SLACK_WEBHOOK_TOKENS": "T1AAAAAAA/B1BBBBBBB/c3cretslackTOKENabcdefgh",
    "TELEGRAM_BOT_TOKEN": "123456789:AAsecretTelegramBotToken_abcdefghij",
    "TELEGRAM_CHAT_ID": "-100123456",
}


def write(tmp_path: Path, text: str, name: str = "newsalert.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ or {})
    return [str(p) for p in info.value.problems]


def test_example_config_loads_with_secrets_from_environment() -> None:
    loaded = load_config(EXAMPLE, SECRETS)
    assert [f.name for f in loaded.feeds] == [
        "balkan-insight",
        "bbc-europe",
        "bbc-world",
        "aljazeera",
    ]
    assert loaded.warnings == []
    assert loaded.targets["ops-telegram"] == (
        f"tgram://{SECRETS['TELEGRAM_BOT_TOKEN']}/-100123456",
    )
    assert len(loaded.rules.include) == 1 and len(loaded.rules.boost) == 2
    assert loaded.database_url == f"sqlite:///{ROOT / 'var' / 'newsalert.db'}"


def test_unset_secret_disables_only_that_target_with_a_warning() -> None:
    env = {k: v for k, v in SECRETS.items() if k != "TELEGRAM_BOT_TOKEN"}
    loaded = load_config(EXAMPLE, env)
    assert [s.name for s in loaded.subscribers] == ["duty-desk", "balkans-slack"]
    [warning] = [str(w) for w in loaded.warnings if "urls" in w.key]
    assert "subscribers[2].urls[0]" in warning and "TELEGRAM_BOT_TOKEN" in warning
    assert "hint:" in warning


def test_check_passes_without_secrets_but_strict_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    out = capsys.readouterr()
    assert "config OK" in out.out and "SMTP_PASSWORD" in out.err
    assert main(["--config", str(EXAMPLE), "check", "--strict"]) == 2


def test_check_output_never_shows_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    assert main(["--config", str(EXAMPLE), "check"]) == 0
    out = capsys.readouterr()
    for secret in (
        "s3cret-smtp-pw",
        "c3cretslackTOKENabcdefgh",
        "AAsecretTelegramBotToken_abcdefghij",
    ):
        assert secret not in out.out + out.err


def test_unknown_key_names_file_key_and_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path, "feeds:\n  - name: a\n    url: https://example.org/feed\n    intervall: 60\n"
    )
    [found] = problems(path)
    assert found.startswith(f"{path}: feeds[0].intervall: Extra inputs are not permitted")
    assert "hint: remove the key or fix its spelling" in found


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
feeds:
  - name: a
    url: file:///etc/passwd
  - name: b
    url: https://example.org/feed
    interval: 5
subscribers:
  - name: x
    urls: ["json://127.0.0.1/hook"]
    categories: [weather]
    min_score: 2
""",
    )
    found = problems(path)
    keys = [p.split(": ")[1] for p in found]
    assert keys == [
        "feeds[0].url",
        "feeds[1].interval",
        "subscribers[0].min_score",
        "subscribers[0].categories",
    ]
    assert "weather" in found[3] and "armed_conflict" in found[3]


def test_invalid_yaml_points_at_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "feeds:\n  - name: a\n    url: [unclosed\n")
    [found] = problems(path)
    assert re.search(r": line \d+, column \d+: not valid YAML", found)


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    [found] = problems(tmp_path / "nope.yaml")
    assert "config file not found" in found and "--config" in found


def test_rules_file_errors_name_the_rules_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "include:\n  - terms: [attack]\n    regex: '(unclosed'\nboost:\n  - terms: [x]\n",
        "rules.yaml",
    )
    path = write(tmp_path, "rules: rules.yaml\n")
    found = problems(path)
    assert found[0].startswith(
        f"{tmp_path / 'rules.yaml'}: rules.include[0].regex: regex '(unclosed' does not compile"
    )
    assert found[1].startswith(f"{tmp_path / 'rules.yaml'}: rules.boost[0].weight: Field required")
    assert "hint: add this key" in found[1]


SUB = 'subscribers:\n  - name: desk\n    urls: ["json://127.0.0.1:9/x"]\n'


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # each compiles alone, not once joined into the rule's one pattern
        ("terms: [attack]\n    regex: '(?i)bomb'", "do not compile together"),
        ("regex: ['(?P<x>foo)', '(?P<x>bar)']", "do not compile together"),
        ("terms: [' ']", "a rule needs `terms` (not blank) or `regex`"),  # "" matches all
    ],
)
def test_rules_that_would_break_or_match_everything_are_refused(
    tmp_path: Path, rule: str, expected: str
) -> None:
    write(tmp_path, f"include:\n  - name: r1\n    {rule}\n", "rules.yaml")
    found = problems(write(tmp_path, "rules: rules.yaml\n" + SUB))
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'rules.yaml'}: rules.include[0]")
    assert expected in found[0]


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("stories: {update_interval_minutes: .inf}", "stories.update_interval_minutes"),
        ("stories: {update_interval_minutes: 1e13}", "stories.update_interval_minutes"),
        ("fetch: {unhealthy_after: .inf}", "fetch.unhealthy_after"),
        ("fetch: {unhealthy_after: 1e15}", "fetch.unhealthy_after"),
        ("delivery: {lease: .nan}", "delivery.lease"),
        ("delivery: {backoff_max: 1e300}", "delivery.backoff_max"),
    ],
)
def test_numbers_that_overflow_at_run_time_are_refused(
    tmp_path: Path, setting: str, key: str
) -> None:
    [found] = problems(write(tmp_path, f"{setting}\n{SUB}"))
    assert found.startswith(f"{tmp_path / 'newsalert.yaml'}: {key}: ")


def test_quiet_hours_end_minute_is_checked(tmp_path: Path) -> None:
    [found] = problems(write(tmp_path, SUB + '    quiet_hours: "22:00-07:99"\n'))
    assert "subscribers[0].quiet_hours" in found and "HH:MM-HH:MM" in found


@pytest.mark.parametrize("text", ["", "# all commented out\n", "---\n"])
@pytest.mark.parametrize("which", ["config", "rules"])
def test_an_empty_file_is_refused_not_taken_for_an_empty_config(
    tmp_path: Path, text: str, which: str
) -> None:
    """A file truncated while an editor saves it must not turn every alert off."""
    if which == "rules":
        write(tmp_path, text, "rules.yaml")
        path = write(tmp_path, "rules: rules.yaml\n" + SUB)
    else:
        path = write(tmp_path, text)
    [found] = problems(path)
    name = "rules.yaml" if which == "rules" else "newsalert.yaml"
    assert found.startswith(f"{tmp_path / name}: (file): the file is empty")
    assert "hint: write" in found


@pytest.mark.parametrize(
    "text",
    ["feeds: " + "[" * 1000 + "]" * 1000 + "\n", 'rules: "rules\\0.yaml"\n' + SUB],
)
def test_what_validation_did_not_foresee_is_still_a_config_error(tmp_path: Path, text: str) -> None:
    [found] = problems(write(tmp_path, text))  # not a RecursionError or ValueError
    # libyaml's parser stops deep nesting itself, and says where
    where = "(file)" if "\\0" in text or not yaml.__with_libyaml__ else "line 1, column 1007"
    assert found.startswith(f"{tmp_path / 'newsalert.yaml'}: {where}: ")


def test_a_feed_url_error_never_repeats_a_piece_of_its_password(tmp_path: Path) -> None:
    """httpx quotes what it could not read: with a "/" in the password, a piece of it."""
    path = write(
        tmp_path,
        'feeds:\n  - {name: paid, url: "https://desk:${FEED_PASSWORD}@feeds.example.org/rss"}\n'
        + SUB,
    )
    environ = {"FEED_PASSWORD": "Tr0ub4dor/3xyz"}
    [found] = problems(path, environ)
    assert "feeds[0].url: not a valid URL" in found and "percent-encode" in found
    assert "Tr0ub4dor" not in found and "3xyz" not in found


def test_a_key_given_twice_is_an_error_not_a_silent_replacement(tmp_path: Path) -> None:
    path = write(tmp_path, SUB + SUB.replace("desk", "night"))
    [found] = problems(path)
    assert found.startswith(f"{path}: line 4, column 1: not valid YAML: found the key")
    assert "'subscribers' twice" in found


def test_nested_aliases_cost_what_they_take_to_write(tmp_path: Path) -> None:
    """Nine levels of nine aliases (a few hundred bytes) name 9**9 strings: reading them
    must not copy each use (it took 33 s and 1.2 GB on seven levels)."""
    levels = ["x-bomb:", '  a0: &a0 ["${HOME}"]']
    levels += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = write(tmp_path, "\n".join(levels) + "\n" + SUB)
    found = problems(path)  # answered at once, with the key to remove
    assert any("x-bomb" in f and "remove the key" in f for f in found), found


def test_type_errors_say_how_to_write_the_value(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        SUB + "    keywords: Kosovo\n    digest: daily\n    digest_time: 22:30\n"
        "stories: {update_interval_minutes: .inf}\n",
    )
    found = problems(path)
    hints = {line.split(": ")[1]: line.split("hint: ")[1] for line in found}
    assert hints == {
        "subscribers[0].keywords": "write a list, e.g. [Kosovo, Serbia] (one entry still needs "
        "the brackets)",
        "subscribers[0].digest_time": 'quote the value, e.g. "22:30" (YAML reads 22:30 and 08:00 '
        "as numbers)",
        "stories.update_interval_minutes": "give a finite number (not .inf or .nan)",
    }


def test_variables_work_in_every_subscriber_field_and_in_the_rules_file(tmp_path: Path) -> None:
    write(tmp_path, "include:\n  - name: watch\n    terms: ['${WATCH_TERM}']\n", "rules.yaml")
    path = write(
        tmp_path,
        "rules: rules.yaml\n" + SUB + '    timezone: "${DESK_TZ:-Europe/Belgrade}"\n'
        '    keywords: ["${WATCH:-Kosovo}"]\n',
    )
    loaded = load_config(path, {"WATCH_TERM": "militia"})
    desk = loaded.subscriber("desk")
    assert (desk.timezone, desk.keywords) == ("Europe/Belgrade", ("Kosovo",))
    assert loaded.rules.include[0].terms == ("militia",)
    # unset in the rules file: an error, not a term that never matches
    [found] = problems(path, {})
    assert found.startswith(f"{tmp_path / 'rules.yaml'}: (environment): environment variable")
    assert "WATCH_TERM is not set" in found


def test_subscriber_feed_reference_must_exist(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n  - name: a\n    url: https://example.org/f\nsubscribers:\n"
        "  - name: s\n    urls: ['json://127.0.0.1/x']\n    feeds: [b]\n",
    )
    [found] = problems(path)
    assert "subscribers[0].feeds: no feed named 'b'" in found and "['a']" in found


def test_environment_overrides_storage_and_broker(tmp_path: Path) -> None:
    path = write(tmp_path, "storage:\n  data_dir: state\n")
    loaded = load_config(
        path,
        {
            "NEWSALERT_DATABASE_URL": "postgresql://u@db/x",
            "NEWSALERT_BROKER_URL": "redis://r:6379/0",
        },
    )
    assert loaded.database_url == "postgresql://u@db/x"
    assert loaded.broker_url == "redis://r:6379/0"
    assert loaded.data_dir == tmp_path / "state"


@pytest.mark.parametrize("from_env", [False, True])
def test_a_database_the_story_lock_cannot_hold_is_refused(tmp_path: Path, from_env: bool) -> None:
    """PostgreSQL (an advisory lock) and SQLite (a file lock on its one host) are the
    databases workers can assign stories on one at a time; any other would get a lock
    file in the working directory, which excludes nothing across hosts, and two
    workers would alert twice for one incident. Refused at load, naming the key, the
    databases supported and never the password."""
    url = "mysql+pymysql://news:hunter2-db-pw@db.example.org/newsalert"
    if from_env:
        path, env = (
            write(tmp_path, "storage:\n  data_dir: state\n"),
            {"NEWSALERT_DATABASE_URL": url},
        )
    else:
        path, env = write(tmp_path, f"storage:\n  database_url: {url}\n"), {}
    [found] = problems(path, env)
    assert "storage.database_url" in found and "mysql" in found
    assert "PostgreSQL" in found and "SQLite" in found and "hint:" in found
    assert ("NEWSALERT_DATABASE_URL" in found) is from_env
    assert "hunter2" not in found
    for supported in ("postgresql+psycopg://u@db/x", "sqlite:///elsewhere/news.db"):
        assert load_config(path, {"NEWSALERT_DATABASE_URL": supported}).database_url == supported


def test_geo_rerank_is_an_operator_switch_and_errors_name_file_key_and_fix(
    tmp_path: Path,
) -> None:
    from newsalert.geo import geoparser

    assert load_config(write(tmp_path, "feeds: []\n"), {}).config.geo.rerank is geoparser.RERANK
    assert load_config(write(tmp_path, "geo: {rerank: false}\n"), {}).config.geo.rerank is False
    path = write(tmp_path, "geo:\n  rerank: maybe\n")
    [found] = problems(path)
    assert found.startswith(f"{path}: geo.rerank: ") and "hint: use true or false" in found
    [found] = problems(write(tmp_path, "geo:\n  reranker: false\n"))
    assert f"{path}: geo.reranker: " in found and "fix its spelling" in found


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    def keys(model: type, prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            out.append(prefix + name)
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                if isinstance(arg, type) and hasattr(arg, "model_fields") and arg is not Config:
                    out.extend(keys(arg, f"{prefix}{name}."))
        return out

    # include, exclude and boost rules share one model, documented once under include
    wanted = {
        k.replace("rules.exclude.", "rules.include.").replace("rules.boost.", "rules.include.")
        for k in keys(Config)
    }
    missing = sorted(k for k in wanted if f"`{k}`" not in readme)
    assert not missing, f"settings missing from the README's configuration reference: {missing}"
