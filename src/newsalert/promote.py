"""The model learns behind a gate: a candidate trained with the feedback replaces the
running model only when it does at least as well on held-out labels.

``train_candidate`` keeps a share of the feedback out of training (``HOLDOUT``, by a
hash of the text, so the split is stable), trains a candidate under
``<data_dir>/candidates/<id>/`` with the rest, and measures the candidate and the running
model on the same held-out labels: the packaged evaluation data (``data/dev.jsonl.gz``,
never trained on) plus the held-out feedback. ``decide`` passes it when its PR-AUC and
its recall at its own threshold are each not lower than the running model's by more than
the noise (one standard error of the running model's figure on these labels, at least
``MIN_MARGIN``). ``promote`` copies a passing candidate over the running model's files
(atomically, file by file); every worker sees the change at its next batch
(``model_stamp``). Each candidate's numbers and the decision stay in its ``gate.json``,
which the console lists.

Only the classifier's public functions are used: ``train``, ``load``, ``load_or_train``,
``evaluate``, ``model_files``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsalert import feedback
from newsalert.config import LoadedConfig
from newsalert.errors import ModelError
from newsalert.store import Store

HOLDOUT = 0.3  # share of the feedback kept for measuring
MIN_MARGIN = 0.005
GATE_FILE = "gate.json"
EVAL_DATA = Path(__file__).resolve().parent / "data" / "dev.jsonl.gz"


@dataclass(frozen=True, slots=True)
class Scores:
    pr_auc: float
    recall: float
    precision: float
    threshold: float


@dataclass(frozen=True, slots=True)
class Gate:
    id: str
    created_at: str
    path: str
    trained_feedback: int
    held_out_feedback: int
    eval_items: int
    eval_positives: int
    candidate: Scores
    running: Scores
    margins: dict[str, float]
    passed: bool
    reason: str
    promoted_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Gate:
        return cls(
            **{
                **data,
                "candidate": Scores(**data["candidate"]),
                "running": Scores(**data["running"]),
            }
        )


def _held_out(item: dict[str, Any]) -> bool:
    text = f"{item.get('title') or ''}\n{item.get('summary') or ''}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big") < HOLDOUT * 2**32


def running_model_files(loaded: LoadedConfig) -> tuple[Path, Path]:
    """The running model's (model, metadata) files: ``model.path`` (a directory, or a
    model file with its metadata beside it), else the managed model under data_dir."""
    from newsalert import classifier

    path = loaded.model_path
    if path is None or path.is_dir():
        return classifier.model_files(
            path or classifier.managed_dir(loaded.data_dir, loaded.model_embedding)
        )
    model, meta = classifier.model_files(path.parent)
    return path, meta if path.name == model.name else path.with_suffix(".json")


def model_stamp(loaded: LoadedConfig) -> tuple[int, int] | None:
    """Changes whenever the running model's files are replaced (None: no model yet)."""
    joblib_path, meta_path = running_model_files(loaded)
    try:
        a, b = joblib_path.stat(), meta_path.stat()
    except OSError:
        return None
    return (max(a.st_mtime_ns, b.st_mtime_ns), a.st_size + b.st_size)


def candidates_dir(loaded: LoadedConfig) -> Path:
    return loaded.data_dir / "candidates"


def _scores(report: Any) -> Scores:  # a classifier.EvaluationReport
    return Scores(report.pr_auc, report.recall, report.precision, report.threshold)


def decide(
    candidate: Scores, running: Scores, positives: int
) -> tuple[bool, str, dict[str, float]]:
    """Pass when neither PR-AUC nor recall is lower than the running model's beyond noise."""
    n = max(positives, 1)
    margins = {
        name: max(MIN_MARGIN, math.sqrt(max(v * (1 - v), 0.0) / n))
        for name, v in (("pr_auc", running.pr_auc), ("recall", running.recall))
    }
    worse = [
        f"{name} {getattr(candidate, name):.3f} < {getattr(running, name):.3f} - {margins[name]:.3f}"
        for name in ("pr_auc", "recall")
        if getattr(candidate, name) < getattr(running, name) - margins[name]
    ]
    if worse:
        return False, "lower than the running model beyond noise: " + "; ".join(worse), margins
    return (
        True,
        f"PR-AUC {candidate.pr_auc:.3f} (running {running.pr_auc:.3f}) and recall "
        f"{candidate.recall:.3f} (running {running.recall:.3f}) within noise or better",
        margins,
    )


