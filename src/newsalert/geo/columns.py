"""The gazetteer's text columns (a place's name, country, region) as flat buffers.

A list of 238,000 str is 238,000 small objects (about 18 MB for the places' names) and
every read of one writes its reference count: after the worker's pool forks, each pool
process copies every page holding a name it read. ``PackedStrings`` keeps the texts in
one UTF-8 buffer with an offset array (``array``) and decodes the one asked for, so no read writes
to the shared pages; ``Codes`` keeps a column of few distinct values (country codes,
region names) as one small tuple of them and an index array. Both read like the lists
they replace (``column[i]``, ``len``, iteration), give equal values, and pickle as
their buffers.
"""

from __future__ import annotations

import itertools
import pickle
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from newsalert.mapfile import as_array

__all__ = ["Codes", "PackedStrings"]


class PackedStrings(Sequence[str]):
    """Texts in one UTF-8 buffer (``offsets[i]:offsets[i + 1]`` is text ``i``)."""

    __slots__ = ("_buffer", "_ends")

    def __init__(self, texts: Iterable[str]) -> None:
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        self._buffer = b"".join(encoded)
        self._ends = array("q", itertools.accumulate(map(len, encoded), initial=0))

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        ends = self._ends
        n = len(ends) - 1  # len(self) without calling __len__ (the resolver reads many)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("PackedStrings index out of range")
        # str(): the buffer may be a view of a file mapping (``newsalert.mapfile``)
        return str(self._buffer[ends[i] : ends[i + 1]], "utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        buffer = self._buffer
        for start, end in itertools.pairwise(self._ends):
            yield str(buffer[start:end], "utf-8", "surrogatepass")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PackedStrings):
            return self._buffer == other._buffer and self._ends == other._ends
        if isinstance(other, (list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> Any:
        # protocol 5: the buffer out of band, so ``newsalert.mapfile`` can map it
        buffer = pickle.PickleBuffer(self._buffer) if protocol >= 5 else bytes(self._buffer)
        return (_restore_packed, (buffer, as_array(self._ends)))


def _restore_packed(buffer: Any, ends: Any) -> PackedStrings:
    column = PackedStrings.__new__(PackedStrings)
    column._buffer, column._ends = buffer, ends
    return column


class Codes(Sequence[Any]):
    """A column of few distinct values (str or None): the values once, and an index each."""

    __slots__ = ("_index", "_values")

    def __init__(self, items: Iterable[Any]) -> None:
        position: dict[Any, int] = {}
        index = [position.setdefault(v, len(position)) for v in items]
        self._values = tuple(position)
        self._index = array("H" if len(self._values) <= 2**16 else "l", index)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._values[j] for j in self._index[i]]
        return self._values[self._index[i]]

    def __iter__(self) -> Iterator[Any]:
        values = self._values
        return (values[j] for j in self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Codes, list, tuple)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (_restore_codes, (self._values, as_array(self._index)))


def _restore_codes(values: tuple[Any, ...], index: array) -> Codes:
    column = Codes.__new__(Codes)
    column._values, column._index = values, index
    return column
