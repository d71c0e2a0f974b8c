"""The geoparser's speed-ups (issue 17, geoparsing speed) give the answers the plain forms
gave: each structure or shortcut is compared with what it replaced."""

from __future__ import annotations

import random
import re

import pytest

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
        got = [m.span(m.lastindex) for m in index._starts.finditer(text)]
        assert [start for start, _ in got] == want, text
        # each with its first word's end: the first boundary after the start, or the end
        for start, end in got:
            boundary = re.compile(r"[\W_]").search(text, start + 1)
            assert end == (boundary.start() if boundary else len(text)), (text, start)


def test_places_of_is_each_keys_candidates_in_order(geo: Geoparser) -> None:
    g = geo.gazetteer
    step = 7  # every seventh key: all 344,000 take seconds
    for key_id in range(0, len(g.keys), step):
        assert g.places_of(key_id) == [g.key_places[i] for i in g.candidates(key_id)]


def _old_score(  # resolve._score as it was before the facts were split out (a copy)
    g, p, context_countries, context_admin1, feed_country, qualifier, qualifier_admin1, text=""
):  # type: ignore[no-untyped-def]
    import math

    from newsalert.geo import resolve as r
    from newsalert.geo.gazetteer import KIND_ADMIN1, KIND_COUNTRY, KIND_PLACE, fold

    kind = g.kind[p]
    score = r.POPULATION_WEIGHT * math.log10(max(g.population[p], r.UNKNOWN_POPULATION))
    if kind == KIND_COUNTRY:
        score += r.COUNTRY_PRIOR
    elif kind == KIND_ADMIN1:
        score += r.ADMIN1_PRIOR
    if p in g.capital:
        score += r.CAPITAL_PRIOR
    if text and (g.name[p] == text or fold(g.name[p]) == text):
        score += r.PRIMARY_NAME
    cc = g.country[p]
    score += context_countries.get(cc, 0.0)
    if kind == KIND_PLACE and g.admin1_place[p] in context_admin1:
        score += r.CONTEXT_ADMIN1
    if feed_country and cc == feed_country:
        score += r.FEED_COUNTRY
    if (
        qualifier is not None
        and kind != KIND_COUNTRY
        and (cc in qualifier or (qualifier_admin1 and g.admin1_place[p] in qualifier_admin1))
    ):
        score += r.QUALIFIED
    return score


def test_a_candidates_facts_give_the_score_worked_out_whole(geo: Geoparser) -> None:
    from newsalert.geo.resolve import _context_score, _facts

    g = geo.gazetteer
    rnd = random.Random(11)
    names = ["Georgia", "Washington", "Mitrovica", "Jordan", "Paris", "Gaza", "Kosovo", "Perth"]
    for name in names:
        key_id = g.keys.exact([name])[0]
        places = g.places_of(key_id)
        regions = [g.admin1_place[p] for p in places if g.admin1_place[p] >= 0]
        for _ in range(30):
            p = rnd.choice(places)
            text = rnd.choice([name, "", name.upper(), g.name[p]])
            countries = {g.country[q]: rnd.choice([1.5, 3.0]) for q in rnd.sample(places, 2)}
            admin1 = set(rnd.sample(regions, min(2, len(regions)))) | rnd.choice([set(), {p}])
            feed = rnd.choice([None, g.country[p], "XK"])
            qualifier = rnd.choice([None, {g.country[p]}, {"US"}])
            qa = rnd.choice([None, set(), {g.admin1_place[p]}])
            got = _context_score(_facts(g, p, text), countries, admin1, p, feed, qualifier, qa)
            want = _old_score(g, p, countries, admin1 - {p}, feed, qualifier, qa, text)
            assert got == want, (name, p, text)


def test_the_word_before_a_name_is_the_one_prev_found_searching_everywhere() -> None:
    from newsalert.geo.mentions import PREV, _prev_word

    rnd = random.Random(2)
    pieces = ["word", "O'Neil", "co-op", "U.S.", "2020", "_x", "é", " ", ", ", "'", "-", "(", ")"]
    pieces += ["“", "’s", ". ", "9", "—", "the", "A", "‘"]
    texts = ["", " ", "the", "in the ", "U.S. ", "Smith' ", "x 's ", "2020 ", "al-Qaida's ", "—"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 14))) for _ in range(3000)]
    for text in texts:
        want, got = PREV.search(text), _prev_word(text)
        assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups()))


