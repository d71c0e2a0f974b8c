"""Sparse rows (CSR) in plain numpy: what the classifier needs at run time, without SciPy.

The worker scores items with a linear model over sparse TF-IDF rows. SciPy and
scikit-learn (about 85 MB of a process's memory, imported) are only needed to *train*
that model; scoring needs a handful of row operations, done here with numpy alone.

Every sum along a row is added left to right in float64, as SciPy's ``csr_matvec`` /
``csr_matvecs`` and scikit-learn's ``inplace_csr_row_normalize_l2`` add them in C, so
the results are the same floats bit for bit, not merely close (``tests/test_memory.py``
compares them on thousands of items). numpy's own reductions add pairwise, which differs
in the last bits; :func:`row_sums` therefore adds with ``np.bincount``, which adds in
order.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "Rows",
    "from_counts",
    "from_dense",
    "hstack",
    "l2_normalize",
    "matvec",
    "row_ids",
    "row_sums",
    "select_matmul",
]


class Rows:
    """``n_rows x n_cols`` sparse rows: ``indptr`` (int64), ``indices``, ``data`` (CSR)."""

    __slots__ = ("data", "indices", "indptr", "n_cols")

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.data = data
        self.n_cols = int(n_cols)

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_rows, self.n_cols)

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ``k``'s columns and values (views)."""
        start, end = int(self.indptr[k]), int(self.indptr[k + 1])
        return self.indices[start:end], self.data[start:end]

    def to_scipy(self) -> Any:
        """The same rows as a ``scipy.sparse.csr_matrix`` (tests and tools; imports SciPy)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def from_counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> Rows:
    """How often each (row, column) pair occurs, as float32 counts, columns sorted within
    each row (what ``CountVectorizer`` makes after ``sum_duplicates``)."""
    keys = rows.astype(np.int64) * n_cols + cols.astype(np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    out_rows, out_cols = np.divmod(unique, n_cols) if n_cols else (unique, unique)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(out_rows, minlength=n_rows), out=indptr[1:])
    return Rows(indptr, out_cols, counts.astype(np.float32), n_cols)


def from_dense(dense: np.ndarray) -> Rows:
    """The non-zero entries of a 2-D array, row by row (``csr_matrix(dense)``)."""
    r, c = np.nonzero(dense)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(r, minlength=dense.shape[0]), out=indptr[1:])
    return Rows(indptr, c, dense[r, c], dense.shape[1])


def hstack(blocks: Sequence[Rows]) -> Rows:
    """Blocks side by side (same rows): each row holds block 0's entries, then block 1's..."""
    n_rows = blocks[0].n_rows
    lengths = [np.diff(b.indptr) for b in blocks]
    total = functools.reduce(operator.add, lengths)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(total, out=indptr[1:])
    size = int(indptr[-1])
    dtype = np.result_type(*(b.data.dtype for b in blocks))
    data = np.empty(size, dtype=dtype)
    indices = np.empty(size, dtype=np.int32)
    before = indptr[:-1].copy()  # where the next block's entries of each row go
    offset = 0
    for block, length in zip(blocks, lengths, strict=True):
        n = len(block.indices)
        if n:
            rows = np.repeat(np.arange(n_rows), length)
            dest = before[rows] + (np.arange(n) - block.indptr[rows])
            data[dest] = block.data
            indices[dest] = block.indices + offset
        before += length
        offset += block.n_cols
    return Rows(indptr, indices, data, offset)


def row_ids(indptr: np.ndarray) -> np.ndarray:
    """The row of each entry."""
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def row_sums(values: np.ndarray, indptr: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Each row's values (``values[indptr[i]:indptr[i+1]]``) added left to right in
    float64, starting from 0.0: the order of SciPy's and scikit-learn's C loops.

    ``np.bincount`` with weights adds each weight to its bin in array order (a C loop,
    like theirs), where ``np.sum`` and ``np.add.reduceat`` add pairwise."""
    n = len(indptr) - 1
    if rows is None:
        rows = row_ids(indptr)
    return np.bincount(rows, weights=np.asarray(values, dtype=np.float64), minlength=n)


def matvec(x: Rows, vector: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """``x @ vector`` for a float64 vector, as SciPy computes it (float64 products, each
    row's added in column order)."""
    return row_sums(x.data.astype(np.float64) * vector[x.indices], x.indptr, rows)


def select_matmul(x: Rows, positions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``x[:, cols] @ weights.T`` as SciPy computes it, for ``weights`` of shape
    (outputs, len(cols)) and ``positions[j]`` = where column j is in ``cols`` (-1: not
    there): each row's selected entries, in column order, times each output's weights,
    added in float64. Returns (rows, outputs)."""
    pos = positions[x.indices]
    selected = pos >= 0
    pos = pos[selected]
    rows = row_ids(x.indptr)[selected]
    data = x.data[selected].astype(np.float64)
    out = np.empty((x.n_rows, weights.shape[0]), dtype=np.float64)
    for k, w in enumerate(weights):  # one output at a time: small temporaries
        # w[pos], not np.take: take reads a whole unaligned row (the weights may be a view
        # of a file mapping, classifier._map_runtime), indexing only the entries it gathers
        out[:, k] = np.bincount(rows, weights=w[pos] * data, minlength=x.n_rows)
    return out


def l2_normalize(x: Rows) -> Rows:
    """scikit-learn's ``normalize(x, norm="l2")`` of float32 rows, in place: a row's
    squares (float32 products) summed in float64, each value divided by the root and
    rounded back to float32; an all-zero row is left alone."""
    squares = x.data * x.data  # float32 products, as in C
    norms = np.sqrt(row_sums(squares, x.indptr))
    lengths = np.diff(x.indptr)
    per_value = np.repeat(norms, lengths)
    nonzero = per_value != 0.0
    scaled = x.data.astype(np.float64)
    scaled[nonzero] /= per_value[nonzero]
    x.data[:] = scaled
    return x
