"""Candidate relevance-model recipes, compared on the training data alone.

Usage (from the repository root; about two minutes per candidate, on 2 cores)::

    PYTHONPATH=src:. /work/venv/bin/python bench/classifier_candidates.py [NAME ...]

Nothing here reads ``data/dev.jsonl``: it is how a recipe is chosen *before* the
evaluation set is looked at. Each candidate is built as ``classifier.train``
builds the shipped model (5-fold cross-fitting, summary-only copies, Platt
calibration, the F1-best threshold on out-of-fold probabilities) and measured twice:

* **cv**: 5-fold out-of-fold F1 and PR-AUC on the whole training file, and the
  share of the CAMEO cooperation sentences (CAMEO quad classes 1 and 2: talks,
  agreements, releases, surrenders, all labelled 0) flagged at the threshold;
* **transfer**: trained on the AG News part alone, scored on the CAMEO sentences,
  a style the model never saw (the situation of any new feed). ``coop@R90`` is
  the share of the cooperation sentences flagged at the threshold that keeps 90 %
  of the CAMEO incidents: the training data's nearest stand-in for the
  evaluation set's hard negatives (DIPLO, AGREEMENT, PEACE_PROTEST).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion

from newsalert import classifier as C

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])|\n")


def _lead(doc: str) -> str:
    """The first sentence of four words or more: where a report names its event."""
    for part in _SENTENCE.split(doc):
        if len(part.split()) >= 4:
            return part
    return doc


class LeadTfidf(TfidfVectorizer):
    """Word n-grams of the lead sentence only, as a block of their own."""

    def build_preprocessor(self) -> Callable[[str], str]:
        base = super().build_preprocessor()
        return lambda doc: base(_lead(doc))


# Words that open a span reporting violence as context (the cause of a protest, what a
# ceasefire ends, what someone is accused of) rather than as the event itself.
_CONTEXT_2 = {
    ("in", "response"), ("in", "retaliation"), ("in", "protest"), ("to", "protest"),
    ("blamed", "for"), ("responsible", "for"), ("accused", "of"), ("suspected", "of"),
    ("charged", "with"), ("convicted", "of"), ("in", "connection"), ("to", "end"),
    ("to", "halt"), ("to", "stop"), ("to", "condemn"), ("to", "denounce"),
    ("to", "demand"), ("to", "mourn"), ("to", "commemorate"), ("to", "discuss"),
}  # fmt: skip
_CONTEXT_1 = frozenset(
    (
        "after", "following", "over", "against", "amid", "since", "condemning", "condemned",
        "denouncing", "denounced", "about", "during", "ending", "end", "halt", "mourning",
        "commemorating", "protesting", "remembering",
    )
)  # fmt: skip
_TOKEN = re.compile(r"\w+|[.,;:!?()\"]")


def mark_context(doc: str) -> str:
    """Prefix ``ctx`` to the words of context spans, up to the next punctuation mark
    (as sentiment models mark negation scope): "protest the killing" ->
    "to protest ctxthe ctxkilling"."""
    tokens, out, scope, i = _TOKEN.findall(doc.lower()), [], False, 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok[0].isalnum() and tok != "_":
            scope, i = False, i + 1
        elif i + 1 < len(tokens) and (tok, tokens[i + 1]) in _CONTEXT_2:
            out += [tok, tokens[i + 1]]
            scope, i = True, i + 2
        elif tok in _CONTEXT_1:
            out.append(tok)
            scope, i = True, i + 1
        else:
            out.append("ctx" + tok if scope else tok)
            i += 1
    return " ".join(out)


class ContextTfidf(TfidfVectorizer):
    def build_preprocessor(self) -> Callable[[str], str]:
        base = super().build_preprocessor()
        return lambda doc: mark_context(base(doc))


def _vectorizer(cand: dict[str, Any]) -> FeatureUnion:
    word_cls = ContextTfidf if cand.get("context_word") else TfidfVectorizer
    parts: list[tuple[str, Any]] = [("word", word_cls(**{**C.WORD_PARAMS, **cand.get("word", {})}))]
    if cand.get("char", True):
        parts.append(("char", TfidfVectorizer(**{**C.CHAR_PARAMS, **cand.get("char_params", {})})))
    if cand.get("cues", C.CUE_SCALE):
        parts.append(("cues", C._CueFeatures(scale=cand.get("cues", C.CUE_SCALE))))
    if cand.get("lead"):
        parts.append(("lead", LeadTfidf(ngram_range=(1, 2), sublinear_tf=True, min_df=2)))
    if cand.get("context_block"):
        parts.append(("context", ContextTfidf(**C.WORD_PARAMS)))
    return FeatureUnion(parts)


CANDIDATES: dict[str, dict[str, Any]] = {
    "shipped": {},
    "no char n-grams": {"char": False},
    "no cue features": {"cues": 0},
    "word 1-2 grams": {"word": {"ngram_range": (1, 2)}},
    "char 2-4 grams": {"char_params": {"ngram_range": (2, 4)}},
    "C 4": {"C": 4.0},
    "CAMEO negatives x2": {"cameo_negative_weight": 2.0},
    "+ lead-sentence block": {"lead": True},
    "context-marked words": {"context_word": True},
    "+ context-marked block": {"context_block": True},
}


class Data:
    def __init__(self) -> None:
        rows, _ = C._data_items(None, None)
        with gzip.open(C.packaged_data(), "rt", encoding="utf-8") as f:
            raw = [json.loads(line) for line in f]
        if len(raw) != len(rows):
            raise SystemExit("an empty training item: rows no longer line up with the file")
        self.texts = [r.text for r in rows]
        self.copies = [r.summary_only for r in rows]
        self.y = np.array([r.label for r in rows])
        self.source = np.array([r.source for r in rows])
        self.orig = np.array([item["orig_label"] for item in raw])


def _cross_fit(
    data: Data, idx: np.ndarray, cand: dict[str, Any], test: np.ndarray | None = None
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """As ``classifier.train``: out-of-fold calibrated probabilities, the F1-best
    threshold, and the averaged fold models' probabilities on ``test``."""
    texts = [data.texts[i] for i in idx]
    copy_of = np.array([k for k, i in enumerate(idx) if data.copies[i]], dtype=int)
    vec = _vectorizer(cand)
    both = vec.fit_transform(texts + [data.copies[idx[k]] or "" for k in copy_of]).tocsr()
    x, x_copies = both[: len(texts)], both[len(texts) :]
    y = data.y[idx]
    w = np.array([C.SOURCE_WEIGHTS.get(s, 1.0) for s in data.source[idx]])
    cameo_negative = (data.source[idx] == "conflibert_cameo") & (y == 0)
    w = w * np.where(cameo_negative, cand.get("cameo_negative_weight", 1.0), 1.0)
    oof, coefs, intercepts = np.zeros(len(y)), [], []
    for tr, te in StratifiedKFold(C.N_FOLDS, shuffle=True, random_state=0).split(x, y):
        with_copies = np.flatnonzero(np.isin(copy_of, tr))
        model = LogisticRegression(
            C=cand.get("C", C.RELEVANCE_C), class_weight="balanced", solver="liblinear",
            max_iter=1000, random_state=0,
        )  # fmt: skip
        model.fit(
            sp.vstack([x[tr], x_copies[with_copies]]).tocsr(),
            np.concatenate([y[tr], y[copy_of[with_copies]]]),
            sample_weight=np.concatenate([w[tr], w[copy_of[with_copies]]]),
        )
        oof[te] = model.decision_function(x[te])
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    slope, offset = C._platt(oof, y)
    p = C._sigmoid(slope * oof + offset)
    p_test = None
    if test is not None:
        z = vec.transform([data.texts[i] for i in test]) @ np.mean(coefs, 0) + np.mean(intercepts)
        p_test = C._sigmoid(slope * np.asarray(z).ravel() + offset)
    return p, C._best_f1_threshold(y, p), p_test


