"""Worker memory: the arrays that replace the vectorizers' vocabularies (exactly the same
features and names as scikit-learn's), and the malloc_trim hook."""

from __future__ import annotations

import gzip
import itertools
import json
import pickle
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import scipy.sparse as sp

from newsalert import classifier as clf
from newsalert import memory, sparserows
from newsalert.kinds import kind_features
from newsalert.termindex import TermIndex

EDGE_DOCS = [
    "Café bombing in Zürich: 3 killed\u00a0— police",
    "a b c  x\ty\nz " + "supercalifragilistic" * 3,
    "",
    "   ",
    "ÉMEUTES À PARIS: des centaines d'arrestations",
    "İstanbul'da saldırı",
    "ﬁre at the ﬂat (ligatures), ２０ killed, ｆｕｌｌｗｉｄｔｈ",
    "emoji 🔥🔥 fire \ud83d\udca5 and a lone surrogate \udc80",
    "x" * 3000,
]


def _items(n: int) -> list[tuple[str, str, str | None]]:
    raw = gzip.decompress(clf.packaged_data().read_bytes()).decode("utf-8")
    rows = [json.loads(line) for line in raw.splitlines()]
    step = max(1, len(rows) // n)
    out = [(r.get("title") or "", r.get("summary") or "", r.get("link")) for r in rows[::step]]
    return out[:n]


@pytest.fixture(scope="module")
def reference(classifier: Any) -> Any:
    """The fitted FeatureUnion as stored in the model file (the classifier dropped its own)."""
    return joblib.load(classifier.path)["vectorizer"]


# --- TermIndex ---------------------------------------------------------------------------


def test_term_index_lookup_and_names() -> None:
    vocab = {"fire": 2, "the fire": 0, "café": 1, "": 3, "\udc80x": 4}
    index = TermIndex(vocab, keep_names=True)
    assert len(index) == 5
    got = index.lookup(["café", "nope", "fire", "the fire", "", "\udc80x", "Fire"])
    assert got.dtype == np.int32
    assert got.tolist() == [1, -1, 2, 0, 3, 4, -1]
    assert index.lookup([]).tolist() == []
    assert index.names() == ["the fire", "café", "fire", "", "\udc80x"]
    assert [index.name(j) for j in (1, 4)] == ["café", "\udc80x"]
    with pytest.raises(LookupError):
        TermIndex(vocab).name(0)
    with pytest.raises(ValueError):
        TermIndex({"a": 0, "b": 2})
    empty = TermIndex({})
    assert empty.lookup(["a"]).tolist() == [-1]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(index)  # its hashes are only valid in this process and its forks


def test_term_index_resalts_on_a_hash_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    real = TermIndex._hash

    def colliding(self: TermIndex, terms: Any) -> np.ndarray:
        if self._salt == 0:  # every term the same hash: the index must salt and rehash
            return np.zeros(len(terms), dtype=np.int64)
        return real(self, terms)

    monkeypatch.setattr(TermIndex, "_hash", colliding)
    index = TermIndex({"a": 0, "b": 1, "c": 2})
    assert index._salt == 1
    assert index.lookup(["c", "a", "z", "b"]).tolist() == [2, 0, -1, 1]


# --- the classifier's features: exactly scikit-learn's ------------------------------------


def test_transform_identical_to_sklearn(classifier: Any, reference: Any) -> None:
    docs = [clf.compose_text(t, s) for t, s, _ in _items(3000)] + EDGE_DOCS
    ours = classifier._transform(docs)
    theirs = sp.csr_matrix(reference.transform(docs))
    theirs.sort_indices()
    assert ours.shape == theirs.shape
    assert np.array_equal(ours.indptr, theirs.indptr)
    assert np.array_equal(ours.indices, theirs.indices)
    assert ours.dtype == theirs.dtype
    assert np.array_equal(ours.data, theirs.data)  # bit for bit
    # one document at a time (a batch of one dedupes nothing) gives the same rows
    for k in (0, 1, len(docs) - 2):
        assert (classifier._transform([docs[k]]) != ours.getrow(k)).nnz == 0


def test_probabilities_identical_to_sklearn_features(classifier: Any, reference: Any) -> None:
    """Scoring with numpy alone gives SciPy's products of scikit-learn's features, bit for
    bit: the probabilities, and the categories (an argmax of ``x[:, cols] @ W.T``)."""
    texts = _items(3000) + [(d, "", None) for d in EDGE_DOCS]
    texts += [("", d, "https://example.test/opinion/x") for d in EDGE_DOCS]
    docs = [clf.compose_text(t, s) for t, s, _ in texts]
    kinds = classifier._kinds([kind_features(*t) for t in texts]).to_scipy()
    x = sp.hstack([reference.transform(docs), kinds], format="csr")
    decision = x @ classifier._coef + classifier._intercept
    expected = clf._sigmoid(classifier._slope * decision + classifier._offset)
    assert np.array_equal(classifier.probabilities(texts), expected)
    scores = x[:, classifier._cat_cols] @ classifier._cat_coef.T + classifier._cat_intercept
    scores = np.asarray(scores)
    # the category guard: no computer-attack words, never `cyber`
    no_cyber = np.array([not clf.cyber_words(d) for d in docs])
    scores[no_cyber, classifier.categories.index("cyber")] = -np.inf
    categories = [classifier.categories[k] for k in scores.argmax(axis=1)]
    predictions = classifier.predict(texts)
    assert [p.probability for p in predictions] == expected.tolist()
    assert [p.category for p in predictions] == categories
    # one item at a time (explain's path) gives the same numbers
    for k in (0, 1, 2, len(texts) - 3):
        one = classifier.explain(*texts[k][:2], link=texts[k][2])
        assert (one.probability, one.category) == (expected[k], categories[k])


def test_row_sums_add_in_order() -> None:
    """``sparserows.row_sums`` adds each row left to right, as SciPy's C loop does (numpy's
    ``sum`` adds pairwise and differs in the last bits)."""
    import functools
    import operator

    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 400, 60)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.standard_normal(int(indptr[-1])) * 10.0 ** rng.integers(-8, 8, int(indptr[-1]))
    expected = [
        functools.reduce(operator.add, values[a:b].tolist(), 0.0)
        for a, b in itertools.pairwise(indptr.tolist())
    ]
    assert sparserows.row_sums(values, indptr).tolist() == expected
    x = sparserows.Rows(indptr, rng.integers(0, 50, len(values)), values.astype(np.float32), 50)
    w = rng.standard_normal(50)
    assert np.array_equal(sparserows.matvec(x, w), x.to_scipy() @ w)
    cols = np.array([3, 7, 11, 40, 2])
    positions = np.full(50, -1)
    positions[cols] = np.arange(len(cols))
    weights = rng.standard_normal((4, len(cols)))
    got = sparserows.select_matmul(x, positions, weights)
    assert np.array_equal(got, np.asarray(x.to_scipy()[:, cols] @ weights.T))