def test_first_char_gates_keep_every_match() -> None:
    from newsalert.geo import mentions
    from newsalert.geo.fastre import first_char_gate

    gated = {
        name: p
        for name, p in vars(mentions).items()
        if isinstance(p, re.Pattern) and p.pattern.startswith(r"\b(?=[")
    }
    assert {"ADDRESSED_BEFORE", "INCIDENT_BEFORE", "TITLE_BEFORE"} <= set(gated)
    words = ["threatens", "warned", "support for", "hurls abuse at", "war of words against"]
    words += ["than", "talks with", "living in", "attack on", "in the town", "President Bush"]
    words += ["King Abdullah of", "border with", "aid to", "withdrew troops from", "possible"]
    words += ["ſlams", "KING", "Threatens", "WARNS", "the", "a", "x-", "'", " ", ", ", "."]
    rnd = random.Random(4)
    texts = [
        " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 9))) + " " for _ in range(800)
    ]
    for name, pattern in gated.items():
        # the pattern as written: the gate taken out again
        plain = re.compile(
            r"\b" + re.sub(r"^\\b\(\?=\[[^\]]*\]\)", "", pattern.pattern), pattern.flags
        )
        again = first_char_gate(plain)
        assert (again.pattern, again.flags) == (pattern.pattern, plain.flags), name
        for text in texts:
            for probe in (text, text.upper(), text.title()):
                a, b = plain.search(probe), pattern.search(probe)
                assert (a and a.span()) == (b and b.span()), (name, probe)


def test_a_gate_is_left_out_where_the_first_characters_cannot_be_read() -> None:
    from newsalert.geo.fastre import first_char_gate

    for source in [r"\b(?:a|b?c)x", r"\b(?-i:a)x", r"\b[^a]x", r"\b\w+x", r"\bx*y", r"ab"]:
        pattern = re.compile(source, re.I)
        assert first_char_gate(pattern) is pattern, source
    assert first_char_gate(re.compile(r"\b(?:ab|c+d)")).pattern == r"\b(?=[ac])(?:ab|c+d)"


def test_without_the_re_package_private_parser_patterns_stay_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsalert.geo import fastre

    monkeypatch.setattr(fastre, "_parser", None)
    pattern = re.compile(r"\b(?:ab|c+d)")
    assert fastre.first_char_gate(pattern) is pattern


def test_a_gate_folds_case_as_its_pattern_does() -> None:
    from newsalert.geo.fastre import first_char_gate

    pattern = re.compile(r"\b(?:slams|kelvin)\s$", re.I)
    gated = first_char_gate(pattern)
    assert gated is not pattern and gated.flags == pattern.flags
    for probe in ["SLAMS ", "ſlams ", "Kelvin ", "\u212aelvin ", "x Slams "]:  # ſ, K: s, k
        assert pattern.search(probe) is not None
        assert gated.search(probe).span() == pattern.search(probe).span(), probe


def test_term_columns_one_by_one_or_batched_are_the_lookups_columns() -> None:
    import numpy as np

    from newsalert.termindex import TermIndex

    def old_lookup(index: TermIndex, terms: list[str]) -> list[int]:  # before (a copy)
        wanted = index._hash(terms)
        pos = np.searchsorted(index._hashes, wanted)
        pos[pos == index.size] = 0
        found = index._hashes[pos] == wanted
        return np.where(found, index._cols[pos], -1).astype(np.int32, copy=False).tolist()

    vocabulary = [f"term{k}" for k in range(300)] + ["Paris", "New York", "é", ""]
    rnd = random.Random(8)
    for salt in (0, 1):
        index = TermIndex({t: j for j, t in enumerate(vocabulary)})
        if salt:  # as an index that met two terms sharing a hash is built
            index._salt = 1
            hashes = index._hash(vocabulary)
            order = np.argsort(hashes, kind="stable")
            index._hashes, index._cols = hashes[order], order.astype(np.int32)
        for size in range(7):
            for _ in range(60):
                terms = [rnd.choice([*vocabulary, "nope", "Pari", "term9999"]) for _ in range(size)]
                want = [vocabulary.index(t) if t in vocabulary else -1 for t in terms]
                assert old_lookup(index, terms) == want
                assert index.lookup(terms).tolist() == want and index.columns(terms) == want
    empty = TermIndex({})
    assert empty.columns(["a"]) == [-1] and empty.columns([]) == []


