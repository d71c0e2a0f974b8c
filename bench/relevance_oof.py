"""Out-of-fold errors of the relevance recipe, per item, and candidate feature blocks.

Usage (from the repository root; the word and character TF-IDF blocks are cached in
``--cache``, so a second run costs only the five fold fits, about a minute)::

    .venv/bin/python bench/relevance_oof.py [--cache DIR] [--dump FILE] [CANDIDATE ...]

It rebuilds what ``classifier.train`` builds (the same features, folds, summary-only
copies, sample weights, Platt calibration and F1-best threshold), keeps every training
item's out-of-fold probability, and reports

* **all**: out-of-fold F1 and PR-AUC on the whole training file;
* **feed**: the same on the 6,366 real feed items (``rss_2020``), the part that looks
  most like what the product scores, with precision and recall at the threshold;
* **dev**: the averaged fold models (the shipped model) on ``data/dev.jsonl``: P, R,
  F1, PR-AUC, and the hard negatives (DIPLO, AGREEMENT, PEACE_PROTEST) and HuffPost
  POLITICS flagged.

``--dump`` writes one JSON line per training item (source, label, out-of-fold
probability, text) for reading the errors. Candidates are chosen on the training data
and dev alone; ``--stream FILE --against MODEL_DIR`` scores a weighted feed sample
(``stream_dev.jsonl``) with one candidate and the shipped model, with a paired bootstrap:
run it once, for the final candidate, after the choice is made.

A candidate replaces the cue block (``classifier._cue_dense``'s groups and products)
through ``CANDIDATES``; ``baseline`` is the shipped recipe and must reproduce
``model.json``'s ``cv`` metrics. A model-form candidate (``MODEL_FORM``) keeps the columns
and gives ``scale`` (a per-column factor made from each fold's fitted rows, folded back
into the weights), ``params`` or ``C`` for the logistic regression, or ``beta``. A sixth-round
candidate (``MINILM``) gives ``dense`` (cached sentence embeddings appended as standardised
columns, ``bench/minilm.py cache DIR`` with the same ``--cache DIR``) or ``combine`` (a model
on the embeddings alone, merged with the shipped model's probability).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

from newsalert import classifier as C
from newsalert.kinds import KIND_NAMES, kind_features

DEV = Path(__file__).resolve().parent.parent / "src/newsalert/data/dev.jsonl.gz"

# Candidate word groups (from the labelling guide's clarifications, not from errors of
# any evaluation file): a settlement ends or pauses violence (a surrender, a swap, a
# pull-back, a truce taking effect); the aftermath of an old event is lawsuits, charges,
# trials, inquiries, reforms, tributes; a single victim or suspect named by who they are
# ("man", "wife", "teenager") is an individual crime rather than public danger.
EXTRA_WORDS: dict[str, str] = {
    "settlement": (
        "surrender surrendered surrenders surrendering swap swaps swapped exchange exchanged "
        "withdraw withdrew withdrawn withdrawal withdrawing disarm disarmed disarmament "
        "demobilise demobilised demobilize demobilized amnesty handover reintegration "
        "pull_back pulled_back pull_out pulled_out lay_down laid_down take_effect "
        "took_effect takes_effect prisoner_swap"
    ),
    "aftermath": (
        "lawsuit lawsuits sue sued sues suing lawyer lawyers attorney attorneys judge jury "
        "indicted indictment plea pleaded pleads testify testified testimony inquest inquiry "
        "hearing hearings reform reforms legislation bill compensation settlement funeral "
        "funerals tribute tributes honour honor honoured honored mourn mourned mourning "
        "eulogy blame blamed blames acquitted appeal appeals"
    ),
    "individual": (
        "man woman boy girl teen teenager teenage wife husband mother father son daughter "
        "baby toddler child girlfriend boyfriend grandmother grandfather pensioner neighbour "
        "neighbor couple mum dad"
    ),
}

EXTRA_SETS = {name: frozenset(words.split()) for name, words in EXTRA_WORDS.items()}


def make_cues(groups: tuple[str, ...], products: tuple[tuple[str, str], ...]) -> Any:
    """The shipped cue block plus ``groups`` of ``EXTRA_WORDS`` (log counts, presence)
    and ``products`` of any two groups ("none" = no violence word)."""
    names = list(C._CUE_GROUPS) + list(groups)
    index = dict(C._CUE_INDEX)
    for g, name in enumerate(groups, len(C._CUE_GROUPS)):
        for w in EXTRA_WORDS[name].split():
            index.setdefault(w, g)

    def fn(docs: list[str]) -> np.ndarray:
        base = C._cue_dense(docs, C._CUE_INDEX, C.CUE_SCALE)
        counts = np.zeros((len(docs), len(names)), dtype=np.float32)
        for k, doc in enumerate(docs):
            prev = ""
            for tok in C._CUE_TOKEN.findall(doc.lower()):
                g = index.get(tok)
                if g is not None and g >= len(C._CUE_GROUPS):
                    counts[k, g] += 1
                g2 = index.get(f"{prev}_{tok}") if prev else None
                if g2 is not None and g2 >= len(C._CUE_GROUPS):
                    counts[k, g2] += 1
                prev = tok
        a = np.log1p(counts)
        a[:, : len(C._CUE_GROUPS)] = np.log1p(C._cue_counts(docs, C._CUE_INDEX))
        col = {n: a[:, j] for j, n in enumerate(names)}
        col["none"] = (col["violence"] == 0).astype(np.float32)
        extra = [a[:, len(C._CUE_GROUPS) :], (a[:, len(C._CUE_GROUPS) :] > 0)]
        extra += [np.stack([col[x] * col[y] for x, y in products], 1)] if products else []
        return np.hstack([base, np.hstack(extra).astype(np.float32) * C.CUE_SCALE])

    return fn


_SAYS = frozenset(
    [
        "says",
        "say",
        "said",
        "tells",
        "told",
        "urges",
        "urged",
        "calls",
        "slams",
        "condemns",
        "condemned",
        "vows",
        "warns",
        "warned",
        "blasts",
        "praises",
        "criticises",
        "criticizes",
        "accuses",
        "denies",
        "insists",
        "admits",
    ]
)


def title_kinds(title: str) -> tuple[set[str], tuple[str, ...]]:
    """What a title's words are about: an act, talk, the aftermath, a single person,
    someone speaking; and the combinations a reader goes by."""
    names = ("clause:act", "clause:talk_only", "clause:aftermath", "clause:individual",
             "clause:says_no_act", "clause:actors_no_act")  # fmt: skip
    if not title:
        return set(), names
    groups: set[str] = set()
    toks = C._CUE_TOKEN.findall(title.lower())
    prev = ""
    for tok in toks:
        for key in (tok, f"{prev}_{tok}" if prev else ""):
            g = C._CUE_INDEX.get(key)
            if g is not None:
                groups.add(C._CUE_GROUPS[g])
            for name, words in EXTRA_SETS.items():
                if key in words:
                    groups.add(name)
        prev = tok
    act = "violence" in groups
    found = set()
    if act:
        found.add("clause:act")
    if not act and groups & {"cooperation", "settlement"}:
        found.add("clause:talk_only")
    if "aftermath" in groups or "past" in groups:
        found.add("clause:aftermath")
    if act and "individual" in groups and "actors" not in groups:
        found.add("clause:individual")
    if not act and _SAYS.intersection(toks):
        found.add("clause:says_no_act")
    if not act and "actors" in groups:
        found.add("clause:actors_no_act")
    return found, names


_LEAD_END = re.compile(
    r"[.!?;:|](?:\s|$)|,\s|\s[-\u2013\u2014]\s|\s(?:after|despite|amid|following|over|as|"
    r"in response to|in exchange for|to end|to protest|since|while)\s"
)
_LEAD_GROUPS = ("violence", "actors", "cooperation", "settlement", "aftermath", "protest",
                "individual", "hedge", "past")  # fmt: skip


def lead_clause(doc: str) -> str:
    """A text's main clause: its first line (the title, when there is one) up to the
    first sentence end, comma, dash or a word that starts a subordinate span ("after",
    "despite", "in exchange for"): the event the item reports, not its context."""
    first = doc.split("\n", 1)[0].lower()
    m = _LEAD_END.search(first)
    return first[: m.start()] if m else first


def make_lead(base: Any = None) -> Any:
    """The cue block (``base``, default the shipped one) plus the lead clause's groups:
    presence of each of ``_LEAD_GROUPS`` in it, talk with no act, an act with a single
    person and no armed actor, armed actors with no act."""
    sets = {g: frozenset(C._CUE_WORDS[g].split()) if g in C._CUE_WORDS else EXTRA_SETS[g]
            for g in _LEAD_GROUPS}  # fmt: skip

    def fn(docs: list[str]) -> np.ndarray:
        head = (base or cues)(docs)
        rows = np.zeros((len(docs), len(_LEAD_GROUPS) + 3), dtype=np.float32)
        for k, doc in enumerate(docs):
            toks = C._CUE_TOKEN.findall(lead_clause(doc))
            keys = set(toks) | {f"{a}_{b}" for a, b in itertools.pairwise(toks)}
            has = [bool(keys & sets[g]) for g in _LEAD_GROUPS]
            rows[k, : len(has)] = has
            d = dict(zip(_LEAD_GROUPS, has, strict=False))
            act = d["violence"]
            rows[k, -3] = not act and (d["cooperation"] or d["settlement"])
            rows[k, -2] = act and d["individual"] and not d["actors"]
            rows[k, -1] = not act and d["actors"]
        return np.hstack([head, rows * C.CUE_SCALE])

    return fn


# (A) The outlet's prior: the registrable domain of an item's link (``dailymail.co.uk``,
# ``cnn.com`` for ``edition.cnn.com``, ``youtube.com``) as a one-hot kind feature, absent
# when there is no link. Outlets differ in how many incidents they carry and how (a
# tabloid's crimes, a wire's reports); the same outlets keep their habits across periods.
_SECOND_LEVEL = frozenset(["co", "com", "net", "org", "gov", "ac", "edu"])


def registrable_domain(link: str | None) -> str:
    """``dailymail.co.uk`` for ``https://www.dailymail.co.uk/news/...``; "" without a host
    (two labels, three under a two-letter country code's ``co``/``com``/``org`` ...)."""
    if not link:
        return ""
    try:
        host = (urlsplit(link).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""
    labels = [x for x in host.split(".") if x]
    if len(labels) < 2:
        return ""
    n = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-n:])


