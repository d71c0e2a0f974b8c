"""Stories: one incident, one alert. Near-duplicate detection and incident clustering.

Twenty outlets report an attack within the hour under twenty titles and guids, then keep
reporting for days. Every scored item joins a *story*, in two steps:

1. **Near-duplicates** (agency copy republished, an article edited under a new guid, the
   same canonical link on two feeds): MinHash signatures (128 permutations over word
   3-shingles of title + summary, multiply-shift hashing in numpy) and LSH banding (16
   bands of 2 rows). Each band hash is a row in the store (``story_keys``: key, item,
   story, time; keyed on (key, item)), so a new item finds its candidates with one
   indexed lookup per batch, never a pairwise scan; a candidate is a duplicate when the
   estimated Jaccard similarity of the two signatures reaches ``duplicate_similarity``.
   A duplicate joins the story and never alerts.
2. **Clustering** (different reports of one incident): a TF-IDF vector of title + summary
   (title words count twice, names and places weigh 1.5 times), compared by cosine with
   the story's first report, for the candidate stories only: those sharing rare terms or
   names (also rows of ``story_keys``, one per term and story) within the time window.
   Terms many concurrent stories share ("Gaza" during an offensive) weigh less, and a
   report naming another weekday than the story matches less. At ``similarity`` or
   above, the item joins the best story; else it starts a new one. Document frequencies
   come from the packaged training corpus (17k news items), so the vectors need no
   fitting and every process computes the same ones.

Everything is bounded by ``window``: an item only finds keys seen within the window
before it, and older keys are pruned. ``bench/stories.py`` measures both steps on
hand-labelled news and their speed over 50,000 stored items.

Alerting per story (``route_story``): a subscriber's first relevant item of a story
alerts as before; a duplicate never does; a later report of the same story becomes an
*update* only when it adds something (a source-count milestone, a score higher by a
margin, new key terms in its title) and the subscriber's last alert or update on the
story is at least ``update_interval`` old.

This module is pure where it can be (``Clusterer``, ``route_story``, ``MemoryIndex``);
``StoryStore`` is the store-backed index and writer, ``StoryDesk`` wires both for the
pipeline.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import importlib.resources
import json
import logging
import math
import operator
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain, filterfalse, groupby, repeat
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

import numpy as np

from newsalert.models import StoryUpdate
from newsalert.render import render, render_update
from newsalert.routing import alert_for
from newsalert.store import aware_utc

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from newsalert.models import Alert, Message, Score
    from newsalert.store import Delivery, PlannedDelivery, Store, StoredItem

log = logging.getLogger(__name__)
_T = TypeVar("_T")

NEW, DUPLICATE, RELATED = "new", "duplicate", "related"
ALERT, UPDATE = "alert", "update"

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


@lru_cache(maxsize=1)
def packaged_idf() -> Idf:
    """Document frequencies of the packaged training corpus (17k news items), once."""
    resource = importlib.resources.files("newsalert").joinpath("data", "train.jsonl.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        texts = []
        for line in lines:
            record = json.loads(line)
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


_first, _second = operator.itemgetter(0), operator.itemgetter(1)


# --- settings, results and state -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    window: timedelta = timedelta(hours=72)
    similarity: float = 0.4  # cosine, item vs story centroid (see bench/stories.py)
    duplicate_similarity: float = 0.4  # estimated Jaccard of word 3-shingles
    min_shingles: int = 8  # shorter texts are never near-duplicates, only clustered
    max_keys: int = 8  # rare terms and names per item used to find candidate stories
    key_min_idf: float = 6.0  # rare: in at most ~0.4% of the background corpus
    max_candidates: int = 8  # candidate stories compared by cosine, per item
    max_key_stories: int = 30  # a term shared by more stories in the window finds none
    max_key_rows: int = 32  # rows read per key (the newest); a key in that many gets no more
    min_votes: float = 14.0  # candidates share rare terms weighing this much (idf, names x1.5)
    title_weight: int = 2  # title terms count this many times
    name_boost: float = 1.5  # names and places weigh this much more
    centroid_terms: int = 120  # terms kept in a story's centroid
    spread_damping: float = 1.0  # weigh down terms shared by many stories in the window
    other_day_factor: float = 0.7  # the item and the story name different weekdays
    centroid_items: int = 1  # the centroid is built from the first reports only: no drift
    vocabulary_terms: int = 400  # terms kept to tell what a report adds


@dataclass(frozen=True, slots=True)
class Incoming:
    """What clustering needs of one scored item."""

    item_id: int
    feed: str
    title: str
    summary: str
    link: str | None
    time: datetime  # UTC, aware
    score: float = 0.0
    category: str = "none"


@dataclass(slots=True)
class StoryState:
    id: int  # the id of the story's first item
    title: str
    first_seen: datetime
    last_seen: datetime
    item_count: int
    sources: list[str]  # feed names, first seen first
    category: str
    peak_score: float
    centroid: dict[str, float]  # sum of member vectors (truncated)
    vocabulary: set[str] | frozenset[str]  # terms of its reports so far (see ``words``)
    days: frozenset[str] = _NO_WORDS
    members: int = 0  # reports (not duplicates) in the centroid
    created: bool = False  # made in this batch: insert, not update
    _norm: float = -1.0
    _words: str | None = None  # the vocabulary as stored, parsed when first needed
    _stored_centroid: str | None = None  # the centroid's JSON as stored, while unchanged

    def words(self) -> set[str]:
        """The vocabulary (parsed on first use: most candidate stories never need it)."""
        if self._words is not None:
            self.vocabulary = set(self._words.split())
            self._words = None
        elif not isinstance(self.vocabulary, set):
            self.vocabulary = set(self.vocabulary)
        return self.vocabulary

    @property
    def centroid_norm(self) -> float:
        if self._norm < 0:
            self._norm = norm(self.centroid)
        return self._norm

    def add_vector(self, vector: Mapping[str, float], keep: int) -> None:
        for t, w in vector.items():
            self.centroid[t] = self.centroid.get(t, 0.0) + w
        if len(self.centroid) > keep:
            self.centroid = dict(heapq.nlargest(keep, self.centroid.items(), key=lambda kv: kv[1]))
        self._norm = -1.0
        self._stored_centroid = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Which story an item joined, and how."""

    item_id: int
    story_id: int
    kind: str  # NEW, DUPLICATE or RELATED
    similarity: float  # to the duplicate (Jaccard) or to the story (cosine); 1.0 when new
    duplicate_of: int | None
    story_title: str
    sources: tuple[str, ...]  # the story's feeds once this item joined
    item_count: int
    new_terms: tuple[str, ...] = ()  # title terms the story had not seen before


class Hit(NamedTuple):
    """A stored row of a key."""

    key: int
    item_id: int
    story_id: int
    seen_at: float  # Unix seconds