def test_fold_returns_ascii_as_the_decomposition_would() -> None:
    import unicodedata

    from newsalert.geo.gazetteer import fold

    for text in ["".join(map(chr, range(128))), "Zvečan", "São Paulo", "ﬁ", "Ⅻ", "Köln", ""]:
        decomposed = unicodedata.normalize("NFKD", text)
        assert fold(text) == "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def test_the_lead_ends_where_a_search_of_the_summary_alone_ended() -> None:
    from newsalert.geo.mentions import _lead_end

    def old(text: str, offset: int) -> int:  # before (a copy): searched a copy of the summary
        m = re.search(r"[.!?](\s|$)", text[offset:])
        return offset + (m.end() if m else len(text) - offset)

    rnd = random.Random(6)
    pieces = ["Word", " ", ".", "!", "?", "U.S.", "a", "\u00a0", "3.5"]
    for _ in range(2000):
        title = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 6)))
        summary = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        text = f"{title}\n{summary}"
        assert _lead_end(text, len(title) + 1) == old(text, len(title) + 1), text


def test_packed_strings_read_as_the_list_they_replace() -> None:
    import pytest

    from newsalert.geo.columns import PackedStrings

    texts = ["Zvečan", "", "Banjska", "São Paulo", "\udc80x"]
    column = PackedStrings(texts)
    for i in range(-len(texts), len(texts)):
        assert column[i] == texts[i]
    for i in (len(texts), -len(texts) - 1):
        with pytest.raises(IndexError):
            column[i]
    assert column[1:4] == texts[1:4]


def test_the_rerankers_score_is_the_sum_it_was() -> None:
    from newsalert.geo.rerank import FEATURES, Reranker, load_reranker

    packaged = load_reranker()
    rnd = random.Random(9)
    made = Reranker(tuple(rnd.choice([0.0, rnd.uniform(-3, 3)]) for _ in FEATURES), -0.7, 0.2)
    for reranker in (packaged, made):
        for _ in range(500):
            features = [rnd.choice([0.0, 1.0, -0.0, rnd.uniform(-5, 5)]) for _ in FEATURES]
            # before (a copy): a generator over the weighted pairs
            want = reranker.intercept + sum(c * features[i] for i, c in reranker._weighted)
            assert reranker.score(features) == want


def test_substring_tests_before_the_guards_lose_no_match() -> None:
    from newsalert.geo.mentions import (
        AFTER_COMMA,
        COUNTY_BEFORE,
        DATE_WORDS,
        QUOTED_WORD_END,
        UNKNOWN_PLACE_BEFORE,
        _ends_with_with,
        _unknown_place_before,
    )

    rnd = random.Random(12)
    pieces = ["County", "Co.", "co", "in", "the", "Parliament", "Square", ",", ", ", " ", "\n"]
    pieces += ["with", "WITH", "With", "İ", "'enemy'", "talks", "Σ", "wİth", "x"]
    for _ in range(5000):
        before = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 9)))
        assert (("Co" in before) and bool(COUNTY_BEFORE.search(before))) == bool(
            COUNTY_BEFORE.search(before)
        )
        assert (("," in before) and bool(AFTER_COMMA.search(before))) == bool(
            AFTER_COMMA.search(before)
        )
        um = UNKNOWN_PLACE_BEFORE.search(before)  # _unknown_place_before before (a copy)
        was = bool(um) and not any(w.rstrip(".,") in DATE_WORDS for w in um.group(0).split()[1:])
        assert _unknown_place_before(before) == was, before
        old = QUOTED_WORD_END.sub("", before.rstrip()).lower().endswith(("with", "with the"))
        assert _ends_with_with(before) == old, before