def test_feature_names_identical_to_sklearn(classifier: Any, reference: Any) -> None:
    word = reference.transformer_list[0][1].get_feature_names_out()
    assert classifier._word_index.names() == list(word)
    cues = list(reference.transformer_list[2][1].get_feature_names_out())
    n_word, n_char = classifier._n_word, classifier._n_char
    assert [classifier._feature_name(n_word + n_char + j) for j in range(len(cues))] == cues
    kind0 = classifier._feature_name(n_word + n_char + len(cues))
    assert kind0 == f"[{classifier._kind_names[0]}]"
    # explain names terms by those names
    prediction = classifier.explain("Gunmen attack a police station, 12 killed", "", top=50)
    assert prediction.terms
    known = set(word) | set(cues) | {f"[{k}]" for k in classifier._kind_names}
    words = {"gunmen", "attack", "police", "station", "12", "killed", "a"}
    assert all(t in known or t.lower() in words for t, _ in prediction.terms)


def test_no_vocabulary_dicts_or_caches_kept(classifier: Any) -> None:
    assert classifier._vectorizer is None
    assert not hasattr(classifier, "_gram_cache")
    assert not any(isinstance(v, dict) and len(v) > 1000 for v in vars(classifier).values())


def test_scoring_imports_no_sklearn_or_scipy(classifier: Any) -> None:
    """A worker loads the model's arrays (``model.runtime.npz``): no unpickling, and no
    scikit-learn or SciPy in its memory (about 85 MB of heap)."""
    assert clf.runtime_file(classifier.path).is_file()
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from newsalert import classifier, pipeline\n"
        f"m = classifier.load(Path({str(classifier.path)!r}))\n"
        "m.predict([('Gunmen attack a police station', 'Twelve killed.', None)])\n"
        "m.explain('Gunmen attack a police station', 'Twelve killed.')\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('sklearn', 'scipy', 'joblib'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_runtime_arrays_made_on_first_load_and_refreshed(classifier: Any, tmp_path: Path) -> None:
    model_path = tmp_path / "model.joblib"
    shutil.copy(classifier.path, model_path)
    shutil.copy(classifier.path.with_name("model.json"), tmp_path / "model.json")
    runtime = clf.runtime_file(model_path)
    assert runtime == tmp_path / "model.runtime.npz" and not runtime.exists()
    texts = _items(300)
    expected = classifier.predict(texts)
    first = clf.load(model_path)  # from the model file: the arrays are written beside it
    assert runtime.is_file()
    assert first.predict(texts) == expected
    again = clf.load(model_path)  # from the arrays
    assert again.predict(texts) == expected
    assert again.explain(*texts[0][:2]) == classifier.explain(*texts[0][:2])
    # arrays of another model file (its sha256 differs), or damaged ones: made again
    with np.load(runtime) as found:
        arrays = {k: found[k] for k in found.files}
    arrays["model_sha256"] = np.array("0" * 64)
    arrays["coef"] = arrays["coef"] * 0
    np.savez(runtime, **arrays)
    assert clf.load(model_path).predict(texts) == expected
    runtime.write_bytes(b"not an npz")
    assert clf.load(model_path).predict(texts) == expected
    with np.load(runtime) as found:
        assert str(found["model_sha256"]) == first.metadata["model_sha256"]