def train_candidate(
    loaded: LoadedConfig, store: Store, *, seed: int = 0, now: datetime | None = None
) -> Gate:
    """Train a candidate with the feedback (less the held-out share) and measure it."""
    from newsalert import classifier

    now = now or datetime.now(UTC)
    items = feedback.training_items(store)
    train_items = [i for i in items if not _held_out(i)]
    held = [i for i in items if _held_out(i)]
    ident = now.strftime("%Y%m%dT%H%M%SZ")
    out = candidates_dir(loaded) / ident
    out.mkdir(parents=True, exist_ok=True)
    holdout_path = out / "holdout.jsonl"
    holdout_path.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in held), encoding="utf-8"
    )
    classifier.train(
        out, None, seed=seed, extra_items=train_items, embedding=loaded.model_embedding
    )
    data = [EVAL_DATA, *([holdout_path] if held else [])]
    cand = classifier.evaluate(classifier.load(classifier.model_files(out)[0]), data)
    running = classifier.evaluate(
        classifier.load_or_train(loaded.model_path, loaded.data_dir, loaded.model_embedding),
        data,
    )
    passed, reason, margins = decide(_scores(cand), _scores(running), cand.positives)
    gate = Gate(
        id=ident,
        created_at=now.isoformat(timespec="seconds"),
        path=str(out),
        trained_feedback=len(train_items),
        held_out_feedback=len(held),
        eval_items=cand.n,
        eval_positives=cand.positives,
        candidate=_scores(cand),
        running=_scores(running),
        margins=margins,
        passed=passed,
        reason=reason,
    )
    _write_gate(out, gate)
    return gate


def _write_gate(out: Path, gate: Gate) -> None:
    tmp = out / (GATE_FILE + ".tmp")
    tmp.write_text(json.dumps(gate.to_dict(), indent=2), encoding="utf-8")
    os.replace(tmp, out / GATE_FILE)


def candidates(loaded: LoadedConfig, limit: int = 20) -> list[Gate]:
    """The candidates measured so far, newest first."""
    root = candidates_dir(loaded)
    out = []
    for path in sorted(root.glob(f"*/{GATE_FILE}"), reverse=True)[:limit]:
        try:
            out.append(Gate.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return out


def promote(loaded: LoadedConfig, gate: Gate, *, now: datetime | None = None) -> Gate:
    """Replace the running model with a candidate that passed; ModelError otherwise."""
    from newsalert import classifier

    if not gate.passed:
        raise ModelError(f"candidate {gate.id} did not pass the gate: {gate.reason}")
    source = Path(gate.path)
    targets = running_model_files(loaded)
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    pairs = list(zip(classifier.model_files(source), targets, strict=True))
    arrays = classifier.runtime_file(classifier.model_files(source)[0])
    if arrays.is_file():  # the arrays the workers score with (keyed by the model's sha256)
        pairs.insert(0, (arrays, classifier.runtime_file(targets[0])))
    for src, dst in pairs:  # the arrays and the model first, its metadata last
        tmp = dst.with_name(dst.name + ".promoting")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    done = Gate.from_dict({**gate.to_dict(), "promoted_at": when})
    _write_gate(source, done)
    return done


def retrain(loaded: LoadedConfig, store: Store) -> Gate:
    """Train a candidate and promote it if it passes (``model.retrain``, or by hand)."""
    gate = train_candidate(loaded, store)
    return promote(loaded, gate) if gate.passed else gate


__all__ = [
    "HOLDOUT",
    "Gate",
    "Scores",
    "candidates",
    "decide",
    "model_stamp",
    "promote",
    "retrain",
    "train_candidate",
]
