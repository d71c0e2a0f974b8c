"""Relevance on a later period: train on the stream's earlier items, measure on its later ones.

Usage (from the repository root, one BLAS thread)::

    PYTHONPATH=src:bench .venv/bin/python bench/relevance_later.py [--cache DIR]
        [--cuts A,B,full] [CANDIDATE ...]

The product is judged on feed items of a period after its training data. The training
file's real feed items (``rss_2020``, May-June 2020, every English item of that stream but
``stream_dev.jsonl``'s) carry their ``published`` time, so each *cut* rebuilds exactly what
``newsalert model train`` builds (``relevance_oof.run``: the same vectorizer fitted on the
training texts and summary-only copies, cue and kind blocks, folds, sample weights, Platt
calibration and F1-best threshold) from every training item **except the feed items
published after the cut's day**, and scores those later items with the averaged fold
models at the threshold the recipe itself picked:

* ``A``: feed items published on or before 2020-06-02 (UTC) train (3,308, 132
  incidents); the 3,020 published from 2020-06-03 to 06-12 (60 incidents) are measured;
* ``B``: on or before 2020-05-30 train (2,349, 64 incidents); the 3,979 from 2020-05-31 on
  (128 incidents) are measured (``B``'s later items include ``A``'s: the two cuts are not
  independent);
* ``full``: nothing held out; its dev.jsonl figures are the shipped recipe's (``baseline``
  reproduces ``model.json``) and a candidate's dev check.

Feed items with no ``published`` time (38, 2 incidents) always train. For each cut and
candidate it prints the threshold, the later items' P / R / F1 / PR-AUC (and the same
with the ``flag`` stratum re-weighted to the whole stream: ``stream_dev.jsonl`` took 151
of its 377 items, so each of the 226 left here stands for 377/226 items), the training
feed items' out-of-fold F1 / PR-AUC, and a paired bootstrap of the later items against
``baseline`` (F1 and PR-AUC differences, 95% interval, share of resamples in which the
candidate is ahead). Results are kept in ``--cache`` (``later-<cut>-<candidate>.npz``) so
that the baseline is fitted once per cut.

Candidates: ``relevance_oof.CANDIDATES`` (``nb norm`` ...), ``feed N`` (feed items
weighted N, shipped 20), and two that need no new fit (computed from ``baseline``'s folds):
``feed threshold`` (the F1-best threshold on the training *feed* items' out-of-fold
probabilities alone, base rate ~3%) and ``title avg`` (the mean of the calibrated
probability of the item and of its title alone, each scored by the same fold models, the
title's own Platt fitted out of fold; an item with no title is its text). ``youtube
plain``: a YouTube link gives no ``kind:video`` flag (the text decides). ``day folds``:
the training feed items assigned to the folds by blocks of days (``day_folds``).
``baseline seed N``: the shipped recipe with another fold draw (a null candidate).
``minilm avg`` (and ``minilm lr``, ``minilm stack``): ``relevance_oof.run_combined`` on the
cut, the embeddings cut from ``bench/minilm.py cache DIR``'s (same ``--cache``).
Eighth round (``TEXT``; combined with ``+``, e.g. ``names masked + no char``): ``names
masked`` (the TF-IDF blocks see names replaced by ``Xname``, ``NameMasker``) and ``no char``
(the character block dropped); cue and kind features keep the original text.
Ninth round: ``extra contrast`` (the written items of ``data/contrast_extra.jsonl``, see
``load_extra``, appended as training rows of source ``contrast_extra`` weighted as
``contrast.jsonl``'s, 3x, the TF-IDF blocks refitted with them: ``with_extra``) and ``extra
contrast x3`` (weighted 9x); ``extra contrast + rows threshold`` (the threshold chosen on
the cut's own rows, ``rows_threshold``); ``extra contrast shuffled`` (a control: the same
texts with permuted labels, ``shuffled``). Tenth round: ``extra both`` (= ``extra contrast
both``, both written files) ``+ names masked`` (``with_extra``'s ``mask``) and ``+ kind
stack`` (``kind_stack``: a model of the contrast sets' kind, its probability one more
column). Eleventh round: ``extra all`` (the two files and ``data/contrast_extra3.jsonl``:
individual crimes and accidents told as they happen). Twelfth round: ``kind stack feed``,
``kind stack news``, ``kind stack every`` (``STACK_WIDER``: the kind model also fitted on
the cut's training feed items, on AG News and CAMEO, or on every training row). ``--categories`` reports, on the
``full`` cut, the category model's accuracy on dev's positives (``dev_categories``,
``ACLED_CATEGORIES``).
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import joblib
import numpy as np
import relevance_oof as R
import scipy.sparse as sp
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

from newsalert import classifier as C
from newsalert.models import CATEGORIES

FEED = "rss_2020"
CUTS: dict[str, str | None] = {"A": "2020-06-02", "B": "2020-05-30", "full": None}
# stream_dev.jsonl drew 151 of the ``flag`` stratum's 377 stream items (weight 2.497): the
# 226 left in the training file each stand for 377 / 226 stream items, the other strata's
# items for about one (unf_kw 84 of 891 drawn, unf_other 52 of 5,456; "rest" is both)
FLAG_WEIGHT = 377 / 226


def packaged_meta(rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``published`` day (``YYYY-MM-DD``, "" when absent) and ``stratum`` of each training
    row, read again from the packaged file and aligned with ``_data_items``' rows (which
    skip items with no text)."""
    raw = C._parse_jsonl(C._read_bytes(C.packaged_data()), "packaged")
    return align_meta(raw, rows)