def make_host(rows: list[Any], shared: bool = False) -> Any:
    """``link -> ({"host:<domain>"}, all names)``: one flag per training item's outlet;
    ``shared`` adds one flag every linked item has, so that the penalty shrinks each
    outlet's weight toward the outlets' mean rather than toward nothing."""
    names = tuple(sorted({f"host:{d}" for r in rows if (d := registrable_domain(r.link))}))
    names += ("link:any",) if shared else ()

    def fn(link: str | None) -> tuple[set[str], tuple[str, ...]]:
        d = registrable_domain(link)
        found = {f"host:{d}"} & set(names) if d else set()
        return (found | {"link:any"} if shared and d else found), names

    return fn


# (B) Recency and specificity: a report of one recent event says when ("on Sunday",
# "overnight", "early on Monday", "hours after", "at 3 a.m.") and how many ("12 people
# were killed", "dozens injured"); commentary, features and explainers speak of no
# particular moment ("why", "lessons", "history", "the legacy of", "what it means").
# Word groups as the cue groups are written (``_a_b`` are bigrams), plus two patterns the
# cue tokens cannot see (they drop digits): a clock time and a casualty count.
RECENCY_WORDS: dict[str, str] = {
    "when": (
        "monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun "
        "overnight yesterday today tonight earlier_today last_night this_morning "
        "this_afternoon this_evening early_on late_on early_hours hours_after hours_before "
        "minutes_after moments_after shortly_after on_monday on_tuesday on_wednesday "
        "on_thursday on_friday on_saturday on_sunday dawn morning afternoon evening midnight "
        "local_time breaking"
    ),
    "timeless": (
        "why how explained explainer analysis lessons lesson history historic legacy "
        "future era generation culture debate essay column opinion inside look_back "
        "what_it what_we what_is what_are could_be should would_be ways reasons guide "
        "years_ago decades_ago always often every_time"
    ),
}
RECENCY_SETS = {g: frozenset(w.split()) for g, w in RECENCY_WORDS.items()}
_NUMBER = (
    r"(?:\d[\d,]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"a dozen|dozens|scores|hundreds|thousands|several|at least \S+|more than \S+)"
)
_COUNT = re.compile(
    rf"\b{_NUMBER}\s+(?:\w+\s+){{0,2}}?(?:people|persons|civilians|soldiers|police|officers|"
    r"policemen|troops|militants|protesters|children|students|villagers|passengers|others|"
    r"dead|killed|injured|wounded|hurt|casualties)\b(?:\s+(?:were|have been|had been|was|are)"
    r"\s+(?:killed|injured|wounded|hurt|shot|arrested|dead))?",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"\b\d{1,2}(?::\d\d)?\s?(?:a\.?m\b\.?|p\.?m\b\.?|gmt|utc|hrs)", re.I)


