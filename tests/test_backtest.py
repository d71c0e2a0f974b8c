"""Backtest: replay stored (or file) items through the current and a proposed config.

The store is filled from a loopback feed whose items are labelled through
``newsalert feedback``; the rules decide every item's relevance, so the gained and
lost alerts and the precision / recall of each config are known exactly.
"""

from __future__ import annotations

import dataclasses
import html
import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsalert import backtest
from newsalert.cli import main
from newsalert.config import StoriesConfig, load_config
from newsalert.models import Item
from newsalert.pipeline import Pipeline
from newsalert.rules import RuleSet
from newsalert.store import Store
from newsalert.stories import StoryDesk
from tests.feedserver import FeedServer
from tests.test_stories import MANHUNT, MOGADISHU, TOLL, WIRE, WIRE_TITLES

from .conftest import ROOT

# (guid, title, summary, label): zebra items are vetoed now and wanted in the proposal,
# giraffe items the reverse; two of them mention Kosovo (the keyword subscriber's filter)
ITEMS = [
    ("z1", "Zebra crossing attacked in Kosovo", "Gunmen opened fire near the zebra crossing.", 1),
    ("z2", "Zebra herd moves north", "Officials report a zebra herd near the border.", 1),
    ("z3", "Zebra print dresses are back", "Designers love zebra stripes this season.", 0),
    ("g1", "Giraffe sanctuary shelled in Kosovo", "Artillery hit the giraffe sanctuary.", 1),
    ("g2", "Giraffe calf born at the zoo", "Visitors queue to see the giraffe calf.", 0),
    ("g3", "Giraffe documentary wins award", "The giraffe film took the top prize.", 0),
]


def rss(items: list[tuple[str, str, str, int]]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>https://news.example.org/{guid}</link>"
        f"<description>{html.escape(summary)}</description></item>"
        for guid, title, summary, _ in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title>'
        f"{body}</channel></rss>"
    ).encode()


def write_config(
    path: Path,
    model_dir: Path,
    database_url: str,
    feed_url: str,
    rules: str,
    subscribers: str,
    extra: str = "",
) -> Path:
    text = textwrap.dedent(
        f"""\
        storage:
          data_dir: {model_dir}
          database_url: {database_url}
        fetch:
          min_interval: 1
        feeds:
          - name: desk
            url: {feed_url}
            allow_private: true
            interval: 1
        """
    )
    path.write_text(text + rules + subscribers + extra, encoding="utf-8")
    return path


CURRENT_RULES = """\
rules:
  exclude:
    - name: no-zebras
      terms: [zebra]
  include:
    - name: giraffes
      terms: [giraffe]
"""
PROPOSED_RULES = """\
rules:
  exclude:
    - name: no-giraffes
      terms: [giraffe]
  include:
    - name: zebras
      terms: [zebra]
"""
SUBSCRIBERS = """\
subscribers:
  - name: everything
    urls: ["json://127.0.0.1:9/everything"]
  - name: kosovo-desk
    urls: ["json://127.0.0.1:9/kosovo"]
    keywords: [Kosovo]
"""
NEW_SUBSCRIBER = """\
  - name: newcomer
    urls: ["json://127.0.0.1:9/new"]
    min_score: 0.0
"""


@pytest.fixture
def shared_model(monkeypatch: pytest.MonkeyPatch, classifier: object) -> object:
    """The CLI loads the session's model instead of reading it from disk on every call."""
    monkeypatch.setattr("newsalert.classifier.load_or_train", lambda *_: classifier)
    return classifier


@pytest.fixture
def filled_store(
    tmp_path: Path, model_dir: Path, database_url: str, feed_server: FeedServer, classifier: object
) -> tuple[Path, Path, dict[str, int]]:
    """A store holding the ITEMS (polled from a loopback feed) with feedback labels."""
    feed_server.route("/desk", body=rss(ITEMS), headers={"Content-Type": "application/rss+xml"})
    url = feed_server.url("/desk")
    current = write_config(
        tmp_path / "current.yaml", model_dir, database_url, url, CURRENT_RULES, SUBSCRIBERS
    )
    proposed = write_config(
        tmp_path / "proposed.yaml",
        model_dir,
        database_url,
        url,
        PROPOSED_RULES,
        SUBSCRIBERS + NEW_SUBSCRIBER,
    )
    loaded = load_config(current)
    store = Store(loaded.database_url)
    pipeline = Pipeline(loaded, store)
    outcome = pipeline.poll_feed("desk")
    pipeline.close()
    assert outcome.status == "ok" and len(outcome.new_item_ids) == len(ITEMS)
    guids = {title: guid for guid, title, _, _ in ITEMS}
    ids = {guids[s.item.title]: s.id for s in store.get_items(outcome.new_item_ids)}
    for guid, _, _, label in ITEMS:
        assert (
            main(["--config", str(current), "feedback", str(ids[guid]), "yes" if label else "no"])
            == 0
        )
    store.close()
    return current, proposed, ids  # type: ignore[return-value]


