"""Large read-only data (the gazetteer) pickled with its big buffers served from a file mapping.

A pickle loaded with ``pickle.load`` copies every array into the heap: resident in the
worker's main process whether or not a text ever reads it, and counted once whole in the
PSS of the worker (the pool shares it copy-on-write). ``dump`` writes the object with
pickle protocol 5 and its large buffers (``array.array``, numpy arrays, and what a class's
``__reduce_ex__`` hands over as ``pickle.PickleBuffer``) out of band, each page-aligned
after the pickle; ``load`` maps the file read-only and unpickles with those buffers as
views of the mapping, so an array reads as before (an ``array`` becomes a ``memoryview``
cast to its typecode: indexing gives the same int or float) but only the pages a lookup
touches are resident, shared by every process of the machine through the page cache.
``release`` drops the calling process's page-table entries for the mapping (the pages
stay cached): the main process touches every page while it rebuilds what cannot be
stored (the key index's per-process hashes), and would otherwise count them all.

The file: a header (magic, lengths, the sha256 of all that follows it), a table of the
buffers' offsets and lengths, the pickle, the buffers. ``load`` checks the digest by
reading the file (not through the mapping) and raises ``ValueError`` on a torn, edited or
foreign file; writing is atomic (a temporary file renamed into place).
"""

from __future__ import annotations

import hashlib
import io
import mmap
import os
import pickle
import struct
import tempfile
from array import array
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["MIN_OUT_OF_BAND", "array_view", "as_array", "dump", "load", "release"]

MAGIC = b"NAMAPv1\n"
_HEADER = struct.Struct("<8sQQ32s")  # magic, pickle length, buffer count, sha256 of the rest
_ENTRY = struct.Struct("<QQ")  # a buffer's offset (from the file's start) and length
ALIGN = mmap.PAGESIZE
MIN_OUT_OF_BAND = 16384  # smaller buffers stay in the pickle (a page each would be waste)


def array_view(buffer: Any, typecode: str) -> memoryview:
    """An ``array``'s numbers read from ``buffer`` (a mapped slice, or bytes in band)."""
    return memoryview(buffer).cast("B").cast(typecode)


def as_array(values: Any) -> Any:
    """``values`` as something any pickle takes: a mapped view copied into an ``array``."""
    if isinstance(values, memoryview):
        return array(values.format, values.tobytes())
    return values


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in (array, memoryview) and obj.itemsize * len(obj) >= MIN_OUT_OF_BAND:
            typecode = obj.typecode if type(obj) is array else obj.format
            return array_view, (pickle.PickleBuffer(obj), typecode)
        if type(obj) is memoryview:
            return as_array(obj).__reduce_ex__(5)
        return NotImplemented


def _pad(at: int) -> int:
    return -at % ALIGN


def dump(obj: Any, path: Path) -> None:
    """Write ``obj`` to ``path`` atomically (see the module's docstring)."""
    out_of_band: list[memoryview] = []

    def keep(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < MIN_OUT_OF_BAND:
            return True  # in band
        out_of_band.append(raw)
        return False

    stream = io.BytesIO()
    _Pickler(stream, protocol=5, buffer_callback=keep).dump(obj)
    pickled = stream.getvalue()
    table_at = _HEADER.size
    pickle_at = table_at + _ENTRY.size * len(out_of_band)
    at = pickle_at + len(pickled)
    entries = []
    for raw in out_of_band:
        at += _pad(at)
        entries.append((at, raw.nbytes))
        at += raw.nbytes
    parts: list[bytes | memoryview] = [b"".join(_ENTRY.pack(*e) for e in entries), pickled]
    at = pickle_at + len(pickled)
    for (offset, _), raw in zip(entries, out_of_band, strict=True):
        parts.append(b"\0" * (offset - at))
        parts.append(raw)
        at = offset + raw.nbytes
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    header = _HEADER.pack(MAGIC, len(pickled), len(out_of_band), digest.digest())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            for part in parts:
                f.write(part)
            f.flush()
            # on disk before it is renamed into place (a crash leaves the old file or the
            # new one), and clean: ``load`` can then drop its cached pages (see there)
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic: concurrent loaders never map half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def map_readonly(path: Path) -> mmap.mmap:
    """A read-only mapping of ``path`` whose page faults each read one page."""
    with path.open("rb") as f:
        return _map(f)


def _map(f: BinaryIO) -> mmap.mmap:
    if hasattr(os, "posix_fadvise"):
        # Reading (and writing) the file whole left it cached in large folios (ext4 on
        # Linux 6.x: up to 1 MiB and more each), and a fault maps the whole folio it
        # lands in: one place's latitude would make a megabyte resident. Dropped here
        # (pages other processes map stay), the faults then read single pages.
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mmap, "MADV_RANDOM"):
        # lookups read scattered places: no readahead (which would cache, and map,
        # neighbouring pages never read)
        mapped.madvise(mmap.MADV_RANDOM)
    return mapped


def _checked_header(f: BinaryIO, path: Path) -> tuple[int, int]:
    """(pickle length, buffer count), after checking the digest of the whole file."""
    head = f.read(_HEADER.size)
    if len(head) != _HEADER.size:
        raise ValueError(f"{path}: too short")
    magic, pickle_len, count, expected = _HEADER.unpack(head)
    if magic != MAGIC:
        raise ValueError(f"{path}: not a newsalert mapped file")
    digest = hashlib.sha256()
    while chunk := f.read(1 << 22):
        digest.update(chunk)
    if digest.digest() != expected:
        raise ValueError(f"{path}: checksum mismatch (torn or edited)")
    return pickle_len, count


def load(path: Path) -> tuple[Any, mmap.mmap]:
    """The object ``dump`` wrote to ``path`` and the mapping its buffers live in.
    Raises ``FileNotFoundError``, ``ValueError`` (a bad file) or what unpickling raises."""
    path = Path(path)
    # opened once, checked and mapped through one descriptor: a file removed meanwhile
    # (another build's cleanup of stale caches) is still read whole, never half found
    with path.open("rb") as f:
        pickle_len, count = _checked_header(f, path)
        mapped = _map(f)
    view = memoryview(mapped)
    table_at = _HEADER.size
    pickle_at = table_at + _ENTRY.size * count
    buffers = []
    for k in range(count):
        offset, length = _ENTRY.unpack_from(view, table_at + k * _ENTRY.size)
        if offset + length > len(view):
            raise ValueError(f"{path}: a buffer runs past the end")
        buffers.append(view[offset : offset + length])
    pickled = view[pickle_at : pickle_at + pickle_len]
    return pickle.loads(pickled, buffers=buffers), mapped  # our own file, never feed input


def release(mapped: mmap.mmap) -> None:
    """Drop this process's page-table entries for ``mapped`` (the pages stay in the page
    cache, and come back on the next read): what this process touched while loading is
    then counted to no process until one reads it again."""
    if hasattr(mapped, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)