def _ints(column: Sequence[int] | str) -> Sequence[int]:
    """A column of a key's rows: a sequence already, or SQLite's ``group_concat`` of it."""
    return list(map(int, column.split(","))) if isinstance(column, str) else column


class Rows:
    """A key's rows found by a lookup, in the index's order, as columns (items, stories,
    times): one object per key, not per row (a batch's lookup finds tens of thousands of
    rows, and every object that lives through the batch is work for the garbage
    collector). A column may be SQLite's comma-separated text, parsed on each read: the
    clusterer reads the stories of a key once, the items of few, the times of none.
    Iterating gives :class:`Hit` rows."""

    __slots__ = ("_items", "_seen", "_stories", "count", "key")

    def __init__(
        self,
        key: int,
        count: int,
        items: Sequence[int] | str,
        stories: Sequence[int] | str,
        seen: Sequence[float] | str,
    ) -> None:
        self.key, self.count = key, count
        self._items, self._stories, self._seen = items, stories, seen

    @property
    def items(self) -> Sequence[int]:
        return _ints(self._items)

    @property
    def stories(self) -> Sequence[int]:
        return _ints(self._stories)

    def story_set(self) -> set[int]:
        """The stories, each once: a set made in row order (its order depends on that)."""
        column = self._stories
        if isinstance(column, str):
            # most keys found have one row (a band of one text): no split for those
            return set(map(int, column.split(","))) if "," in column else {int(column)}
        return set(column)

    @property
    def seen(self) -> Sequence[float]:
        return _ints(self._seen) if isinstance(self._seen, str) else self._seen

    def newest(self, per_key: int) -> Rows:
        """The newest ``per_key`` rows, newest first (rows of one time in this order)."""
        if self.count <= per_key:
            return self
        seen = self.seen
        order = sorted(range(self.count), key=lambda j: -seen[j])[:per_key]
        items, stories = self.items, self.stories
        return Rows(
            self.key,
            len(order),
            tuple(items[j] for j in order),
            tuple(stories[j] for j in order),
            tuple(seen[j] for j in order),
        )

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Hit]:
        return map(Hit, repeat(self.key), self.items, self.stories, self.seen)


_item_of = operator.attrgetter("item_id")


@dataclass(frozen=True, slots=True)
class Member:
    item_id: int
    story_id: int
    kind: str
    duplicate_of: int | None
    similarity: float
    feed: str
    seen_at: datetime
    signature: bytes | None


