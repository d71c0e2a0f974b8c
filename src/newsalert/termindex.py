"""A fitted vectorizer's vocabulary as a few numpy arrays instead of a dict of str.

A ``TfidfVectorizer``'s ``vocabulary_`` (100,000 word n-grams, 100,000 char n-grams in the
model) is a Python dict of str: about 20 MB per vocabulary of small objects, and every lookup
changes the reference counts of the objects it touches, so after the worker's pool forks
each process ends up copying the pages it looked at. ``TermIndex`` keeps the same mapping as
a sorted array of 64-bit hashes of the terms and the column of each (``np.searchsorted``
finds a batch of terms at once), and the terms' names, when kept, in one UTF-8 buffer with
offsets: a handful of objects whose pages no lookup writes to.

The hash is Python's ``hash`` of the str (64-bit SipHash, salted per interpreter): the index
is built in the process that uses it (or its forked children, which share the salt), never
stored. Terms of the vocabulary never share a hash (checked: the index re-salts when they do,
which is about a one in 10^9 chance); a term outside the vocabulary is taken for one inside it
only if its 64-bit hash equals one of theirs, a chance of about 10^-14 per term looked up.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["TermIndex"]


class TermIndex:
    """``term -> column`` for a fixed vocabulary, in arrays (see the module's docstring)."""

    __slots__ = ("_cols", "_hashes", "_names", "_offsets", "_salt", "size")

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        keep_names: bool = False,
        names: tuple[Any, np.ndarray] | None = None,
    ) -> None:
        """``keep_names``: keep the terms' texts for ``name``; ``names``: those texts already
        packed in column order (a UTF-8 buffer and its offsets), kept as given rather than
        copied (the model's arrays are views of a file mapping: only the names asked for
        are then read)."""
        terms = list(vocabulary)
        cols = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(terms))
        self.size = len(terms)
        if self.size and sorted(cols.tolist()) != list(range(self.size)):
            raise ValueError("a vocabulary's columns must be 0..n-1")
        self._salt = 0
        while True:
            hashes = self._hash(terms)
            order = np.argsort(hashes, kind="stable")
            hashes = hashes[order]
            if self.size < 2 or not (hashes[1:] == hashes[:-1]).any():
                break
            self._salt += 1  # two terms share a hash: hash them again with a salt
        self._hashes = hashes
        self._cols = cols[order].astype(np.int32)
        self._names: bytes | None = None
        self._offsets: np.ndarray | None = None
        if names is not None:
            self._names, self._offsets = names  # type: ignore[assignment]
        elif keep_names:
            by_col = [""] * self.size
            for term, j in zip(terms, cols.tolist(), strict=True):
                by_col[j] = term
            encoded = [t.encode("utf-8", "surrogatepass") for t in by_col]
            self._offsets = np.cumsum([0, *(len(e) for e in encoded)], dtype=np.int64)
            self._names = b"".join(encoded)

    @classmethod
    def packed(cls, buffer: Any, offsets: np.ndarray, keep_names: bool = False) -> TermIndex:
        """The index ``TermIndex({term_j: j})`` gives for the distinct terms packed in column
        order (term j is ``buffer[offsets[j]:offsets[j + 1]]``, UTF-8), built without
        holding them all as str at once (``chunked``). ``keep_names`` keeps ``buffer`` and
        ``offsets`` as given (no copy)."""
        n = len(offsets) - 1

        def chunks() -> Iterator[list[str]]:
            for start in range(0, n, _CHUNK):
                yield _decode(buffer, offsets, start, min(n, start + _CHUNK))

        index = cls.chunked(n, chunks)
        index._names, index._offsets = (buffer, offsets) if keep_names else (None, None)
        return index

    @classmethod
    def chunked(cls, n: int, chunks: Callable[[], Iterable[list[str]]]) -> TermIndex:
        """The index ``TermIndex({term_j: j})`` gives for ``n`` distinct terms that
        ``chunks()`` yields in column order, a list at a time (called again if two terms
        share a hash). 200,000 short str made at once, with the objects that outlive the
        load allocated among them, left a loading process about 6 MiB of empty pymalloc
        pools it never gives back (a worker's pool inherits them): a chunk at a time, the
        str reuse the same few pools."""
        index = cls.__new__(cls)
        index.size = n
        index._salt = 0
        while True:
            hashes = np.empty(n, dtype=np.int64)
            at = 0
            for terms in chunks():
                hashes[at : at + len(terms)] = index._hash(terms)
                at += len(terms)
            if at != n:
                raise ValueError(f"{at} terms, {n} expected")
            order = np.argsort(hashes, kind="stable")
            hashes = hashes[order]
            if n < 2 or not (hashes[1:] == hashes[:-1]).any():
                break
            index._salt += 1  # two terms share a hash: hash them again with a salt
            if index._salt > _MAX_SALT:  # they would share it forever: a term twice
                raise ValueError("the terms are not distinct: one is given twice")
        index._hashes = hashes
        index._cols = order.astype(np.int32)  # the columns are 0..n-1 in order
        index._names, index._offsets = None, None
        return index

    def _hash_one(self, term: str) -> int:
        """A term's key in ``_hashes`` (the one place the salt is applied)."""
        return hash(term) if self._salt == 0 else hash((self._salt, term))

    def _hash(self, terms: Sequence[str]) -> np.ndarray:
        # unsalted: the builtin itself, which is what _hash_one calls, without its frame
        one = hash if self._salt == 0 else self._hash_one
        return np.fromiter(map(one, terms), dtype=np.int64, count=len(terms))

    def __reduce__(self) -> Any:
        raise TypeError(
            "a TermIndex holds this interpreter's str hashes (salted per process start) "
            "and cannot be pickled: build it again from the vocabulary where it is used"
        )

    def __len__(self) -> int:
        return self.size

    def lookup(self, terms: Sequence[str]) -> np.ndarray:
        """The column of each term, -1 for a term outside the vocabulary (int32)."""
        if not terms or not self.size:
            return np.full(len(terms), -1, dtype=np.int32)
        wanted = self._hash(terms)
        # the method, not np.searchsorted: its dispatch wrapper cost as much as the search
        # on the geoparser's batches of a few terms
        pos = self._hashes.searchsorted(wanted)
        # past the last hash: any position whose hash differs (the last one's is smaller)
        np.minimum(pos, self.size - 1, out=pos)
        cols = self._cols[pos]  # int32, a copy
        cols[self._hashes[pos] != wanted] = -1
        return cols

    def columns(self, terms: Sequence[str]) -> list[int]:
        """``lookup(terms).tolist()``; one or two terms are searched one at a time (the
        geoparser asks for a few at once, and numpy's cost per call was most of that)."""
        if len(terms) > 2 or not self.size:
            return self.lookup(terms).tolist()
        hashes, cols = self._hashes, self._cols
        out = []
        for term in terms:
            wanted = self._hash_one(term)
            i = int(hashes.searchsorted(wanted))
            out.append(int(cols[i]) if i < self.size and hashes[i] == wanted else -1)
        return out

    def name(self, j: int) -> str:
        """The term of column ``j`` (only when built with ``keep_names``)."""
        if self._names is None or self._offsets is None:
            raise LookupError("this index keeps no names")
        start, end = int(self._offsets[j]), int(self._offsets[j + 1])
        return bytes(self._names[start:end]).decode("utf-8", "surrogatepass")

    def names(self) -> list[str]:
        """Every term, in column order (a new list: for tests and tools, not hot paths)."""
        return [self.name(j) for j in range(self.size)]


_CHUNK = 8192  # terms decoded at a time by ``TermIndex.packed``
# distinct terms sharing a hash again after this many salts: about 10^-36 (chunked())
_MAX_SALT = 4


def _decode(buffer: Any, offsets: np.ndarray, start: int, stop: int) -> list[str]:
    """Terms ``start`` to ``stop`` of a packed buffer, as str."""
    first = int(offsets[start])
    raw = bytes(buffer[first : int(offsets[stop])])
    ends = (np.asarray(offsets[start : stop + 1]) - first).tolist()
    return [raw[a:b].decode("utf-8", "surrogatepass") for a, b in itertools.pairwise(ends)]
