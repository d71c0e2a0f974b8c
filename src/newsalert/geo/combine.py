"""A story's location from its reports' locations.

The country most reports place the event in wins (ties: the earliest report's);
inside it, the most specific place the most reports name (a town beats a region,
a region the country), ties again to the earliest. Unlocated reports do not vote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from newsalert.geo.model import Location

_RANK = {"place": 0, "admin1": 1, "country": 2}


def story_location(reports: Sequence[Location | None]) -> tuple[Location | None, str]:
    """``(where, why)`` for reports in arrival order."""
    located = [r for r in reports if r is not None]
    if not located:
        return None, f"none of {len(reports)} reports names a place"
    votes = Counter(r.country for r in located)
    first = {}
    for i, r in enumerate(located):
        first.setdefault(r.country, i)
    country = max(votes, key=lambda c: (votes[c], -first[c]))
    inside = [r for r in located if r.country == country]
    best_rank = min(_RANK.get(r.precision, 2) for r in inside)
    specific = [r for r in inside if _RANK.get(r.precision, 2) == best_rank]
    names = Counter(r.place for r in specific)
    order = {}
    for i, r in enumerate(specific):
        order.setdefault(r.place, i)
    place = max(names, key=lambda n: (names[n], -order[n]))
    where = specific[order[place]]
    why = f"{votes[country]} of {len(reports)} reports in {country}"
    if where.precision != "country":
        why += f", {names[place]} at {place}"
    return where, why