@dataclass(slots=True)
class Changes:
    """What a batch adds to the index: rows for the store (or a MemoryIndex)."""

    members: list[Member] = field(default_factory=list)
    keys: list[tuple[int, int, int, int]] = field(default_factory=list)  # key, item, story, Unix s
    stories: dict[int, StoryState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch with what :meth:`Clusterer.prepare` computed of it."""

    batch: tuple[Incoming, ...]
    feats: list[Features]
    usable: list[bool]  # long enough to be a near-duplicate
    sigs: np.ndarray  # MinHash, one row per item
    band_keys: list[tuple[int, ...]]  # LSH band keys; none for short texts
    link_keys: list[int | None]
    term_keys: list[tuple[tuple[int, str, float], ...]]  # (key, term, weight)


class Index(Protocol):
    """What the clusterer reads: key hits, member signatures and story states."""

    def lookup(self, keys: Sequence[int], since: datetime, per_key: int) -> dict[int, Rows]: ...

    def signatures(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]: ...

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryState]: ...


# --- clustering ----------------------------------------------------------------------------


class Clusterer:
    """Assigns items to stories against an :class:`Index`. No I/O of its own."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        idf: Idf | None = None,
        hasher: MinHasher | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.idf = idf or packaged_idf()
        self.hasher = hasher or MinHasher()

    def features(self, title: str, summary: str) -> Features:
        """The features of one text (:meth:`features_of` for many)."""
        return self.features_of([(title, summary)])[0]

    def features_of(self, texts: Sequence[tuple[str, str]]) -> list[Features]:
        """The features of (title, summary) pairs: each text in Python, the shingles of all
        of them in one numpy pass. Written for speed (a tenth of a millisecond per text
        is a tenth of the clustering): builtins over lists where they do the same."""
        s = self.settings
        known, unseen = self.idf.known.get, self.idf.max
        log, boost, min_idf, title_weight = math.log, s.name_boost, s.key_min_idf, s.title_weight
        parts = []
        lowered: list[str] = []  # the words of every text, for the shingles
        lengths: list[int] = []
        for title, summary in texts:
            # each text is scanned once; terms, names, title words and shingles share it
            title_tokens = _TOKEN.findall(title)
            body_tokens = _TOKEN.findall(summary)
            title_found = list(filterfalse(_is_break, title_tokens))
            title_lower = list(map(str.lower, title_found))
            body_lower = list(map(str.lower, filterfalse(_is_break, body_tokens)))
            title_words = [
                (t, w) for w, t in zip(title_found, map(_term, title_lower), strict=True) if t
            ]
            counts: dict[str, int] = {}  # in order of first use (title, then summary)
            for t, _ in title_words:
                counts[t] = counts.get(t, 0) + title_weight
            for t in filter(None, map(_term, body_lower)):
                counts[t] = counts.get(t, 0) + 1
            named = _names_of(body_tokens)
            if not _title_case(title_found):
                named |= _names_of(title_tokens)
            weights: dict[str, float] = {}
            rare: list[tuple[float, str]] = []  # (-idf, term), names weighing more
            rank: list[tuple[float, str]] = []
            for t, n in counts.items():
                idf = known(t, unseen)
                w = (1.0 + log(n)) * idf
                if t in named:
                    weights[t] = w * boost
                    rank.append((-idf * boost, t))
                    rare.append(rank[-1])
                else:
                    weights[t] = w
                    rank.append((-idf, t))
                    if idf >= min_idf:
                        rare.append(rank[-1])
            length = norm(weights) or 1.0
            # the rarest terms and the names, rarest first (the terms tell ties apart)
            picked = sorted(rare)[: s.max_keys]
            if len(picked) < 2:
                picked = sorted(rank)[:2]
            parts.append(
                (
                    {t: w / length for t, w in weights.items()},
                    tuple((t, -w) for w, t in picked),
                    tuple(_first_words(title_words).items()),
                    tuple(counts),
                    weekdays(f"{title}\n{summary}"),
                )
            )
            lowered += title_lower
            lowered += body_lower
            lengths.append(len(title_lower) + len(body_lower))
        return [
            Features(vector, keys, title_terms, terms, shingles, days)
            for (vector, keys, title_terms, terms, days), shingles in zip(
                parts, shingles_of_many(lowered, lengths), strict=True
            )
        ]

    def prepare(self, batch: Sequence[Incoming]) -> Prepared:
        """What :meth:`assign` computes of the batch alone, with no index: features,
        signatures and keys. Pure, so a worker does it before taking the stories lock."""
        feats = self.features_of([(x.title, x.summary) for x in batch])
        usable = [len(f.shingles) >= self.settings.min_shingles for f in feats]
        sigs = self.hasher.signatures(
            [f.shingles if ok else _EMPTY for f, ok in zip(feats, usable, strict=True)]
        )
        bands = self.hasher.band_keys(sigs)
        return Prepared(
            batch=tuple(batch),
            feats=feats,
            usable=usable,
            sigs=sigs,
            band_keys=[
                tuple(row) if ok else () for row, ok in zip(bands.tolist(), usable, strict=True)
            ],
            link_keys=[key_of("l", x.link) if x.link else None for x in batch],
            term_keys=[tuple((_term_key(t), t, w) for t, w in f.keys) for f in feats],
        )

    def assign(
        self, batch: Sequence[Incoming] | Prepared, index: Index
    ) -> tuple[list[Assignment], Changes]:
        """Assign every item of ``batch`` (or of a batch :meth:`prepare` took), in order,
        to a story; return what to store.

        Two passes. The first compares every item with what the index holds (one lookup
        of all keys, one read of the signatures and of the candidate stories); the second
        goes through the batch in order, adding what earlier items of the batch made.
        """
        s = self.settings
        p = batch if isinstance(batch, Prepared) else self.prepare(batch)
        batch = p.batch
        if not batch:
            return [], Changes()
        n = len(batch)
        feats, usable, sigs = p.feats, p.usable, p.sigs
        band_keys, link_keys, term_keys = p.band_keys, p.link_keys, p.term_keys

        wanted: set[int] = set()
        for i in range(n):
            wanted.update(band_keys[i])
            wanted.update(k for k, _, _ in term_keys[i])
            if link_keys[i] is not None:
                wanted.add(link_keys[i])  # type: ignore[arg-type]
        cap = s.max_key_rows
        hits = index.lookup(sorted(wanted), min(x.time for x in batch) - s.window, cap)
        # what the passes read of the rows, taken at once as numbers and tuples of them (the
        # collector skips those), and the lookup's thousands of objects let go
        counts = {k: len(rows) for k, rows in hits.items()}  # rows per key
        # A band key whose rows span several stories is common text (boilerplate), no sign
        # of a copy; one whose rows are all of one or two stories (a much-copied wire
        # story) is: its first rows are enough
        useful: dict[int, tuple[tuple[int, int], ...]] = {}  # band key: (item, story)
        for k in dict.fromkeys(chain.from_iterable(band_keys)):
            rows = hits.get(k)
            if rows and len(rows.story_set()) <= 2:
                useful[k] = tuple(zip(rows.items[:4], rows.stories[:4], strict=True))
        # each term key's stories, once per key: in the order of a set of them made in
        # row order (the votes are summed in it)
        key_stories = {
            k: tuple(hits[k].story_set())
            for k in dict.fromkeys(k for keys in term_keys for k, _, _ in keys)
            if k in hits
        }
        first_link = {
            k: (rows.items[0], rows.stories[0])
            for k in link_keys
            if k is not None and (rows := hits.get(k))
        }
        del hits

        # pass 1: against the index
        def band_hits(i: int) -> dict[int, tuple[int, int]]:
            found: dict[int, tuple[int, int]] = {}  # item: (item, story)
            for k in band_keys[i]:
                for h in useful.get(k, ()):
                    found.setdefault(h[0], h)
            return found

        candidates = [band_hits(i) for i in range(n)]
        known_sigs = index.signatures(sorted({c for found in candidates for c in found}))
        # every item's candidates (but for a link found) compared in one numpy call, not one
        # per item
        compared = [
            [c for c in candidates[i] if c in known_sigs] if link_keys[i] not in first_link else []
            for i in range(n)
        ]
        flat = [c for ids in compared for c in ids]
        all_sims: list[float] = []
        if flat:
            owner = np.repeat(np.arange(n), [len(ids) for ids in compared])
            same = np.stack([known_sigs[c] for c in flat]) == sigs[owner]
            all_sims = (np.count_nonzero(same, axis=1) / sigs.shape[1]).tolist()
        first_dup: list[tuple[float, tuple[int, int] | None]] = []
        first_votes: list[dict[int, float]] = []
        needed: set[int] = set()
        start = 0
        for i in range(n):
            best, best_hit = 0.0, None
            if link_keys[i] in first_link:
                best, best_hit = 1.0, first_link[link_keys[i]]  # type: ignore[index]
            elif ids := compared[i]:
                sims = all_sims[start : start + len(ids)]
                start += len(ids)
                top = max(range(len(ids)), key=sims.__getitem__)  # the first best, as argmax
                best, best_hit = sims[top], candidates[i][ids[top]]
            first_dup.append((best, best_hit))
            if best_hit is not None and best >= s.duplicate_similarity:
                needed.add(best_hit[1])
                first_votes.append({})
                continue
            votes: dict[int, float] = defaultdict(float)
            for k, _, w in term_keys[i]:
                sids = key_stories.get(k, ())
                if len(sids) <= s.max_key_stories:  # a key of hundreds of stories picks none
                    for sid in sids:
                        votes[sid] += w
            # (what heapq.nlargest gives, ties in the same order; sorting these few is faster)
            top_votes = sorted(votes.items(), key=_second, reverse=True)[: s.max_candidates]
            top_votes = [kv for kv in top_votes if kv[1] >= s.min_votes]
            first_votes.append(dict(top_votes))
            needed.update(sid for sid, _ in top_votes)
        states = index.stories(sorted(needed))

        # pass 2: in order, with what earlier items of this batch made
        # tuples, not lists and sets: a batch makes thousands, and tuples of numbers are
        # soon no work for the garbage collector (a key rarely gets a second one)
        local_items: dict[int, tuple[tuple[int, int], ...]] = {}  # band/link key: (item, story)
        local_terms: dict[int, tuple[int, ...]] = {}  # term key: stories, in the order seen
        local_sigs: dict[int, np.ndarray] = {}
        changes = Changes()
        out: list[Assignment] = []
        for i, x in enumerate(batch):
            f = feats[i]
            kind, story, sim, dup_of = NEW, None, 1.0, None
            # 1. near-duplicate: the same canonical link, or a near-identical text
            best, dup = first_dup[i]
            if link_keys[i] is not None and link_keys[i] in local_items:
                best, dup = 1.0, local_items[link_keys[i]][0]  # type: ignore[index]
            elif best < 1.0 and local_items:
                seen = set()
                for k in band_keys[i]:
                    if k in counts and k not in useful:
                        continue
                    for item_id, sid in local_items.get(k, ()):
                        if item_id not in seen:
                            seen.add(item_id)
                            j = similarity(sigs[i], local_sigs[item_id])
                            if j > best:
                                best, dup = j, (item_id, sid)
            if dup is not None and best >= s.duplicate_similarity:
                found = states.get(dup[1])
                if found is not None:
                    kind, story, sim, dup_of = DUPLICATE, found, best, dup[0]
            # 2. the same incident: cosine with candidate stories sharing rare terms
            if story is None:
                votes = dict(first_votes[i])
                spread: dict[str, int] = {}
                for k, term, w in term_keys[i]:
                    mine = local_terms.get(k, ())
                    spread[term] = len(key_stories.get(k, ())) + len(mine)
                    # in the order of a set of them, as the votes were always summed
                    for sid in set(mine) if len(mine) > 1 else mine:
                        votes[sid] = votes.get(sid, 0.0) + w
                vector = f.vector
                if s.spread_damping and any(c > 1 for c in spread.values()):
                    # a term shared by many concurrent stories ("Gaza" during an offensive)
                    # does not tell one incident from another: weigh it down
                    vector = dict(vector)
                    for term, c in spread.items():
                        if c > 1 and term in vector:
                            vector[term] /= 1.0 + s.spread_damping * math.log(c)
                    length = norm(vector) or 1.0
                    vector = {t: w / length for t, w in vector.items()}
                best, best_story = 0.0, None
                ranked = sorted(votes.items(), key=_second, reverse=True)[: s.max_candidates]
                ranked = [kv for kv in ranked if kv[1] >= s.min_votes]
                for sid, _ in ranked:
                    state = states.get(sid)
                    if state is None:
                        continue
                    c = cosine(vector, state.centroid, state.centroid_norm)
                    if f.days and state.days and not (f.days & state.days):
                        c *= s.other_day_factor
                    if c > best:
                        best, best_story = c, state
                if best_story is not None and best >= s.similarity:
                    kind, story, sim = RELATED, best_story, best
            new_terms: tuple[str, ...] = ()
            if story is None:
                story = StoryState(
                    id=x.item_id,
                    title=x.title or x.summary[:200],
                    first_seen=x.time,
                    last_seen=x.time,
                    item_count=0,
                    sources=[],
                    category=x.category,
                    peak_score=x.score,
                    centroid={},
                    vocabulary=set(),
                    created=True,
                )
                states[story.id] = story
            elif kind == RELATED:
                vocabulary = story.words()
                new_terms = tuple(w for t, w in f.title_terms if t not in vocabulary)
            # join
            story.item_count += 1
            story.last_seen = max(story.last_seen, x.time)
            if x.feed not in story.sources:
                story.sources.append(x.feed)
            if x.score > story.peak_score or story.item_count == 1:
                story.peak_score = x.score
                if x.category != "none" or story.category == "none":
                    story.category = x.category
            if kind != DUPLICATE:
                if story.members < s.centroid_items:
                    story.add_vector(f.vector, s.centroid_terms)
                    story.members += 1
                if len(vocabulary := story.words()) < s.vocabulary_terms:
                    vocabulary.update(f.terms)
                if f.days:
                    story.days |= f.days
            changes.stories[story.id] = story
            signature = sigs[i] if usable[i] else None
            changes.members.append(
                Member(
                    x.item_id,
                    story.id,
                    kind,
                    dup_of,
                    sim,
                    x.feed,
                    x.time,
                    signature.tobytes() if signature is not None else None,
                )
            )
            pair = (x.item_id, story.id)
            # (key, item) is unique in the store; a key already in ``cap`` rows gets no
            # more: it is read ``cap`` rows at a time, newest first
            mine_keys = [k for k in dict.fromkeys(band_keys[i]) if counts.get(k, 0) < cap]
            if link_keys[i] is not None:
                mine_keys.append(link_keys[i])  # type: ignore[arg-type]
            for k in mine_keys:
                local_items[k] = (*local_items.get(k, ()), pair)
            if kind != DUPLICATE:
                # one row per term and story is enough to find the story: skip the others
                for k, _, _ in term_keys[i]:
                    owners = local_terms.get(k, ())
                    if story.id in owners:
                        continue
                    if (
                        story.id not in key_stories.get(k, ())
                        and len(key_stories.get(k, ())) <= s.max_key_stories
                        and k not in mine_keys
                    ):
                        mine_keys.append(k)
                    local_terms[k] = (*owners, story.id)
            seen_at = int(x.time.timestamp())
            changes.keys.extend(
                zip(mine_keys, repeat(x.item_id), repeat(story.id), repeat(seen_at))
            )
            if signature is not None:
                local_sigs[x.item_id] = signature
            out.append(
                Assignment(
                    item_id=x.item_id,
                    story_id=story.id,
                    kind=kind,
                    similarity=sim,
                    duplicate_of=dup_of,
                    story_title=story.title,
                    sources=tuple(story.sources),
                    item_count=story.item_count,
                    new_terms=new_terms,
                )
            )
        return out, changes


class MemoryIndex:
    """An in-memory :class:`Index` (tests and benchmarks); ``apply`` stores a batch."""

    def __init__(self) -> None:
        self.keys: dict[int, list[Hit]] = defaultdict(list)
        self.sigs: dict[int, np.ndarray] = {}
        self.states: dict[int, StoryState] = {}

    def lookup(self, keys: Sequence[int], since: datetime, per_key: int = 64) -> dict[int, Rows]:
        """As :meth:`StoryStore.lookup`: the rows of each key seen since ``since`` in item
        order, or the newest ``per_key`` of them, newest first, when there are more."""
        oldest = since.timestamp()
        out = {}
        for k in keys:
            found = sorted((h for h in self.keys.get(k, ()) if h.seen_at >= oldest), key=_item_of)
            if found:
                item_ids = [h.item_id for h in found]
                story_ids = [h.story_id for h in found]
                rows = Rows(k, len(found), item_ids, story_ids, [h.seen_at for h in found])
                out[k] = rows.newest(per_key)
        return out

    def signatures(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {i: self.sigs[i] for i in item_ids if i in self.sigs}

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryState]:
        # copies: the clusterer mutates what it is given, as it would rows read from a store
        return {i: _copy_state(self.states[i]) for i in story_ids if i in self.states}

    def apply(self, changes: Changes) -> None:
        for k, item_id, story_id, t in changes.keys:
            self.keys[k].append(Hit(k, item_id, story_id, t))
        for m in changes.members:
            if m.signature is not None:
                self.sigs[m.item_id] = np.frombuffer(m.signature, dtype=np.uint32)
        for sid, state in changes.stories.items():
            self.states[sid] = _copy_state(state)
            self.states[sid].created = False


def _copy_state(state: StoryState) -> StoryState:
    return replace(
        state,
        sources=list(state.sources),
        centroid=dict(state.centroid),
        vocabulary=set(state.words()),
    )


# --- alerting per story ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """What one subscriber was last told about one story."""

    story_id: int
    subscriber: str
    first_item_id: int  # the item of the first alert
    last_at: datetime
    sources: int
    score: float
    updates: int = 0


@dataclass(frozen=True, slots=True)
class UpdatePolicy:
    interval: timedelta = timedelta(minutes=60)  # at most one update per story and subscriber
    score_margin: float = 0.1  # an update when the score beats the last told by this much
    new_terms: int = 2  # ... or the title brings this many words the story had not seen
    milestones: tuple[int, ...] = (3, 5, 10, 20, 50)  # ... or the source count passes one


def what_is_new(
    assignment: Assignment, score: float, notice: Notice, policy: UpdatePolicy
) -> tuple[str, ...]:
    """What a report adds to what the subscriber was told; empty: nothing worth a message."""
    out = []
    sources = len(assignment.sources)
    if any(notice.sources < m <= sources for m in policy.milestones):
        out.append(f"now {sources} sources")
    if score >= notice.score + policy.score_margin:
        out.append(f"score up from {notice.score:.2f} to {score:.2f}")
    if policy.new_terms and len(assignment.new_terms) >= policy.new_terms:
        out.append("new: " + ", ".join(assignment.new_terms[:6]))
    return tuple(out)


def route_story(
    assignment: Assignment,
    score: float,
    planned: Sequence[PlannedDelivery],
    notices: Mapping[str, Notice],
    now: datetime,
    policy: UpdatePolicy,
) -> tuple[list[PlannedDelivery], dict[str, Notice]]:
    """Filter an item's planned deliveries by its story; return them and the new notices.

    A subscriber not yet told about the story gets the alert: the first relevant item of
    the story *for them* (the first report may have failed their filters: another feed,
    a lower score). One already told gets an update only if the item adds something and
    the last message is ``policy.interval`` old. A near-duplicate never alerts again: it
    alerts only a subscriber never told about the story, and never makes an update.
    """
    if not planned:
        return [], {}
    by_subscriber: dict[str, list[PlannedDelivery]] = defaultdict(list)
    for plan in planned:
        by_subscriber[plan.subscriber].append(plan)
    out: list[PlannedDelivery] = []
    told: dict[str, Notice] = {}
    sources = len(assignment.sources)
    for subscriber, plans in by_subscriber.items():
        notice = notices.get(subscriber)
        if notice is None:
            out += [replace(p, story_id=assignment.story_id, kind=ALERT) for p in plans]
            told[subscriber] = Notice(
                assignment.story_id, subscriber, assignment.item_id, now, sources, score
            )
            continue
        if assignment.kind == DUPLICATE or now - notice.last_at < policy.interval:
            continue
        changes = what_is_new(assignment, score, notice, policy)
        if not changes:
            continue
        out += [
            replace(p, story_id=assignment.story_id, kind=UPDATE, changes=changes) for p in plans
        ]
        told[subscriber] = replace(
            notice,
            last_at=now,
            sources=sources,
            score=max(notice.score, score),
            updates=notice.updates + 1,
        )
    return out, told


# --- the store ---------------------------------------------------------------------------------

_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


_JSON = json.JSONDecoder()
_CENTROID = '{"centroid":'


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _state_json(state: StoryState) -> str:
    """The JSON of a story's state: its centroid (weights to 5 decimals), vocabulary,
    weekdays and members. A centroid and a vocabulary unchanged since they were read are
    written back as they were read (the same text: encoding them was most of a write)."""
    centroid = state._stored_centroid
    if centroid is None:
        centroid = _json({t: round(w, 5) for t, w in state.centroid.items()})
    words = state._words if state._words is not None else " ".join(sorted(state.vocabulary))
    return (  # what json.dumps of the four, in this order, gives
        f'{_CENTROID}{centroid},"vocabulary":{_json(words)},'
        f'"days":{_json(sorted(state.days))},"members":{state.members:d}}}'
    )


def _bulk(
    conn: Connection,
    table: Any,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    where: str | None = None,
) -> None:
    """``executemany`` straight to the driver: many rows of plain values, fast (SQLAlchemy's
    parameter handling cost more than the database's work). Inserts ``columns``; with
    ``where``, updates every column but that one in the row where it matches (it comes
    last in each row). Values go through the columns' own bind processing, so they are
    stored exactly as SQLAlchemy would store them."""
    if not rows:
        return
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in columns]
    if any(processors):
        rows = [
            tuple(v if f is None or v is None else f(v) for f, v in zip(processors, r, strict=True))
            for r in rows
        ]
    if where is None and conn.dialect.driver == "psycopg":
        _copy(conn, table, columns, rows)
        return
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if mark is None:  # another driver: through SQLAlchemy, as before
        from sqlalchemy import bindparam, insert, update

        dicts = [dict(zip(columns, r, strict=True)) for r in rows]
        if where is None:
            conn.execute(insert(table), dicts)
        else:
            renamed = [{f"b_{k}": v for k, v in d.items()} for d in dicts]
            conn.execute(
                update(table)
                .where(table.c[where] == bindparam(f"b_{where}"))
                .values({c: bindparam(f"b_{c}") for c in columns if c != where}),
                renamed,
            )
        return
    quote = conn.dialect.identifier_preparer.quote
    if where is None:
        names, marks = ", ".join(map(quote, columns)), ", ".join([mark] * len(columns))
        sql = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"
    else:
        sets = ", ".join(f"{quote(c)} = {mark}" for c in columns if c != where)
        sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(where)} = {mark}"
    conn.exec_driver_sql(sql, list(rows))