def test_rules_change_gives_exact_gained_and_lost_sets(
    filled_store: tuple[Path, Path, dict[str, int]], classifier: object
) -> None:
    current_path, proposed_path, ids = filled_store
    current, proposed = load_config(current_path), load_config(proposed_path)
    store = Store(current.database_url)
    cases = backtest.stored_cases(store)
    store.close()
    assert sorted(c.id for c in cases) == sorted(ids.values())
    assert {c.id: c.label for c in cases} == {ids[g]: label for g, _, _, label in ITEMS}

    result = backtest.run(
        cases,
        backtest.Variant.from_config("current", current),
        backtest.Variant.from_config("proposed", proposed),
        {backtest.SHARED_MODEL: classifier},  # type: ignore[dict-item]
        batch_size=4,  # more than one batch
    )
    zebras = tuple(sorted(ids[g] for g in ("z1", "z2", "z3")))
    giraffes = tuple(sorted(ids[g] for g in ("g1", "g2", "g3")))
    assert result.model_shared
    assert result.relevant_gained == zebras and result.relevant_lost == giraffes

    everything = result.diff("everything")
    assert (everything.gained, everything.lost) == (zebras, giraffes)
    assert (everything.before, everything.after, everything.presence) == (3, 3, "both")
    kosovo = result.diff("kosovo-desk")
    assert (kosovo.gained, kosovo.lost) == ((ids["z1"],), (ids["g1"],))
    newcomer = result.diff("newcomer")
    assert (newcomer.presence, newcomer.gained, newcomer.lost) == ("added", zebras, ())

    # labels: zebras 1,1,0 and giraffes 1,0,0 -> now 1 of 3 right, proposed 2 of 3
    q_now, q_new = result.current.quality, result.proposed.quality
    assert q_now is not None and q_new is not None
    assert (q_now.tp, q_now.fp, q_now.fn, q_now.tn) == (1, 2, 2, 1)
    assert (q_new.tp, q_new.fp, q_new.fn, q_new.tn) == (2, 1, 1, 2)
    assert q_now.precision == pytest.approx(1 / 3) and q_now.recall == pytest.approx(1 / 3)
    assert q_new.precision == pytest.approx(2 / 3) and q_new.recall == pytest.approx(2 / 3)
    kq = result.proposed.subscriber_quality["kosovo-desk"]
    assert kq is not None and (kq.tp, kq.fp) == (1, 0)

    report = backtest.format_report(result)
    assert "subscriber kosovo-desk: 1 -> 1 alerts (+1 gained, -1 lost)" in report
    assert "Zebra crossing attacked in Kosovo" in report
    assert "precision" in report and "0.333" in report and "0.667" in report


