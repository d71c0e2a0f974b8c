"""Feedback: operators label stored items; alerts say how; retraining uses the labels."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsalert import classifier, feedback
from newsalert import classifier as classifier_module
from newsalert.cli import main
from newsalert.errors import StoreError
from newsalert.models import Alert, Item, Reason
from newsalert.render import FAMILIES, render, render_digest
from newsalert.store import Store

from .conftest import ROOT

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
# the model calls A irrelevant and B relevant; the operator says the opposite
ITEM_A = ("Bakery festival draws record crowds", "Bakers sold pastries and bread all weekend.")
ITEM_B = (
    "Gunmen attack police checkpoint, killing five",
    "Armed militants opened fire on a police checkpoint and set off explosives.",
)


def stored_items(url: str, texts: list[tuple[str, str]]) -> tuple[Store, list[int]]:
    store = Store(url)
    store.sync_feeds([("desk", "http://127.0.0.1:9/feed")])
    feed_id = store.feed_state("desk").id
    items = [
        Item(key=f"k{n}", feed="desk", title=t, summary=s, link=None, published=None)
        for n, (t, s) in enumerate(texts)
    ]
    return store, store.add_items(feed_id, items, NOW)


def write_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "newsalert.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {tmp_path / "var"}
              database_url: {database_url}
            feeds:
              - name: desk
                url: http://127.0.0.1:9/feed
            """
        ),
        encoding="utf-8",
    )
    return path


def test_labels_are_stored_last_answer_wins_and_unknown_items_are_refused(
    database_url: str,
) -> None:
    store, (a, b) = stored_items(database_url, [ITEM_A, ITEM_B])
    feedback.record(store, a, 1, category="civil_unrest", now=NOW)
    feedback.record(store, b, 1, now=NOW)
    feedback.record(store, b, 0, now=NOW)  # changed their mind
    assert feedback.labels(store) == {a: 1, b: 0}
    assert feedback.labels(store, [b]) == {b: 0}
    assert feedback.training_items(store) == [
        {
            "title": ITEM_A[0],
            "summary": ITEM_A[1],
            "label": 1,
            "category": "civil_unrest",
            "source": "feedback",
        },
        {
            "title": ITEM_B[0],
            "summary": ITEM_B[1],
            "label": 0,
            "category": None,
            "source": "feedback",
        },
    ]
    assert [(f.item_id, f.label) for f in feedback.recent(store)] == [(b, 0), (a, 1)]
    with pytest.raises(StoreError, match="no item with id 999"):
        feedback.record(store, 999, 1)
    with pytest.raises(ValueError, match="unknown category"):
        feedback.record(store, a, 1, category="weather")
    assert feedback.parse_label("YES") == 1 and feedback.parse_label("n") == 0
    with pytest.raises(ValueError):
        feedback.parse_label("maybe")
    store.close()


def test_feedback_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = write_config(tmp_path, url)
    store, (a, _) = stored_items(url, [ITEM_A, ITEM_B])
    assert main(["--config", str(config), "feedback"]) == 0
    assert "no feedback yet" in capsys.readouterr().out
    assert main(["--config", str(config), "feedback", str(a), "yes"]) == 0
    assert f"item {a} marked relevant: {ITEM_A[0]}" in capsys.readouterr().out
    assert main(["--config", str(config), "feedback"]) == 0
    assert ITEM_A[0] in capsys.readouterr().out
    assert main(["--config", str(config), "feedback", str(a), "perhaps"]) == 2
    assert main(["--config", str(config), "feedback", str(a)]) == 2
    assert main(["--config", str(config), "feedback", "12345", "no"]) == 1
    assert "no item with id 12345" in capsys.readouterr().err
    assert feedback.labels(store) == {a: 1}
    store.close()