def _copy(
    conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL (psycopg 3): rows in by ``COPY``, a stream, not a statement per row
    (``executemany`` of a batch's keys was most of a PostgreSQL batch's time). Errors are
    raised as SQLAlchemy's, as ``execute`` raises them."""
    from sqlalchemy.exc import DBAPIError

    quote = conn.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN"
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi.Error) from exc


_MEMBER_COLUMNS = (
    "item_id", "story_id", "kind", "duplicate_of", "similarity", "feed", "seen_at", "signature",
)  # fmt: skip
# a story row's columns, in the order _state_from takes them
_STORY_COLUMNS = (
    "id", "title", "first_seen", "last_seen", "item_count", "sources", "category", "peak_score",
    "state",
)  # fmt: skip


def _state_from(
    story_id: int,
    title: str,
    first_seen: Any,
    last_seen: Any,
    item_count: int,
    sources: str | None,
    category: str,
    peak_score: float,
    text: str | None,
) -> StoryState:
    """A story row (:data:`_STORY_COLUMNS`, times as the driver gives them) as state."""
    text = text or "{}"
    stored = None
    if text.startswith(_CENTROID):  # as _state_json writes it: keep the centroid's text
        centroid, end = _JSON.raw_decode(text, len(_CENTROID))
        stored = text[len(_CENTROID) : end]
        rest = text[end:]
        extra = json.loads("{" + rest[1:]) if rest.startswith(",") else json.loads(text)
        extra["centroid"] = centroid
    else:
        extra = json.loads(text)
    return StoryState(
        id=story_id,
        title=title,
        first_seen=aware_utc(first_seen),  # type: ignore[arg-type]
        last_seen=aware_utc(last_seen),  # type: ignore[arg-type]
        item_count=item_count,
        sources=json.loads(sources or "[]"),
        category=category,
        peak_score=peak_score,
        centroid=extra.get("centroid", {}),
        vocabulary=_NO_WORDS,  # until ``words`` reads ``_words``
        _words=extra.get("vocabulary", ""),
        days=frozenset(days) if (days := extra.get("days")) else _NO_WORDS,
        members=int(extra.get("members", 1)),
        _stored_centroid=stored,
    )


