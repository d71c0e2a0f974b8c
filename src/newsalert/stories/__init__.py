"""Stories: one incident, one alert. Near-duplicate detection and incident clustering.

Twenty outlets report an attack within the hour under twenty titles and guids, then keep
reporting for days. Every scored item joins a *story*, in two steps:

1. **Near-duplicates** (agency copy republished, an article edited under a new guid, the
   same canonical link on two feeds): MinHash signatures (128 permutations over word
   3-shingles of title + summary, multiply-shift hashing in numpy) and LSH banding (16
   bands of 2 rows). Each band hash is a row in the store (``story_keys``: key, item,
   story, time; keyed on (key, item)), so a new item finds its candidates with one
   indexed lookup per batch, never a pairwise scan; a candidate is a duplicate when the
   estimated Jaccard similarity of the two signatures reaches ``duplicate_similarity``.
   A duplicate joins the story and never alerts.
2. **Clustering** (different reports of one incident): a TF-IDF vector of title + summary
   (title words count twice, names and places weigh 1.5 times), compared by cosine with
   the story's first report, for the candidate stories only: those sharing rare terms or
   names (also rows of ``story_keys``, one per term and story) within the time window.
   Terms many concurrent stories share ("Gaza" during an offensive) weigh less, and a
   report naming another weekday than the story matches less. At ``similarity`` or
   above, the item joins the best story; else it starts a new one. Document frequencies
   come from the packaged training corpus (17k news items), so the vectors need no
   fitting and every process computes the same ones.

Everything is bounded by ``window``: an item only finds keys seen within the window
before it, and older keys are pruned. ``bench/stories.py`` measures both steps on
hand-labelled news and their speed over 50,000 stored items.

Alerting per story (``route_story``): a subscriber's first relevant item of a story
alerts as before; a duplicate never does; a later report of the same story becomes an
*update* only when it adds something (a source-count milestone, a score higher by a
margin, new key terms in its title) and the subscriber's last alert or update on the
story is at least ``update_interval`` old.

The package, each module importing only those above it:

- ``text``: words, names, document frequencies, TF-IDF vectors, MinHash and LSH keys;
- ``state``: the plain data (settings, story state, assignments, the ``Index`` protocol);
- ``policy``: what a later report adds, and when it makes an update (``route_story``);
- ``clusterer``: ``Clusterer`` (the index match, then the join) and ``MemoryIndex``;
- ``desk``: ``StoryDesk``, which wires the clusterer, the store's story index
  (``newsalert.store.storystore.StoryStore``) and the policy for the pipeline.

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
