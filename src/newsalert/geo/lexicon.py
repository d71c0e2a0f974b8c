"""Measure which place names are mostly common words or people's names in news text.

GeoNames has places called "Police", "March", "Reading", "Jordan" and "Hilton". A
hand list of such words would only ever hold the ones someone thought of, so the
guards are measured on a corpus of news text instead and shipped as
``newsalert/data/geo_guards.json``:

- ``common``: one-word place names whose lowercase form is at least a quarter as
  frequent in the corpus as the capitalised form in mid-sentence ("police",
  "council", "reading"),
  plus month and weekday names (from :mod:`calendar`).
- ``person``: one-word place names found mostly in people's names: after a title
  ("President", "Mr") or a first name, or before a surname ("Paris Hilton").
- ``lower``: words seen in lowercase at least ``LOWER_MIN`` times, so a
  capitalised one next to a place ("Kosovo Police") is not read as a name.

Regenerate (the corpus is the project's labelled training news, not its
evaluation sets)::

    python -m newsalert.geo.lexicon ../shared/data/train.jsonl \\
        ../shared/data/stream_train.jsonl ../shared/data/contrast.jsonl \\
        > src/newsalert/data/geo_guards.json
"""

from __future__ import annotations

import calendar
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable

TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*[A-Za-z]|[A-Za-z]")
TITLES = frozenset(
    {
        "Mr",
        "Mrs",
        "Ms",
        "Miss",
        "Dr",
        "President",
        "Senator",
        "Sen",
        "Gov",
        "Governor",
        "Rep",
        "Judge",
        "Coach",
        "Minister",
        "Secretary",
        "General",
        "Gen",
        "Prince",
        "Princess",
        "King",
        "Queen",
        "Pope",
        "Sir",
        "Lord",
        "Lady",
        "Chancellor",
        "Premier",
        "Mayor",
        "Captain",
        "Sheikh",
        "Archbishop",
        "Bishop",
        "Father",
        "Rev",
        "Officer",
        "Sergeant",
        "Colonel",
    }
)
LOWER_MIN = 3
COMMON_MIN = 5  # lowercase occurrences before a name can be called a common word
# lowercase uses x this >= capitalised mid-sentence uses: a common word (headlines and
# titles capitalise "Council" and "Secretary" far more often than places are named so)
COMMON_RATIO = 4
PERSON_MIN = 2  # person-like occurrences before a name can be called a person's name


def calendar_words() -> set[str]:
    return {w for w in (*calendar.month_name, *calendar.day_name) if w}


def derive(texts: Iterable[str], one_word_names: set[str]) -> dict[str, list[str]]:
    """Count each name's uses in ``texts`` and return the three guard lists."""
    lower: Counter[str] = Counter()
    cap_mid: Counter[str] = Counter()
    person_ctx: Counter[str] = Counter()
    sentences = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
            tokens = TOKEN.findall(sentence)
            sentences.append(tokens)
            for i, tok in enumerate(tokens):
                if tok.islower():
                    lower[tok] += 1
                elif i > 0 and tok[0].isupper() and tok in one_word_names:
                    cap_mid[tok] += 1
    lower_words = {w for w, n in lower.items() if n >= LOWER_MIN}

    def name_like(tok: str) -> bool:
        return (
            tok[:1].isupper()
            and not tok.isupper()
            and tok.lower() not in lower_words
            and tok not in one_word_names
        )

    for tokens in sentences:
        for i, tok in enumerate(tokens):
            if tok not in one_word_names:
                continue
            prev = tokens[i - 1] if i > 0 else ""
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if prev in TITLES or (i > 1 and name_like(prev)) or name_like(nxt):
                person_ctx[tok] += 1

    common = {
        name
        for name in one_word_names
        if lower[name.lower()] >= COMMON_MIN and lower[name.lower()] * COMMON_RATIO >= cap_mid[name]
    } | calendar_words()
    person = {
        name
        for name in one_word_names
        if person_ctx[name] >= PERSON_MIN and person_ctx[name] * 2 >= cap_mid[name]
    }
    return {
        "common": sorted(common),
        "person": sorted(person - common),
        "lower": sorted(lower_words),
    }


def _corpus(paths: list[str]) -> Iterable[str]:
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    yield f"{row.get('title') or ''}\n{row.get('summary') or row.get('text') or ''}"


def main(argv: list[str]) -> int:
    from newsalert.geo.gazetteer import build_gazetteer

    gazetteer = build_gazetteer()
    names = {
        key
        for key, _kid in gazetteer.keys.items()
        if " " not in key and "-" not in key and key[:1].isupper()
    }
    guards = derive(_corpus(argv), names)
    json.dump(guards, sys.stdout, ensure_ascii=False, indent=0)
    sys.stdout.write("\n")
    print(
        f"common {len(guards['common'])}, person {len(guards['person'])}, "
        f"lower {len(guards['lower'])}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
