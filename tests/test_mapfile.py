"""newsalert.mapfile: big buffers served from a read-only file mapping (the gazetteer's cache).

The same values after a round trip, only the touched pages resident, a torn or edited file
refused, and the gazetteer rebuilt when its cached file is bad."""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import re
import time
from array import array
from pathlib import Path

import numpy as np
import pytest

from newsalert import cachedir, mapfile
from newsalert.geo import gazetteer as gazetteer_module
from newsalert.geo.columns import Codes, PackedStrings
from newsalert.geo.gazetteer import Gazetteer
from newsalert.geo.keyindex import KeyIndex

PAGE = mmap.PAGESIZE


def _sample() -> dict:
    n = 100_000
    return {
        "lat": array("d", (k / 7 for k in range(n))),
        "ids": array("i", range(-5, n - 5)),
        "small": array("H", [1, 2, 3]),  # stays in the pickle
        "flags": array("B", (k % 3 for k in range(n))),
        "offsets": np.arange(n, dtype=np.int32),
        "names": PackedStrings(f"Town {k} Zvečan" for k in range(20_000)),
        "codes": Codes(["RS", "XK", None] * 10_000),
        "keys": KeyIndex(
            ["Paris", "New York", "Port-au-Prince", "İstanbul", "'Ali"]
            + [f"Place {k}-sur-Mer" for k in range(3000)]  # buffers mapped, not in band
        ),
        "plain": {"Paris": 1, "text": "x" * 100},
    }


def _resident_kib(path: Path) -> int:
    """This process's resident KiB of its mappings of ``path`` (smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_a_round_trip_gives_the_same_values_as_views_of_the_mapping(tmp_path: Path) -> None:
    data = _sample()
    path = tmp_path / "sample.map"
    mapfile.dump(data, path)
    again, mapped = mapfile.load(path)
    assert isinstance(mapped, mmap.mmap)
    for name in ("lat", "ids", "flags"):
        assert isinstance(again[name], memoryview) and again[name].readonly
        assert again[name].tolist() == data[name].tolist()
        assert (
            again[name].format == data[name].typecode
            and again[name].itemsize == data[name].itemsize
        )
    assert again["lat"][7] == data["lat"][7] and isinstance(again["ids"][0], int)
    assert isinstance(again["small"], array) and again["small"] == data["small"]
    assert isinstance(again["offsets"], np.ndarray) and not again["offsets"].flags.writeable
    assert np.array_equal(again["offsets"], data["offsets"])
    assert isinstance(again["names"]._buffer, memoryview)
    assert list(again["names"]) == list(data["names"]) and again["names"] == data["names"]
    assert again["names"][-1] == "Town 19999 Zvečan"
    assert list(again["codes"]) == list(data["codes"])
    keys = again["keys"]
    assert isinstance(keys._key_buffer, memoryview)
    assert sorted(keys.find("From Port-au-Prince to New York via İstanbul")) == sorted(
        data["keys"].find("From Port-au-Prince to New York via İstanbul")
    )
    assert keys.exact(["Paris", "Pari", "'Ali", "Place 7-sur-Mer"]) == [0, -1, 4, 12]
    assert [k for _, _, k in keys.find("to Place 12-sur-Mer, not Place 12-sur")] == [17]
    assert again["plain"] == data["plain"]
    # the classes still pickle the ordinary way (protocols below 5 in band)
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        assert list(pickle.loads(pickle.dumps(again["names"], protocol))) == list(data["names"])
        copy = pickle.loads(pickle.dumps(keys, protocol))
        assert copy.exact(["Paris", "York"]) == [0, -1]


def test_only_the_pages_read_are_resident(tmp_path: Path) -> None:
    path = tmp_path / "big.map"
    mapfile.dump({"lat": array("d", range(2_000_000))}, path)  # about 15 MiB
    data, mapped = mapfile.load(path)
    assert _resident_kib(path) <= 16  # the header and the pickle, read through the mapping
    total = sum(data["lat"][k] for k in range(0, 2_000_000, 200_000))  # 10 reads, 10 pages
    assert total == sum(range(0, 2_000_000, 200_000))
    # a page each: no readahead, no large folio left from writing the file
    assert _resident_kib(path) <= 16 + 10 * PAGE // 1024
    sum(data["lat"][k] for k in range(0, 2_000_000, 512))  # every page
    assert _resident_kib(path) > 14_000
    mapfile.release(mapped)
    assert _resident_kib(path) == 0  # still cached by the kernel, counted to no one here
    assert data["lat"][1_999_999] == 1_999_999  # and read back on demand


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic", "empty"])
def test_a_torn_or_edited_file_is_refused(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "sample.map"
    mapfile.dump(_sample(), path)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 1
    elif damage == "truncate":
        raw = raw[: len(raw) - 5000]
    elif damage == "magic":
        raw[:4] = b"JUNK"
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        mapfile.load(path)


def test_a_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "sample.map"
    mapfile.dump({"a": array("d", range(10_000))}, path)
    mapfile.dump({"a": array("d", range(20_000))}, path)  # replaced whole
    assert [p.name for p in path.parent.iterdir()] == ["sample.map"]
    assert len(mapfile.load(path)[0]["a"]) == 20_000


def _tiny_gazetteer() -> Gazetteer:
    return Gazetteer(
        keys=KeyIndex(["Banjska", "Zvečan"]),
        key_kind=array("B", [0, 0]),
        key_start=array("i", [0, 1, 2]),
        key_places=array("i", [0, 1]),
        key_len=array("H", [7, 6]),
        name=PackedStrings(["Banjska", "Zvečan"]),
        country=Codes(["XK", "XK"]),
        admin1=Codes([None, None]),
        admin1_place=array("i", [-1, -1]),
        lat=array("d", [42.9, 42.91]),
        lon=array("d", [20.8, 20.84]),
        population=array("q", [1000, 7000]),
        kind=array("B", [0, 0]),
        coarse=array("B", [0, 0]),
        country_place={},
        capital={},
        city_state={},
    )


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A tiny gazetteer stands in for the real build; each build is counted."""
    counted: list[int] = []

    def build() -> Gazetteer:
        counted.append(1)
        return _tiny_gazetteer()

    monkeypatch.setattr(gazetteer_module, "build_gazetteer", build)
    return counted