def _old_known_dateline(g, best, ps, feed_country, text):  # type: ignore[no-untyped-def]
    # resolve._known_dateline as it was before the facts were split out (a copy)
    from newsalert.geo import resolve as r
    from newsalert.geo.gazetteer import KIND_PLACE, fold

    known = max(ps, key=lambda p: _old_score(g, p, {}, set(), feed_country, None, None, text))
    if (
        g.kind[known] == KIND_PLACE
        and text in (g.name[known], fold(g.name[known]))
        and g.population[known] >= r.KNOWN_DATELINE_MIN_POP
        and g.population[known] >= r.KNOWN_DATELINE_RATIO * max(g.population[best], 1)
    ):
        return known
    return best


def test_a_known_dateline_from_worked_out_facts_is_the_one_scored_whole(geo: Geoparser) -> None:
    from newsalert.geo.resolve import _facts, _known_dateline

    g = geo.gazetteer
    changed = 0
    for name in ["Geneva", "Victoria", "Paris", "Perth", "Washington", "Mitrovica", "Tripoli"]:
        places = g.places_of(g.keys.exact([name])[0])
        facts = {p: _facts(g, p, name) for p in places}
        for best in places[:20]:
            for feed in (None, "US", "CA", g.country[best]):
                want = _old_known_dateline(g, best, places, feed, name)
                assert _known_dateline(g, best, places, feed, name, facts) == want
                changed += want != best
    assert changed  # some of these datelines are taken as the known city


def test_datelines_looked_for_only_where_their_marks_are_found_alike() -> None:
    from newsalert.geo.mentions import (
        AGENCY_DATELINE,
        MID_DATELINE,
        _agency_dateline,
        _mid_dateline,
    )

    rnd = random.Random(13)
    pieces = ["BAGHDAD", "NEW YORK", "(Reuters)", "(AP)", " ", ". ", "-", " - ", "--", "—", "–"]
    pieces += ["Iraq", ", ", "said", "Sept 29", "(", ")", "! ", "x"]
    for _ in range(5000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        for fast, pattern in ((_agency_dateline, AGENCY_DATELINE), (_mid_dateline, MID_DATELINE)):
            got, want = fast(text), pattern.search(text)
            assert (got and got.span("place")) == (want and want.span("place")), text


def test_rerank_features_of_a_country_read_only_as_another_reading(geo: Geoparser) -> None:
    from pathlib import Path

    from newsalert.geo.gazetteer import KIND_PLACE
    from newsalert.geo.mentions import find_mentions
    from newsalert.geo.rerank import FEATURES, _pop, candidates
    from newsalert.geo.resolve import choose_event, resolve

    g = geo.gazetteer
    rows = Path(__file__).parent.joinpath("data", "headlines.tsv").read_text("utf-8").splitlines()
    texts = [r.split("\t")[1] for r in rows if r.startswith("en\t")]
    texts += ["Jordan said Georgia and Paris met in Perth", "Troops in Tripoli and Victoria"]
    at = {name: FEATURES.index(name) for name in FEATURES}
    alt_seen = 0
    for text in texts:
        resolved = resolve(g, find_mentions(g, text, ""), None)
        if not resolved:
            continue
        for c in candidates(g, resolved, choose_event(g, resolved)):
            own = [r for r in resolved if g.country[r.place] == c.country]
            alt_seen += not own
            # the generators the features were written with, over the country's own readings
            want = {
                "population": max((_pop(g, r.place) for r in own), default=0.0),
                "capital": float(any(r.place in g.capital for r in own)),
                "in_title": float(any(r.mention.field == "title" for r in own)),
                "in_lead": float(any(r.mention.in_lead for r in own)),
                "named_town": float(any(g.kind[r.place] == KIND_PLACE for r in own)),
            }
            for name, value in want.items():
                assert c.features[at[name]] == value, (text, c.country, name)
    assert alt_seen > 0