def recency_rows(docs: list[str], groups: tuple[int, ...] = tuple(range(10))) -> np.ndarray:
    """Per document: log counts of ``when`` and ``timeless`` words, a casualty count, a
    clock time; presence of each; ``when`` and a count times the violence group."""
    out = np.zeros((len(docs), 10), dtype=np.float32)
    violence = np.log1p(C._cue_counts(docs, C._CUE_INDEX)[:, C._CUE_GROUPS.index("violence")])
    for k, doc in enumerate(docs):
        toks = C._CUE_TOKEN.findall(doc.lower())
        keys = toks + [f"{a}_{b}" for a, b in itertools.pairwise(toks)]
        out[k, 0] = sum(t in RECENCY_SETS["when"] for t in keys)
        out[k, 1] = sum(t in RECENCY_SETS["timeless"] for t in keys)
        out[k, 2] = len(_COUNT.findall(doc))
        out[k, 3] = len(_CLOCK.findall(doc))
    out[:, :4] = np.log1p(out[:, :4])
    out[:, 4:8] = out[:, :4] > 0
    out[:, 8] = out[:, 0] * violence
    out[:, 9] = out[:, 2] * violence
    return out[:, list(groups)]


def make_recency(base: Any = None, groups: tuple[int, ...] = tuple(range(10))) -> Any:
    """The cue block (``base``, default the shipped one) plus ``recency_rows``'s
    ``groups`` columns."""

    def fn(docs: list[str]) -> np.ndarray:
        return np.hstack([(base or cues)(docs), recency_rows(docs, groups) * C.CUE_SCALE])

    return fn