def test_the_gazetteer_cache_is_rebuilt_when_torn(
    tmp_path: Path, builds: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    g = gazetteer_module.load_gazetteer(tmp_path)
    assert builds == [1]
    assert g.name[1] == "Zvečan" and g.places_of(g.keys.exact(["Zvečan"])[0]) == [1]
    (path,) = tmp_path.glob("gazetteer-*.map")
    assert gazetteer_module.fingerprint() in path.name
    gazetteer_module.load_gazetteer(tmp_path)
    assert builds == [1]  # cached
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF
    path.write_bytes(bytes(raw))
    with caplog.at_level(logging.WARNING, logger="newsalert.cachedir"):
        g = gazetteer_module.load_gazetteer(tmp_path)
    assert builds == [1, 1] and "unreadable" in caplog.text
    assert g.lat.tolist() == [42.9, 42.91]
    assert gazetteer_module.load_gazetteer(tmp_path).name[0] == "Banjska" and builds == [1, 1]


def test_a_gazetteer_cache_that_cannot_be_written_leaves_it_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gazetteer_module, "build_gazetteer", _tiny_gazetteer)
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    g = gazetteer_module.load_gazetteer(blocked / "cache")
    assert g.lat.tolist() == [42.9, 42.91] and g.name[0] == "Banjska"
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_a_file_removed_while_it_loads_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another build's cleanup may unlink a cache file between its check and its mapping
    path = tmp_path / "sample.map"
    mapfile.dump({"lat": array("d", range(10_000))}, path)
    checked = mapfile._checked_header

    def removed_after_the_check(*args: object) -> tuple[int, int]:
        found = checked(*args)  # type: ignore[arg-type]
        path.unlink()
        return found

    monkeypatch.setattr(mapfile, "_checked_header", removed_after_the_check)
    data, _ = mapfile.load(path)
    assert not path.exists() and data["lat"][9_999] == 9_999