def align_meta(raw: list[dict[str, Any]], rows: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    kept = [i for i in raw if C.compose_text(i.get("title"), i.get("summary"))]
    if len(kept) != len(rows):
        raise ValueError(f"{len(kept)} items with text, {len(rows)} rows")
    days, strata = [], []
    for item, row in zip(kept, rows, strict=True):
        if C.compose_text(item.get("title"), item.get("summary")) != row.text:
            raise ValueError(f"misaligned at {row.text[:60]!r}")
        published = item.get("published")
        days.append(published[:10] if isinstance(published, str) else "")
        strata.append(str(item.get("stratum") or ""))
    return np.array(days), np.array(strata)


def later_mask(source: np.ndarray, days: np.ndarray, day: str | None) -> np.ndarray:
    """Feed items published after ``day`` (a UTC ``YYYY-MM-DD``); undated items and other
    sources never; nothing when ``day`` is None."""
    if day is None:
        return np.zeros(len(source), bool)
    return (source == FEED) & (days != "") & (days > day)


class CutData(R.Data):
    """``relevance_oof.Data`` for the items a cut trains on; its ``dev`` is dev.jsonl
    followed by the cut's later feed items, so ``run`` scores both with the averaged
    fold models (``n_dev`` splits them)."""

    def __init__(self, full: R.Data, days: np.ndarray, strata: np.ndarray, name: str,
                 cache: Path) -> None:  # fmt: skip
        later = later_mask(full.source, days, CUTS[name])
        keep = np.flatnonzero(~later)
        self.name, self.cache = name, cache
        self.full, self.keep, self.later_idx = full, keep, np.flatnonzero(later)
        self.rows = [full.rows[i] for i in keep]
        self.days = days[keep]
        self.y, self.source = full.y[keep], full.source[keep]
        self.copy_of = np.array([i for i, r in enumerate(self.rows) if r.summary_only], dtype=int)
        self.later = [full.rows[i] for i in np.flatnonzero(later)]
        self.later_y = full.y[later]
        self.later_strata = strata[later]
        self.n_dev = len(full.dev)
        self.dev = full.dev + [{"title": r.title, "link": r.link} for r in self.later]
        self.dev_docs = full.dev_docs + [r.text for r in self.later]
        self.dev_y = np.concatenate([full.dev_y, self.later_y])
        key = f"{C.packaged_data_sha256()[:12]}-{name}"
        vec_f, x_f, ev_f = (cache / f"later-vec-{key}.joblib", cache / f"later-x-{key}.npz",
                            cache / f"later-ev-{key}.npz")  # fmt: skip
        if vec_f.exists() and x_f.exists() and ev_f.exists():
            self.vec = joblib.load(vec_f)
            self.tfidf, self.dev_tfidf = sp.load_npz(x_f), sp.load_npz(ev_f)
        else:
            from sklearn.pipeline import FeatureUnion

            self.vec = FeatureUnion([(n, t) for n, t in C._make_vectorizer().transformer_list[:2]])
            self.tfidf = self.vec.fit_transform(self.docs).tocsr()
            self.dev_tfidf = self.vec.transform(self.dev_docs).tocsr()
            joblib.dump(self.vec, vec_f)
            sp.save_npz(x_f, self.tfidf)
            sp.save_npz(ev_f, self.dev_tfidf)

    plain_youtube = False  # set by ``evaluate`` for the ``youtube plain`` candidate

    def embeddings(self, name: str, max_tokens: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The full data's cached embeddings cut as the rows are: the kept rows, then their
        summary-only copies; dev, then the later items."""
        raw, dev_raw = self.full.embeddings(name, max_tokens)
        n = len(self.full.rows)
        copies = raw[n:][np.isin(self.full.copy_of, self.keep)]
        return np.vstack([raw[self.keep], copies]), np.vstack([dev_raw, raw[self.later_idx]])

    def kinds(self, extra: Any = None, host: Any = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """``Data.kinds``; with ``plain_youtube`` a YouTube link is read as no link (no
        ``kind:video``: the text decides)."""
        if not self.plain_youtube:
            return super().kinds(extra, host)
        saved = R.kind_features

        def kf(title: str | None, summary: str | None, link: str | None) -> set[str]:
            return saved(title, summary, None if is_youtube(link) else link)

        R.kind_features = kf
        try:
            return super().kinds(extra, host)
        finally:
            R.kind_features = saved


def is_youtube(link: str | None) -> bool:
    """A YouTube watch link (``kinds.kind_features`` marks every one ``kind:video``)."""
    try:
        host = (urlsplit(link).hostname or "").lower() if link else ""
    except ValueError:
        return False
    return host.endswith("youtube.com") or host == "youtu.be"


def day_folds(days: np.ndarray, source: np.ndarray,
              splits: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """The same number of folds, the dated feed items reassigned by day: the days in
    order cut into as many contiguous blocks of about equal item counts, block k the
    test part of fold k; every other item keeps its stratified fold. Out-of-fold scores
    of feed items then come from models that saw none of that block's days (the
    threshold and calibration are set on scores like a later period's)."""
    fold = np.empty(len(days), dtype=int)
    for k, (_, te) in enumerate(splits):
        fold[te] = k
    dated = np.flatnonzero((source == FEED) & (days != ""))
    order = dated[np.argsort(days[dated], kind="stable")]
    uniq, counts = np.unique(days[order], return_counts=True)
    edges = np.cumsum(counts) / len(order)  # the share of dated items up to each day
    block = np.minimum((edges - counts / len(order) / 2) * len(splits), len(splits) - 1)
    by_day = dict(zip(uniq, block.astype(int), strict=True))
    fold[dated] = [by_day[d] for d in days[dated]]
    idx = np.arange(len(days))
    return [(idx[fold != k], idx[fold == k]) for k in range(len(splits))]


# Eighth round: take the training period's topic (its people and places) away from the
# TF-IDF blocks, so that they have to learn how an incident is told. A name is told from an
# ordinary word by the cut's own training texts: headlines in Title Case capitalise every
# word ("U.S. Sends Aircraft Carriers"), so capitalisation alone would mask verbs and nouns.
NAME = "Xname"
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_GAP = re.compile(r"[.!?:|\n]")  # a sentence, title or clause ("Watch:") starts after


def _words(text: str) -> list[tuple[re.Match[str], bool]]:
    """Each letter-only token and whether it starts the text or a sentence (the gap since
    the previous token holds ``. ! ? : |`` or a line break)."""
    found, end = [], None
    for m in _WORD.finditer(text):
        found.append((m, end is None or bool(_SENTENCE_GAP.search(text, end, m.start()))))
        end = m.end()
    return found


def capitalised(word: str, acronyms: bool = False) -> bool:
    """``Floyd``, ``McDonald``; not ``iPhone``; not ``ISIS`` or ``IED`` (all-caps acronyms
    are kept: many carry incident meaning) unless ``acronyms`` (then all-caps words of two
    or more letters are capitalised too)."""
    return word[0].isupper() and (not word.isupper() or (acronyms and len(word) >= 2))


class NameMasker:
    """``names masked``: a Capitalised word is replaced by ``Xname`` when the training
    texts it was fitted on use its lower-case form less often than they capitalise it
    inside a sentence (never lower-case at all counts as a name): ``Minneapolis``,
    ``Floyd``, ``Trump`` go, ``Police`` and a Title Case headline's ``Sends`` stay. The
    rule is the same at a sentence start, where capitals say nothing. All-caps words are
    kept."""

    def __init__(self, texts: list[str], acronyms: bool = False) -> None:
        self.acronyms = acronyms  # ``names and acronyms masked``: LAPD, NATO by the same rule
        self.lower: Counter[str] = Counter()
        self.inside: Counter[str] = Counter()  # capitalised, not at a sentence start
        for text in texts:
            for m, start in _words(text):
                word = m.group()
                if word.islower():
                    self.lower[word] += 1
                elif not start and capitalised(word, acronyms):
                    self.inside[word.lower()] += 1

    def is_name(self, word: str) -> bool:
        key = word.lower()
        return capitalised(word, self.acronyms) and self.lower[key] < max(self.inside[key], 1)

    def __call__(self, text: str) -> str:
        out, last = [], 0
        for m, _ in _words(text):
            if self.is_name(m.group()):
                out += [text[last : m.start()], NAME]
                last = m.end()
        return "".join(out) + text[last:] if out else text


def word_columns(vec: Any) -> int:
    """How many of a word + char ``FeatureUnion``'s columns are the word block's (first)."""
    return len(vec.transformer_list[0][1].vocabulary_)


def text_blocks(data: CutData, mask: str = "", char: bool = True,
                vocab: str = "") -> tuple[sp.csr_matrix, sp.csr_matrix]:  # fmt: skip
    """The TF-IDF blocks a text candidate sees: the shipped ones, or refitted on the cut's
    training texts with ``mask`` (``names``, or ``acronyms`` for names and acronyms:
    ``NameMasker`` fitted on the cut's training texts) and/or ``vocab`` ``other`` (the
    vocabulary and idf fitted on the training texts that are *not* feed items: AG News,
    CAMEO, contrast sets, and their copies; every text transformed with it); with or
    without the character block. Cue and kind features keep the original text."""
    if not mask and not vocab:
        x, ev, vec = data.tfidf, data.dev_tfidf, data.vec
    else:
        key = f"{C.packaged_data_sha256()[:12]}-{data.name}-{mask or 'plain'}-{vocab or 'all'}"
        fit_on = None
        if vocab == "other":
            fit_on = np.flatnonzero(np.concatenate([data.source, data.source[data.copy_of]]) != FEED)  # fmt: skip
        vec, x, ev = _fitted_blocks(data, f"later-text-{{}}-{key}", mask, fit_on)
    if char:
        return x, ev
    n = word_columns(vec)
    return x[:, :n].tocsr(), ev[:, :n].tocsr()


def title_docs(titles: list[str | None], texts: list[str]) -> list[str]:
    """An item's title alone as the model reads it; its text when it has no title."""
    return [C.compose_text(t, "") if (t or "").strip() else x for t, x in zip(titles, texts, strict=True)]  # fmt: skip


def title_average(data: CutData, out: dict[str, Any]) -> dict[str, Any]:
    """``title avg``: the mean of ``out``'s calibrated probability and the title's, the
    title scored by the same fold models out of fold (its own Platt), the threshold the
    F1-best on the averaged out-of-fold probabilities."""
    n = len(data.rows)
    kinds, dev_kinds = data.kinds()

    def matrix(docs: list[str], kind: sp.csr_matrix) -> sp.csr_matrix:
        return sp.hstack([data.vec.transform(docs), sp.csr_matrix(R.cues(docs)), kind], format="csr")  # fmt: skip

    xt = matrix(title_docs([r.title for r in data.rows], [r.text for r in data.rows]), kinds[:n])
    s = np.zeros(n)
    for te, w, b in out["folds"]:
        s[te] = xt[te] @ w + b
    slope, offset = C._platt(s, data.y)
    p = (out["p"] + C._sigmoid(slope * s + offset)) / 2
    ev = matrix(title_docs([d.get("title") for d in data.dev], data.dev_docs), dev_kinds)
    ev_p = C._sigmoid(slope * (ev @ out["coef"] + out["intercept"]) + offset)
    dev_p = (out["dev_p"] + np.asarray(ev_p).ravel()) / 2
    return {"p": p, "dev_p": dev_p, "threshold": C._best_f1_threshold(data.y, p)}


def feed_threshold(data: CutData, out: dict[str, Any]) -> dict[str, Any]:
    """``feed threshold``: the F1-best threshold on the training feed items' out-of-fold
    probabilities alone (their base rate, ~3%, is a real feed's)."""
    feed = data.source == FEED
    return {**out, "threshold": C._best_f1_threshold(data.y[feed], out["p"][feed])}


def rows_threshold(data: CutData, out: dict[str, Any]) -> dict[str, Any]:
    """``rows threshold``: the F1-best threshold on the out-of-fold probabilities of the
    cut's own training items only, the written items (``extra``, after them) left out: they
    are 41% incidents and teach the ranking, a real mix of items sets the operating point."""
    n = len(data.y)
    return {**out, "threshold": C._best_f1_threshold(data.y, out["p"][:n])}


DERIVED = {"feed threshold": feed_threshold, "title avg": title_average,
           "rows threshold": rows_threshold}  # fmt: skip


def candidate(name: str) -> dict[str, Any]:
    """A fitted candidate's ``relevance_oof.run`` parameters (``feed N``: feed weight N)."""
    if name.startswith("feed ") and name[5:].replace(".", "", 1).isdigit():
        return {"weights": {**C.SOURCE_WEIGHTS, FEED: float(name[5:])}}
    if name.startswith("baseline seed ") and name[14:].isdigit():
        return {"seed": int(name[14:])}  # the shipped recipe, another fold draw: the null
    if name == "youtube plain":
        return {"plain_youtube": True}
    if name == "day folds":
        return {"split": lambda data, splits: day_folds(data.days, data.source, splits)}
    if name in TEXT:
        return TEXT[name]
    if name == "kind stack":  # tenth round: the kind-contrast model's column (``kind_stack``)
        return {"stack": kind_stack}
    if name in STACK_WIDER:  # twelfth round: the kind model also fitted on other training rows
        return {"stack": functools.partial(kind_stack, sources=STACK_WIDER[name])}
    if name in ("extra contrast both", "extra both", "extra all"):  # both (all) files, 3x
        weight = EXTRA_CANDIDATES["extra contrast"]
        found = {
            "extra": weight,
            "both": True,
            "weights": {**C.SOURCE_WEIGHTS, EXTRA_SOURCE: weight},
        }
        return {**found, "all": True} if name == "extra all" else found
    if name in EXTRA_CANDIDATES or name == "extra contrast shuffled":
        weight = (
            EXTRA_CANDIDATES["extra contrast"] if "shuffled" in name else EXTRA_CANDIDATES[name]
        )
        found = {"extra": weight, "weights": {**C.SOURCE_WEIGHTS, EXTRA_SOURCE: weight}}
        return {**found, "shuffle": True} if "shuffled" in name else found
    if " + " in name and name not in R.CANDIDATES:  # e.g. "names masked + no char"
        merged: dict[str, Any] = {}
        for part in name.split(" + "):
            merged.update(candidate(part))
        return merged
    return R.CANDIDATES[name]


# the eighth round's text candidates: what the TF-IDF blocks see (``text_blocks``)
TEXT: dict[str, dict[str, Any]] = {
    "names masked": {"mask": "names"},
    "no char": {"char": False},
    # added after the first three had run (see RESULTS.md, eighth round)
    "names and acronyms masked": {"mask": "acronyms"},
    "other-period vocabulary": {"vocab": "other"},
}


# Ninth round: training items written from the labelling guide (data/contrast_extra.jsonl)
EXTRA = Path(__file__).resolve().parents[1] / "data" / "contrast_extra.jsonl"
# a second batch, written after the first batch's runs had been read (RESULTS.md)
EXTRA2 = EXTRA.with_name("contrast_extra2.jsonl")
# eleventh round: individual crimes and accidents told as they happen (0) against crimes
# where public safety is at stake (1), written after the reread of the first two files
EXTRA3 = EXTRA.with_name("contrast_extra3.jsonl")
EXTRA_SOURCE = "contrast_extra"  # its own source, so that its weight can differ from contrast's
EXTRA_CANDIDATES = {"extra contrast": C.SOURCE_WEIGHTS["contrast"],
                    "extra contrast x3": 3 * C.SOURCE_WEIGHTS["contrast"]}  # fmt: skip
EXTRA_STYLES = ("headline", "sentence", "event_note")
_LINK = re.compile(r"https?://[a-z0-9.-]+\.[a-z]{2,}/\S+", re.IGNORECASE)


def load_extra(path: Path = EXTRA) -> list[dict[str, Any]]:
    """The written items, each checked against the guide's format: a 0/1 label (no gray),
    a category of the model's for an incident and ``none`` for talk, a summary, a link
    with a path, a set id; a ``ValueError`` names the line of the first bad item."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        label, category = item.get("label"), item.get("category")
        problem = ""
        if isinstance(label, bool) or label not in (0, 1):
            problem = f"label {label!r} is not 0 or 1"
        elif label == 1 and category not in CATEGORIES:
            problem = f"incident with category {category!r}"
        elif label == 0 and category != "none":
            problem = f"label 0 with category {category!r}"
        elif not all(isinstance(item.get(k), str) for k in ("title", "summary", "link", "set")):
            problem = "title, summary, link and set must be strings"
        elif not item["summary"].strip() or not item["set"].strip():
            problem = "empty summary or set"
        elif not _LINK.fullmatch(item["link"]):
            problem = f"link {item['link']!r} has no host and path"
        elif item.get("source") != EXTRA_SOURCE or item.get("style") not in EXTRA_STYLES:
            problem = f"source must be {EXTRA_SOURCE!r}, style one of {EXTRA_STYLES}"
        if problem:
            raise ValueError(f"{path}:{n}: {problem}")
        items.append(item)
    return items


def written(cand: dict[str, Any]) -> list[dict[str, Any]]:
    """The written items a candidate trains with: the first file, both files (``both``),
    all three (``all``), or the first file's texts with permuted labels (``shuffle``)."""
    items = load_extra() + (load_extra(EXTRA2) if cand.get("both") else [])
    items += load_extra(EXTRA3) if cand.get("all") else []
    return shuffled(items) if cand.get("shuffle") else items


def shuffled(items: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """``extra contrast shuffled``, the control: each written text given another written
    item's label and category (a seeded permutation), so the rows add the same texts,
    weights and share of incidents but none of the writer's judgement."""
    order = np.random.default_rng(seed).permutation(len(items))
    return [{**item, "label": items[j]["label"], "category": items[j]["category"]}
            for item, j in zip(items, order, strict=True)]  # fmt: skip


def with_extra(data: CutData, items: list[dict[str, Any]], mask: str = "") -> CutData:
    """``data`` with ``items`` appended as training rows (after the cut's own, so the
    first ``len(data.rows)`` probabilities are the cut's items) and their summary-only
    copies, the TF-IDF blocks refitted on all texts as ``model train`` would; dev and the
    later items are the same. ``mask`` (``names``, ``acronyms``; tenth round): the blocks
    are fitted on the texts ``NameMasker`` masks, the masker fitted on every training
    text, the written items among them (the rows are the same)."""
    out = copy.copy(data)
    extra = list(C._training_rows(items, "contrast_extra"))
    out.rows = data.rows + extra
    out.y = np.concatenate([data.y, [r.label for r in extra]]).astype(data.y.dtype)
    out.source = np.concatenate([data.source, [r.source for r in extra]])
    out.days = np.concatenate([data.days, [""] * len(extra)])
    out.copy_of = np.array([i for i, r in enumerate(out.rows) if r.summary_only], dtype=int)
    digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:12]
    key = f"{C.packaged_data_sha256()[:12]}-{data.name}-extra-{digest}"
    key += f"-{mask}" if mask else ""  # the unmasked key is the ninth round's cache
    out.vec, out.tfidf, out.dev_tfidf = _fitted_blocks(out, f"later-{{}}-{key}", mask)
    return out


def extra_data(data: CutData, cand: dict[str, Any]) -> CutData:
    """``data`` with the candidate's written items (``with_extra``), its TF-IDF blocks as the
    candidate's text options say: ``mask`` refits them on masked texts, ``char`` False drops
    the character block (before the eleventh round this path ignored ``char``, so ``extra
    ... + no char`` fitted with the character block). ``vocab`` is not supported here."""
    if cand.get("vocab"):
        raise ValueError("the written items' candidates take no vocab option")
    out = with_extra(data, written(cand), cand.get("mask", ""))
    if not cand.get("char", True):
        n = word_columns(out.vec)
        out.tfidf, out.dev_tfidf = out.tfidf[:, :n].tocsr(), out.dev_tfidf[:, :n].tocsr()
    return out


def _fitted_blocks(data: CutData, name: str, mask: str = "",
                   fit_on: np.ndarray | None = None) -> tuple[Any, sp.csr_matrix, sp.csr_matrix]:  # fmt: skip
    """The word and character TF-IDF blocks of ``data``'s training texts and of dev, fitted
    on every training text (or the rows ``fit_on``), the texts ``NameMasker``-masked first
    with ``mask``; cached in ``data.cache`` as ``name`` with ``{}`` the part's name."""
    files = [data.cache / f"{name.format(n)}.{e}"
             for n, e in (("vec", "joblib"), ("x", "npz"), ("ev", "npz"))]  # fmt: skip
    if all(f.exists() for f in files):
        return joblib.load(files[0]), sp.load_npz(files[1]), sp.load_npz(files[2])
    from sklearn.pipeline import FeatureUnion

    docs, dev_docs = data.docs, data.dev_docs
    if mask:
        masker = NameMasker([r.text for r in data.rows], acronyms=mask == "acronyms")
        docs, dev_docs = [masker(d) for d in docs], [masker(d) for d in dev_docs]
    vec = FeatureUnion([(n, t) for n, t in C._make_vectorizer().transformer_list[:2]])
    if fit_on is None:
        x = vec.fit_transform(docs).tocsr()
    else:
        x = vec.fit([docs[i] for i in fit_on]).transform(docs).tocsr()
    ev = vec.transform(dev_docs).tocsr()
    joblib.dump(vec, files[0])
    sp.save_npz(files[1], x)
    sp.save_npz(files[2], ev)
    return vec, x, ev


# Tenth round: a model of the kind contrast alone, stacked as one column of the main model.
# The contrast sets pair an incident and talk about it on the same place and actors, so a
# model fitted on them only has nothing but the kind to tell them apart by.
STACK_SOURCES = ("contrast", EXTRA_SOURCE)
STACK_FOLDS = 5
STACK_SCALE = C.KIND_SCALE  # one column in [0, 1], appended as the kind flags are


def stack_model(seed: int = 0) -> Any:
    """The stack's model: the recipe's word TF-IDF settings and relevance model, the
    vectorizer fitted inside the pipeline (on the rows that model is fitted on only)."""
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        clone(C._make_vectorizer().transformer_list[0][1]), C._relevance_model(seed)
    )


def kind_stack(data: R.Data, make: Any = stack_model,
               sources: Any = STACK_SOURCES) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``kind stack``: the stack model's probability for every training row, then its
    summary-only copies (as ``Data.docs``), and for dev (and a cut's later items). Rows of
    ``sources`` (``STACK_SOURCES``; a callable: source -> bool) and their copies are scored
    out of fold by the fold's model that was not fitted on them; every other row and dev by
    the model fitted on all of them. A cut's rows never hold its later items, so the model
    fits only on what the cut trains on."""
    n = len(data.rows)
    texts = [r.text for r in data.rows]
    copies = [data.rows[i].summary_only or "" for i in data.copy_of]
    if callable(sources):
        idx = np.flatnonzero([sources(s) for s in data.source])
    else:
        idx = np.flatnonzero(np.isin(data.source, sources))

    def fit(rows: np.ndarray) -> Any:
        return make().fit([texts[i] for i in rows], data.y[rows])

    def score(model: Any, docs: list[str]) -> np.ndarray:
        return model.predict_proba(docs)[:, 1] if docs else np.zeros(0)

    model = fit(idx)
    col = np.concatenate([score(model, texts), score(model, copies)])
    dev_col = score(model, list(data.dev_docs))
    folds = StratifiedKFold(n_splits=STACK_FOLDS, shuffle=True, random_state=0)
    for tr, te in folds.split(idx, data.y[idx]):
        model = fit(idx[tr])
        col[idx[te]] = score(model, [texts[i] for i in idx[te]])
        mine = np.flatnonzero(np.isin(data.copy_of, idx[te]))  # copies of the rows left out
        col[n + mine] = score(model, [copies[j] for j in mine])
    return col * STACK_SCALE, dev_col * STACK_SCALE


# Twelfth round: the kind model's own vocabulary is the contrast sets', where violent words
# nearly always mean an incident; these give it the guide's ordinary-crime, accident and
# commentary 0s from other training rows (each cut's own: its later items are never rows).
STACK_WIDER: dict[str, Any] = {
    # the training period's feed items (~3% incidents, rich in individual crimes and trials)
    "kind stack feed": (*STACK_SOURCES, FEED),
    # AG News and CAMEO (train.jsonl: another period, no feed topic) but no feed item
    "kind stack news": lambda s: s != FEED,
    # every training row (the column out of fold over all of them)
    "kind stack every": lambda s: True,
}


# dev.jsonl's positives carry their ACLED event type (``orig_label``): the categories of the
# model's that the guide allows for each (written before any candidate ran; a grenade or a
# remote explosive may be an attack in a war, a terror attack or a crime)
ACLED_CATEGORIES: dict[str, frozenset[str]] = {
    "ARMED_CLASH": frozenset({"armed_conflict"}),
    "AIR_STRIKE": frozenset({"armed_conflict"}),
    "ART_MISS_ATTACK": frozenset({"armed_conflict"}),
    "GOV_REGAINS_TERIT": frozenset({"armed_conflict"}),
    "NON_STATE_ACTOR_OVERTAKES_TER": frozenset({"armed_conflict"}),
    "CHEM_WEAP": frozenset({"armed_conflict"}),
    "SUIC_BOMB": frozenset({"terrorism"}),
    "REM_EXPLOS": frozenset({"terrorism", "armed_conflict"}),
    "GRENADE": frozenset({"terrorism", "armed_conflict", "violent_crime"}),
    "ATTACK": frozenset({"armed_conflict", "terrorism", "violent_crime"}),
    "ABDUCT_DISSAP": frozenset({"kidnapping"}),
    "VIOL_DEMONSTR": frozenset({"civil_unrest"}),
    "MOB_VIOL": frozenset({"civil_unrest"}),
    "FORCE_AGAINST_PROTEST": frozenset({"civil_unrest"}),
}


def dev_categories(data: CutData) -> dict[str, Any]:
    """The category model ``model train`` fits on ``data``'s rows (``_train_category``, on
    the same columns), applied to dev's positives with the runtime's cyber guard: the
    share whose category is one ``ACLED_CATEGORIES`` allows, overall and per event type,
    and what was given per type."""
    n = len(data.rows)
    kinds, dev_kinds = data.kinds()
    texts = [r.text for r in data.rows]
    x = sp.hstack([data.tfidf[:n], sp.csr_matrix(R.cues(texts)), kinds[:n]], format="csr")
    dev_docs = data.dev_docs[: data.n_dev]
    ev = sp.hstack([data.dev_tfidf[: data.n_dev], sp.csr_matrix(R.cues(dev_docs)),
                    dev_kinds[: data.n_dev]], format="csr")  # fmt: skip
    payload, _ = C._train_category(x, data.rows, 0)
    scores = np.asarray(ev[:, payload["columns"]] @ payload["coef"].T) + payload["intercept"]
    cyber = CATEGORIES.index("cyber")
    given = []
    for k, row in enumerate(scores):
        if row.argmax() == cyber and not C.cyber_words(dev_docs[k]):
            row = row.copy()
            row[cyber] = -np.inf
        given.append(CATEGORIES[int(row.argmax())])
    per: dict[str, Counter[str]] = {}
    right = total = 0
    for item, cat in zip(data.dev[: data.n_dev], given, strict=True):
        allowed = ACLED_CATEGORIES.get(str(item.get("orig_label")))
        if item.get("label") != 1 or allowed is None:
            continue
        per.setdefault(item["orig_label"], Counter())[cat] += 1
        right, total = right + (cat in allowed), total + 1
    return {"accuracy": right / total if total else 0.0, "right": right, "n": total,
            "per": {k: dict(v) for k, v in sorted(per.items())}}  # fmt: skip


def prf(y: np.ndarray, p: np.ndarray, t: float, w: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, F1 at ``t`` (with item weights ``w``) and PR-AUC (unweighted)."""
    w = np.ones(len(y)) if w is None else w
    flag = p >= t
    tp = float(w[flag & (y == 1)].sum())
    fl, pos = float(w[flag].sum()), float(w[y == 1].sum())
    prec = tp / fl if fl else 0.0
    rec = tp / pos if pos else 0.0
    f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
    return {"P": prec, "R": rec, "F1": f1, "AP": float(average_precision_score(y, p)),
            "flagged": int(flag.sum())}  # fmt: skip


def paired_bootstrap(y: np.ndarray, base: np.ndarray, t_base: float, cand: np.ndarray,
                     t_cand: float, n: int = 2000, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Resample the items (both models scored on the same resample): per measure, the
    mean difference candidate - baseline, its 95% interval and the share of resamples in
    which the candidate is strictly ahead (a tie is not ahead)."""
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {"F1": [], "AP": []}
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        if not y[i].any():
            continue
        a, b = prf(y[i], base[i], t_base), prf(y[i], cand[i], t_cand)
        for k in diffs:
            diffs[k].append(b[k] - a[k])
    found: dict[str, Any] = {}
    for k, d in diffs.items():
        arr = np.array(d)
        lo, hi = np.percentile(arr, [2.5, 97.5])
        found[k] = {"mean": float(arr.mean()), "lo": float(lo), "hi": float(hi),
                    "ahead": float((arr > 0).mean())}  # fmt: skip
    return found


def dev_figures(full: R.Data, dev_p: np.ndarray, t: float) -> dict[str, Any]:
    """dev.jsonl's P / R / F1 / PR-AUC and the hard negatives and POLITICS flagged."""
    m = prf(full.dev_y, dev_p, t)
    res: dict[str, Any] = {k: m[k] for k in ("P", "R", "F1", "AP")}
    res.update(R.hard_flagged(full.dev, full.dev_y, dev_p >= t))
    return res


def evaluate(data: CutData, name: str, fitted: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fit one candidate on one cut, or derive it (``feed threshold``, ``title avg``, or
    ``X + title avg``: from fitted ``X``'s folds, default ``baseline``); its probabilities."""

    def file(name: str) -> Path:
        key = f"{C.packaged_data_sha256()[:12]}-{data.name}-{name.replace(' ', '_')}"
        if name.startswith("extra"):  # a fit of the written file as it is now
            key += "-" + hashlib.sha256(EXTRA.read_bytes()).hexdigest()[:12]
            if name.startswith(("extra contrast both", "extra both", "extra all")):
                key += "-" + hashlib.sha256(EXTRA2.read_bytes()).hexdigest()[:12]
            if name.startswith("extra all"):
                key += "-" + hashlib.sha256(EXTRA3.read_bytes()).hexdigest()[:12]
        return data.cache / f"later-{key}.npz"

    def save(f: Path, out: dict[str, Any]) -> None:
        np.savez(f, p=out["p"], dev_p=out["dev_p"], threshold=out["threshold"])

    f = file(name)
    base_name, _, derived = name.rpartition(" + ") if " + " in name else ("baseline", "", name)
    if derived not in DERIVED:
        base_name, derived = name, ""
    if f.exists() and not derived:
        z = np.load(f)
        return {"p": z["p"], "dev_p": z["dev_p"], "threshold": float(z["threshold"])}
    if base_name in R.MINILM and "combine" in R.MINILM[base_name]:
        R._SHIPPED.clear()  # run_combined keeps the shipped model per seed, not per cut
        fitted[base_name] = R.run_combined(data, R.MINILM[base_name]["combine"])
    if base_name not in fitted:
        cand = candidate(base_name)
        data.plain_youtube = bool(cand.get("plain_youtube"))
        text = {k: cand[k] for k in ("mask", "char", "vocab") if k in cand}
        swapped = None
        if "extra" in cand:  # the written items as training rows (their own TF-IDF fit)
            fitted[base_name] = R.run(extra_data(data, cand), cand)
        elif text:  # the TF-IDF blocks this candidate sees, for this fit only
            swapped = data.tfidf, data.dev_tfidf
            data.tfidf, data.dev_tfidf = text_blocks(data, **text)
        try:
            if base_name not in fitted:
                fitted[base_name] = R.run(data, cand, seed=int(cand.get("seed", 0)))
        finally:
            data.plain_youtube = False
            if swapped is not None:
                data.tfidf, data.dev_tfidf = swapped
        if not file(base_name).exists():
            save(file(base_name), fitted[base_name])
    out = DERIVED[derived](data, fitted[base_name]) if derived else fitted[base_name]
    save(f, out)
    return out


def summarise(data: CutData, out: dict[str, Any], base: dict[str, Any] | None,
              full: R.Data) -> dict[str, Any]:  # fmt: skip
    t = out["threshold"]
    feed = data.source == FEED
    p = out["p"][: len(data.y)]  # written items (``extra``) come after the cut's rows
    oof = prf(data.y[feed], p[feed], t)
    res: dict[str, Any] = {"t": t, "oof feed F1": oof["F1"], "oof feed AP": oof["AP"]}
    if data.later:
        later_p = out["dev_p"][data.n_dev :]
        res["later"] = prf(data.later_y, later_p, t)
        w = np.where(data.later_strata == "flag", FLAG_WEIGHT, 1.0)
        res["later reweighted"] = prf(data.later_y, later_p, t, w)
        res["n"], res["positives"] = len(data.later_y), int(data.later_y.sum())
        if base is not None:
            res["vs baseline"] = paired_bootstrap(
                data.later_y, base["dev_p"][data.n_dev :], base["threshold"], later_p, t
            )
    else:
        res["dev"] = dev_figures(full, out["dev_p"][: data.n_dev], t)
    return res


def line(cut: str, name: str, res: dict[str, Any]) -> str:
    cells = [f"{cut} {name}: t {res['t']:.2f}",
             f"oof feed F1 {res['oof feed F1']:.3f} PR-AUC {res['oof feed AP']:.3f}"]  # fmt: skip
    if "later" in res:
        m, r = res["later"], res["later reweighted"]
        cells.append(f"later ({res['n']} items, {res['positives']} incidents, {m['flagged']} "
                     f"flagged) P {m['P']:.3f} R {m['R']:.3f} F1 {m['F1']:.3f} PR-AUC {m['AP']:.3f}")  # fmt: skip
        cells.append(f"reweighted P {r['P']:.3f} R {r['R']:.3f} F1 {r['F1']:.3f}")
        for k, b in res.get("vs baseline", {}).items():
            cells.append(f"d{k} {b['mean']:+.3f} [{b['lo']:+.3f}, {b['hi']:+.3f}] ahead {b['ahead']:.0%}")  # fmt: skip
    if "dev" in res:
        d = res["dev"]
        cells.append(f"dev P {d['P']:.3f} R {d['R']:.3f} F1 {d['F1']:.3f} PR-AUC {d['AP']:.3f} "
                     f"hard {d['hard']} ({', '.join(d[k] for k in C.HARD_NEGATIVE_LABELS)}) "
                     f"POLITICS {d['POLITICS']}")  # fmt: skip
    return " | ".join(cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["baseline"])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newsalert-oof"))
    parser.add_argument("--cuts", default="A,B,full")
    parser.add_argument("--json", type=Path, help="append each result as a JSON line")
    parser.add_argument("--categories", action="store_true",
                        help="on the full cut, the category model's accuracy on dev's positives")  # fmt: skip
    args = parser.parse_args(argv)
    full = R.Data(args.cache)
    days, strata = packaged_meta(full.rows)
    for cut in args.cuts.split(","):
        data = CutData(full, days, strata, cut, args.cache)
        fitted: dict[str, dict[str, Any]] = {}
        base = evaluate(data, "baseline", fitted)
        for name in args.names:
            started = time.perf_counter()
            out = base if name == "baseline" else evaluate(data, name, fitted)
            res = summarise(data, out, None if name == "baseline" else base, full)
            # a derived candidate (`` + rows threshold``) has its fit's category model
            if args.categories and CUTS[cut] is None and name.rpartition(" + ")[2] not in DERIVED:
                cand = candidate(name) if name != "baseline" else {}
                res["categories"] = dev_categories(
                    extra_data(data, cand) if "extra" in cand else data
                )
                print(f"{cut} {name}: dev categories {res['categories']}", flush=True)
            print(line(cut, name, res) + f" | {time.perf_counter() - started:.0f}s", flush=True)
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps({"cut": cut, "candidate": name, **res}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