class StoryStore:
    """The :class:`Index` over the store's story tables, and the writer of a batch."""

    def __init__(self, store: Store, window: timedelta) -> None:
        from newsalert import store as tables

        self.store = store
        self.window = window
        self.t = tables
        # keys older than the window are deleted this often (a scan of the table: their
        # time has no index); lookups ask for the window only, so until then they are
        # merely kept, a twenty-fourth of the window at most
        self.prune_every = max(timedelta(minutes=10), window / 24)
        self._pruned_at: datetime | None = None

    # reads (Index)

    def lookup(self, keys: Sequence[int], since: datetime, per_key: int = 64) -> dict[int, Rows]:
        """The newest ``per_key`` rows of each key seen since ``since``: in item order
        (the primary key's) when there are no more, else newest first.

        One indexed ``IN`` query per 1,000 keys; the keys are Python ints (64-bit hashes)
        written into the SQL as literals (an ``IN`` list of bound parameters costs more to
        compile than the lookup). A key's rows come back as one row of lists (SQLite's
        ``group_concat`` of the rows as the primary key orders them, PostgreSQL's ordered
        arrays): a batch finds tens of thousands of rows, mostly the stories of its terms,
        and a Python tuple per row cost more than the query. A term shared by more stories
        than ``per_key`` finds none anyway (``Settings.max_key_stories``), and the newest
        copies of a text are enough to find it duplicated; the clusterer adds no rows to a
        key that has ``per_key`` already, so few keys have more.
        """
        dialect = self.store.engine.dialect
        quote = dialect.identifier_preparer.quote
        key, table = quote("key"), quote(self.t.story_keys.name)
        if dialect.name == "postgresql":
            columns = ", ".join(
                f"array_agg({c} ORDER BY item_id)" for c in ("item_id", "story_id", "seen_at")
            )
        elif dialect.name == "sqlite":
            columns = "group_concat(item_id), group_concat(story_id), group_concat(seen_at)"
        else:
            columns = ""  # other databases: a row per row, grouped here
        oldest = int(since.timestamp())
        out: dict[int, Rows] = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(keys), 1000):
                    listed = ",".join(map(str, map(int, chunk)))
                    where = f"WHERE {key} IN ({listed}) AND seen_at >= {oldest}"
                    if columns:
                        cursor.execute(
                            f"SELECT {key}, count(*), {columns} FROM {table} {where} GROUP BY {key}"
                        )
                        found = [Rows(*row) for row in cursor.fetchall()]
                    else:
                        cursor.execute(
                            f"SELECT {key}, item_id, story_id, seen_at FROM {table} {where} "
                            f"ORDER BY {key}, item_id"
                        )
                        found = []
                        for k, group in groupby(cursor.fetchall(), _first):
                            _, item_ids, story_ids, seen = zip(*group, strict=True)
                            found.append(Rows(k, len(item_ids), item_ids, story_ids, seen))
                    for rows in found:  # few keys exceed the cap: no key gets rows beyond it
                        out[rows.key] = rows.newest(per_key)
            finally:
                cursor.close()
        return out

    def signatures(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The MinHash signatures of the items that have one (through the driver's cursor,
        as :meth:`stories`)."""
        quote = self.store.engine.dialect.identifier_preparer.quote
        table = quote(self.t.story_items.name)
        out = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(item_ids)):
                    cursor.execute(
                        f"SELECT item_id, signature FROM {table} WHERE item_id IN "
                        f"({','.join(map(str, map(int, chunk)))}) AND signature IS NOT NULL"
                    )
                    for item_id, signature in cursor.fetchall():
                        out[item_id] = np.frombuffer(signature, dtype=np.uint32)
            finally:
                cursor.close()
        return out

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryState]:
        """The stories' states: read through the driver's cursor (a batch reads about two
        stories per item, and SQLAlchemy's row and type handling was a third of it)."""
        quote = self.store.engine.dialect.identifier_preparer.quote
        select = f"SELECT {', '.join(map(quote, _STORY_COLUMNS))} FROM {quote(self.t.stories.name)}"
        out = {}
        with self.store.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                for chunk in _chunks(list(story_ids)):
                    cursor.execute(f"{select} WHERE id IN ({','.join(map(str, map(int, chunk)))})")
                    for row in cursor.fetchall():
                        out[row[0]] = _state_from(*row)
            finally:
                cursor.close()
        return out

    def notices(self, story_ids: Sequence[int]) -> dict[int, dict[str, Notice]]:
        from sqlalchemy import select

        c = self.t.story_notices.c
        out: dict[int, dict[str, Notice]] = defaultdict(dict)
        with self.store.engine.connect() as conn:
            for chunk in _chunks(list(story_ids)):
                for row in conn.execute(select(self.t.story_notices).where(c.story_id.in_(chunk))):
                    out[row.story_id][row.subscriber] = Notice(
                        row.story_id,
                        row.subscriber,
                        row.first_item_id,
                        row.last_at,
                        row.sources,
                        row.score,
                        row.updates,
                    )
        return out

    def delivery_story(self, delivery_id: int) -> tuple[int, str, tuple[str, ...]] | None:
        from sqlalchemy import select

        table = self.t.delivery_stories
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.delivery_id == delivery_id)
            ).one_or_none()
        if row is None:
            return None
        return row.story_id, row.kind, tuple(json.loads(row.changes or "[]"))

    def first_alert_remote_id(self, story_id: int, subscriber: str, target_id: str) -> str | None:
        """The service's id of the story's first alert sent to this subscriber's target
        (what an update replies to), if it was sent and the service gave one; of the
        digest message that listed it, when it went out in a digest."""
        from sqlalchemy import select

        ds, d, sm = self.t.delivery_stories, self.t.deliveries, self.t.sent_messages
        with self.store.engine.connect() as conn:
            return conn.execute(
                select(sm.c.remote_id)
                .select_from(ds.join(d, d.c.id == ds.c.delivery_id))
                .join(sm, sm.c.delivery_id == d.c.id)
                .where(
                    ds.c.story_id == story_id,
                    ds.c.kind == ALERT,
                    d.c.subscriber == subscriber,
                    d.c.target_id == target_id,
                    d.c.status == self.t.SENT,
                )
                .order_by(d.c.id)
                .limit(1)
            ).scalar_one_or_none()

    def members(self, story_ids: Sequence[int]) -> dict[int, list[Any]]:
        """Each story's items, oldest first: rows with item_id, kind, feed, seen_at, title."""
        from sqlalchemy import select

        si, items = self.t.story_items, self.t.items
        out: dict[int, list[Any]] = defaultdict(list)
        with self.store.engine.connect() as conn:
            for chunk in _chunks(list(story_ids)):
                rows = conn.execute(
                    select(
                        si.c.story_id,
                        si.c.item_id,
                        si.c.kind,
                        si.c.feed,
                        si.c.seen_at,
                        si.c.similarity,
                        items.c.title,
                        items.c.link,
                        items.c.score,
                    )
                    .join(items, items.c.id == si.c.item_id)
                    .where(si.c.story_id.in_(chunk))
                    .order_by(si.c.seen_at, si.c.item_id)
                )
                for row in rows:
                    out[row.story_id].append(row)
        return out

    def recent(self, since: datetime, limit: int = 100) -> list[StoryState]:
        from sqlalchemy import select

        table = self.t.stories
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(*(table.c[name] for name in _STORY_COLUMNS))
                .where(table.c.last_seen >= since)
                .order_by(table.c.last_seen.desc())
                .limit(limit)
            )
            return [_state_from(*r) for r in rows]

    # writes (inside the scoring transaction)

    @staticmethod
    def _insert_or_skip(
        conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        """Insert the rows; those a concurrent worker inserted first are left as they are
        and returned."""
        from sqlalchemy.exc import IntegrityError

        try:
            with conn.begin_nested():
                _bulk(conn, table, columns, rows)
            return []
        except IntegrityError:
            skipped = []
            for row in rows:
                try:
                    with conn.begin_nested():
                        _bulk(conn, table, columns, [row])
                except IntegrityError:
                    skipped.append(row)
            return skipped

    def write(
        self,
        conn: Connection,
        changes: Changes,
        notices: Sequence[Notice],
        saved: set[int],
        now: datetime,
    ) -> None:
        from sqlalchemy import delete, insert, update
        from sqlalchemy.exc import IntegrityError

        t = self.t
        members = [m for m in changes.members if m.item_id in saved]
        if members:
            rows = [
                (
                    m.item_id,
                    m.story_id,
                    m.kind,
                    m.duplicate_of,
                    m.similarity,
                    m.feed[:64],
                    m.seen_at,
                    m.signature,
                )
                for m in members
            ]
            self._insert_or_skip(conn, t.story_items, _MEMBER_COLUMNS, rows)
            # in key order: the keys are random, and rows inserted in the primary key's
            # order find their index pages in turn, not all over the table (a third faster)
            keys = sorted((row for row in changes.keys if row[1] in saved), key=_first)
            _bulk(conn, t.story_keys, ("key", "item_id", "story_id", "seen_at"), keys)
            touched = {m.story_id for m in members}
            created, changed = [], []
            for sid, state in changes.stories.items():
                if sid not in touched:
                    continue
                row = (
                    sid,
                    state.title[:1000],
                    state.first_seen,
                    state.last_seen,
                    state.item_count,
                    json.dumps(state.sources),
                    state.category[:32],
                    state.peak_score,
                    _state_json(state),
                )
                (created if state.created else changed).append(row)
            # a story a concurrent worker made meanwhile: updated instead
            changed += self._insert_or_skip(conn, t.stories, _STORY_COLUMNS, created)
            # the id last, for the WHERE
            updates = [(*row[1:], row[0]) for row in changed]
            _bulk(conn, t.stories, (*_STORY_COLUMNS[1:], "id"), updates, where="id")
        for n in notices:
            values = {
                "first_item_id": n.first_item_id,
                "last_at": n.last_at,
                "sources": n.sources,
                "score": n.score,
                "updates": n.updates,
            }
            c = t.story_notices.c
            done = conn.execute(
                update(t.story_notices)
                .where(c.story_id == n.story_id, c.subscriber == n.subscriber)
                .values(**values)
            )
            if done.rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(t.story_notices).values(
                                story_id=n.story_id, subscriber=n.subscriber, **values
                            )
                        )
                except IntegrityError:
                    pass
        if self._pruned_at is None or now - self._pruned_at >= self.prune_every:
            oldest = int((now - self.window).timestamp())
            conn.execute(delete(t.story_keys).where(t.story_keys.c.seen_at < oldest))
            if conn.dialect.name == "postgresql":
                # the table turns over every window: with the statistics of an emptier
                # one, PostgreSQL read it whole for each lookup (40 ms, not 8, per 1,000
                # keys) until autovacuum caught up; ANALYZE samples a few thousand rows
                conn.exec_driver_sql(
                    f"ANALYZE {conn.dialect.identifier_preparer.quote(t.story_keys.name)}"
                )
            self._pruned_at = now