def test_backtest_command_prints_gained_and_lost_per_subscriber(
    filled_store: tuple[Path, Path, dict[str, int]],
    shared_model: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    current, proposed, ids = filled_store
    capsys.readouterr()
    args = ["--config", str(current), "backtest", "--config", str(proposed), "--since", "1h"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["items"] == 6 and data["labelled"] == 6
    subs = {s["subscriber"]: s for s in data["subscribers"]}
    assert [i["id"] for i in subs["kosovo-desk"]["gained"]] == [ids["z1"]]
    assert [i["title"] for i in subs["kosovo-desk"]["lost"]] == [
        "Giraffe sanctuary shelled in Kosovo"
    ]
    assert data["proposed"]["quality"]["precision"] == pytest.approx(2 / 3)

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "subscriber everything: 3 -> 3 alerts (+3 gained, -3 lost)" in out
    assert "subscriber newcomer (new subscriber): 0 -> 3 alerts" in out
    assert f"+ {ids['z1']:>7}  vetoed -> " in out  # the exclude rule, not a low score

    # nothing fetched within the window: nothing replayed
    store = Store(load_config(current).database_url)
    with store.begin() as conn:
        from sqlalchemy import update

        from newsalert.store import items, utcnow

        conn.execute(update(items).values(fetched_at=utcnow() - timedelta(days=2)))
    store.close()
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 0
    assert main([*args[:-2], "--since", "3d", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == 6


def test_threshold_change_on_a_labelled_file_matches_the_model(
    tmp_path: Path,
    model_dir: Path,
    classifier: object,
    shared_model: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--data: a labelled JSON lines file; raising the threshold loses exactly the items
    scoring between the two thresholds, and precision / recall follow the labels."""
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    url = "http://127.0.0.1:9/feed"
    current = write_config(tmp_path / "a.yaml", model_dir, db, url, "", SUBSCRIBERS)
    proposed = write_config(
        tmp_path / "b.yaml", model_dir, db, url, "", SUBSCRIBERS, "model:\n  threshold: 0.9\n"
    )
    data = ROOT / "data" / "dev.jsonl"
    assert (
        main(
            [
                "--config",
                str(current),
                "backtest",
                "--config",
                str(proposed),
                "--data",
                str(data),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)

    rows = [
        json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    probs = [p.probability for p in classifier.predict([(r["title"], r["summary"]) for r in rows])]  # type: ignore[attr-defined]
    low = classifier.threshold  # type: ignore[attr-defined]
    assert low < 0.9
    expected_lost = [n for n, p in enumerate(probs, 1) if low <= p < 0.9]
    assert expected_lost  # the change matters on this data
    assert [i["id"] for i in result["relevant_lost"]] == expected_lost
    assert result["relevant_gained"] == []
    labels = [r["label"] for r in rows]
    tp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= 0.9 and y)
    fp = sum(1 for p, y in zip(probs, labels, strict=True) if p >= 0.9 and not y)
    assert result["proposed"]["quality"]["tp"] == tp and result["proposed"]["quality"]["fp"] == fp
    assert result["proposed"]["quality"]["recall"] == pytest.approx(tp / sum(labels))
    assert result["labelled"] == len(rows)


class _CountingModel:
    """The real model, counting how many texts each predict call takes."""

    def __init__(self, model: object) -> None:
        self.model, self.calls = model, []

    def predict(self, texts: list) -> list:
        self.calls.append(len(texts))
        return self.model.predict(texts)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)


def test_backtest_scores_in_batches_once_for_both_sides(classifier: object) -> None:
    """Speed comes from batching (one model call per 2,000 items, shared by both sides when
    they use one model): the call pattern is checked here, the items/s in bench/."""
    rows = [
        json.loads(line)
        for line in (ROOT / "data" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    lines = [json.dumps({**r, "title": f"{r['title']} {n}"}) for n in range(10) for r in rows]
    cases = backtest.jsonl_cases("dev x10", lines)
    loaded_rules = RuleSet(load_config(ROOT / "config" / "newsalert.yaml", {}).rules)
    variant = backtest.Variant("current", loaded_rules, None, ())
    model = _CountingModel(classifier)
    result = backtest.run(cases, variant, variant, {backtest.SHARED_MODEL: model})  # type: ignore[dict-item]
    assert result.items == 4000
    assert result.relevant_gained == result.relevant_lost == ()
    assert model.calls == [2000, 2000]


def test_since_and_file_parsing(tmp_path: Path) -> None:
    assert backtest.parse_since("7d") == timedelta(days=7)
    assert backtest.parse_since("12h") == timedelta(hours=12)
    assert backtest.parse_since("30m") == timedelta(minutes=30)
    assert backtest.parse_since("2w") == timedelta(weeks=2)
    assert backtest.parse_since("all") is None
    with pytest.raises(ValueError, match="duration"):
        backtest.parse_since("yesterday")

    cases = backtest.jsonl_cases(
        "f.jsonl",
        ['{"title": "a", "summary": "b", "label": 1, "feed": "x"}', "", '{"title": "c"}'],
    )
    assert [(c.id, c.label, c.item.feed) for c in cases] == [(1, 1, "x"), (3, None, "-")]
    with pytest.raises(ValueError, match=r"f\.jsonl:1: label"):
        backtest.jsonl_cases("f.jsonl", ['{"title": "a", "label": "yes"}'])
    with pytest.raises(ValueError, match=r"f\.jsonl:2: not valid JSON"):
        backtest.jsonl_cases("f.jsonl", ["{}", "{nope"])


def test_bad_since_and_missing_file_are_reported(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "a.yaml",
        model_dir,
        f"sqlite:///{tmp_path / 'db'}",
        "http://127.0.0.1:9/f",
        "",
        "",
    )
    assert main(["--config", str(config), "backtest", "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["--config", str(config), "backtest", "--data", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl" in capsys.readouterr().err


# --- stories: alerts counted as the pipeline sends them -----------------------------------

STORY_RULES = """\
rules:
  include:
    - name: attacks
      terms: [police, gunmen, bomb]
"""
STORY_SUBSCRIBERS = """\
subscribers:
  - name: everything
    urls: ["json://127.0.0.1:9/everything"]
  - name: somalia-desk
    urls: ["json://127.0.0.1:9/somalia"]
    keywords: [Mogadishu]
"""


def test_reports_merged_into_a_story_count_once_and_updates_as_sent(
    tmp_path: Path, model_dir: Path, classifier: object
) -> None:
    """One incident reported five times over 90 minutes, and another one: the agency copy
    again (a near-duplicate) and a report 20 minutes on send nothing; the report with a
    new death toll 90 minutes on is an update; without stories every report alerts."""
    config = write_config(
        tmp_path / "a.yaml",
        model_dir,
        f"sqlite:///{tmp_path / 'db'}",
        "http://127.0.0.1:9/feed",
        STORY_RULES,
        STORY_SUBSCRIBERS,
    )
    current = backtest.Variant.from_config("current", load_config(config))
    assert current.stories.enabled  # the default, as the pipeline runs
    proposed = dataclasses.replace(current, name="proposed", stories=StoriesConfig(enabled=False))
    t0 = datetime(2026, 11, 3, 5, 0, tzinfo=UTC)
    reports = [
        (1, "wire-a", WIRE_TITLES["wire-a"], WIRE, 0),
        (2, "wire-b", WIRE_TITLES["wire-b"], WIRE, 1),  # the same copy: a near-duplicate
        (3, "africa", *MOGADISHU, 2),
        (4, "local-d", *MANHUNT, 20),  # the same incident, within the update interval
        (5, "local-e", *TOLL, 90),  # ... and later, with new words: an update
    ]
    cases = [
        backtest.Case(
            n,
            Item(key=str(n), feed=feed, title=title, summary=summary, link=None, published=None),
            fetched=t0 + timedelta(minutes=minutes),
        )
        for n, feed, title, summary, minutes in reports
    ]
    result = backtest.run(
        cases,
        current,
        proposed,
        {backtest.SHARED_MODEL: classifier},  # type: ignore[dict-item]
    )
    assert result.current.relevant == result.proposed.relevant == {1, 2, 3, 4, 5}
    assert result.current.alerts == {"everything": {1, 3, 5}, "somalia-desk": {3}}
    assert result.current.updates == {"everything": {5}, "somalia-desk": set()}
    assert result.proposed.alerts == {"everything": {1, 2, 3, 4, 5}, "somalia-desk": {3}}
    everything = result.diff("everything")
    assert (everything.before, everything.after, everything.gained) == (3, 5, (2, 4))
    assert (everything.updates, everything.merged) == ((1, 0), (2, 0))

    report = backtest.format_report(result)
    assert backtest.COUNTING in report
    assert "subscriber everything: 3 -> 5 alerts (+2 gained, -0 lost)" in report
    assert "of them story updates 1 -> 0; reports merged into a story, not sent: 2 -> 0" in report
    data = result.to_dict()
    assert data["counting"] == backtest.COUNTING
    assert data["current"]["alerts"] == {"everything": 3, "somalia-desk": 1}
    assert data["current"]["merged"] == {"everything": 2, "somalia-desk": 0}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_backtest_counts_the_deliveries_the_pipeline_made(
    tmp_path: Path,
    model_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    shared_model: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The stored items of a real poll replayed: as many alerts as the pipeline queued."""
    entries = [
        ("wire-a", WIRE_TITLES["wire-a"], WIRE, 1),
        ("wire-b", WIRE_TITLES["wire-b"], WIRE, 1),
        ("mogadishu", *MOGADISHU, 1),
        ("manhunt", *MANHUNT, 1),
    ]
    feed_server.route("/desk", body=rss(entries), headers={"Content-Type": "application/rss+xml"})
    config = write_config(
        tmp_path / "a.yaml",
        model_dir,
        database_url,
        feed_server.url("/desk"),
        STORY_RULES,
        STORY_SUBSCRIBERS,
        "stories:\n  update_interval_minutes: 30\n  update_source_milestones: [4, 2]\n",
    )
    loaded = load_config(config)
    store = Store(loaded.database_url)
    desk = StoryDesk.from_config(store, loaded.config.stories)  # what the pipeline runs with
    assert backtest.story_rules(loaded.config.stories) == (desk.settings, desk.policy)
    pipeline = Pipeline(loaded, store)
    outcome = pipeline.poll_feed("desk")
    assert len(outcome.new_item_ids) == 4
    assert pipeline.score_items(outcome.new_item_ids).relevant == 4
    pipeline.close()
    queued: dict[str, set[int]] = {}
    for d in store.list_deliveries(limit=100):
        queued.setdefault(d.subscriber, set()).add(d.item_id)  # type: ignore[arg-type]
    store.close()
    assert {s: len(ids) for s, ids in queued.items()} == {"everything": 2, "somalia-desk": 1}

    capsys.readouterr()
    assert main(["--config", str(config), "backtest", "--since", "1h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["current"]["alerts"] == {"everything": 2, "somalia-desk": 1}
    assert data["current"]["merged"] == {"everything": 2, "somalia-desk": 0}
    assert main(["--config", str(config), "backtest", "--since", "1h"]) == 0
    out = capsys.readouterr().out
    assert backtest.COUNTING in out and "subscriber everything: 2 -> 2 alerts" in out
