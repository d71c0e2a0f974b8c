"""Worker memory, the parts a forked pool shares: py3langid's tables as arrays (the same
scores as py3langid's own identifier), the gazetteer's text columns as flat buffers (read
like the lists they replace), and what the worker's main process leaves its pool (the TLS
context, the loaded config, the store's checked schema)."""

from __future__ import annotations

import json
import os
import pickle
from array import array
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect

from newsalert import fetch
from newsalert.geo import load_geoparser
from newsalert.geo.columns import Codes, PackedStrings
from newsalert.geo.geoparser import default_cache_dir
from newsalert.language import LATIN, SCRIPTS, LanguageDetector, compact_identifier, load_detector

from .conftest import ROOT, preload_for_pool

TEXTS = [
    "",
    "   ",
    "1234 5678",
    "Vucic meets Kurti in Brussels",
    "ÉMEUTES À PARIS: des centaines d'arrestations",
    "İstanbul'da saldırı: 3 kişi gözaltına alındı",
    "Polizei nimmt nach Anschlag in Berlin mehrere Verdächtige fest",
    "Вучић: Србија неће признати независност Косова",
    "Президент заявил о новых санкциях против",
    "الشرطة تعتقل مشتبها به في هجوم",
    "Ο πρωθυπουργός ανακοίνωσε νέα μέτρα",
    "emoji 🔥🔥 fire \ud83d\udca5 and a lone surrogate \udc80",
    "ALL CAPS HEADLINE ABOUT A FLOOD",
    "x" * 3000,
    b"raw bytes: Policija saop\xc5\xa1tila",
    b"broken utf-8 \xff\xfe tail \xc5",
]


