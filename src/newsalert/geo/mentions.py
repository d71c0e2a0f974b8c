"""Find place-name mentions in an item's text and describe their context.

One Aho-Corasick pass over the title and the summary finds every gazetteer key;
only whole words are kept (no "Assad" in "ambassador"), case-sensitively (a place
name is capitalised in mixed-case text), longest match first. Each mention then
gets the context the resolver needs: the word before and after, whether it is
governed by "in/near/at", is a dateline, a speaker ("Washington said"), part of
a person's or an organisation's name ("Paris Hilton", "Washington Post").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from newsalert.geo.aliases import DIRECTION_WORDS, LOCATIVE_WORDS, NAME_SUFFIXES, SPEECH_VERBS
from newsalert.geo.gazetteer import KEY_DEMONYM, KIND_COUNTRY, Gazetteer

# "BELGRADE (Reuters) -", "KABUL, Afghanistan -", "BELGRADE, Sept 29 (Reuters) -"
DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*[A-Z][A-Za-z.\-]+(?: [A-Za-z0-9.\-]+){0,3})?"
    r"\s*(?:\([^)]{1,40}\))?\s*(?:-|--|—|–|:)\s"
)
FUNCTION_WORDS = frozenset({
    "and", "or", "but", "nor", "in", "on", "at", "to", "of", "for", "with", "from", "by",
    "after", "before", "as", "since", "until", "over", "under", "into", "during", "amid",
    "against", "about", "than", "that", "which", "who", "where", "when", "while", "if",
    "because", "though", "although", "is", "are", "was", "were", "be", "been", "has",
    "have", "had", "will", "would", "can", "could", "may", "might", "must", "should",
    "shall", "do", "does", "did", "not", "also", "still", "now", "then", "again", "too",
})
SENTENCE_END = frozenset(".!?:;\"'“‘(\n")


@dataclass(slots=True)
class Found:
    """One mention and its context (mutable while the resolver works on it)."""

    key_id: int
    text: str
    field: str  # "title" or "summary"
    start: int  # in the combined text
    end: int
    demonym: bool
    dateline: bool = False
    locative: bool = False
    speaker: bool = False
    possessive: bool = False
    sentence_start: bool = False
    in_lead: bool = False
    name_part: bool = False
    attributive: bool = False  # "US officials", "Kosovo police": an actor, not a place
    qualified_by: int = -1  # index of the mention right after ", " ("Mobile, Alabama")


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def prepare(title: str, summary: str) -> tuple[str, int, tuple[int, int] | None]:
    """Combine the fields into one text (title, newline, summary).

    An all-capitals title and a dateline are title-cased (same length, so spans
    hold) so that their place names match the mixed-case keys.
    """
    title = " ".join(title.split())
    summary = " ".join(summary.split())
    if title and not any(ch.islower() for ch in title):
        title = title.title()
    dateline = None
    m = DATELINE.match(summary)
    if m:
        start, end = m.span("place")
        summary = summary[:start] + summary[start:end].title() + summary[end:]
        dateline = (start, end)
    offset = len(title) + 1
    if dateline is not None:
        dateline = (dateline[0] + offset, dateline[1] + offset)
    return f"{title}\n{summary}", offset, dateline


def find_mentions(gazetteer: Gazetteer, title: str, summary: str) -> list[Found]:
    """Every whole-word gazetteer key in the item, longest first, with its context."""
    text, offset, dateline = prepare(title, summary)
    hits: list[tuple[int, int, int]] = []
    key_len = gazetteer.key_len
    for end, kid in gazetteer.automaton.iter(text):
        start = end - key_len[kid] + 1
        if start > 0 and _is_word_char(text[start - 1]):
            continue
        if end + 1 < len(text) and _is_word_char(text[end + 1]):
            continue
        hits.append((start, end + 1, kid))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    found: list[Found] = []
    last_end = -1
    for start, end, kid in hits:
        if start < last_end:
            continue  # inside a longer name already taken ("New York" over "York")
        last_end = end
        found.append(
            Found(
                key_id=kid,
                text=text[start:end],
                field="title" if start < offset else "summary",
                start=start,
                end=end,
                demonym=gazetteer.key_kind[kid] == KEY_DEMONYM,
                dateline=dateline is not None and dateline[0] <= start < dateline[1],
            )
        )
    _describe(gazetteer, text, offset, found)
    return found


PREV = re.compile(r"([A-Za-z][A-Za-z'\-]*)([^A-Za-z0-9]*)$")
NEXT = re.compile(r"([^A-Za-z0-9]*)([A-Za-z][A-Za-z'\-]*)")


def _describe(gazetteer: Gazetteer, text: str, offset: int, found: list[Found]) -> None:
    lead_end = _lead_end(text, offset)
    starts = {m.start for m in found}
    ends = {m.end for m in found}
    for i, m in enumerate(found):
        field_start = 0 if m.field == "title" else offset
        before = text[max(field_start, m.start - 60) : m.start]
        after = text[m.end : m.end + 60].split("\n", 1)[0]
        m.sentence_start = _starts_sentence(text, m.start, field_start)
        m.in_lead = m.field == "summary" and m.start < lead_end
        prev_word, prev_gap, prev_start = "", "", m.start
        pm = PREV.search(before)
        if pm:
            prev_word, prev_gap = pm.group(1), pm.group(2)
            prev_start = m.start - len(before) + pm.start(1)
        low = prev_word.lower()
        if low == "the" and pm:
            # "in the Gaza Strip": the word before the article decides
            pm2 = PREV.search(before[: pm.start(1)])
            low = pm2.group(1).lower() if pm2 and pm2.group(2) == " " else ""
        if low in DIRECTION_WORDS or (low in LOCATIVE_WORDS and prev_gap.strip() == ""):
            m.locative = True
        m.possessive = after.startswith(("'s", "’s"))
        nm = NEXT.match(after[2:] if m.possessive else after)
        next_gap, next_word = (nm.group(1), nm.group(2)) if nm else ("", "")
        if not m.possessive and next_gap.strip() == "" and next_word.lower() in SPEECH_VERBS:
            m.speaker = True
        elif (
            next_gap == " "
            and next_word.lower() not in FUNCTION_WORDS
            and m.end + 1 not in starts
            and not m.locative
        ):
            m.attributive = True
        if next_word in NAME_SUFFIXES and next_gap == " ":
            m.name_part = True
        # a capitalised word that is neither a common word nor a place right
        # before or after the name makes it part of a person's name
        if (
            prev_gap == " "
            and prev_word[:1].isupper()
            and prev_word.lower() not in gazetteer.lower_words
            and prev_start not in ends
            and not _starts_sentence(text, prev_start, field_start)
            and not m.demonym
        ):
            m.name_part = True
        if (
            not m.possessive
            and next_gap == " "
            and next_word[:1].isupper()
            and not next_word.isupper()
            and next_word.lower() not in gazetteer.lower_words
            and not m.demonym
        ):
            m.name_part = True
            if m.end + 1 in starts:
                found[i + 1].name_part = True  # "Jordan Henderson": both are names
        if i + 1 < len(found) and text[m.end : found[i + 1].start].strip() == ",":
            m.qualified_by = i + 1


def _starts_sentence(text: str, pos: int, field_start: int) -> bool:
    stripped = text[field_start:pos].rstrip(" \"'“‘")
    return not stripped or stripped[-1] in SENTENCE_END


def _lead_end(text: str, offset: int) -> int:
    m = re.search(r"[.!?](\s|$)", text[offset:])
    return offset + (m.end() if m else len(text) - offset)


def is_country_key(gazetteer: Gazetteer, key_id: int) -> bool:
    return any(gazetteer.kind[p] == KIND_COUNTRY for p in gazetteer.places_of(key_id))