def nb_ratio(alpha: float = 1.0, norm: bool = False) -> Any:
    """NB-LR (Wang & Manning 2012): each TF-IDF column scaled by the log-count ratio
    ``r = log((p / |p|_1) / (q / |q|_1))``, ``p`` and ``q`` = ``alpha`` + how many positive
    and negative fitted rows have the n-gram (binary counts, unweighted); cue and kind
    columns keep scale 1. For an L2 logistic regression this is a per-column penalty
    ``w_j^2 / r_j^2`` (the sign of ``r`` only flips the fitted weight). ``norm`` divides
    ``r`` by its mean magnitude over the columns that occur, so that the TF-IDF block's
    overall weight against the cue and kind blocks stays as shipped."""

    def fn(x: sp.csr_matrix, y: np.ndarray, n: int) -> np.ndarray:
        present = x[:, :n].copy()
        present.data = (present.data > 0).astype(np.float64)
        pos = alpha + np.asarray(present[y == 1].sum(axis=0)).ravel()
        neg = alpha + np.asarray(present[y == 0].sum(axis=0)).ravel()
        r = np.log((pos / pos.sum()) / (neg / neg.sum()))
        if norm:
            seen = np.asarray(present.sum(axis=0)).ravel() > 0
            r = r / np.abs(r[seen]).mean()
        return np.concatenate([r, np.ones(x.shape[1] - n)])

    return fn


# Fifth round (model form): candidates change how the same columns are weighted or
# penalised, never the columns; each folds into one weight per column at run time.
MODEL_FORM: dict[str, dict[str, Any]] = {
    "nb": {"scale": nb_ratio()},
    "nb norm": {"scale": nb_ratio(norm=True)},
    "nb beta 0.25": {"scale": nb_ratio(), "beta": 0.25},
    "l1": {"params": {"penalty": "l1"}},
    "unbalanced": {"params": {"class_weight": None}},
    "C 4": {"C": 4.0},
    "C 64": {"C": 64.0},
}

# Sixth round: a contextual sentence encoder. all-MiniLM-L6-v2's embeddings (``minilm.py``,
# numpy alone) of every training text, copy and dev item, cached by ``minilm.py cache``;
# ``dense`` appends them standardised, the block scaled to an expected norm (as
# ``classifier._embedding_block`` does for wordllama). ``combine`` fits a logistic
# regression on the MiniLM columns alone and merges its out-of-fold probability with the
# shipped model's (see ``run_combined``).
MINILM: dict[str, dict[str, Any]] = {
    "minilm 0.3": {"dense": ("minilm", 0.3)},
    "minilm 1": {"dense": ("minilm", 1.0)},
    "minilm 3": {"dense": ("minilm", 3.0)},
    "minilm lr": {"combine": "alone"},
    "minilm avg": {"combine": "avg"},
    "minilm stack": {"combine": "stack"},
}

CANDIDATES: dict[str, dict[str, Any]] = {
    **MODEL_FORM,
    **MINILM,
    "baseline": {},
    "title clause": {"title": title_kinds},
    "lead clause": {"cues": make_lead()},
    "settle x actors+title": {
        "title": title_kinds,
        "cues": make_cues(
            ("settlement", "aftermath"),
            (
                ("violence", "settlement"),
                ("violence", "aftermath"),
                ("actors", "settlement"),
                ("none", "settlement"),
                ("actors", "aftermath"),
            ),
        ),
    },
    "settle+after+title": {
        "title": title_kinds,
        "cues": make_cues(
            ("settlement", "aftermath"), (("violence", "settlement"), ("violence", "aftermath"))
        ),
    },
    "settle+after": {
        "cues": make_cues(
            ("settlement", "aftermath"), (("violence", "settlement"), ("violence", "aftermath"))
        )
    },
    "host": {"host": True},
    "recency": {"cues": make_recency()},
    "host+recency": {"host": True, "cues": make_recency()},
    "host shared": {"host": "shared"},
    # when and how many only (no "timeless" words, which overlap the hedges and kinds)
    "recency when+count": {"cues": make_recency(groups=(0, 2, 3, 4, 6, 7, 8, 9))},
    "settle+after+indiv": {
        "cues": make_cues(
            ("settlement", "aftermath", "individual"),
            (("violence", "settlement"), ("violence", "aftermath"), ("violence", "individual")),
        )
    },
}


