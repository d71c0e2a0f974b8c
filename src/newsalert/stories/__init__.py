"""Stories: one incident, one alert. Near-duplicate detection and incident clustering.

Twenty outlets report an attack within the hour under twenty titles and guids, then keep
reporting for days. Every scored item joins a *story*: as a near-duplicate of an item in
it, or as a report of the same incident (clustering); a later report alerts again only
as an *update* that adds something. How, with the measurements: ``text`` and
``clusterer`` (``bench/stories.py``), ``policy``.

The package, each module importing only those above it:

- ``text``: words, names, document frequencies, TF-IDF vectors, MinHash and LSH keys;
- ``state``: the plain data (settings, story state, assignments, the ``Index`` protocol);
- ``policy``: what a later report adds, and when it makes an update (``route_story``);
- ``clusterer``: ``Clusterer`` (the index match, then the join) and ``MemoryIndex``;
- ``desk``: ``StoryDesk``, which wires the clusterer, the store's story index
  (``newsalert.store.storystore.StoryStore``: the raw SQL) and the policy for the pipeline.

Public API (importable from ``newsalert.stories``, as before the split): ``StoryDesk``,
``StoryPlan``, ``Chosen``, ``thread_id``, ``item_time``; ``Clusterer``, ``MemoryIndex``;
``Settings``, ``Incoming``, ``Assignment``, ``StoryState``, ``Changes``, ``Prepared``,
``Index``, ``NEW``, ``DUPLICATE``, ``RELATED``, ``ALERT``, ``UPDATE``; ``UpdatePolicy``,
``Notice``, ``route_story``, ``what_is_new``; ``MinHasher``, ``Idf``, ``packaged_idf``,
``words``, ``stem``, ``terms``, ``names``, ``shingles``, ``similarity``; ``StoryStore``.
The names resolve lazily (PEP 562), so that ``newsalert.store.storystore`` can import
the story data without importing the desk, which imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "STOPWORDS": "newsalert.stories.text",
    "WEEKDAYS": "newsalert.stories.text",
    "Features": "newsalert.stories.text",
    "Idf": "newsalert.stories.text",
    "MinHasher": "newsalert.stories.text",
    "cosine": "newsalert.stories.text",
    "key_of": "newsalert.stories.text",
    "names": "newsalert.stories.text",
    "norm": "newsalert.stories.text",
    "packaged_idf": "newsalert.stories.text",
    "shingles": "newsalert.stories.text",
    "shingles_of": "newsalert.stories.text",
    "shingles_of_many": "newsalert.stories.text",
    "similarity": "newsalert.stories.text",
    "stem": "newsalert.stories.text",
    "terms": "newsalert.stories.text",
    "weekdays": "newsalert.stories.text",
    "words": "newsalert.stories.text",
    "ALERT": "newsalert.stories.state",
    "DUPLICATE": "newsalert.stories.state",
    "NEW": "newsalert.stories.state",
    "RELATED": "newsalert.stories.state",
    "UPDATE": "newsalert.stories.state",
    "Assignment": "newsalert.stories.state",
    "Changes": "newsalert.stories.state",
    "Hit": "newsalert.stories.state",
    "Incoming": "newsalert.stories.state",
    "Index": "newsalert.stories.state",
    "Member": "newsalert.stories.state",
    "Prepared": "newsalert.stories.state",
    "Rows": "newsalert.stories.state",
    "Settings": "newsalert.stories.state",
    "StoryState": "newsalert.stories.state",
    "Notice": "newsalert.stories.policy",
    "UpdatePolicy": "newsalert.stories.policy",
    "route_story": "newsalert.stories.policy",
    "what_is_new": "newsalert.stories.policy",
    "Clusterer": "newsalert.stories.clusterer",
    "MemoryIndex": "newsalert.stories.clusterer",
    "Chosen": "newsalert.stories.desk",
    "StoryDesk": "newsalert.stories.desk",
    "StoryPlan": "newsalert.stories.desk",
    "item_time": "newsalert.stories.desk",
    "thread_id": "newsalert.stories.desk",
    "StoryStore": "newsalert.store.storystore",
}

__all__ = [
    "ALERT",
    "DUPLICATE",
    "NEW",
    "RELATED",
    "STOPWORDS",
    "UPDATE",
    "WEEKDAYS",
    "Assignment",
    "Changes",
    "Chosen",
    "Clusterer",
    "Features",
    "Hit",
    "Idf",
    "Incoming",
    "Index",
    "Member",
    "MemoryIndex",
    "MinHasher",
    "Notice",
    "Prepared",
    "Rows",
    "Settings",
    "StoryDesk",
    "StoryPlan",
    "StoryState",
    "StoryStore",
    "UpdatePolicy",
    "cosine",
    "item_time",
    "key_of",
    "names",
    "norm",
    "packaged_idf",
    "route_story",
    "shingles",
    "shingles_of",
    "shingles_of_many",
    "similarity",
    "stem",
    "terms",
    "thread_id",
    "weekdays",
    "what_is_new",
    "words",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
