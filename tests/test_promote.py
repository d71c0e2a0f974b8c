"""The model gate: a candidate replaces the running model only when it is not worse
beyond noise on held-out labels; workers pick up a promoted model without a restart."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from newsalert import promote
from newsalert.cli import main
from newsalert.config import load_config
from newsalert.errors import ModelError
from newsalert.pipeline import Pipeline
from newsalert.promote import Gate, Scores, decide
from newsalert.store import Store

RUNNING = Scores(pr_auc=0.90, recall=0.80, precision=0.85, threshold=0.48)


def test_equal_or_better_passes_and_worse_beyond_noise_is_refused() -> None:
    assert decide(RUNNING, RUNNING, 144)[0]
    better = Scores(0.93, 0.85, 0.8, 0.5)
    assert decide(better, RUNNING, 144)[0]
    # one standard error of the running PR-AUC on 144 positives is 0.025
    slightly = Scores(0.88, 0.79, 0.85, 0.5)
    passed, reason, margins = decide(slightly, RUNNING, 144)
    assert passed and margins["pr_auc"] == pytest.approx(0.025, abs=1e-3)
    worse = Scores(0.80, 0.80, 0.9, 0.5)
    passed, reason, _ = decide(worse, RUNNING, 144)
    assert not passed and reason.startswith("lower than the running model") and "pr_auc" in reason
    lost_recall = Scores(0.95, 0.60, 0.99, 0.7)
    passed, reason, _ = decide(lost_recall, RUNNING, 144)
    assert not passed and "recall" in reason and "pr_auc" not in reason


@pytest.fixture
def setup(tmp_path: Path, model_dir: Path, classifier: object) -> tuple[Path, Path]:
    """A config whose managed model is a copy of the session's, and a candidate copy."""
    data = tmp_path / "data"
    shutil.copytree(model_dir / "model", data / "model")
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {data}
              database_url: sqlite:///{tmp_path / "store.db"}
            """
        ),
        encoding="utf-8",
    )
    candidate = data / "candidates" / "20260101T000000Z"
    shutil.copytree(model_dir / "model", candidate)
    meta = candidate / "model.json"
    meta.write_text(meta.read_text(encoding="utf-8") + " ", encoding="utf-8")  # its own bytes
    return config, candidate


def _gate(candidate: Path, passed: bool) -> Gate:
    gate = Gate(
        id=candidate.name,
        created_at="2026-01-01T00:00:00+00:00",
        path=str(candidate),
        trained_feedback=7,
        held_out_feedback=3,
        eval_items=403,
        eval_positives=145,
        candidate=RUNNING,
        running=RUNNING,
        margins={"pr_auc": 0.025, "recall": 0.033},
        passed=passed,
        reason="test",
    )
    (candidate / "gate.json").write_text(json.dumps(gate.to_dict()), encoding="utf-8")
    return gate


def test_promote_replaces_the_running_files_only_when_passed(setup: tuple[Path, Path]) -> None:
    config, candidate = setup
    loaded = load_config(config)
    before = promote.model_stamp(loaded)
    running_meta = promote.running_model_files(loaded)[1]
    with pytest.raises(ModelError, match="did not pass"):
        promote.promote(loaded, _gate(candidate, passed=False))
    assert promote.model_stamp(loaded) == before
    done = promote.promote(loaded, _gate(candidate, passed=True))
    assert done.promoted_at is not None
    assert running_meta.read_bytes() == (candidate / "model.json").read_bytes()
    # the candidate's scoring arrays come along (a worker loads them, not the pickle)
    from newsalert import classifier

    arrays = classifier.runtime_file(running_meta.with_name("model.joblib"))
    if classifier.runtime_file(candidate / "model.joblib").is_file():
        assert (
            arrays.read_bytes() == classifier.runtime_file(candidate / "model.joblib").read_bytes()
        )
    assert promote.model_stamp(loaded) != before
    [listed] = promote.candidates(loaded)
    assert listed.promoted_at == done.promoted_at


def test_the_pipeline_picks_up_a_promoted_model_without_restart(
    setup: tuple[Path, Path],
) -> None:
    config, candidate = setup
    loaded = load_config(config)
    loads: list[int] = []

    def loader() -> object:
        from newsalert.classifier import load_or_train

        loads.append(1)
        return load_or_train(loaded.model_path, loaded.data_dir)

    pipeline = Pipeline(loaded, Store(loaded.database_url), model_loader=loader)  # type: ignore[arg-type]
    first = pipeline.scorer()
    assert pipeline.scorer() is first and len(loads) == 1  # not reloaded while unchanged
    promote.promote(loaded, _gate(candidate, passed=True))
    os.utime(promote.running_model_files(loaded)[1], ns=(1, 2))  # a stamp surely new
    second = pipeline.scorer()
    assert second is not first and len(loads) == 2
    pipeline.close()


def test_cli_candidates_and_promote(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, candidate = setup
    _gate(candidate, passed=False)
    assert main(["--config", str(config), "model", "candidates"]) == 0
    out = capsys.readouterr().out
    assert candidate.name in out and "refused" in out
    assert main(["--config", str(config), "model", "promote"]) == 1
    assert "did not pass" in capsys.readouterr().err
    _gate(candidate, passed=True)
    assert main(["--config", str(config), "model", "promote", candidate.name]) == 0
    assert "promoted" in capsys.readouterr().out


@pytest.mark.slow
def test_train_candidate_measures_it_against_the_running_model(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip

    from newsalert import classifier, feedback
    from newsalert.models import Item
    from newsalert.store import utcnow

    # the candidate trains on a slice of the packaged data (every 12th item) with the
    # feedback added: the gate's path whole, in seconds rather than a full training's
    # minutes (the session's model is the full training, the running model here)
    lines = gzip.decompress(classifier.packaged_data().read_bytes()).splitlines(keepends=True)
    small = tmp_path / "slice.jsonl"
    small.write_bytes(b"".join(lines[::12]))
    real_train = classifier.train
    asked: list[object] = []

    def train_on_slice(out: Path, data: object = None, **kwargs: object) -> dict:
        asked.append(data)
        return real_train(out, [small], **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(classifier, "train", train_on_slice)
    config, _ = setup
    loaded = load_config(config)
    store = Store(loaded.database_url)
    store.sync_feeds([("desk", "https://desk.example/rss")])
    feed_id = store.feed_state("desk").id
    texts = [
        (f"Gunmen attack police patrol in town {i}", "Officers were wounded.", 1) for i in range(6)
    ] + [(f"Football club {i} wins the cup", "Fans celebrated downtown.", 0) for i in range(6)]
    ids = store.add_items(
        feed_id,
        [
            Item(key=f"k{i}", feed="desk", title=t, summary=s, link=None, published=None)
            for i, (t, s, _) in enumerate(texts)
        ],
        utcnow(),
    )
    for item_id, (_, _, label) in zip(ids, texts, strict=True):
        feedback.record(store, item_id, label)
    gate = promote.train_candidate(loaded, store)
    assert asked == [None]  # the packaged data, which the slice stands in for
    assert gate.trained_feedback + gate.held_out_feedback == 12
    meta = json.loads((Path(gate.path) / "model.json").read_text(encoding="utf-8"))
    assert meta["data"]["n_items"] == len(lines[::12]) + gate.trained_feedback
    assert gate.eval_items >= 400  # the packaged evaluation data, plus held-out feedback
    assert 0 < gate.candidate.pr_auc <= 1 and 0 < gate.running.pr_auc <= 1
    assert (Path(gate.path) / "gate.json").exists()
    assert promote.candidates(loaded)[0].id == gate.id