class Data:
    """Training rows and dev items, and the cached word and char TF-IDF blocks."""

    def __init__(self, cache: Path) -> None:
        self.rows, _ = C._data_items(None, None)
        self.y = np.array([r.label for r in self.rows])
        self.source = np.array([r.source for r in self.rows])
        self.copy_of = np.array([i for i, r in enumerate(self.rows) if r.summary_only], dtype=int)
        with gzip.open(DEV, "rt", encoding="utf-8") as f:
            self.dev = [json.loads(line) for line in f]
        self.dev_docs = [C.compose_text(d.get("title"), d.get("summary")) for d in self.dev]
        self.dev_y = np.array([d["label"] for d in self.dev])
        cache.mkdir(parents=True, exist_ok=True)
        self.cache = cache
        key = C.packaged_data_sha256()[:12]
        train_f, dev_f = cache / f"tfidf-{key}.npz", cache / f"tfidf-dev-{key}.npz"
        if train_f.exists() and dev_f.exists():
            self.tfidf, self.dev_tfidf = sp.load_npz(train_f), sp.load_npz(dev_f)
        else:
            from sklearn.pipeline import FeatureUnion

            docs = self.docs
            vec = FeatureUnion([(n, t) for n, t in C._make_vectorizer().transformer_list[:2]])
            self.tfidf = vec.fit_transform(docs).tocsr()
            self.dev_tfidf = vec.transform(self.dev_docs).tocsr()
            sp.save_npz(train_f, self.tfidf)
            sp.save_npz(dev_f, self.dev_tfidf)

    def embeddings(self, name: str, max_tokens: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """The cached ``name`` embeddings of every training text and copy, and of dev."""
        key = C.packaged_data_sha256()[:12]
        found = []
        for part, n in (("train", len(self.rows) + len(self.copy_of)), ("dev", len(self.dev))):
            f = self.cache / f"{name}-{part}-{key}-{max_tokens}.npy"
            if not f.exists():
                raise SystemExit(f"{f} missing: run bench/minilm.py cache {self.cache}")
            found.append(np.load(f))
            assert found[-1].shape[0] == n, (f, found[-1].shape, n)
        return found[0], found[1]

    @property
    def docs(self) -> list[str]:
        """Every training text, then the summary-only copies (as ``train`` stacks them)."""
        return [r.text for r in self.rows] + [self.rows[i].summary_only or "" for i in self.copy_of]

    def kinds(self, extra: Any = None, host: Any = None) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The kind block; ``extra`` (title -> (names, all names)) adds title features,
        ``host`` (link -> (names, all names)) the outlet's flag."""
        names = list(KIND_NAMES) + (list(extra("")[1]) if extra else [])
        names += list(host(None)[1]) if host else []
        index = {name: j for j, name in enumerate(names)}

        def kf(title: str | None, link: str | None) -> set[str]:
            found = kind_features(title, "", link)
            found |= extra(title or "")[0] if extra else set()
            return found | host(link)[0] if host else found

        train = [kf(r.title, r.link) for r in self.rows]
        train += [kf("", self.rows[i].link) for i in self.copy_of]
        dev = [kf(d.get("title"), d.get("link")) for d in self.dev]
        return (
            C._kind_matrix(train, index, C.KIND_SCALE),
            C._kind_matrix(dev, index, C.KIND_SCALE),
        )


def cues(docs: list[str]) -> np.ndarray:
    """The cue block the current ``classifier`` module makes."""
    return C._cue_dense(docs, C._CUE_INDEX, C.CUE_SCALE)


def run(
    data: Data, cand: dict[str, Any], seed: int = 0, extra: list[dict] | None = None
) -> dict[str, Any]:
    """``train``'s relevance model for a candidate: out-of-fold and dev probabilities,
    and with ``extra`` (feed items) the model's probabilities of those too."""
    cue_fn = cand.get("cues", cues)
    host = make_host(data.rows, cand.get("host") == "shared") if cand.get("host") else None
    kinds, dev_kinds = data.kinds(cand.get("title"), host)
    blocks = [data.tfidf, sp.csr_matrix(cue_fn(data.docs)), kinds]
    dev_blocks = [data.dev_tfidf, sp.csr_matrix(cue_fn(data.dev_docs)), dev_kinds]
    if "dense" in cand:  # standardised over the training texts and copies, as train does
        raw, dev_raw = data.embeddings(cand["dense"][0])
        mean, factor = standardise(raw, cand["dense"][1])
        blocks.append(sp.csr_matrix((raw - mean) * factor))
        dev_blocks.append(sp.csr_matrix((dev_raw - mean) * factor))
    if "stack" in cand:  # one more column from another model (``relevance_later.kind_stack``)
        if extra is not None:
            raise ValueError("a stacked column is not computed for new items")
        col, dev_col = cand["stack"](data)
        blocks.append(sp.csr_matrix(col.reshape(-1, 1)))
        dev_blocks.append(sp.csr_matrix(dev_col.reshape(-1, 1)))
    both = sp.hstack(blocks, format="csr")
    dev_x = sp.hstack(dev_blocks, format="csr")
    n = len(data.rows)
    x, x_copies, y, copy_of = both[:n], both[n:], data.y, data.copy_of
    weights = np.array([cand.get("weights", C.SOURCE_WEIGHTS).get(s, 1.0) for s in data.source])
    copy_w = weights[copy_of] * np.array(
        [cand.get("copy_factor", {}).get(s, 1.0) for s in data.source[copy_of]]
    )
    folds = StratifiedKFold(n_splits=C.N_FOLDS, shuffle=True, random_state=seed)
    splits = list(folds.split(x, C._strata(y, data.source)))
    if "split" in cand:  # another assignment of the items to the same number of folds
        splits = cand["split"](data, splits)
    oof = np.zeros(n)
    coefs, intercepts, tests = [], [], []
    n_tfidf = data.tfidf.shape[1]
    for tr, te in splits:
        with_copies = np.flatnonzero(np.isin(copy_of, tr))
        model = C._relevance_model(seed)
        model.set_params(**({"C": cand["C"]} if "C" in cand else {}), **cand.get("params", {}))
        x_fit = sp.vstack([x[tr], x_copies[with_copies]]).tocsr()
        y_fit = np.concatenate([y[tr], y[copy_of[with_copies]]])
        # the model-form hook: a per-column scale made from this fold's training rows
        # only; the model is fitted on X * diag(s) and its weights fold back as coef * s,
        # so the averaged model is one weight per column, as the runtime scores it
        scale = cand["scale"](x_fit, y_fit, n_tfidf) if "scale" in cand else None
        model.fit(
            x_fit @ sp.diags(scale) if scale is not None else x_fit,
            y_fit,
            sample_weight=np.concatenate([weights[tr], copy_w[with_copies]]),
        )
        w = model.coef_[0].copy()
        if "beta" in cand:  # Wang & Manning's interpolation toward the NB vote
            w[:n_tfidf] = (1 - cand["beta"]) * np.abs(w[:n_tfidf]).mean() + cand["beta"] * w[
                :n_tfidf
            ]
        w = w * scale if scale is not None else w
        oof[te] = x[te] @ w + model.intercept_[0]
        coefs.append(w)
        intercepts.append(model.intercept_[0])
        tests.append(te)
    slope, offset = C._platt(oof, y)
    p = C._sigmoid(slope * oof + offset)
    threshold = C._best_f1_threshold(y, p)
    coef, intercept = np.mean(coefs, axis=0), float(np.mean(intercepts))
    dev_p = C._sigmoid(slope * (dev_x @ coef + intercept) + offset)
    found = {"p": p, "threshold": threshold, "dev_p": np.asarray(dev_p).ravel(), "coef": coef}
    # the fold models and the calibration, for scores of other views of the same items
    # (``relevance_later``'s title-only average)
    found.update(folds=list(zip(tests, coefs, intercepts, strict=True)), intercept=intercept,
                 slope=slope, offset=offset)  # fmt: skip
    if extra is not None:  # refit the (deterministic) TF-IDF to transform new items
        from sklearn.pipeline import FeatureUnion

        vec = FeatureUnion([(n, t) for n, t in C._make_vectorizer().transformer_list[:2]])
        vec.fit(data.docs)
        docs = [C.compose_text(i.get("title"), i.get("summary")) for i in extra]
        names = list(KIND_NAMES) + (list(cand["title"]("")[1]) if cand.get("title") else [])
        names += list(host(None)[1]) if host else []
        index = {name: j for j, name in enumerate(names)}
        found_kinds = [
            kind_features(i.get("title"), "", i.get("link"))
            | (cand["title"](i.get("title") or "")[0] if cand.get("title") else set())
            | (host(i.get("link"))[0] if host else set())
            for i in extra
        ]
        ex_blocks = [vec.transform(docs), sp.csr_matrix(cue_fn(docs)),
                     C._kind_matrix(found_kinds, index, C.KIND_SCALE)]  # fmt: skip
        if "dense" in cand:
            ex_blocks.append(sp.csr_matrix((embed_new(cand["dense"][0], docs) - mean) * factor))
        ex = sp.hstack(ex_blocks, format="csr")
        found["extra_p"] = np.asarray(C._sigmoid(slope * (ex @ coef + intercept) + offset))
    return found


def standardise(raw: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Each column centred and scaled to unit variance over ``raw``, the block to an
    expected norm of ``scale`` (``classifier._embedding_block``'s rule)."""
    mean = raw.mean(axis=0)
    factor = scale / (np.maximum(raw.std(axis=0), 1e-6) * np.sqrt(raw.shape[1]))
    return mean.astype(np.float32), factor.astype(np.float32)


def embed_new(name: str, docs: list[str]) -> np.ndarray:
    """``name``'s embeddings of texts outside the cache (the stream items)."""
    assert name == "minilm", name
    import minilm

    return minilm.MiniLM().embed(docs)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


_SHIPPED: dict[tuple[int, bool], dict[str, Any]] = {}


def run_combined(
    data: Data, how: str, seed: int = 0, extra: list[dict] | None = None
) -> dict[str, Any]:
    """A logistic regression on the MiniLM columns alone (standardised, scale 1; the same
    folds, summary-only copies and sample weights as ``train``, balanced classes, lbfgs,
    C 1), Platt-calibrated out of fold; ``how``: ``alone`` that model, ``avg`` the mean of
    its probability and the shipped model's, ``stack`` a two-input logistic regression on
    both out-of-fold logits (fitted on those same out-of-fold values). The threshold is the
    out-of-fold F1-best, as ``train`` chooses it; dev is scored by the averaged fold models."""
    from sklearn.linear_model import LogisticRegression

    key = (seed, extra is not None)
    if key not in _SHIPPED:  # avg and stack both start from it
        _SHIPPED[key] = run(data, {}, seed, extra)
    shipped = _SHIPPED[key]
    raw, dev_raw = data.embeddings("minilm")
    mean, factor = standardise(raw, 1.0)
    both = (raw - mean) * factor
    n = len(data.rows)
    x, x_copies, y, copy_of = both[:n], both[n:], data.y, data.copy_of
    weights = np.array([C.SOURCE_WEIGHTS.get(s, 1.0) for s in data.source])
    folds = StratifiedKFold(n_splits=C.N_FOLDS, shuffle=True, random_state=seed)
    oof = np.zeros(n)
    coefs, intercepts = [], []
    for tr, te in folds.split(x, C._strata(y, data.source)):
        with_copies = np.flatnonzero(np.isin(copy_of, tr))
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
        model.fit(
            np.vstack([x[tr], x_copies[with_copies]]),
            np.concatenate([y[tr], y[copy_of[with_copies]]]),
            sample_weight=np.concatenate([weights[tr], weights[copy_of[with_copies]]]),
        )
        oof[te] = x[te] @ model.coef_[0] + model.intercept_[0]
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    slope, offset = C._platt(oof, y)
    coef, intercept = np.mean(coefs, axis=0), float(np.mean(intercepts))

    def alone(z: np.ndarray) -> np.ndarray:
        return np.asarray(C._sigmoid(slope * (z @ coef + intercept) + offset)).ravel()

    p_lr = np.asarray(C._sigmoid(slope * oof + offset)).ravel()
    dev_lr = alone((dev_raw - mean) * factor)
    ex_lr = alone((embed_new("minilm", [C.compose_text(i.get("title"), i.get("summary"))
                                        for i in extra]) - mean) * factor) if extra else None  # fmt: skip
    pairs = [(p_lr, shipped["p"]), (dev_lr, shipped["dev_p"])]
    if extra:
        pairs.append((ex_lr, shipped["extra_p"]))
    if how == "alone":
        merged = [a for a, _ in pairs]
    elif how == "avg":
        merged = [(a + b) / 2 for a, b in pairs]
    else:
        stack = LogisticRegression(C=1e4, max_iter=1000)
        stack.fit(np.column_stack([_logit(p_lr), _logit(shipped["p"])]), y)
        print(f"  stack weights: minilm {stack.coef_[0][0]:+.3f}, shipped "
              f"{stack.coef_[0][1]:+.3f}, intercept {stack.intercept_[0]:+.3f}")  # fmt: skip
        merged = [
            stack.predict_proba(np.column_stack([_logit(a), _logit(b)]))[:, 1] for a, b in pairs
        ]
    found = {"p": merged[0], "dev_p": merged[1], "coef": coef}
    found["threshold"] = C._best_f1_threshold(y, merged[0])
    if extra:
        found["extra_p"] = merged[2]
    return found


def _prf(y: np.ndarray, p: np.ndarray, t: float) -> dict[str, float]:
    f = p >= t
    tp = float((f & (y == 1)).sum())
    prec = tp / f.sum() if f.sum() else float("nan")
    rec = tp / (y == 1).sum()
    f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
    return {"P": prec, "R": rec, "F1": f1, "AP": float(average_precision_score(y, p))}


def report(data: Data, out: dict[str, Any]) -> dict[str, Any]:
    t, p = out["threshold"], out["p"]
    feed = data.source == "rss_2020"
    res: dict[str, Any] = {"t": t}
    for name, mask in (("all", np.ones(len(p), bool)), ("feed", feed)):
        m = _prf(data.y[mask], p[mask], t)
        res.update({f"{name} {k}": v for k, v in m.items()})
    res.update({f"dev {k}": v for k, v in _prf(data.dev_y, out["dev_p"], t).items()})
    res.update(hard_flagged(data.dev, data.dev_y, out["dev_p"] >= t))
    return res


def hard_flagged(dev: list[dict], dev_y: np.ndarray, flagged: np.ndarray) -> dict[str, str]:
    """dev.jsonl's hard negatives (each label, and all) and HuffPost POLITICS flagged."""
    orig = np.array([d.get("orig_label") for d in dev])
    res = {}
    for label in (*C.HARD_NEGATIVE_LABELS, "POLITICS"):
        mask = (orig == label) & (dev_y == 0)
        res[label] = f"{int(flagged[mask].sum())}/{int(mask.sum())}"
    hard = np.isin(orig, C.HARD_NEGATIVE_LABELS) & (dev_y == 0)
    res["hard"] = f"{int(flagged[hard].sum())}/{int(hard.sum())}"
    return res


def compare_stream(items: list[dict], out: dict[str, Any], against: Path) -> None:
    """Weighted P/R/F1 of the candidate and the shipped model on a stream sample, and a
    paired bootstrap of the difference (``relevance_compare``'s)."""
    import relevance_compare as RC

    y = np.array([i["label"] for i in items])
    w = np.array([float(i.get("weight", 1.0)) for i in items])
    model = C.load(against)
    old = model.probabilities([C._entry(i) for i in items]) >= model.threshold
    new = out["extra_p"] >= out["threshold"]
    for name, f in (("shipped", old), ("candidate", new)):
        print(name, "weighted P {:.3f} R {:.3f} F1 {:.3f}".format(*RC._weighted(y, f, w)))
    RC.bootstrap(y, w, old, new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=["baseline"])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newsalert-oof"))
    parser.add_argument("--dump", type=Path, help="write per-item out-of-fold probabilities")
    parser.add_argument(
        "--stream",
        type=Path,
        help="ONCE, for the final candidate: score this weighted feed sample and compare it "
        "with the model in --against (weighted P/R/F1, paired bootstrap)",
    )
    parser.add_argument("--against", type=Path, help="the shipped model's directory")
    args = parser.parse_args(argv)
    data = Data(args.cache)
    stream = None
    if args.stream:
        stream = [json.loads(line) for line in args.stream.read_text().splitlines()]
        stream = [i for i in stream if i.get("label") in (0, 1)]
    for name in args.names:
        started = time.perf_counter()
        cand = CANDIDATES[name]
        if "combine" in cand:
            out = run_combined(data, cand["combine"], extra=stream)
        else:
            out = run(data, cand, extra=stream)
        if stream is not None:
            compare_stream(stream, out, args.against)
        res = report(data, out)
        cells = [f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in res.items()]
        print(f"{name}: " + " | ".join(cells) + f" | {time.perf_counter() - started:.0f}s")
        if CANDIDATES[name].get("host"):  # the outlets' weights (the last kind columns)
            hosts = make_host(data.rows, CANDIDATES[name]["host"] == "shared")(None)[1]
            doms = np.array([registrable_domain(r.link) for r in data.rows])
            for h, w in zip(hosts, out["coef"][-len(hosts) :], strict=True):
                m = doms == h[5:] if h.startswith("host:") else doms != ""
                print(
                    f"  {h}: weight {w:+.2f} ({int(m.sum())} items, {data.y[m].mean():.1%} relevant)"
                )
        if args.dump:
            with open(args.dump.with_suffix(f".{name.replace(' ', '_')}.jsonl"), "w") as f:
                for r, p in zip(data.rows, out["p"], strict=True):
                    f.write(
                        json.dumps(
                            {
                                "source": r.source,
                                "y": r.label,
                                "p": round(float(p), 4),
                                "title": r.title,
                                "link": r.link,
                                "text": r.text,
                            }
                        )
                        + "\n"
                    )
                for d, p in zip(data.dev, out["dev_p"], strict=True):
                    f.write(
                        json.dumps(
                            {
                                "source": "dev:" + str(d.get("orig_label")),
                                "y": d["label"],
                                "p": round(float(p), 4),
                                "title": d.get("title"),
                                "text": d.get("summary"),
                            }
                        )
                        + "\n"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
