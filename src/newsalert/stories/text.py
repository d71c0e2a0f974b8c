"""Text features of news items for story clustering, and MinHash over them.

Words, stems, names, weekdays; document frequencies from the packaged training corpus
(17k news items), so the vectors need no fitting and every process computes the same
ones; TF-IDF vectors and cosine. Near-duplicates: MinHash signatures (128 permutations
over word 3-shingles of title + summary, multiply-shift hashing in numpy) and LSH
banding (16 bands of 2 rows): each band hash is a key in the story index, so a new item
finds its candidates with one indexed lookup per batch, never a pairwise scan.
Pure; imports nothing of newsalert.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import math
import operator
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import TypeVar

import numpy as np

_T = TypeVar("_T")


# --- text --------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?:;\"“”|()\[\]–—]| - ")

# English function words, wire boilerplate and calendar words: they say nothing about
# which incident a report is about (every report of the day says "Tuesday").
_STOPWORDS = """
    a about above after again against all almost along already also although am among an
    and another any are around as at away back be became because been before being below
    between both but by can could did do does doing done down during each either else
    even ever every few for from further get gets got had has have having he her here hers
    him his how however i if in into is it its itself just last late later least less
    like made make many may me might more most much must my near nearly new next no nor
    not now of off on once one only or other others our out over own per put rather said
    same say says saying see seen she should since so some still such take than that the
    their them then there these they this those though three through thus to today told
    too two under until up upon us very via was we well were what when where whether which
    while who whom whose why will with within without would yet you your yesterday
    tonight tomorrow week weeks day days year years month months time times early
    monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    reuters ap afp dpa upi pti ians xinhua ani bbc cnn update updated updates breaking
    news report reports reported reporting according official officials source sources
    people percent mr mrs ms dr st
    """
STOPWORDS = frozenset(_STOPWORDS.split())


def words(text: str) -> list[str]:
    """Lower-case word tokens; apostrophes inside words kept, everything else splits."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A light suffix stripper: "attacks", "attacked", "attacking" -> "attack"."""
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    return word


def _index_term(word: str) -> str | None:
    """The index term of a lower-case word, or None for stopwords, numbers, single letters."""
    if len(word) < 2 or word in STOPWORDS or word[0].isdigit() or word[-1].isdigit():
        return None
    term = stem(word)
    return None if term in STOPWORDS or len(term) < 2 else term


class _Memo(dict[str, _T]):
    """Memo of a function of a word: a plain dict, so ``map(memo.__getitem__, words)``
    runs in C but for words never seen; emptied when it reaches ``limit`` words (a bound,
    like an LRU's, for a fraction of the cost of one)."""

    def __init__(self, function: Callable[[str], _T], limit: int = 200_000) -> None:
        super().__init__()
        self.function, self.limit = function, limit

    def __missing__(self, word: str) -> _T:
        if len(self) >= self.limit:
            self.clear()
        value = self[word] = self.function(word)
        return value


_term: Callable[[str], str | None] = _Memo(_index_term).__getitem__


def terms(text: str) -> list[str]:
    return [t for t in map(_term, words(text)) if t is not None]


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.IGNORECASE)


# shared by every empty set of words (most weekdays, unread vocabularies): no object each
_NO_WORDS: frozenset[str] = frozenset()


def weekdays(text: str) -> frozenset[str]:
    """Weekdays a report names ("on Tuesday"): reports of one incident name the same day."""
    if "day" not in text.lower():  # most texts name none, and this test costs a tenth of the
        return _NO_WORDS  # search (exact: no other letter matches d, a or y ignoring case)
    return frozenset(m.lower() for m in found) if (found := _WEEKDAY.findall(text)) else _NO_WORDS


def _title_case(title: str | Sequence[str]) -> bool:
    """ "Gunmen Kill Six In Market Attack": capitals say nothing about names here.
    ``title`` may be given as its words already."""
    found = _WORD.findall(title) if isinstance(title, str) else title
    long = [w for w in found if len(w) > 3]
    return len(long) >= 3 and sum(w[0].isupper() for w in long) >= 0.6 * len(long)


# words and sentence breaks (the strings _SENTENCE_BREAK matches) in one scan (no word
# spans a break): a text's words, and which of them start a sentence, without splitting
# it into sentences and scanning each again
_TOKEN = re.compile(f"{_WORD.pattern}|{_SENTENCE_BREAK.pattern}")
_BREAKS = frozenset('.!?:;"“”|()[]–—') | {" - "}
_is_break = _BREAKS.__contains__


def names(text: str) -> set[str]:
    """Terms of capitalised words not at a sentence start, and ALL-CAPS datelines."""
    return _names_of(_TOKEN.findall(text))