def _corpus() -> list[Any]:
    texts: list[Any] = list(TEXTS)
    for line in (ROOT / "data" / "dev.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        title, summary = row.get("title") or "", row.get("summary") or ""
        texts += [title, f"{title} {summary}"[:1500]]
    for line in (ROOT / "tests" / "data" / "headlines.tsv").read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            texts.append(line.split("\t", 1)[1])
    return texts


def _stock_identifier() -> Any:
    """py3langid's identifier as it comes (Python lists), restricted as load_detector does."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    wanted = {*LATIN, *(code for codes in SCRIPTS.values() for code in codes)}
    full.set_languages(sorted(wanted & set(full.labels)))
    return full


@pytest.fixture(scope="module")
def identifiers() -> tuple[Any, Any]:
    return _stock_identifier(), load_detector()._identifier


def test_compact_identifier_holds_its_tables_in_arrays(identifiers: tuple[Any, Any]) -> None:
    stock, compact = identifiers
    assert isinstance(stock.tk_output, list) and isinstance(stock._rowbase, list)
    # flat blocks that reads never write to: an array, or a view of the cached file's mapping
    assert isinstance(compact.tk_output, array | memoryview)
    assert isinstance(compact._rowbase, array)
    assert list(compact.tk_output) == stock.tk_output
    assert list(compact._rowbase) == stock._rowbase
    assert compact_identifier(compact) is compact  # arrays already: left as they are


def test_compact_identifier_ranks_exactly_as_py3langid(identifiers: tuple[Any, Any]) -> None:
    stock, compact = identifiers
    texts = _corpus()
    assert len(texts) > 800
    for text in texts:
        assert compact.rank(text) == stock.rank(text), text  # the same floats, same order
        assert compact.classify(text) == stock.classify(text), text


def test_detector_answers_as_with_py3langids_own_tables(identifiers: tuple[Any, Any]) -> None:
    stock, compact = identifiers
    before, after = LanguageDetector(stock), LanguageDetector(compact)
    for text in _corpus():
        if isinstance(text, str):
            assert after.detect(text) == before.detect(text), text


def test_packed_strings_read_like_the_list() -> None:
    texts = ["Beograd", "", "Zvečan", "Ağrı", "北京", "\udc80 lone", "Port-au-Prince"]
    column = PackedStrings(texts)
    assert len(column) == len(texts)
    assert list(column) == texts and column == texts
    assert [column[i] for i in range(len(texts))] == texts
    assert column[-1] == "Port-au-Prince" and column[1:3] == ["", "Zvečan"]
    with pytest.raises(IndexError):
        column[len(texts)]
    with pytest.raises(IndexError):
        column[-len(texts) - 1]
    again = pickle.loads(pickle.dumps(column, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again, PackedStrings) and again == column and list(again) == texts
    assert len(PackedStrings([])) == 0 and list(PackedStrings([])) == []


def test_codes_read_like_the_list() -> None:
    values = ["RS", "XK", None, "RS", "Central Serbia", None, "XK"]
    column = Codes(values)
    assert len(column) == len(values) and list(column) == values and column == values
    assert [column[i] for i in range(len(values))] == values
    assert column[-1] == "XK" and column[2] is None and column[1:4] == ["XK", None, "RS"]
    assert column[0] is column[3]  # one object per distinct value
    again = pickle.loads(pickle.dumps(column, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again, Codes) and list(again) == values


def test_the_gazetteer_keeps_its_text_columns_packed() -> None:
    g = load_geoparser(default_cache_dir()).gazetteer
    assert isinstance(g.name, PackedStrings)
    assert isinstance(g.country, Codes) and isinstance(g.admin1, Codes)
    assert len(g.name) == len(g.country) == len(g.admin1) == len(g.lat)
    for array_column in (g.key_start, g.key_places, g.admin1_place):
        assert array_column.itemsize == 4
    kid = next(
        k for k, text in ((k, g.keys.key(k)) for k in range(len(g.keys))) if text == "Banjska"
    )
    places = g.places_of(kid)
    assert any(g.name[p] == "Banjska" and g.country[p] == "XK" for p in places)


def test_fetchers_share_one_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    real = fetch.httpx.create_ssl_context

    def counting() -> Any:
        made.append(1)
        return real()

    fetch.default_ssl_context.cache_clear()
    monkeypatch.setattr(fetch.httpx, "create_ssl_context", counting)
    try:
        with fetch.Fetcher(), fetch.Fetcher():
            pass
        assert len(made) == 1
    finally:
        fetch.default_ssl_context.cache_clear()


def test_the_pool_inherits_the_loaded_config_and_the_checked_schema(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workers.tasks as tasks

    monkeypatch.setattr(tasks, "shared_geoparser", lambda *_: None)
    monkeypatch.setattr(tasks, "_WARM_WATCHERS", {})
    monkeypatch.setattr(tasks, "_SCHEMA_CHECKED", set())
    config = tmp_path / "newsalert.yaml"
    config.write_text(f"storage: {{data_dir: {model_dir}}}\n", encoding="utf-8")
    preload_for_pool(config)
    watcher = tasks._WARM_WATCHERS[str(config)]
    loaded = watcher.current()
    assert {loaded.database_url} == tasks._SCHEMA_CHECKED

    created: list[bool] = []
    real_store = tasks.Store

    def store(url: str, *, create: bool = True) -> Any:
        created.append(create)
        return real_store(url, create=create)

    monkeypatch.setattr(tasks, "Store", store)
    app = SimpleNamespace(conf={"newsalert_config_path": str(config)})
    runtime = tasks.runtime(app)  # as a pool process's first task makes it
    try:
        assert runtime.watcher is watcher and str(config) not in tasks._WARM_WATCHERS
        pipeline = runtime.pipeline()
        assert pipeline.loaded is loaded  # not loaded again: the files did not change
        assert created == [False]  # the main process created and checked the tables
        assert inspect(pipeline.store.engine).has_table("items")
        # a changed config is loaded again, as before
        config.write_text(
            f"storage: {{data_dir: {model_dir}}}\nfetch: {{min_interval: 5}}\n", encoding="utf-8"
        )
        assert runtime.pipeline().loaded is not loaded
    finally:
        runtime.close()


_IMPORTS = """
import sys
import workers.tasks
from kombu.transport import filesystem
print(sorted({m.split(".")[0] for m in sys.modules} & {"redis", "uvicorn", "starlette"}))
if "kombu.transport.redis" in sys.modules:
    from kombu.transport import redis
    print(getattr(redis.Channel._connparams, "_newsalert_patched", False))
"""


@pytest.mark.parametrize("broker", ["", "redis://127.0.0.1:6379/14"])
def test_a_worker_imports_only_what_its_config_uses(tmp_path: Path, broker: str) -> None:
    """No redis-py on the embedded broker, no uvicorn without ``web:``; on Redis, the
    transport's patch (workers/compat.py) is applied before any connection."""
    import os
    import subprocess
    import sys

    config = tmp_path / "newsalert.yaml"
    config.write_text(f"storage: {{data_dir: {tmp_path}}}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
    env |= {"NEWSALERT_CONFIG": str(config), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    if broker:
        env["NEWSALERT_BROKER_URL"] = broker
    out = subprocess.run(
        [sys.executable, "-c", _IMPORTS],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    if broker:
        assert lines == ["['redis']", "True"]
    else:
        assert lines == ["[]"]


def test_the_identifier_is_a_cached_file_mapping_checked_at_each_load(
    identifiers: tuple[Any, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The restricted identifier is cached as a mapped file: a start skips py3langid's xz
    model, its tables are views of the mapping, a damaged file is found and rebuilt, and
    where nothing can be written everything stays in memory, with the same answers."""
    stock, compact = identifiers
    assert isinstance(compact.tk_nextmove, memoryview)  # the user's cache, as the worker's
    assert compact.tk_nextmove.tobytes() == memoryview(stock.tk_nextmove).tobytes()
    # the table alone, as the code before cached it: removed once unloaded for a day
    old = tmp_path / "langid-nextmove-0123456789abcdef-I.bin"
    recent = tmp_path / "langid-fedcba9876543210.map"  # another version's, loaded lately
    for stale in (old, recent):
        stale.write_bytes(b"x")
    os.utime(old, (1, 1))
    first = load_detector(cache_dir=tmp_path)._identifier
    assert not old.exists() and recent.exists()
    recent.unlink()
    (written,) = tmp_path.glob("langid-*.map")
    assert isinstance(first.tk_nextmove, memoryview)
    assert first.tk_nextmove.tobytes() == memoryview(stock.tk_nextmove).tobytes()
    assert list(first.tk_output) == stock.tk_output and list(first.nb_classes) == list(
        stock.nb_classes
    )
    # a damaged file (same size, other bytes) is found and written again
    raw = bytearray(written.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    written.write_bytes(bytes(raw))
    with caplog.at_level("WARNING", logger="newsalert.cachedir"):
        again = load_detector(cache_dir=tmp_path)._identifier
    assert any("rebuilding py3langid's model" in r.getMessage() for r in caplog.records)
    assert again.tk_nextmove.tobytes() == memoryview(stock.tk_nextmove).tobytes()
    assert load_detector(cache_dir=tmp_path)._identifier.rank("Napad na policiju") == (
        stock.rank("Napad na policiju")
    )
    # where nothing can be written, the tables stay in memory as they were
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    kept = load_detector(cache_dir=blocked / "cache")._identifier
    assert isinstance(kept.tk_nextmove, array) and kept.rank("Gunmen") == stock.rank("Gunmen")
    detector = load_detector(cache_dir=None)
    assert isinstance(detector._identifier.tk_nextmove, array)


def test_the_story_clusterer_s_frequencies_are_built_before_the_fork(
    tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clusterer's corpus frequencies (17k texts) are made by the main process, so the
    pool shares them instead of each process building its own at its first relevant item;
    with stories off they are not built at all."""
    import workers.tasks as tasks
    from newsalert.stories import packaged_idf

    monkeypatch.setattr(tasks, "shared_geoparser", lambda *_: None)
    monkeypatch.setattr(tasks, "_WARM_WATCHERS", {})
    monkeypatch.setattr(tasks, "_SCHEMA_CHECKED", set())
    for stories, built in (("false", 0), ("true", 1)):
        packaged_idf.cache_clear()
        config = tmp_path / f"stories-{stories}.yaml"
        config.write_text(
            f"storage: {{data_dir: {model_dir}}}\nstories: {{enabled: {stories}}}\n",
            encoding="utf-8",
        )
        preload_for_pool(config)
        assert packaged_idf.cache_info().currsize == built, stories


_DELIVERY_AFTER_WARM_UP = """
import gc, json, sys
from types import SimpleNamespace
import workers.tasks as tasks
tasks.shared_geoparser = lambda *_: None  # the gazetteer is not what this test is about
app = SimpleNamespace(conf={"newsalert_config_path": sys.argv[1]})
tasks.preload_model(sender=SimpleNamespace(app=app))
frozen = gc.get_freeze_count()
gc.unfreeze()
before = set(sys.modules)
from newsalert.delivery import Notifier
from newsalert.delivery_pool import connection_pool
from newsalert.models import Message
html = "<p><b>Banjska</b>: armed men attack police</p><a href='https://example.org/x'>x</a>"
with connection_pool():
    for _ in range(2):  # the second on the batch's shared connection
        Notifier(timeout=10).send(
            sys.argv[2],
            Message(title="Alert", body=html, body_format="html", attach_text="plain",
                    headers={"In-Reply-To": "<a@example.org>"}),
        )
print(json.dumps({"frozen": frozen, "added": sorted(set(sys.modules) - before)}))
"""


def test_the_warm_up_leaves_the_pool_an_e_mail_path_it_need_not_import(
    tmp_path: Path, model_dir: Path, smtp_server: Any
) -> None:
    """A pool process sends its first e-mail without importing anything (modules imported
    after the fork are each pool process's own pages): apprise's plugins, the e-mail and
    SMTP modules and the batch's connection pool are in memory before the fork (the app's
    config check builds every target, the warm-up builds a pipeline), and the warm-up
    freezes the heap it leaves the pool (``gc.freeze``; without the warm-up nothing is
    frozen). Measured with ``bench/pool_memory.py``: in a storm a pool process imports
    only feedparser's ``xml.sax.expatreader`` after the fork. Run in a fresh interpreter:
    this test process has imported everything already."""
    import os
    import subprocess
    import sys

    config = tmp_path / "newsalert.yaml"
    config.write_text(
        f"storage: {{data_dir: {model_dir}}}\n"
        f"subscribers: [{{name: desk, urls: [{json.dumps(smtp_server.url())}]}}]\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSALERT_")}
    env |= {"NEWSALERT_CONFIG": str(config), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", _DELIVERY_AFTER_WARM_UP, str(config), smtp_server.url()],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(smtp_server.messages) == 2  # the e-mails went out
    assert found["frozen"] > 10_000  # the warm-up froze the heap it leaves the pool
    assert found["added"] == []
