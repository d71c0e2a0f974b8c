"""The geoparser's public face: where did an item's event happen, offline.

``load_geoparser(cache_dir, rerank)`` builds or loads the gazetteer (see
:mod:`newsalert.geo.gazetteer`) and, when ``rerank`` is on (the config's ``geo.rerank``;
default ``RERANK``), the packaged weights of the learned country re-ranker
(:mod:`newsalert.geo.rerank`); ``shared_geoparser(cache_dir, rerank)`` is the one
process-wide cache (``functools.cache``), so a worker loads both once before it forks and
its children share the pages.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from newsalert.cachedir import default_cache_dir
from newsalert.geo.gazetteer import (
    KIND_ADMIN1,
    KIND_COUNTRY,
    KIND_PLACE,
    Gazetteer,
    load_gazetteer,
)
from newsalert.geo.mentions import find_mentions
from newsalert.geo.model import GeoResult, Location, Mention
from newsalert.geo.rerank import Reranker, load_reranker
from newsalert.geo.resolve import choose_event, resolve
from newsalert.models import is_english

PRECISION = {KIND_COUNTRY: "country", KIND_ADMIN1: "admin1"}
# Whether load_geoparser adds the learned country re-ranker (geo_rerank.json) to the hand
# rules. Decided by the standing rule in bench/RESULTS.md: the unseen parts pooled (each
# measured once) decide, and each round's decision and figures are recorded there.
# False restores the rules alone.
RERANK = True
# The operator's switch is the config's ``geo.rerank`` (a test keeps its default equal to
# RERANK); RERANK is the default of the callers that pass none (the benches).


class Geoparser:
    """Finds the places an item names and the one where its event happened."""

    def __init__(self, gazetteer: Gazetteer, reranker: Reranker | None = None) -> None:
        self.gazetteer = gazetteer
        # a learned second opinion on the country (None: the hand rules alone)
        self.reranker = reranker

    def location(self, place: int) -> Location:
        g = self.gazetteer
        kind = g.kind[place]
        return Location(
            place=g.name[place],
            country=g.country[place],
            admin1=g.admin1[place],
            lat=g.lat[place],
            lon=g.lon[place],
            # a region known only by name carries its country's point: say so
            precision="country" if g.coarse[place] else PRECISION.get(kind, "place"),  # type: ignore[arg-type]
        )

    def locate(
        self,
        title: str | None,
        summary: str | None,
        link: str | None = None,
        feed_country: str | None = None,
        language: str | None = None,
    ) -> GeoResult:
        """Locate one item. ``feed_country`` (ISO alpha-2) breaks ties toward home.

        ``language`` is the item's (``newsalert.language``; None: English). The
        guards read English (its common words, "in/at", capitalised names): an item
        in another language is read without them, and keeps only the places its
        language can name (see ``resolve.foreign_guard``).

        ``link`` is accepted for the callers' convenience and not used yet:
        URL paths name sections more often than places.
        """
        del link
        g = self.gazetteer
        english = is_english(language)
        found = find_mentions(
            g, title or "", summary or "", english=english, language=None if english else language
        )
        resolved = resolve(
            g, found, (feed_country or "").upper() or None, None if english else language
        )
        choice = choose_event(g, resolved)
        if self.reranker is not None:
            choice = self.reranker.choose(g, resolved, choice)
        seen: dict[int, None] = {}
        for r in resolved:
            if not r.mention.demonym:
                seen.setdefault(r.place, None)
        mentions = tuple(
            Mention(r.mention.text, r.mention.field, r.mention.start, r.mention.end)
            for r in resolved
        )
        # each place's Location made once: the event's place is most often one of them
        places = {p: self.location(p) for p in seen}
        where = None
        if choice.place is not None:
            where = places.get(choice.place) or self.location(choice.place)
        if where is not None and choice.across:
            where = dataclasses.replace(where, across=choice.across)
        return GeoResult(
            where=where,
            places=tuple(places.values()),
            why=choice.why,
            mentions=mentions,
        )

    def country_at(self, lat: float, lon: float) -> str | None:
        """The country of the populated place nearest to a point (a zone's centre)."""
        import numpy as np

        g = self.gazetteer
        lats = np.frombuffer(g.lat, dtype=np.float64)
        lons = np.frombuffer(g.lon, dtype=np.float64)
        places = np.frombuffer(bytes(g.kind), dtype=np.uint8) == KIND_PLACE
        # equirectangular distance is enough to rank neighbours
        d = (lats - lat) ** 2 + ((lons - lon) * np.cos(np.radians(lat))) ** 2
        d[~places] = np.inf
        best = int(np.argmin(d))
        return g.country[best] if np.isfinite(d[best]) else None

    def locate_many(self, items: Iterable[Sequence[str | None]]) -> list[GeoResult]:
        """Locate ``(title, summary, link, feed_country[, language])`` tuples in order."""
        return [self.locate(*item) for item in items]


def load_geoparser(cache_dir: Path | None = None, rerank: bool | None = None) -> Geoparser:
    """A geoparser over the gazetteer cached in ``cache_dir`` (built on first use).

    ``rerank`` (default ``RERANK``) adds the packaged country re-ranker to the rules;
    its weights missing or unreadable raise ``GeoDataError`` (before the gazetteer's
    load, which may take a build), never a silent fall-back to the rules alone.
    """
    return _assemble(
        RERANK if rerank is None else rerank,
        lambda: load_gazetteer(cache_dir if cache_dir is not None else default_cache_dir()),
    )


def _assemble(rerank: bool, gazetteer: Callable[[], Gazetteer]) -> Geoparser:
    # the re-ranker's weights first: a missing file fails before a gazetteer build
    reranker = load_reranker() if rerank else None
    return Geoparser(gazetteer(), reranker)


def shared_geoparser(cache_dir: Path | None = None, rerank: bool | None = None) -> Geoparser:
    """The process-wide geoparser (``rerank`` as in ``load_geoparser``): load it before
    forking workers. Both settings share one gazetteer: a reload of the config that turns
    the re-ranker off or on loads no second copy."""
    return _shared(cache_dir, RERANK if rerank is None else rerank)


@functools.cache
def _shared(cache_dir: Path | None, rerank: bool) -> Geoparser:
    return _assemble(rerank, lambda: _shared_gazetteer(cache_dir))


@functools.cache
def _shared_gazetteer(cache_dir: Path | None) -> Gazetteer:
    return load_gazetteer(cache_dir if cache_dir is not None else default_cache_dir())