def _names_of(tokens: Iterable[str]) -> set[str]:
    """:func:`names` of a text's words and sentence breaks (``_TOKEN.findall``)."""
    found = []
    start = True
    for token in tokens:
        if token in _BREAKS:
            start = True
        elif start:
            start = False
            if token[0].isupper() and len(token) > 2 and token.isupper():  # a dateline
                found.append(token)
        elif token[0].isupper():
            found.append(token)
    return set(filter(None, map(_term, map(str.lower, found))))


# --- document frequencies ----------------------------------------------------------------


class Idf:
    """Inverse document frequencies from a background corpus; unseen terms weigh most."""

    def __init__(self, df: Mapping[str, int], n_docs: int) -> None:
        self.n_docs = max(1, int(n_docs))
        base = math.log(self.n_docs + 1)
        self.max = base + 1.0
        self._idf = {t: base - math.log(n + 1) + 1.0 for t, n in df.items()}

    def __call__(self, term: str) -> float:
        return self._idf.get(term, self.max)

    @property
    def known(self) -> Mapping[str, float]:
        """The terms of the corpus and their idf (``get(term, self.max)``: no call per term)."""
        return self._idf

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Idf:
        df: dict[str, int] = defaultdict(int)
        n = 0
        for text in texts:
            n += 1
            for term in set(terms(text)):
                df[term] += 1
        return cls(df, n)


IDF_SOURCES = ("ag_news:", "conflibert_cameo")