# --- the pipeline's view ---------------------------------------------------------------------


@dataclass(slots=True)
class StoryPlan:
    """An item batch's story decisions: filtered deliveries, and what to write with them."""

    deliveries: list[list[PlannedDelivery]]
    assignments: list[Assignment] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    notices: list[tuple[int, Notice]] = field(default_factory=list)  # (item that told, notice)
    desk: StoryDesk | None = None
    now: datetime | None = None

    def write(self, conn: Connection, saved: set[int]) -> None:
        """``Store.save_scores(also=...)``: story rows in the scores' transaction."""
        if self.desk is None or self.now is None:
            return
        told = [n for item_id, n in self.notices if item_id in saved]
        self.desk.index.write(conn, self.changes, told, saved, self.now)


@dataclass(frozen=True, slots=True)
class Chosen:
    """:meth:`StoryDesk.prepare`'s result: the batch's items to cluster (their indexes,
    in the order they are assigned) and their prepared features."""

    chosen: list[int]
    prepared: Prepared


def item_time(published: datetime | None, now: datetime, window: timedelta) -> datetime:
    """When a report counts as seen: its publication time, kept within (now - window, now]."""
    if published is None or published > now:
        return now
    return max(published, now - window)


class StoryDesk:
    """Stories for the pipeline: assign a scored batch, filter its deliveries, thread messages."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        policy: UpdatePolicy | None = None,
        *,
        enabled: bool = True,
        clusterer: Clusterer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.policy = policy or UpdatePolicy()
        self.enabled = enabled
        self.index = StoryStore(store, self.settings.window)
        self._clusterer = clusterer

    @classmethod
    def from_config(cls, store: Store, config: Any) -> StoryDesk:
        """From the ``stories`` section of the config (``StoriesConfig``)."""
        settings = Settings(
            window=timedelta(hours=config.window_hours),
            similarity=config.similarity,
            duplicate_similarity=config.duplicate_similarity,
        )
        policy = UpdatePolicy(
            interval=timedelta(minutes=config.update_interval_minutes),
            score_margin=config.update_score_margin,
            new_terms=config.update_new_terms,
            milestones=tuple(sorted(config.update_source_milestones)),
        )
        return cls(store, settings, policy, enabled=config.enabled)

    @property
    def clusterer(self) -> Clusterer:
        if self._clusterer is None:
            self._clusterer = Clusterer(self.settings)
        return self._clusterer

    def prepare(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
    ) -> Chosen | None:
        """The part of :meth:`plan` that reads no index: which items are clustered, in what
        order, and their features. A worker does it before taking the stories lock, so
        that other workers wait less. ``None`` when there is nothing to cluster, or it
        failed (``plan`` then tries again and falls back as it does)."""
        if not self.enabled:
            return None
        try:
            chosen, batch = self._choose(stored, scores, routed, now)
            return Chosen(chosen, self.clusterer.prepare(batch)) if batch else None
        except Exception:
            log.exception("story features failed; trying again under the lock")
            return None

    def plan(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
        prepared: Chosen | None = None,
    ) -> StoryPlan:
        """Assign the batch to stories; keep the deliveries the story rules allow.
        ``prepared``: what :meth:`prepare` gave for the same arguments.

        If clustering fails, the error propagates and the batch is not saved: routed
        without stories, it would alert again for stories told already. A passing
        error (``errors.is_transient``) is retried by the task; any other is the
        pipeline's to isolate, as a scoring failure: the item it fails on stays
        unscored (counted, tried again each sweep), the rest of the batch goes on.
        """
        if not self.enabled:
            return StoryPlan([list(r) for r in routed])
        return self._plan(stored, scores, routed, now, prepared)

    def _choose(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
    ) -> tuple[list[int], list[Incoming]]:
        window = self.settings.window
        # stories are of incidents: an item that is neither relevant nor routed to anyone
        # can neither alert nor update, and is left out (most of a feed's items; their
        # clustering would cost more than the rest of scoring)
        chosen = [
            i for i, (sc, r) in enumerate(zip(scores, routed, strict=True)) if sc.relevant or r
        ]
        # the earliest report starts the story, whichever feed answered first
        chosen.sort(key=lambda i: (item_time(stored[i].item.published, now, window), stored[i].id))
        batch = [
            Incoming(
                item_id=s.id,
                feed=s.feed,
                title=s.item.title,
                summary=s.item.summary,
                link=s.item.link,
                time=item_time(s.item.published, now, window),
                score=sc.score if sc.relevant else 0.0,
                category=sc.category if sc.relevant else "none",
            )
            for s, sc in ((stored[i], scores[i]) for i in chosen)
        ]
        return chosen, batch

    def _plan(
        self,
        stored: Sequence[StoredItem],
        scores: Sequence[Score],
        routed: Sequence[Sequence[PlannedDelivery]],
        now: datetime,
        prepared: Chosen | None,
    ) -> StoryPlan:
        if prepared is not None:
            chosen, work = prepared.chosen, prepared.prepared
        else:
            chosen, batch = self._choose(stored, scores, routed, now)
            if not batch:
                return StoryPlan([list(r) for r in routed])
            work = self.clusterer.prepare(batch)
        assignments, changes = self.clusterer.assign(work, self.index)
        known = self.index.notices(sorted({a.story_id for a in assignments}))
        current: dict[int, dict[str, Notice]] = {sid: dict(n) for sid, n in known.items()}
        deliveries = [list(r) for r in routed]
        written: dict[tuple[int, str], tuple[int, Notice]] = {}
        for a, i in zip(assignments, chosen, strict=True):
            notices = current.setdefault(a.story_id, {})
            keep, told = route_story(a, scores[i].score, routed[i], notices, now, self.policy)
            notices.update(told)
            for sub, n in told.items():
                written[(a.story_id, sub)] = (a.item_id, n)
            deliveries[i] = keep
        return StoryPlan(deliveries, assignments, changes, list(written.values()), self, now)

    # --- rendering -----------------------------------------------------------------------------

    def digest_alert(self, delivery: Delivery, alert: Alert) -> Alert:
        """A held delivery's line in a digest: marked as an update, with what it adds,
        when it is one (else the alert as it is)."""
        if not self.enabled or delivery.item_id is None:
            return alert
        link = self.index.delivery_story(delivery.id)
        if link is None or link[1] != UPDATE:
            return alert
        return replace(alert, update=link[2])

    def decorate(
        self, delivery: Delivery, stored: StoredItem, family: str, message: Message
    ) -> Message:
        """The message for a story delivery: an update message, and e-mail thread headers
        or, elsewhere, ``reply_to`` the first alert's remote id (when the service gave one)."""
        if not self.enabled or delivery.item_id is None:
            return message
        link = self.index.delivery_story(delivery.id)
        if link is None:
            return message
        story_id, kind, changes = link
        story = self.index.stories([story_id]).get(story_id)
        if story is None:
            return message
        root = thread_id(story, delivery.target_id)
        if kind != UPDATE:
            if family == "email":
                return replace(message, headers={"References": root})
            return message
        subject = None
        if family == "email":
            notice = self.index.notices([story_id]).get(story_id, {}).get(delivery.subscriber)
            if notice is not None:
                try:
                    first = self.index.store.get_item(notice.first_item_id)
                    subject = render(alert_for(first, delivery.subscriber), "email").title
                except Exception:  # the first item is gone: a subject of our own
                    subject = None
        update = StoryUpdate(
            alert=alert_for(stored, delivery.subscriber),
            story_id=story_id,
            story_title=story.title,
            sources=tuple(story.sources),
            item_count=story.item_count,
            changes=changes,
            reply_subject=subject,
        )
        out = render_update(update, family)
        # the message that told this target of the story: the first alert, or the digest
        # that listed it (its Telegram message_id, Slack ts or e-mail Message-ID; per chat
        # for several)
        first_id = self.index.first_alert_remote_id(
            story_id, delivery.subscriber, delivery.target_id
        )
        if family == "email":
            # answer the e-mail the subscriber has; the story's own id keeps the thread
            # for clients that thread by References, and when that e-mail's id is unknown
            answered = first_id or root
            references = f"{root} {first_id}" if first_id else root
            out = replace(out, headers={"In-Reply-To": answered, "References": references})
        elif first_id is not None:  # a Telegram reply, a Slack bot token's thread reply
            out = replace(out, reply_to=first_id)
        return out


def thread_id(story: StoryState, target_id: str) -> str:
    """The e-mail thread of a story for one target: a Message-ID that no message has.

    apprise sets each message's own Message-ID; every alert and update of the story names
    this one in ``References`` (updates also in ``In-Reply-To``), so mail clients thread
    them together. The story's first-seen time keeps ids of two installations apart.
    """
    return f"<story-{story.id}.{int(story.first_seen.timestamp())}.{target_id}@newsalert>"
