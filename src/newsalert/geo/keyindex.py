"""The gazetteer's place names as a few arrays: every whole-word name in a text.

An Aho-Corasick automaton (``pyahocorasick``) over the 340,000 names held 1.6 million
nodes, each its own small allocation: about 100 MB of the worker's heap. The geoparser
only wants *whole-word* names, though: a name starts where the character before it is
not a letter or digit, and ends where the character after it is not one. So the
candidates are the text's substrings between such boundaries, and a name is found by
walking from each boundary start to the next boundary end, then the one after, as long as
what is between is the start of some name ("Port" and "Port-au" for "Port-au-Prince":
its *boundary prefixes*). Names and prefixes are one ``TermIndex`` (sorted 64-bit hashes,
``np.searchsorted``): about 15 MB, in a handful of objects whose pages no lookup writes to,
so a forked pool shares them. A hit is checked against the name's own text, so a hash
collision can never invent a place.

The matches are exactly the automaton's matches that are whole words (the tests compare
the geoparser's answers on the evaluation set).
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from newsalert.termindex import _CHUNK, TermIndex, _decode

__all__ = ["KeyIndex"]

_NOT_WORD = re.compile(r"[\W_]")  # not str.isalnum(): where a whole word may end or begin


def _boundary_prefixes(key: str) -> Iterator[str]:
    for i in range(1, len(key)):
        if not key[i].isalnum():
            yield key[:i]


class KeyIndex:
    """Key texts (id = position) and their boundary prefixes, for whole-word matching."""

    def __init__(self, keys: Sequence[str], prefixes: Sequence[str] | None = None) -> None:
        """``keys``: distinct names; ``prefixes``: their boundary prefixes, distinct (None:
        worked out here)."""
        if prefixes is None:
            found = {p for k in keys for p in _boundary_prefixes(k)}
            prefixes = sorted(found)
        self._n_keys = len(keys)
        self._n_prefixes = len(prefixes)
        encoded = [k.encode("utf-8", "surrogatepass") for k in keys]
        self._key_offsets = np.cumsum([0, *(len(e) for e in encoded)], dtype=np.int32)
        self._key_buffer = b"".join(encoded)
        encoded = [p.encode("utf-8", "surrogatepass") for p in prefixes]
        self._prefix_offsets = np.cumsum([0, *(len(e) for e in encoded)], dtype=np.int32)
        self._prefix_buffer = b"".join(encoded)
        del encoded
        # packed as a loaded index is: one way to build the rest, for both
        self._build()

    def _build(self) -> None:
        """The index over names and prefixes, from the packed texts: column j < n_keys is
        name j (maybe also a prefix); the columns after are the prefixes that are no name,
        in order. Decoded a chunk at a time: a loaded gazetteer's 340,000 names and 60,000
        prefixes made as str at once (and the index's objects allocated among them) left
        the loading process about 4 MiB of empty pymalloc pools it keeps
        (``TermIndex.chunked``)."""
        n_keys, n_prefixes = self._n_keys, self._n_prefixes
        keys_only = TermIndex.packed(self._key_buffer, self._key_offsets)
        is_prefix = np.zeros(n_keys + n_prefixes, dtype=bool)
        extra: list[int] = []  # prefixes that are no name, in order: the columns after
        for start in range(0, n_prefixes, _CHUNK):
            found = _decode(
                self._prefix_buffer, self._prefix_offsets, start, min(n_prefixes, start + _CHUNK)
            )
            cols = keys_only.lookup(found).tolist()
            for k, (text, col) in enumerate(zip(found, cols, strict=True)):
                if 0 <= col < n_keys and self.key(col) == text:
                    is_prefix[col] = True
                else:
                    is_prefix[n_keys + len(extra)] = True
                    extra.append(start + k)
        del keys_only
        extra_ids = np.asarray(extra, dtype=np.int64)
        capitals: set[str] = set()
        others: set[str] = set()

        def chunks() -> Iterator[list[str]]:  # called again if two terms share a hash
            capitals.clear()
            others.clear()
            for start in range(0, n_keys, _CHUNK):
                found = _decode(
                    self._key_buffer, self._key_offsets, start, min(n_keys, start + _CHUNK)
                )
                for k in found:
                    if k and k[0].isupper():
                        capitals.add(k[0])
                    elif k:
                        others.add(_first_word(k))
                yield found
            for start in range(0, len(extra_ids), _CHUNK):
                yield [self.prefix(int(p)) for p in extra_ids[start : start + _CHUNK].tolist()]

        self._index = TermIndex.chunked(n_keys + len(extra), chunks)
        self._is_prefix = is_prefix[: n_keys + len(extra)]
        self._compile_starts(capitals, others)

    def _compile_starts(self, capital_set: set[str], other_set: set[str]) -> None:
        # where a name can start: a whole word beginning with a capital that begins some
        # name, or one of the few first words of names that begin otherwise (275: "'Ali",
        # "al", "1ra", ...); other words are never looked up
        # Each match's last group is the name's first word, up to the first boundary after
        # its start (where find() looks it up first). A capital's word is consumed: no
        # name starts inside it (a letter or digit comes before each of its characters).
        capitals = sorted(capital_set)
        first = "".join(re.escape(c) for c in capitals)
        alternatives = [rf"([{first}][^\W_]*)"] if capitals else []
        if other_set:
            # as a trie ("'A(?:bas|kra|...)"): a flat alternation of the 275 words was
            # tried word by word at every position, half of find()'s regex time;
            # zero-width (a lookahead): "'Ali" and the "Ali" inside it are both starts
            alternatives.append(rf"(?=({_alternation(other_set)})(?=[\W_]|\Z))")
        self._starts = re.compile(rf"(?<![^\W_])(?:{'|'.join(alternatives) or '(?!)'})")

    # pickled as the texts alone: the hashes are this interpreter's (see TermIndex); with
    # protocol 5 the buffers go out of band, so ``newsalert.mapfile`` can map them
    def __reduce_ex__(self, protocol: Any) -> Any:
        def out(buffer: Any) -> Any:
            return pickle.PickleBuffer(buffer) if protocol >= 5 else bytes(buffer)

        return (
            _restore,
            (
                out(self._key_buffer),
                self._key_offsets,
                out(self._prefix_buffer),
                self._prefix_offsets,
            ),
        )

    def __len__(self) -> int:
        return self._n_keys

    def key(self, kid: int) -> str:
        start, end = int(self._key_offsets[kid]), int(self._key_offsets[kid + 1])
        # str(): the buffer may be a view of a file mapping (``newsalert.mapfile``)
        return str(self._key_buffer[start:end], "utf-8", "surrogatepass")

    def prefix(self, pid: int) -> str:
        start, end = int(self._prefix_offsets[pid]), int(self._prefix_offsets[pid + 1])
        return str(self._prefix_buffer[start:end], "utf-8", "surrogatepass")

    def items(self) -> Iterator[tuple[str, int]]:
        """Every (name, key id), as the automaton's ``items()`` gave them."""
        for kid in range(self._n_keys):
            yield self.key(kid), kid

    def exact(self, names: Sequence[str]) -> list[int]:
        """Each name's key id, or -1 when it is no key."""
        if not names or not self._n_keys:
            return [-1] * len(names)
        cols = self._index.lookup(list(names)).tolist()
        return [
            col if 0 <= col < self._n_keys and self.key(col) == name else -1
            for name, col in zip(names, cols, strict=True)
        ]

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Every name that is a whole word of ``text``: (start, end, key id), end exclusive,
        in no particular order."""
        n = len(text)
        if not n or not self._n_keys:
            return []
        # (start, end) of each name's first word: a name ends before a non-word character,
        # or at the end of the text; the next boundary is looked for only when a prefix
        # goes on (every boundary's position in a list and a bisect per start cost more)
        live = [m.span(m.lastindex) for m in self._starts.finditer(text)]  # type: ignore[arg-type]
        hits: list[tuple[int, int, int]] = []
        columns, is_prefix, n_keys = self._index.columns, self._is_prefix, self._n_keys
        following = _NOT_WORD.search
        while live:
            subs = [text[s:e] for s, e in live]
            cols = columns(subs)
            going = []
            for (s, e), sub, col in zip(live, subs, cols, strict=True):
                if col < 0:
                    continue
                if col < n_keys and self.key(col) == sub:
                    hits.append((s, e, col))
                if is_prefix[col] and e < n:
                    after = following(text, e + 1)
                    going.append((s, after.start() if after else n))
            live = going
        return hits


def _alternation(words: set[str]) -> str:
    """A pattern matching exactly the (non-empty) ``words``, factored as a trie so that
    the engine tries a character once however many words share it."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return f"(?:{emit(trie)})"


def _first_word(key: str) -> str:
    """What of ``key`` lies before its first boundary (the whole key when none)."""
    found = _NOT_WORD.search(key, 1)
    return key[: found.start()] if found else key


def _restore(
    key_buffer: Any, key_offsets: np.ndarray, prefix_buffer: Any, prefix_offsets: np.ndarray
) -> KeyIndex:
    index = KeyIndex.__new__(KeyIndex)
    index._n_keys = len(key_offsets) - 1
    index._n_prefixes = len(prefix_offsets) - 1
    index._key_buffer, index._key_offsets = key_buffer, key_offsets
    index._prefix_buffer, index._prefix_offsets = prefix_buffer, prefix_offsets
    index._build()
    return index