def test_runtime_arrays_are_served_from_a_file_mapping(classifier: Any, tmp_path: Path) -> None:
    """The weights are read-only views of a mapping of ``model.runtime.npz`` (only the pages
    an item's columns read are resident); a torn member, or a compressed file, is read or
    made again as before, with the same scores."""
    model_path = tmp_path / "model.joblib"
    shutil.copy(classifier.path, model_path)
    shutil.copy(classifier.path.with_name("model.json"), tmp_path / "model.json")
    texts = _items(200)
    expected = classifier.predict(texts)
    clf.load(model_path)  # writes the arrays
    runtime = clf.runtime_file(model_path)
    arrays, _mapped = clf._map_runtime(runtime)
    with np.load(runtime) as found:
        assert sorted(found.files) == sorted(arrays)
        for name in found.files:
            assert np.array_equal(found[name], arrays[name]), name
            assert found[name].dtype == arrays[name].dtype, name
    loaded = clf.load(model_path)
    for name in ("_coef", "_cat_coef", "_word_idf", "_char_idf"):
        weights = getattr(loaded, name)
        assert not weights.flags.writeable, name  # a view of the mapping, not a copy
        assert weights.flags.aligned, name  # numpy runs unaligned arrays on slower paths
    assert all(a.ctypes.data % 64 == 0 for a in arrays.values() if a.size)
    assert loaded.predict(texts) == expected
    assert loaded.explain(*texts[0][:2]) == classifier.explain(*texts[0][:2])
    # a flipped byte inside the weights: the member's CRC fails, the arrays are made again
    raw = bytearray(runtime.read_bytes())
    raw[len(raw) // 3] ^= 0x55
    runtime.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="CRC"):
        clf._map_runtime(runtime)
    assert clf.load(model_path).predict(texts) == expected
    # a compressed file (not np.savez's): read into memory, the same scores
    with np.load(runtime) as found:
        kept = {k: found[k] for k in found.files}
    np.savez_compressed(runtime, **kept)
    with pytest.raises(ValueError, match="stored"):
        clf._map_runtime(runtime)
    again = clf.load(model_path)
    assert again.predict(texts) == expected and again._coef.flags.writeable


