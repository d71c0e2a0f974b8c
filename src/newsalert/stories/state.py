"""The plain data of stories: the settings, one incoming item, a story's state, an
assignment and what it changes, the rows the index returns, and the :class:`Index`
protocol the clusterer reads through. Imports only ``stories.text``."""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat
from typing import NamedTuple, Protocol

import numpy as np

from newsalert.stories.text import (
    _NO_WORDS,
    Features,
    norm,
)

NEW, DUPLICATE, RELATED = "new", "duplicate", "related"
ALERT, UPDATE = "alert", "update"


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