DAY = 24 * 3600


def _cache_files(folder: Path, age: float) -> dict[str, Path]:
    """Files a cache folder may hold, each last written or loaded ``age`` seconds ago."""
    names = {
        "old_pickle": "gazetteer-0123456789abcdef.pickle",  # the format before the mapping
        "old_map": "gazetteer-fedcba9876543210.map",  # another fingerprint
        "writing": ".gazetteer-fedcba9876543210-k2j4",  # a write in progress
        "other_cache": "apprise-schemes-0123456789abcdef.json",
        "not_ours": "gazetteer-notes.map",
    }
    paths = {}
    for what, name in names.items():
        paths[what] = folder / name
        paths[what].write_bytes(b"x")
        os.utime(paths[what], (time.time() - age, time.time() - age))
    return paths


def test_writing_a_new_cache_removes_other_builds_unloaded_cache_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gazetteer_module, "build_gazetteer", _tiny_gazetteer)
    stale = _cache_files(tmp_path, age=2 * DAY)
    recent = tmp_path / "recent"  # another version loaded its file an hour ago
    recent.mkdir()
    kept = _cache_files(recent, age=3600)
    placed: list[bool] = []
    remove = cachedir.remove_stale

    def after_the_new_file(current: Path, pattern: re.Pattern[str]) -> None:
        placed.append(current.exists())
        remove(current, pattern)

    monkeypatch.setattr(cachedir, "remove_stale", after_the_new_file)
    for folder in (tmp_path, recent):
        g = gazetteer_module.load_gazetteer(folder)
        assert g.name[0] == "Banjska"
    current = f"gazetteer-{gazetteer_module.fingerprint()}.map"
    assert placed == [True, True]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == sorted(
        [current, *(stale[k].name for k in ("writing", "other_cache", "not_ours"))]
    )
    assert all(p.exists() for p in kept.values()) and (recent / current).exists()


def test_a_cache_loaded_lately_is_kept_and_no_cleanup_without_a_write(
    tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    gazetteer_module.load_gazetteer(tmp_path)
    (mine,) = tmp_path.glob("gazetteer-*.map")
    stale = _cache_files(tmp_path, age=2 * DAY)
    os.utime(mine, (time.time() - 2 * DAY, time.time() - 2 * DAY))
    gazetteer_module.load_gazetteer(tmp_path)  # served from the cache: removes nothing
    assert builds == [1] and all(p.exists() for p in stale.values())
    assert mine.stat().st_mtime > time.time() - 60  # marked loaded
    # another build writing its own file now keeps this one
    monkeypatch.setattr(gazetteer_module, "fingerprint", lambda: "00000000000000ff")
    gazetteer_module.load_gazetteer(tmp_path)
    assert builds == [1, 1] and mine.exists() and not stale["old_map"].exists()


def test_a_cache_that_cannot_be_written_removes_nothing_and_errors_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gazetteer_module, "build_gazetteer", _tiny_gazetteer)
    stale = _cache_files(tmp_path, age=2 * DAY)

    def refused(obj: object, path: Path) -> None:
        raise PermissionError(13, "read-only", str(path))

    with monkeypatch.context() as m:
        m.setattr(mapfile, "dump", refused)
        assert gazetteer_module.load_gazetteer(tmp_path).name[0] == "Banjska"
    assert all(p.exists() for p in stale.values())
    # a stale name that cannot be unlinked (a folder): skipped, the rest removed
    stale["old_map"].unlink()
    stale["old_map"].mkdir()
    os.utime(stale["old_map"], (time.time() - 2 * DAY, time.time() - 2 * DAY))
    assert gazetteer_module.load_gazetteer(tmp_path).name[1] == "Zvečan"
    assert stale["old_map"].is_dir() and not stale["old_pickle"].exists()