def test_runtime_arrays_in_a_read_only_folder(
    classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the arrays cannot be written, the model file is read as before (a log line)."""
    shutil.copy(classifier.path, tmp_path / "model.joblib")
    shutil.copy(classifier.path.with_name("model.json"), tmp_path / "model.json")

    def read_only(path: Path, *_: Any) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(clf, "_write_runtime", read_only)
    model = clf.load(tmp_path / "model.joblib")
    assert not clf.runtime_file(tmp_path / "model.joblib").exists()
    assert model.predict(_items(20)) == classifier.predict(_items(20))


# --- malloc_trim ---------------------------------------------------------------------------


class _FakeTrim:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, pad: int) -> int:
        self.calls.append(pad)
        return 1


def test_trim_calls_malloc_trim(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _FakeTrim()
    monkeypatch.setattr(memory, "_malloc_trim", fake)
    assert memory.trim() is True
    assert fake.calls == [0]
    monkeypatch.setattr(memory, "_malloc_trim", None)  # not glibc: nothing to do
    assert memory.trim() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_real_malloc_trim_found_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", memory._UNSET)
    assert memory._load() is not None
    assert memory.trim() in (True, False)


def test_maybe_trim_is_throttled_and_trims_after_the_last_of_a_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeTrim()
    monkeypatch.setattr(memory, "_malloc_trim", fake)
    monkeypatch.setattr(memory, "_last", {})
    monkeypatch.setattr(memory, "_pending", {})
    scheduled: list[tuple[float, Any]] = []

    def timer(delay: float, function: Any) -> object:
        scheduled.append((delay, function))
        return object()

    def maybe(now: float) -> bool:
        return memory.maybe_trim(now=now, interval=30.0, timer=timer)

    assert maybe(100.0) is False  # the first call starts the clock
    assert scheduled == []
    assert maybe(110.0) is False  # too soon: one trim is scheduled for t=130
    assert maybe(120.0) is False  # ... and only one
    assert [delay for delay, _ in scheduled] == [20.0]
    assert fake.calls == []
    scheduled[0][1]()  # the timer fires: the burst's memory is given back
    assert fake.calls == [0]
    assert maybe(memory.time.monotonic() + 1.0) is False  # the trailing trim counts as the last
    assert len(scheduled) == 2
    assert maybe(memory.time.monotonic() + 31.0) is True  # the interval is over: trims now
    assert fake.calls == [0, 0]


def test_the_trailing_trim_runs_on_a_real_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    fake = _FakeTrim()
    done = threading.Event()

    def trimmed(pad: int) -> int:
        fake(pad)
        done.set()
        return 1

    monkeypatch.setattr(memory, "_malloc_trim", trimmed)
    monkeypatch.setattr(memory, "_last", {})
    monkeypatch.setattr(memory, "_pending", {})
    assert memory.maybe_trim(interval=0.2) is False  # starts the clock
    assert memory.maybe_trim(interval=0.2) is False  # too soon: scheduled
    assert done.wait(5.0)
    assert fake.calls == [0]
    assert memory._pending == {}


def test_task_postrun_signal_trims(monkeypatch: pytest.MonkeyPatch) -> None:
    from celery import signals

    from workers import tasks

    fake = _FakeTrim()
    monkeypatch.setattr(memory, "_malloc_trim", fake)
    monkeypatch.setattr(memory, "_last", {})
    monkeypatch.setattr(memory, "_pending", {})
    clock = iter([1000.0, 1000.0 + 2 * memory.MIN_INTERVAL])
    monkeypatch.setattr(memory.time, "monotonic", lambda: next(clock))
    for _ in range(2):
        signals.task_postrun.send(sender=tasks, task_id="t", task=None, args=(), kwargs={})
    assert fake.calls == [0]
    assert memory._pending == {}  # nothing came too soon: no trailing trim scheduled


# --- the gazetteer's names ------------------------------------------------------------------


def _whole_word_names(keys: list[str], text: str) -> set[tuple[int, int, int]]:
    """Every key that is a whole word of ``text``, the slow way (what the automaton found)."""
    ids = {k: j for j, k in enumerate(keys)}
    n = len(text)
    return {
        (s, e, ids[text[s:e]])
        for s in range(n)
        if s == 0 or not text[s - 1].isalnum()
        for e in range(s + 1, n + 1)
        if (e == n or not text[e].isalnum()) and text[s:e] in ids
    }


@pytest.mark.parametrize("chunk", [8192, 3], ids=["one-chunk", "chunks-of-3"])
@pytest.mark.parametrize("made", ["fresh", "loaded"])
def test_key_index_finds_every_whole_word_name(
    made: str, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    from newsalert import termindex
    from newsalert.geo import keyindex
    from newsalert.geo.keyindex import KeyIndex

    for module in (termindex, keyindex):  # small chunks: the decoding's seams are crossed
        monkeypatch.setattr(module, "_CHUNK", chunk)
    keys = [
        "Paris", "New York", "New York City", "York", "Port-au-Prince", "Port", "St. Louis",
        "U.S.", "'Ali", "Ali", "al-Raqqa", "1ra", "Île-de-France", "Zürich", "São Paulo", "L.A.",
        "D.C.", "Washington, D.C.", "İstanbul", "Ras al Khaimah", "Ras",
    ]  # fmt: skip
    index = KeyIndex(keys)
    if made == "loaded":
        index = pickle.loads(pickle.dumps(index))  # as the cached gazetteer has it
    assert len(index) == len(keys) and list(index.items()) == [(k, j) for j, k in enumerate(keys)]
    # a column per name, then one per boundary prefix that is no name ("New", "St.", ...)
    prefixes = sorted({k[:i] for k in keys for i in range(1, len(k)) if not k[i].isalnum()})
    extra = [p for p in prefixes if p not in keys]
    cols = index._index.lookup([*keys, *extra]).tolist()
    assert cols == list(range(len(keys) + len(extra)))
    assert index._is_prefix.tolist() == [t in prefixes for t in [*keys, *extra]]
    rnd = random.Random(0)
    glue = [" ", "-", "'", ".", ", ", "x", "", "_", "\n", "é", " in "]
    texts = ["", "P", "Paris", "Parisian", "New York-New York", "_Paris_", "a'Ali 'Ali", "al-Raqqa"]
    texts += [
        "".join(rnd.choice(keys) + rnd.choice(glue) for _ in range(rnd.randint(1, 12)))
        for _ in range(3000)
    ]
    for text in texts:
        assert sorted(index.find(text)) == sorted(_whole_word_names(keys, text)), text


def test_a_name_given_twice_is_refused_not_hashed_forever() -> None:
    from newsalert.geo.keyindex import KeyIndex

    with pytest.raises(ValueError, match="not distinct"):
        KeyIndex(["Paris", "Nis", "Paris"])
