"""Regular expressions that try fewer positions, with the same matches.

The mention guards search the 60 characters before a name with patterns such as
``\\b(?:threaten|warns|...|support\\s+for)\\s+(?:the\\s+)?$``: the engine tries the whole
alternation (30 words, case-insensitive) at every word boundary, a few µs a mention
each. ``first_char_gate`` puts a one-character lookahead after the leading ``\\b``: the
characters every alternative can begin with, read from the parsed pattern, under the
pattern's own flags (so case-insensitive sets fold as the words do). Where the next
character cannot begin any word, the boundary fails at once. The lookahead only states
what any match already has, so the matches are the same; a pattern whose first
characters cannot all be read (an optional first item, a class of categories, a
backreference) is returned unchanged.
"""

from __future__ import annotations

import re
from typing import Any

try:  # private modules of the re package (3.11+): without them the patterns stay as written
    from re import _constants as C  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a Python that renamed them
    C = _parser = None

__all__ = ["first_char_gate"]


def _first_chars(items: Any) -> set[int] | None:
    """The code points a match of this sequence of parsed items can begin with, or None
    when they cannot all be read."""
    if not len(items):
        return None
    op, av = items[0]
    if op is C.LITERAL:
        return {av}
    if op is C.SUBPATTERN:
        # a group's own flags ("(?-i:...)") would read its letters otherwise than the gate
        return None if av[1] or av[2] else _first_chars(av[-1])
    if op is C.BRANCH:
        found: set[int] = set()
        for alternative in av[1]:
            chars = _first_chars(alternative)
            if chars is None:
                return None
            found |= chars
        return found
    if op is C.IN and all(o is C.LITERAL for o, _ in av):
        return {a for _, a in av}
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _first_chars(av[2])
    return None


def first_char_gate(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` (its source opening with ``\\b``) with a lookahead of the characters
    its matches can begin with after that ``\\b``; unchanged when they cannot be read."""
    source = pattern.pattern
    if _parser is None or not source.startswith(r"\b"):
        return pattern
    parsed = _parser.parse(source, pattern.flags)
    chars = _first_chars(list(parsed)[1:])
    if not chars:
        return pattern
    gate = "".join(re.escape(chr(c)) for c in sorted(chars))
    return re.compile(rf"\b(?=[{gate}])" + source[2:], pattern.flags)