@lru_cache(maxsize=1)
def packaged_idf() -> Idf:
    """Document frequencies of the packaged news corpus (AG News and CAMEO, 17k items), once.

    The packaged file also holds contrast sets and real feed items for the relevance
    model; the clustering thresholds were measured with these 17k items' frequencies, so
    the others are left out (``IDF_SOURCES``) until clustering is re-measured with them.
    """
    resource = importlib.resources.files("newsalert").joinpath("data", "train.jsonl.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        texts = []
        for line in lines:
            record = json.loads(line)
            if str(record.get("source")).startswith(IDF_SOURCES):
                texts.append(f"{record.get('title') or ''}\n{record.get('summary') or ''}")
    return Idf.from_texts(texts)


# --- MinHash and LSH -----------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK32 = 0xFFFFFFFF
_EMPTY = np.zeros(0, dtype=np.uint64)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def shingles(text: str) -> np.ndarray:
    """Hashes (uint64 holding 32 bits) of the word 3-shingles of ``text``, deduplicated."""
    return shingles_of(words(text))


def shingles_of(lowered: Sequence[str]) -> np.ndarray:
    """:func:`shingles` of a text's lower-case words."""
    crc = zlib.crc32  # inline: a function call per word was a tenth of the features' cost
    hashes = [crc(w.encode("utf-8", "surrogatepass")) for w in lowered]
    if len(hashes) < 3:
        return np.asarray(hashes, dtype=np.uint64)
    h = np.asarray(hashes, dtype=np.uint64)
    combined = _mix64(
        (h[:-2] << np.uint64(32)) ^ (h[1:-1] * np.uint64(0x9E3779B1)) ^ h[2:]
    ) & np.uint64(_MASK32)
    return np.unique(combined)


# a word's hash, memoised: most words of a batch were seen before, and a lookup costs a
# fifth of encoding and hashing the word again
_word_hash: Callable[[str], int] = _Memo(
    lambda word: zlib.crc32(word.encode("utf-8", "surrogatepass"))
).__getitem__


def shingles_of_many(lowered: Sequence[str], lengths: Sequence[int]) -> list[np.ndarray]:
    """:func:`shingles_of` of many texts, the same arrays, in one numpy pass (the calls
    per text cost more than the arithmetic): their lower-case words one text after
    another, and how many words each text has."""
    h = np.fromiter(map(_word_hash, lowered), dtype=np.uint64, count=len(lowered))
    ends = np.cumsum(lengths)
    out = [h[end - n : end] for n, end in zip(lengths, ends.tolist(), strict=True)]
    if len(lowered) < 3:
        return out
    # the shingle starting at each word; kept where its three words are of one text
    doc = np.repeat(np.arange(len(lengths), dtype=np.uint64), lengths)
    same = doc[:-2] == doc[2:]
    combined = _mix64(
        (h[:-2] << np.uint64(32)) ^ (h[1:-1] * np.uint64(0x9E3779B1)) ^ h[2:]
    ) & np.uint64(_MASK32)
    # deduplicated per text at once: sorted by (text, hash), as np.unique sorts each
    # (sorting and dropping repeats here: ten times faster than np.unique's hashing)
    found = np.sort((doc[:-2][same] << np.uint64(32)) | combined[same])
    if found.size:
        found = found[np.concatenate(([True], found[1:] != found[:-1]))]
    counts = np.bincount((found >> np.uint64(32)).astype(np.intp), minlength=len(lengths))
    parts = np.split(found & np.uint64(_MASK32), np.cumsum(counts)[:-1])
    # a text of fewer than three words keeps its word hashes, as shingles_of does
    return [parts[i] if n >= 3 else out[i] for i, n in enumerate(lengths)]


class MinHasher:
    """MinHash signatures (``num_perm`` x uint32) and LSH band keys (int64, one per band).

    Permutations are multiply-shift hashes ``(a * x + b) >> 32`` over 64-bit words, with
    fixed odd ``a`` and random ``b`` from ``seed``: the same signature in every process.
    ``rows`` signature values make one band; two texts of Jaccard similarity J share one
    of ``bands`` bands with probability ``1 - (1 - J**rows) ** bands``: with 2 and 16,
    0.94 at J = 0.4 (the duplicate threshold), 0.99 at 0.5, 0.15 at 0.1, 0.004 at 0.02
    (unrelated news). Every band is a stored row: 16 rows per item, not 64; all 128
    values estimate the Jaccard similarity of the candidates found.
    """

    def __init__(
        self, num_perm: int = 128, rows: int = 2, bands: int = 16, seed: int = 0x5EED
    ) -> None:
        if rows * bands > num_perm:
            raise ValueError("rows * bands must not exceed num_perm")
        rng = np.random.default_rng(seed)
        self.num_perm, self.rows, self.bands = num_perm, rows, bands
        self._a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
        self._salt = rng.integers(0, 2**63, size=bands, dtype=np.uint64)

    def signatures(self, shingle_sets: Sequence[np.ndarray], chunk: int = 16_384) -> np.ndarray:
        """One row per set; an empty set gets an all-ones row (matches nothing)."""
        out = np.full((len(shingle_sets), self.num_perm), _MASK32, dtype=np.uint32)
        start = 0
        while start < len(shingle_sets):
            # take items until about ``chunk`` shingles: bounds the (perm x shingle) matrix
            stop, total = start, 0
            while stop < len(shingle_sets) and (total == 0 or total < chunk):
                total += len(shingle_sets[stop])
                stop += 1
            rows = [i for i in range(start, stop) if len(shingle_sets[i])]
            if rows:
                flat = np.concatenate([shingle_sets[i] for i in rows])
                offsets = np.cumsum([0] + [len(shingle_sets[i]) for i in rows[:-1]])
                hashed = self._a[:, None] * flat[None, :]
                hashed += self._b[:, None]
                # the shift after the minimum (it keeps the order): one pass less over the matrix
                lowest = np.minimum.reduceat(hashed, offsets, axis=1) >> np.uint64(32)
                out[rows] = lowest.T.astype(np.uint32)
            start = stop
        return out

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """(n, bands) int64: a hash of each band's rows, salted per band."""
        n = signatures.shape[0]
        used = self.bands * self.rows
        rows = signatures[:, :used].astype(np.uint64).reshape(n, self.bands, self.rows)
        h = np.broadcast_to(self._salt, (n, self.bands)).copy()
        for r in range(self.rows):
            h = _mix64(h ^ rows[:, :, r])
        return h.view(np.int64)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return float(np.count_nonzero(a == b)) / len(a)


@lru_cache(maxsize=200_000)
def key_of(kind: str, text: str) -> int:
    """A signed 64-bit key for a term ("t") or a canonical link ("l")."""
    digest = hashlib.blake2b(f"{kind}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


_term_key: Callable[[str], int] = _Memo(lambda term: key_of("t", term)).__getitem__


# --- features ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Features:
    vector: dict[str, float]  # TF-IDF, unit length
    keys: tuple[tuple[str, float], ...]  # (rare term or name, weight) to find candidate stories
    title_terms: tuple[tuple[str, str], ...]  # (term, the word as the title wrote it), in order
    terms: tuple[str, ...]  # every term, once (a tuple: the collector soon skips it)
    shingles: np.ndarray
    days: frozenset[str] = frozenset()


def _first_words(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for term, word in pairs:
        out.setdefault(term, word)
    return out


# the sums below run in C (map, not a generator): the same products, added in the same order


def cosine(unit: Mapping[str, float], other: Mapping[str, float], other_norm: float) -> float:
    if other_norm <= 0:
        return 0.0
    if len(unit) > len(other):
        dot = sum(map(operator.mul, other.values(), map(unit.get, other, repeat(0.0))))
    else:
        dot = sum(map(operator.mul, unit.values(), map(other.get, unit, repeat(0.0))))
    return dot / other_norm


def norm(vector: Mapping[str, float]) -> float:
    return math.sqrt(sum(map(operator.mul, vector.values(), vector.values())))
