"""Dense text embeddings for the relevance model's optional heavier variant (``model.embedding``).

One concept: text -> a dense vector per text, batched, with numpy. ``wordllama`` (the
``embed`` extra: ``pip install 'newsalert[embed]'``, MIT, no torch) ships 256-dimension
token vectors distilled from LLaMA 2's embedding table, and that model's tokenizer,
inside its wheel. Its embedding of a text is the average of its tokens' vectors, so
only those two files are used here, read directly: the vectors as a read-only memory
mapping of the ``.safetensors`` file (float16, 16 MB, as shipped: the rows a batch
gathers are widened to float32; the pages are the page cache's, shared by every process
and resident only once a token of theirs is seen) and the tokenizer with ``tokenizers``. The ``wordllama`` package itself is never imported:
its ``WordLlama.load()`` looks for the tokenizer under a folder name the wheel does not
have (``tokenizer/``, the file is in ``tokenizers/``) and so tries to download it from
the network, and importing it sets up the root logger (``logging.basicConfig``).

Texts are tokenized one at a time (``Tokenizer.encode``): the batched encoders use a
thread pool, and a process that forks after using it gets the library's warning and no
pool in the children; here a worker loads the vectors once, before its pool forks, and
every child shares their pages.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsalert.errors import ModelError

__all__ = ["EMBEDDINGS", "Embedder", "available", "load", "missing_message"]

EMBEDDINGS: dict[str, dict[str, str]] = {
    "wordllama": {
        "package": "wordllama",
        "weights": "weights/l2_supercat_256.safetensors",
        "tensor": "embedding.weight",
        "tokenizer": "tokenizers/l2_supercat_tokenizer_config.json",
    },
}
"""The embeddings this module knows: the package that ships them and its files."""

INSTALL_HINT = "pip install 'newsalert[embed]'"
MAX_TOKENS = 512  # a text's first tokens only: bounds time on full-article inputs
CHUNK_TOKENS = 4096  # tokens pooled at once (4 MB of float32 rows at 256 dimensions)


def _package_dir(package: str) -> Path | None:
    """Where ``package`` is installed, found without importing it (no side effects)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _needs(name: str) -> tuple[str, ...]:
    """The Python modules ``name``'s loading uses (the package's own dependencies)."""
    return (EMBEDDINGS[name]["package"], "tokenizers")


def available(name: str) -> bool:
    """Whether the embedding ``name`` can be loaded here (its package and files exist)."""
    spec = EMBEDDINGS.get(name)
    if spec is None:
        return False
    root = _package_dir(spec["package"])
    return (
        root is not None
        and (root / spec["weights"]).is_file()
        and (root / spec["tokenizer"]).is_file()
        and all(importlib.util.find_spec(m) is not None for m in _needs(name)[1:])
    )


def missing_message(name: str) -> str:
    """What to do when ``name`` is not installed."""
    package = EMBEDDINGS.get(name, {}).get("package", name)
    return f"the {name} embedding needs the optional package {package}: {INSTALL_HINT}"


class Embedder:
    """Token vectors and a tokenizer: ``embed(texts)`` is each text's average token vector,
    scaled to unit length (float32, ``(len(texts), dim)``; an empty text is all zeros)."""

    def __init__(self, name: str, vectors: np.ndarray, tokenizer: Any, info: dict[str, Any]):
        self.name = name
        self.vectors = vectors  # (vocabulary, dim), as shipped (float16), read-only
        self._encode = tokenizer.encode
        self.info = info  # package version, files' sha256: recorded in model.json

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, dim={self.dim})"

    def token_ids(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """All texts' token ids, concatenated, and each text's count."""
        encode = self._encode
        ids: list[int] = []
        counts = np.zeros(len(texts), dtype=np.int64)
        for k, text in enumerate(texts):
            found = encode(text, add_special_tokens=False).ids[:MAX_TOKENS]
            ids.extend(found)
            counts[k] = len(found)
        out = np.asarray(ids, dtype=np.int64)
        np.clip(out, 0, self.vectors.shape[0] - 1, out=out)
        return out, counts

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        ids, counts = self.token_ids(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        ends = np.cumsum(counts)
        starts = ends - counts
        k = 0
        while k < len(texts):  # a few thousand tokens at a time: small temporaries
            j = max(k + 1, int(np.searchsorted(ends, starts[k] + CHUNK_TOKENS, side="right")))
            present = counts[k:j] > 0
            if present.any():
                rows = self.vectors[ids[starts[k] : ends[j - 1]]].astype(np.float32)
                sums = np.add.reduceat(rows, (starts[k:j] - starts[k])[present], axis=0)
                norms = np.linalg.norm(sums, axis=1, keepdims=True)
                out[k:j][present] = sums / np.maximum(norms, 1e-12)
            k = j
        return out


_SAFETENSORS_DTYPES = {"F16": np.float16, "F32": np.float32}


def _map_tensor(path: Path, key: str) -> np.ndarray:
    """One tensor of a ``.safetensors`` file as a read-only memory mapping (the format: an
    8-byte little-endian header size, a JSON header giving each tensor's dtype, shape and
    byte range, then the data)."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        if size > 100_000_000:
            raise ValueError(f"header of {size} bytes")
        header = json.loads(f.read(size))
    entry = header[key]
    dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]).newbyteorder("<")
    start, end = entry["data_offsets"]
    shape = tuple(int(n) for n in entry["shape"])
    if end - start != dtype.itemsize * int(np.prod(shape)):
        raise ValueError(f"{key}: {end - start} bytes for shape {shape}")
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + size + start, shape=shape)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.cache
def load(name: str) -> Embedder:
    """The embedding ``name``, loaded once per process (before a pool forks, it is shared).

    Raises ModelError naming the fix when its package is not installed or its files are
    missing; reads only the installed package's files (never the network)."""
    spec = EMBEDDINGS.get(name)
    if spec is None:
        raise ModelError(f"unknown embedding {name!r} (known: {', '.join(sorted(EMBEDDINGS))})")
    if not available(name):
        raise ModelError(missing_message(name))
    root = _package_dir(spec["package"])
    assert root is not None  # available() checked it
    from tokenizers import Tokenizer

    weights, tokenizer_file = root / spec["weights"], root / spec["tokenizer"]
    try:
        vectors = _map_tensor(weights, spec["tensor"])
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:  # a damaged install
        raise ModelError(
            f"the {name} embedding's files in {root} are unreadable "
            f"({type(exc).__name__}: {exc}); reinstall it: {INSTALL_HINT}"
        ) from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    info = {
        "name": name,
        "package": spec["package"],
        "version": importlib.metadata.version(spec["package"]),
        "weights": spec["weights"],
        "weights_sha256": _sha256(weights),
        "tokenizer_sha256": _sha256(tokenizer_file),
        "dim": int(vectors.shape[1]),
    }
    return Embedder(name, vectors, tokenizer, info)


def problem(built: dict[str, Any]) -> str | None:
    """Why a model trained with the embedding ``built`` (its ``model.json`` record) cannot
    score here, or None: its package is missing, or ships other vectors or tokenizer."""
    name = str(built.get("name"))
    if name not in EMBEDDINGS:
        return f"it was trained with an unknown embedding {name!r}"
    if not available(name):
        return f"it was trained with the {name} embedding, and {missing_message(name)}"
    info = load(name).info
    for key in ("weights_sha256", "tokenizer_sha256"):
        if built.get(key) != info[key]:
            return (
                f"it was trained with other {name} files than the installed "
                f"{info['package']} {info['version']} ships ({key.split('_')[0]} differ)"
            )
    return None