def measure(data: Data, cand: dict[str, Any]) -> dict[str, float]:
    cameo = data.source == "conflibert_cameo"
    coop = cameo & (data.y == 0) & np.isin(data.orig, ["cameo_quad_1", "cameo_quad_2"])
    p, threshold, _ = _cross_fit(data, np.arange(len(data.y)), cand)
    flagged = p >= threshold
    ag, cam = np.flatnonzero(~cameo), np.flatnonzero(cameo)
    _, _, pt = _cross_fit(data, ag, cand, test=cam)
    assert pt is not None
    yc, cc = data.y[cam], coop[cam]
    at_r90 = np.quantile(pt[yc == 1], 0.1)
    return {
        "threshold": threshold,
        "cv F1": f1_score(data.y, flagged),
        "cv PR-AUC": average_precision_score(data.y, p),
        "cv coop flagged": flagged[coop].mean(),
        "transfer PR-AUC": average_precision_score(yc, pt),
        "transfer coop@R90": (pt[cc] >= at_r90).mean(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names", nargs="*", help=f"candidates (default all): {', '.join(CANDIDATES)}"
    )
    args = parser.parse_args(argv)
    names = args.names or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {list(CANDIDATES)}")
    data = Data()
    header = None
    for name in names:
        started = time.perf_counter()
        row = measure(data, CANDIDATES[name])
        if header is None:
            header = " | ".join(["candidate", *row, "seconds"])
            print(header)
        cells = [f"{v:.2f}" if k == "threshold" else f"{v:.3f}" for k, v in row.items()]
        print(" | ".join([name, *cells, f"{time.perf_counter() - started:.0f}"]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
