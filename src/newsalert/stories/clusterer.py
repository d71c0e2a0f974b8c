"""The clusterer: assigns each item of a batch to a story against an :class:`Index`.

Two steps per item. 1. **Near-duplicates** (agency copy republished, an article edited
under a new guid, the same canonical link on two feeds): a candidate found by band key
is a duplicate when the estimated Jaccard similarity of the two MinHash signatures
reaches ``duplicate_similarity``; a duplicate joins the story and never alerts.
2. **Clustering** (different reports of one incident): a TF-IDF vector of title +
summary (title words count twice, names and places weigh 1.5 times), compared by cosine
with the story's first report, for the candidate stories only: those sharing rare
terms or names within the time window. Terms many concurrent stories share ("Gaza"
during an offensive) weigh less, and a report naming another weekday than the story
matches less. At ``similarity`` or above, the item joins the best story; else it starts
a new one. ``bench/stories.py`` measures both steps on hand-labelled news and their
speed over 50,000 stored items. No I/O of its own; :class:`MemoryIndex` is the index
in memory (tests, benchmarks).
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain, filterfalse, repeat

import numpy as np

from newsalert.stories.state import (
    DUPLICATE,
    NEW,
    RELATED,
    Assignment,
    Changes,
    Hit,
    Incoming,
    Index,
    Member,
    Prepared,
    Rows,
    Settings,
    StoryState,
    _item_of,
)
from newsalert.stories.text import (
    _EMPTY,
    _TOKEN,
    Features,
    Idf,
    MinHasher,
    _first_words,
    _is_break,
    _names_of,
    _term,
    _term_key,
    _title_case,
    cosine,
    key_of,
    norm,
    packaged_idf,
    shingles_of_many,
    similarity,
    weekdays,
)

_second = operator.itemgetter(1)


@dataclass(slots=True)
class IndexMatch:
    """What pass 1 of :meth:`Clusterer.assign` found in the index for a batch, per item
    where a list: read by pass 2 (:meth:`Clusterer.join`)."""

    counts: dict[int, int]  # rows per key found
    useful: dict[int, tuple[tuple[int, int], ...]]  # band key: (item, story), a copy's sign
    key_stories: dict[int, tuple[int, ...]]  # term key: its stories
    first_dup: list[tuple[float, tuple[int, int] | None]]  # best duplicate: (Jaccard, hit)
    first_votes: list[dict[int, float]]  # candidate stories by votes
    states: dict[int, StoryState]  # every candidate story


class Clusterer:
    """Assigns items to stories against an :class:`Index`. No I/O of its own."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        idf: Idf | None = None,
        hasher: MinHasher | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.idf = idf or packaged_idf()
        self.hasher = hasher or MinHasher()

    def features(self, title: str, summary: str) -> Features:
        """The features of one text (:meth:`features_of` for many)."""
        return self.features_of([(title, summary)])[0]

    def features_of(self, texts: Sequence[tuple[str, str]]) -> list[Features]:
        """The features of (title, summary) pairs: each text in Python, the shingles of all
        of them in one numpy pass. Written for speed (a tenth of a millisecond per text
        is a tenth of the clustering): builtins over lists where they do the same."""
        s = self.settings
        known, unseen = self.idf.known.get, self.idf.max
        log, boost, min_idf, title_weight = math.log, s.name_boost, s.key_min_idf, s.title_weight
        parts = []
        lowered: list[str] = []  # the words of every text, for the shingles
        lengths: list[int] = []
        for title, summary in texts:
            # each text is scanned once; terms, names, title words and shingles share it
            title_tokens = _TOKEN.findall(title)
            body_tokens = _TOKEN.findall(summary)
            title_found = list(filterfalse(_is_break, title_tokens))
            title_lower = list(map(str.lower, title_found))
            body_lower = list(map(str.lower, filterfalse(_is_break, body_tokens)))
            title_words = [
                (t, w) for w, t in zip(title_found, map(_term, title_lower), strict=True) if t
            ]
            counts: dict[str, int] = {}  # in order of first use (title, then summary)
            for t, _ in title_words:
                counts[t] = counts.get(t, 0) + title_weight
            for t in filter(None, map(_term, body_lower)):
                counts[t] = counts.get(t, 0) + 1
            named = _names_of(body_tokens)
            if not _title_case(title_found):
                named |= _names_of(title_tokens)
            weights: dict[str, float] = {}
            rare: list[tuple[float, str]] = []  # (-idf, term), names weighing more
            rank: list[tuple[float, str]] = []
            for t, n in counts.items():
                idf = known(t, unseen)
                w = (1.0 + log(n)) * idf
                if t in named:
                    weights[t] = w * boost
                    rank.append((-idf * boost, t))
                    rare.append(rank[-1])
                else:
                    weights[t] = w
                    rank.append((-idf, t))
                    if idf >= min_idf:
                        rare.append(rank[-1])
            length = norm(weights) or 1.0
            # the rarest terms and the names, rarest first (the terms tell ties apart)
            picked = sorted(rare)[: s.max_keys]
            if len(picked) < 2:
                picked = sorted(rank)[:2]
            parts.append(
                (
                    {t: w / length for t, w in weights.items()},
                    tuple((t, -w) for w, t in picked),
                    tuple(_first_words(title_words).items()),
                    tuple(counts),
                    weekdays(f"{title}\n{summary}"),
                )
            )
            lowered += title_lower
            lowered += body_lower
            lengths.append(len(title_lower) + len(body_lower))
        return [
            Features(vector, keys, title_terms, terms, shingles, days)
            for (vector, keys, title_terms, terms, days), shingles in zip(
                parts, shingles_of_many(lowered, lengths), strict=True
            )
        ]

    def prepare(self, batch: Sequence[Incoming]) -> Prepared:
        """What :meth:`assign` computes of the batch alone, with no index: features,
        signatures and keys. Pure, so a worker does it before taking the stories lock."""
        feats = self.features_of([(x.title, x.summary) for x in batch])
        usable = [len(f.shingles) >= self.settings.min_shingles for f in feats]
        sigs = self.hasher.signatures(
            [f.shingles if ok else _EMPTY for f, ok in zip(feats, usable, strict=True)]
        )
        bands = self.hasher.band_keys(sigs)
        return Prepared(
            batch=tuple(batch),
            feats=feats,
            usable=usable,
            sigs=sigs,
            band_keys=[
                tuple(row) if ok else () for row, ok in zip(bands.tolist(), usable, strict=True)
            ],
            link_keys=[key_of("l", x.link) if x.link else None for x in batch],
            term_keys=[tuple((_term_key(t), t, w) for t, w in f.keys) for f in feats],
        )

    def assign(
        self, batch: Sequence[Incoming] | Prepared, index: Index
    ) -> tuple[list[Assignment], Changes]:
        """Assign every item of ``batch`` (or of a batch :meth:`prepare` took), in order,
        to a story; return what to store.

        Two passes. The first compares every item with what the index holds (one lookup
        of all keys, one read of the signatures and of the candidate stories:
        :meth:`match_index`); the second goes through the batch in order, adding what
        earlier items of the batch made (:meth:`join`).
        """
        p = batch if isinstance(batch, Prepared) else self.prepare(batch)
        if not p.batch:
            return [], Changes()
        return self.join(p, self.match_index(p, index))

    def match_index(self, p: Prepared, index: Index) -> IndexMatch:
        """Pass 1 of :meth:`assign`: every item of the batch against the index alone."""
        s = self.settings
        batch = p.batch
        n = len(batch)
        sigs = p.sigs
        band_keys, link_keys, term_keys = p.band_keys, p.link_keys, p.term_keys

        wanted: set[int] = set()
        for i in range(n):
            wanted.update(band_keys[i])
            wanted.update(k for k, _, _ in term_keys[i])
            if link_keys[i] is not None:
                wanted.add(link_keys[i])  # type: ignore[arg-type]
        cap = s.max_key_rows
        hits = index.lookup(sorted(wanted), min(x.time for x in batch) - s.window, cap)
        # what the passes read of the rows, taken at once as numbers and tuples of them (the
        # collector skips those), and the lookup's thousands of objects let go
        counts = {k: len(rows) for k, rows in hits.items()}  # rows per key
        # A band key whose rows span several stories is common text (boilerplate), no sign
        # of a copy; one whose rows are all of one or two stories (a much-copied wire
        # story) is: its first rows are enough
        useful: dict[int, tuple[tuple[int, int], ...]] = {}  # band key: (item, story)
        for k in dict.fromkeys(chain.from_iterable(band_keys)):
            rows = hits.get(k)
            if rows and len(rows.story_set()) <= 2:
                useful[k] = tuple(zip(rows.items[:4], rows.stories[:4], strict=True))
        # each term key's stories, once per key: in the order of a set of them made in
        # row order (the votes are summed in it)
        key_stories = {
            k: tuple(hits[k].story_set())
            for k in dict.fromkeys(k for keys in term_keys for k, _, _ in keys)
            if k in hits
        }
        first_link = {
            k: (rows.items[0], rows.stories[0])
            for k in link_keys
            if k is not None and (rows := hits.get(k))
        }
        del hits

        # pass 1: against the index
        def band_hits(i: int) -> dict[int, tuple[int, int]]:
            found: dict[int, tuple[int, int]] = {}  # item: (item, story)
            for k in band_keys[i]:
                for h in useful.get(k, ()):
                    found.setdefault(h[0], h)
            return found

        candidates = [band_hits(i) for i in range(n)]
        known_sigs = index.signatures(sorted({c for found in candidates for c in found}))
        # every item's candidates (but for a link found) compared in one numpy call, not one
        # per item
        compared = [
            [c for c in candidates[i] if c in known_sigs] if link_keys[i] not in first_link else []
            for i in range(n)
        ]
        flat = [c for ids in compared for c in ids]
        all_sims: list[float] = []
        if flat:
            owner = np.repeat(np.arange(n), [len(ids) for ids in compared])
            same = np.stack([known_sigs[c] for c in flat]) == sigs[owner]
            all_sims = (np.count_nonzero(same, axis=1) / sigs.shape[1]).tolist()
        first_dup: list[tuple[float, tuple[int, int] | None]] = []
        first_votes: list[dict[int, float]] = []
        needed: set[int] = set()
        start = 0
        for i in range(n):
            best, best_hit = 0.0, None
            if link_keys[i] in first_link:
                best, best_hit = 1.0, first_link[link_keys[i]]  # type: ignore[index]
            elif ids := compared[i]:
                sims = all_sims[start : start + len(ids)]
                start += len(ids)
                top = max(range(len(ids)), key=sims.__getitem__)  # the first best, as argmax
                best, best_hit = sims[top], candidates[i][ids[top]]
            first_dup.append((best, best_hit))
            if best_hit is not None and best >= s.duplicate_similarity:
                needed.add(best_hit[1])
                first_votes.append({})
                continue
            votes: dict[int, float] = defaultdict(float)
            for k, _, w in term_keys[i]:
                sids = key_stories.get(k, ())
                if len(sids) <= s.max_key_stories:  # a key of hundreds of stories picks none
                    for sid in sids:
                        votes[sid] += w
            # (what heapq.nlargest gives, ties in the same order; sorting these few is faster)
            top_votes = sorted(votes.items(), key=_second, reverse=True)[: s.max_candidates]
            top_votes = [kv for kv in top_votes if kv[1] >= s.min_votes]
            first_votes.append(dict(top_votes))
            needed.update(sid for sid, _ in top_votes)
        states = index.stories(sorted(needed))
        return IndexMatch(counts, useful, key_stories, first_dup, first_votes, states)

    def join(self, p: Prepared, m: IndexMatch) -> tuple[list[Assignment], Changes]:
        """Pass 2 of :meth:`assign`: the batch in order, each item joining the story the
        index match found or one an earlier item of the batch made (or a new one)."""
        s = self.settings
        batch = p.batch
        feats, usable, sigs = p.feats, p.usable, p.sigs
        band_keys, link_keys, term_keys = p.band_keys, p.link_keys, p.term_keys
        counts, useful, key_stories = m.counts, m.useful, m.key_stories
        first_dup, first_votes, states = m.first_dup, m.first_votes, m.states
        cap = s.max_key_rows

        # pass 2: in order, with what earlier items of this batch made
        # tuples, not lists and sets: a batch makes thousands, and tuples of numbers are
        # soon no work for the garbage collector (a key rarely gets a second one)
        local_items: dict[int, tuple[tuple[int, int], ...]] = {}  # band/link key: (item, story)
        local_terms: dict[int, tuple[int, ...]] = {}  # term key: stories, in the order seen
        local_sigs: dict[int, np.ndarray] = {}
        changes = Changes()
        out: list[Assignment] = []
        for i, x in enumerate(batch):
            f = feats[i]
            kind, story, sim, dup_of = NEW, None, 1.0, None
            # 1. near-duplicate: the same canonical link, or a near-identical text
            best, dup = first_dup[i]
            if link_keys[i] is not None and link_keys[i] in local_items:
                best, dup = 1.0, local_items[link_keys[i]][0]  # type: ignore[index]
            elif best < 1.0 and local_items:
                seen = set()
                for k in band_keys[i]:
                    if k in counts and k not in useful:
                        continue
                    for item_id, sid in local_items.get(k, ()):
                        if item_id not in seen:
                            seen.add(item_id)
                            j = similarity(sigs[i], local_sigs[item_id])
                            if j > best:
                                best, dup = j, (item_id, sid)
            if dup is not None and best >= s.duplicate_similarity:
                found = states.get(dup[1])
                if found is not None:
                    kind, story, sim, dup_of = DUPLICATE, found, best, dup[0]
            # 2. the same incident: cosine with candidate stories sharing rare terms
            if story is None:
                votes = dict(first_votes[i])
                spread: dict[str, int] = {}
                for k, term, w in term_keys[i]:
                    mine = local_terms.get(k, ())
                    spread[term] = len(key_stories.get(k, ())) + len(mine)
                    # in the order of a set of them, as the votes were always summed
                    for sid in set(mine) if len(mine) > 1 else mine:
                        votes[sid] = votes.get(sid, 0.0) + w
                vector = f.vector
                if s.spread_damping and any(c > 1 for c in spread.values()):
                    # a term shared by many concurrent stories ("Gaza" during an offensive)
                    # does not tell one incident from another: weigh it down
                    vector = dict(vector)
                    for term, c in spread.items():
                        if c > 1 and term in vector:
                            vector[term] /= 1.0 + s.spread_damping * math.log(c)
                    length = norm(vector) or 1.0
                    vector = {t: w / length for t, w in vector.items()}
                best, best_story = 0.0, None
                ranked = sorted(votes.items(), key=_second, reverse=True)[: s.max_candidates]
                ranked = [kv for kv in ranked if kv[1] >= s.min_votes]
                for sid, _ in ranked:
                    state = states.get(sid)
                    if state is None:
                        continue
                    c = cosine(vector, state.centroid, state.centroid_norm)
                    if f.days and state.days and not (f.days & state.days):
                        c *= s.other_day_factor
                    if c > best:
                        best, best_story = c, state
                if best_story is not None and best >= s.similarity:
                    kind, story, sim = RELATED, best_story, best
            new_terms: tuple[str, ...] = ()
            if story is None:
                story = StoryState(
                    id=x.item_id,
                    title=x.title or x.summary[:200],
                    first_seen=x.time,
                    last_seen=x.time,
                    item_count=0,
                    sources=[],
                    category=x.category,
                    peak_score=x.score,
                    centroid={},
                    vocabulary=set(),
                    created=True,
                )
                states[story.id] = story
            elif kind == RELATED:
                vocabulary = story.words()
                new_terms = tuple(w for t, w in f.title_terms if t not in vocabulary)
            # join
            story.item_count += 1
            story.last_seen = max(story.last_seen, x.time)
            if x.feed not in story.sources:
                story.sources.append(x.feed)
            if x.score > story.peak_score or story.item_count == 1:
                story.peak_score = x.score
                if x.category != "none" or story.category == "none":
                    story.category = x.category
            if kind != DUPLICATE:
                if story.members < s.centroid_items:
                    story.add_vector(f.vector, s.centroid_terms)
                    story.members += 1
                if len(vocabulary := story.words()) < s.vocabulary_terms:
                    vocabulary.update(f.terms)
                if f.days:
                    story.days |= f.days
            changes.stories[story.id] = story
            signature = sigs[i] if usable[i] else None
            changes.members.append(
                Member(
                    x.item_id,
                    story.id,
                    kind,
                    dup_of,
                    sim,
                    x.feed,
                    x.time,
                    signature.tobytes() if signature is not None else None,
                )
            )
            pair = (x.item_id, story.id)
            # (key, item) is unique in the store; a key already in ``cap`` rows gets no
            # more: it is read ``cap`` rows at a time, newest first
            mine_keys = [k for k in dict.fromkeys(band_keys[i]) if counts.get(k, 0) < cap]
            if link_keys[i] is not None:
                mine_keys.append(link_keys[i])  # type: ignore[arg-type]
            for k in mine_keys:
                local_items[k] = (*local_items.get(k, ()), pair)
            if kind != DUPLICATE:
                # one row per term and story is enough to find the story: skip the others
                for k, _, _ in term_keys[i]:
                    owners = local_terms.get(k, ())
                    if story.id in owners:
                        continue
                    if (
                        story.id not in key_stories.get(k, ())
                        and len(key_stories.get(k, ())) <= s.max_key_stories
                        and k not in mine_keys
                    ):
                        mine_keys.append(k)
                    local_terms[k] = (*owners, story.id)
            seen_at = int(x.time.timestamp())
            changes.keys.extend(
                zip(mine_keys, repeat(x.item_id), repeat(story.id), repeat(seen_at))
            )
            if signature is not None:
                local_sigs[x.item_id] = signature
            out.append(
                Assignment(
                    item_id=x.item_id,
                    story_id=story.id,
                    kind=kind,
                    similarity=sim,
                    duplicate_of=dup_of,
                    story_title=story.title,
                    sources=tuple(story.sources),
                    item_count=story.item_count,
                    new_terms=new_terms,
                )
            )
        return out, changes


