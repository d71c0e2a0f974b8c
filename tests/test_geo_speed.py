"""The geoparser's speed-ups (issue 17, geoparsing speed) give the answers the plain forms
gave: each structure or shortcut is compared with what it replaced."""

from __future__ import annotations

import random
import re

from newsalert.geo import Geoparser
from newsalert.geo.keyindex import _alternation


def test_a_trie_alternation_matches_exactly_its_words() -> None:
    rnd = random.Random(3)
    alphabet = "ab'‘é1-"
    for _ in range(200):
        words = {"".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 5))) for _ in range(9)}
        pattern = re.compile(_alternation(words))
        probes = {w[:i] for w in words for i in range(len(w) + 1)} | {w + "a" for w in words}
        probes |= {
            "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6))) for _ in range(40)
        }
        for probe in probes:
            assert (pattern.fullmatch(probe) is not None) == (probe in words), (words, probe)


def test_name_starts_are_those_the_flat_alternation_found(geo: Geoparser) -> None:
    index = geo.gazetteer.keys
    # the words the trie was built from, read back out of the compiled pattern's source
    # would be circular: rebuild the flat form from the same sets instead
    capitals: set[str] = set()
    others: set[str] = set()
    from newsalert.geo.keyindex import _first_word

    for key, _ in index.items():
        if key and key[0].isupper():
            capitals.add(key[0])
        elif key:
            others.add(_first_word(key))
    words = "|".join(re.escape(w) for w in sorted(others, key=len, reverse=True))
    flat = re.compile(
        rf"(?<![^\W_])(?=(?:[{''.join(re.escape(c) for c in sorted(capitals))}]|"
        rf"(?:{words})(?=[\W_]|\Z)))"
    )
    rnd = random.Random(5)
    pieces = [*sorted(others), "Paris", "the", "of", "s", "'s", "‘Abd", "al-", " ", ", ", "-", "'"]
    texts = ["Sean O 'Keefe met Louisiana 's top man", "the 1ra ‘Ali of 'A 2da 城郊 at al-Qa"]
    texts += ["".join(rnd.choice(pieces) for _ in range(30)) for _ in range(300)]
    for text in texts:
        want = [m.start() for m in flat.finditer(text)]
        assert [m.start() for m in index._starts.finditer(text)] == want, text


def test_places_of_is_each_keys_candidates_in_order(geo: Geoparser) -> None:
    g = geo.gazetteer
    step = 7  # every seventh key: all 344,000 take seconds
    for key_id in range(0, len(g.keys), step):
        assert g.places_of(key_id) == [g.key_places[i] for i in g.candidates(key_id)]