def alert(item_id: int) -> Alert:
    return Alert(
        item_id=item_id,
        title="Troops cross border",
        source="Reuters",
        published=NOW,
        score=0.93,
        category="armed_conflict",
        reasons=(Reason("rule", "include troops", 0.4),),
        link="https://news.example.org/1",
        summary="Fighting spread. " * 2000,  # cut to fit: the reference must stay
        subscriber="desk",
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_every_alert_says_how_to_give_feedback(family: str) -> None:
    message = render(alert(4711), family)
    assert "ref: item 4711 · newsalert feedback 4711 yes|no" in message.body
    if message.attach_text:
        assert "newsalert feedback 4711 yes|no" in message.attach_text
    assert "ref:" not in render(alert(0), family).body  # send-test: no stored item
    [digest] = render_digest([alert(4711), alert(4712)], family)
    assert "ref 4711" in digest.body and "ref 4712" in digest.body


def small_training_file(tmp_path: Path, per_class: int = 60) -> Path:
    rows = [json.loads(line) for line in (ROOT / "data" / "dev.jsonl").read_text().splitlines()]
    pos = [r for r in rows if r["label"] == 1][:per_class]
    neg = [r for r in rows if r["label"] == 0][:per_class]
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pos + neg), encoding="utf-8")
    return path


def test_feedback_changes_the_retrained_models_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small = small_training_file(tmp_path)
    # "the packaged data" is a small subset here, so that training takes a second or two
    monkeypatch.setattr(classifier, "packaged_data", lambda: small)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = write_config(tmp_path, url)
    store, (a, b) = stored_items(url, [ITEM_A, ITEM_B])

    classifier.train(tmp_path / "plain", [small])
    plain = classifier.load(tmp_path / "plain" / "model.joblib")
    before_a, before_b = (p.probability for p in plain.predict([ITEM_A, ITEM_B]))
    assert before_a < plain.threshold < before_b  # the model's own view

    assert main(["--config", str(config), "feedback", str(a), "yes"]) == 0
    assert main(["--config", str(config), "feedback", str(b), "no"]) == 0
    out = tmp_path / "with-feedback"
    assert (
        main(["--config", str(config), "model", "train", "--with-feedback", "--out", str(out)]) == 0
    )
    assert "with feedback: 2 labelled item(s), 1 relevant" in capsys.readouterr().err
    tuned = classifier.load(out / "model.joblib")
    assert tuned.metadata["data"]["extra_items"] == 2
    after_a, after_b = (p.probability for p in tuned.predict([ITEM_A, ITEM_B]))
    assert after_a > before_a + 0.05, (before_a, after_a)
    assert after_b < before_b - 0.05, (before_b, after_b)
    store.close()


def test_a_managed_model_trained_with_extra_labels_is_kept(
    tmp_path: Path, model_dir: Path, classifier: object
) -> None:
    """`model train --with-feedback` (or --data FILE) into the managed location must not
    be thrown away on next use: it still contains the packaged data."""
    import shutil

    managed = tmp_path / "model"
    managed.mkdir()
    for name in ("model.joblib", "model.json"):
        shutil.copy(model_dir / "model" / name, managed / name)
    meta_path = managed / "model.json"
    meta = json.loads(meta_path.read_text())
    packaged = classifier_module.packaged_data_sha256()
    with_feedback = {
        "sha256": "0" * 64,
        "files": [{"name": "train.jsonl.gz", "sha256": packaged, "items": 1}],
        "extra_items": 3,
    }
    meta_path.write_text(json.dumps({**meta, "data": with_feedback}))
    assert classifier_module._managed_problem(managed / "model.joblib", meta_path) is None

    other_only = {
        "sha256": "1" * 64,
        "files": [{"name": "mine.jsonl", "sha256": "2" * 64, "items": 9}],
        "extra_items": 0,
    }
    meta_path.write_text(json.dumps({**meta, "data": other_only}))
    assert (
        classifier_module._managed_problem(managed / "model.joblib", meta_path)
        == "the packaged training data changed"
    )