class MemoryIndex:
    """An in-memory :class:`Index` (tests and benchmarks); ``apply`` stores a batch."""

    def __init__(self) -> None:
        self.keys: dict[int, list[Hit]] = defaultdict(list)
        self.sigs: dict[int, np.ndarray] = {}
        self.states: dict[int, StoryState] = {}

    def lookup(self, keys: Sequence[int], since: datetime, per_key: int = 64) -> dict[int, Rows]:
        """As :meth:`StoryStore.lookup`: the rows of each key seen since ``since`` in item
        order, or the newest ``per_key`` of them, newest first, when there are more."""
        oldest = since.timestamp()
        out = {}
        for k in keys:
            found = sorted((h for h in self.keys.get(k, ()) if h.seen_at >= oldest), key=_item_of)
            if found:
                item_ids = [h.item_id for h in found]
                story_ids = [h.story_id for h in found]
                rows = Rows(k, len(found), item_ids, story_ids, [h.seen_at for h in found])
                out[k] = rows.newest(per_key)
        return out

    def signatures(self, item_ids: Sequence[int]) -> dict[int, np.ndarray]:
        return {i: self.sigs[i] for i in item_ids if i in self.sigs}

    def stories(self, story_ids: Sequence[int]) -> dict[int, StoryState]:
        # copies: the clusterer mutates what it is given, as it would rows read from a store
        return {i: _copy_state(self.states[i]) for i in story_ids if i in self.states}

    def apply(self, changes: Changes) -> None:
        for k, item_id, story_id, t in changes.keys:
            self.keys[k].append(Hit(k, item_id, story_id, t))
        for m in changes.members:
            if m.signature is not None:
                self.sigs[m.item_id] = np.frombuffer(m.signature, dtype=np.uint32)
        for sid, state in changes.stories.items():
            self.states[sid] = _copy_state(state)
            self.states[sid].created = False


def _copy_state(state: StoryState) -> StoryState:
    return replace(
        state,
        sources=list(state.sources),
        centroid=dict(state.centroid),
        vocabulary=set(state.words()),
    )
