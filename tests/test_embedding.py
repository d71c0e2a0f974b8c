"""The optional heavier relevance model (``model.embedding: wordllama``, ``newsalert[embed]``):
the embedding read offline from the installed wheel, the variant trained and scored, its
config key validated, and a model that needs a missing extra refused by name.

The test extra installs the embed extra, so none of this is skipped in CI.
"""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from newsalert import classifier, embedding
from newsalert.classifier import Classifier, load, load_or_train, model_files, train
from newsalert.config import load_config
from newsalert.errors import ConfigError, ModelError

INSTALL = "pip install 'newsalert[embed]'"
TEXTS = [
    "Serbia masses troops on the Kosovo border",
    "Gunmen attack police patrol in northern Kosovo\nTwo officers were wounded.",
    "Manchester United beat Chelsea 2-1 at Old Trafford",
    "",
]


@pytest.fixture
def no_embedding(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """As if the embed extra were not installed (the package cannot be found)."""
    monkeypatch.setattr(embedding, "_package_dir", lambda package: None)
    embedding.load.cache_clear()
    yield
    embedding.load.cache_clear()


@pytest.fixture(scope="module")
def small_items() -> list[dict]:
    raw = gzip.decompress(classifier.packaged_data().read_bytes()).decode("utf-8")
    items = [json.loads(line) for line in raw.splitlines()]
    return items[0::16]  # about 1,600 items, every source


@pytest.fixture(scope="module")
def variant_dir(tmp_path_factory: pytest.TempPathFactory, small_items: list[dict]) -> Path:
    data = tmp_path_factory.mktemp("data") / "small.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in small_items), encoding="utf-8")
    out = tmp_path_factory.mktemp("variant")
    train(out, [data], embedding="wordllama")
    return out


def test_loads_offline_from_the_wheel_without_importing_wordllama(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedding tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    embedding.load.cache_clear()
    embedder = embedding.load("wordllama")
    assert "wordllama" not in sys.modules  # its import configures the root logger
    assert embedder.dim == 256 and embedder.vectors.dtype == np.float16
    assert embedder.info["version"] and len(embedder.info["weights_sha256"]) == 64
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (4, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert not vectors[3].any()  # an empty text: no tokens, zeros
    assert embedding.load("wordllama") is embedder  # once per process


def test_same_vectors_as_wordllama_itself() -> None:
    """Its average of token vectors, with wordllama's own code (in a child process: its
    import configures logging), from the same packaged files."""
    script = f"""
import json, sys
from pathlib import Path
from safetensors.numpy import load_file
from tokenizers import Tokenizer
from wordllama.inference import WordLlamaInference
import wordllama
root = Path(wordllama.__file__).parent
vectors = load_file(str(root / "weights/l2_supercat_256.safetensors"))["embedding.weight"]
tok = Tokenizer.from_file(str(root / "tokenizers/l2_supercat_tokenizer_config.json"))
model = WordLlamaInference(vectors, tok)
print(json.dumps(model.embed({TEXTS[:3]!r}, norm=True).tolist()))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    theirs = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    ours = embedding.load("wordllama").embed(TEXTS[:3])
    assert np.allclose(ours, theirs, atol=1e-4)


def test_variant_trains_records_and_scores(variant_dir: Path) -> None:
    model_path, meta_path = model_files(variant_dir)
    meta = json.loads(meta_path.read_text())
    info = embedding.load("wordllama").info
    assert meta["embedding"]["name"] == "wordllama"
    assert meta["embedding"]["weights_sha256"] == info["weights_sha256"]
    assert meta["embedding"]["scale"] == classifier.EMBEDDING_SCALE
    with np.load(classifier.runtime_file(model_path)) as arrays:
        assert str(arrays["embedding_name"]) == "wordllama"
        assert arrays["embedding_mean"].shape == arrays["embedding_factor"].shape == (256,)
    model = load(variant_dir)
    assert isinstance(model, Classifier)
    assert model._n_features == model._coef.shape[0]
    items = [("Gunmen attack police station", "Three officers were killed.", None)] * 3
    items += [("Stocks rise on earnings", "The Dow closed higher.", "https://x.org/markets/1")]
    probs = model.probabilities(items)
    assert probs.shape == (4,) and ((probs > 0) & (probs < 1)).all()
    assert probs[0] == probs[1] == probs[2]  # rows are scored independently
    assert probs[0] > probs[3]
    # batching changes nothing: one by one gives the same numbers
    assert np.array_equal(np.concatenate([model.probabilities([i]) for i in items]), probs)
    # the embedding's columns read as one term in explanations, and contributions still add up
    found = model.explain(*items[0][:2], top=100)
    terms = dict(found.terms)
    assert "[wordllama embedding]" in terms
    logit = np.log(found.probability / (1 - found.probability))
    assert abs(model.bias + sum(terms.values()) - logit) < 1e-3


def test_default_recipe_unchanged_without_the_key(tmp_path: Path, small_items: list[dict]) -> None:
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in small_items[::3]), encoding="utf-8")
    meta = train(tmp_path / "m", [data])
    assert "embedding" not in meta
    with np.load(classifier.runtime_file(model_files(tmp_path / "m")[0])) as arrays:
        assert "embedding_name" not in arrays.files
    assert load(tmp_path / "m")._embedder is None


def test_missing_extra_is_a_clear_error(variant_dir: Path, tmp_path: Path, no_embedding) -> None:  # type: ignore[no-untyped-def]
    assert not embedding.available("wordllama")
    with pytest.raises(ModelError) as err:
        embedding.load("wordllama")
    assert INSTALL in str(err.value)
    # a model trained with it is refused by name, with the fix; the pipeline keeps items
    # unscored on a ModelError (tests/test_pipeline.py), it never drops them
    model_path, _ = model_files(variant_dir)
    with pytest.raises(ModelError) as err:
        load(variant_dir)
    message = str(err.value)
    assert str(model_path) in message and "wordllama embedding" in message and INSTALL in message
    # and so is a config that asks for it
    config = tmp_path / "newsalert.yaml"
    config.write_text("model:\n  embedding: wordllama\n", encoding="utf-8")
    with pytest.raises(ConfigError) as cerr:
        load_config(config, {})
    [problem] = cerr.value.problems
    assert problem.file == str(config) and problem.key == "model.embedding"
    assert INSTALL in problem.message and INSTALL in problem.hint


def test_config_key(tmp_path: Path) -> None:
    config = tmp_path / "newsalert.yaml"
    config.write_text("model:\n  embedding: wordllama\n", encoding="utf-8")
    assert load_config(config, {}).model_embedding == "wordllama"
    config.write_text("model:\n  threshold: 0.5\n", encoding="utf-8")
    assert load_config(config, {}).model_embedding is None
    config.write_text("model:\n  embedding: bert\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config, {})
    [problem] = err.value.problems
    assert problem.key == "model.embedding" and "wordllama" in problem.message


def test_other_weights_are_refused(variant_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(variant_dir, copy)
    _, meta_path = model_files(copy)
    meta = json.loads(meta_path.read_text())
    meta["embedding"]["weights_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="other wordllama files"):
        load(copy)


def test_managed_variant_has_its_own_folder(
    variant_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The managed variant lives in model-wordllama/: switching model.embedding on and off
    retrains neither model; a managed model built with another embedding is rebuilt."""
    meta = json.loads(model_files(variant_dir)[1].read_text())
    monkeypatch.setattr(classifier, "packaged_data_sha256", lambda: meta["data"]["sha256"])
    assert classifier.managed_dir(tmp_path) == tmp_path / "model"
    assert classifier.managed_dir(tmp_path, "wordllama") == tmp_path / "model-wordllama"
    shutil.copytree(variant_dir, tmp_path / "model-wordllama")
    model = load_or_train(None, tmp_path, "wordllama")  # up to date: loaded, not trained
    assert model.metadata["trained_at"] == meta["trained_at"]
    made = model_files(tmp_path / "model-wordllama")[1]
    assert classifier._managed_problem(made.with_name("model.joblib"), made, "wordllama") is None
    problem = classifier._managed_problem(made.with_name("model.joblib"), made, None)
    assert problem == "model.embedding is now none"
