"""What *kind* of item a feed entry is, from its link and the form of its title.

A feed carries more than words: ``/opinion/``, ``/videos/`` or ``/lifestyle/`` in
the link, "Watch:" or a question for a title, "| Inside Story" after it. These say
whether an item is a report of an incident or commentary, a video, a feature or a
reaction, which the words of a riot report and of an op-ed about riots cannot.
The relevance model takes these signals as a small block of named binary
features beside its n-grams; their weights are learnt from real feed items
(``stream_train``) like every other weight.

The tables are closed and outlet-neutral on purpose: section names mapped to a
handful of kinds (so ``/commentisfree/`` and ``/opinions/`` share one weight and a
new outlet's ``/opinion/`` is understood), never an outlet's host or a topic word.
Generic sections (``/news/``, ``/world/``) are left out: every feed item has them
and none of the other training data has a link, so their weight would only learn
"this came from a feed", a prior shift that buried incidents reported under them.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["KIND_NAMES", "kind_features"]

# kind -> link path sections (a section is any path segment but the last, the slug)
_SECTION_WORDS: dict[str, str] = {
    "video": "video videos av watch tv programmes program shows",
    "opinion": "opinion opinions commentisfree comment commentary editorial editorials "
    "columnists blogs letters",
    "live": "live live-news liveblog live-blog",
    "podcast": "podcast podcasts audio radio",
    "analysis": "analysis explainer explainers",
    "feature": "features feature longform magazine interactive gallery galleries in-pictures "
    "picture pictures photos",
    "soft": "entertainment lifestyle style travel food culture arts books celebrity tvshowbiz "
    "femail showbiz fashion media",
    "sport": "sport sports football cricket rugby nba nfl",
    "business": "business markets money economy finance",
    "tech": "tech technology science",
    "health": "health wellness",
    "politics": "politics election elections",
}
_SECTIONS: dict[str, str] = {
    word: kind for kind, words in _SECTION_WORDS.items() for word in words.split()
}
# words in the slug (last segment) that name a kind: "...-video", "live-updates-..."
_SLUG_WORDS: dict[str, str] = {
    "video": "video",
    "live": "live",
    "podcast": "podcast",
    "opinion": "opinion",
    "analysis": "analysis",
    "explainer": "analysis",
    "gallery": "feature",
}
_WORD = re.compile(r"[a-z]+")
# "Watch: ...", "Opinion | ...": a labelled title
_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ]{0,20}?)\s*[:|]\s")
_PREFIX_KINDS: dict[str, str] = {
    "watch": "video",
    "video": "video",
    "opinion": "opinion",
    "comment": "opinion",
    "editorial": "opinion",
    "analysis": "analysis",
    "explainer": "analysis",
    "live": "live",
    "podcast": "podcast",
    "listen": "podcast",
    "in pictures": "feature",
    "review": "soft",
    "breaking": "breaking",
}
# phrases in a title; a trailing space means "the title starts with it"
_PHRASES: dict[str, str] = {
    "what we know": "explainer",
    "explained": "explainer",
    "what you need to know": "explainer",
    "timeline": "explainer",
    "how ": "explainer",
    "why ": "explainer",
    "inside story": "programme",
    "the stream": "programme",
    "live updates": "live",
    "the latest": "live",
    "in pictures": "feature",
    "photos": "feature",
}
# quotation marks, and a straight apostrophe used as a quote (not inside a word)
_QUOTE = re.compile(r"[\"“”‘’]|(?<!\w)'|'(?!\w)")

# An item's kind, said by its link or its title alike ("Opinion:" and /opinion/ are one
# signal with one weight: the title forms alone are too rare to learn a weight of their own).
_KINDS = frozenset(_SECTIONS.values()) | frozenset(_SLUG_WORDS.values()) | {"video"}


def _name(kind: str) -> str:
    """``kind:opinion`` for an item's kind; ``title:question`` for a form only titles have."""
    return f"kind:{kind}" if kind in _KINDS else f"title:{kind}"


KIND_NAMES: tuple[str, ...] = tuple(
    sorted(
        {_name(k) for k in _KINDS}
        | {_name(k) for k in _PREFIX_KINDS.values()}
        | {_name(k) for k in _PHRASES.values()}
        | {"title:labelled", "title:question", "title:pipe", "title:quote"}
    )
)
"""Every feature name ``kind_features`` can return, in a fixed order (the model's columns)."""


def kind_features(title: str | None, summary: str | None, link: str | None) -> set[str]:
    """The kind signals of one item, as a set of names from ``KIND_NAMES``."""
    found: set[str] = set()
    if link:
        try:
            parts = urlsplit(link)
            host = (parts.hostname or "").lower()
        except ValueError:  # a malformed link says nothing about the item's kind
            parts, host = None, ""
        if parts is not None:
            if host.endswith("youtube.com") or host == "youtu.be":
                found.add("kind:video")
            segments = [s.lower() for s in parts.path.split("/") if s]
            for s in segments[:-1] if len(segments) > 1 else segments:
                kind = _SECTIONS.get(s)
                if kind:
                    found.add(f"kind:{kind}")
            if segments:
                words = set(_WORD.findall(segments[-1]))
                found.update(f"kind:{k}" for w, k in _SLUG_WORDS.items() if w in words)
    title = (title or "").strip()
    if title:
        lower = title.lower()
        if lower.endswith("?"):
            found.add("title:question")
        if "|" in title:
            found.add("title:pipe")
        m = _PREFIX.match(title)
        if m:
            found.add(_name(_PREFIX_KINDS.get(m.group(1).lower(), "labelled")))
        if _QUOTE.search(title):
            found.add("title:quote")
        for phrase, kind in _PHRASES.items():
            if lower.startswith(phrase) if phrase.endswith(" ") else phrase in lower:
                found.add(_name(kind))
    return found
