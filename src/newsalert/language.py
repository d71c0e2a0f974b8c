"""Which language an item is written in, so the English model judges English only.

The first step that decides wins:

1. ``feed``: the operator declared the feed's language (``feeds.language``).
2. ``words``: English function words (at least 2, and 12% of the words). Cheap, and
   right where a language model is least sure: short English headlines full of
   foreign names ("Vucic meets Kurti in Brussels").
3. ``script``: letters mostly of one script other than Latin (Cyrillic, Arabic, Greek,
   ...). Never English; the language within the script comes from letters only one
   language uses, else from py3langid over that script's languages.
4. ``langid``: py3langid over the Latin-script languages common in news. A foreign
   language must reach 0.80, else the text stays English: a headline of names is not
   Albanian because the names are. langid splits its probability among close relatives,
   so they count together; Serbian, Croatian and Bosnian are one family to it, and a
   few telling words choose within it.

The feed's own ``xml:lang`` / ``<language>`` is not trusted to decide: publishing
systems fill in their default (WordPress: ``en-US``) whatever the text is.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from newsalert import cachedir, mapfile
from newsalert.models import Language

log = logging.getLogger(__name__)

__all__ = [
    "FOREIGN_MIN",
    "Language",
    "LanguageDetector",
    "compact_identifier",
    "load_detector",
    "shared_detector",
]

FOREIGN_MIN = 0.80  # a Latin-script text is foreign only when langid is this sure
MAX_CHARS = 1500  # the title and the start of the summary say which language it is


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _markers(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Whole words, and stems written with a trailing "-"."""
    words = text.split()
    return (
        frozenset(w for w in words if not w.endswith("-")),
        tuple(w[:-1] for w in words if w.endswith("-")),
    )


def _count(words: set[str], markers: tuple[frozenset[str], tuple[str, ...]]) -> int:
    exact, stems = markers
    return sum(1 for w in words if w in exact or (stems and w.startswith(stems)))


# Function words that are not also common words of the other languages here: no "a",
# "in", "to", "on", "an", "die", "was", "will", "as", "do", "me", "can", "her", "at",
# "over", "is", "per", "also" (German, Dutch, Italian, Portuguese, Albanian, Serbian,
# Turkish, French... use them too).
ENGLISH_WORDS = _words_of(
    """the of and for with from by after says said would could should this that these
    those which who whom whose its it into than been be not but amid against about
    before their they he she his we you are were has have more than what when where
    while how why up out our your there here under until during new"""
)

# Latin-script languages common in news (and what langid confuses them with)
LATIN = tuple(
    sorted(
        _words_of(
            """en fr de es pt it nl sq sr hr bs sl pl cs sk hu ro tr az id ms vi sv da no fi
            et lv lt ca sw so ha"""
        )
    )
)
SCRIPTS: dict[str, tuple[str, ...]] = {
    "cyrillic": ("ru", "uk", "sr", "bg", "mk", "be", "kk"),
    "arabic": ("ar", "fa", "ur", "ps"),
    "devanagari": ("hi", "mr", "ne"),
}
ONE_LANGUAGE = {
    "greek": "el",
    "hebrew": "he",
    "georgian": "ka",
    "armenian": "hy",
    "hangul": "ko",
    "kana": "ja",
    "han": "zh",
    "thai": "th",
}
_SCRIPT_LETTERS = {
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "cyrillic": re.compile(r"[\u0400-\u052f]"),
    "arabic": re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]"),
    "devanagari": re.compile(r"[\u0900-\u097f]"),
    "greek": re.compile(r"[\u0370-\u03ff]"),
    "hebrew": re.compile(r"[\u0590-\u05ff]"),
    "georgian": re.compile(r"[\u10a0-\u10ff]"),
    "armenian": re.compile(r"[\u0530-\u058f]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "han": re.compile(r"[\u4e00-\u9fff]"),
    "thai": re.compile(r"[\u0e00-\u0e7f]"),
}
# letters only one language of its script writes
_LETTER_CLUES = (
    (re.compile("[ђћ]", re.IGNORECASE), "sr"),
    (re.compile("[ѓќѕ]", re.IGNORECASE), "mk"),
    (re.compile("[їєґ]", re.IGNORECASE), "uk"),
    (re.compile("[ў]", re.IGNORECASE), "be"),
    (re.compile("[ٹڈڑںے]"), "ur"),
)
_WORD = re.compile(r"[^\W\d_]+")

# Serbian, Croatian and Bosnian: words one of them writes and the others do not ("stem-"
# matches any ending). Serbian in Serbia is ekavian ("pre", "vreme"), the others are
# ijekavian ("prije", "vrijeme"); Serbian and Bosnian share eastern words ("hiljada",
# "uhapšen") where Croatian has its own ("tisuća", "uhićen").
_SERBIAN = _markers(
    """pre posle vreme gde deca dece deci svet- mest- mesec- sever- cena cene ceni uvek
    reč- vest- pretnj- predsedn- bezbedn- saopšt- saopst- opštin- opstin- izvešt- lekar-
    reka reke avgust- deo istorij-"""
)
_CROATIAN = _markers(
    """tko tisuć- tjed- vlak- zrak- priopć- glasnogovorn- milijun- obitelj- izvješ-
    veleposlan- nogomet- sveučiliš- povijes- uhić- tijekom vojarn- siječ- veljač- ožuj-
    travanj travnja svibanj svibnja lipanj lipnja srpanj srpnja kolovoz- rujan rujna
    listopad- prosin-"""
)
_BOSNIAN = _markers("saopć- historij- bezbjedn- lahk-")
_IJEKAVIAN = _markers(  # Croatian and Bosnian (and Montenegrin) alike
    """prije poslije vrijeme gdje djec- svijet- mjest- mjesec- sjever- cijen- uvijek riječ-
    vijest- prijetnj- predsjedn- rijek- dio ozlijeđ- povrijeđ- dijel- tijel-"""
)
_EASTERN = _markers(  # Serbian and Bosnian alike, not Croatian
    """hiljad- milion- porodic- ambasad- fudbal- šta uhapš- tokom sedmic- januar- februar-
    mart marta jun juna jul jula septemb- oktob- novemb- decemb-"""
)
FAMILY = ("sr", "hr", "bs")
# close relatives langid splits its probability among
RELATIVES = (
    ("sr", "hr", "bs", "sl"),
    ("es", "ca", "pt"),
    ("cs", "sk"),
    ("sv", "da", "no"),
    ("id", "ms"),
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def serbo_croatian(words: Iterable[str]) -> str | None:
    """Serbian, Croatian or Bosnian from telling words; None when none tells."""
    seen = set(words)
    serbian = _count(seen, _SERBIAN)
    croatian = _count(seen, _CROATIAN)
    bosnian = _count(seen, _BOSNIAN)
    ijekavian = _count(seen, _IJEKAVIAN)
    eastern = _count(seen, _EASTERN)
    if serbian > ijekavian + croatian + bosnian:
        return "sr"
    if croatian > bosnian + eastern:
        return "hr"
    if bosnian or (ijekavian and eastern):
        return "bs"
    if eastern and not ijekavian:
        return "sr"
    return None  # nothing, or ijekavian alone (Croatian or Bosnian): langid chooses


class LanguageDetector:
    """Detects an item's language. Build it once (the model loads in about 0.5 s) and
    share it: ``shared_detector()``; it keeps no state between calls."""

    def __init__(self, identifier: Any) -> None:
        # a py3langid identifier without probability normalisation: rank() gives the
        # raw naive-Bayes scores, turned into probabilities here over the candidate
        # languages only (as set_languages would, without one model copy per subset)
        self._identifier = identifier
        known = set(identifier.labels)
        self._latin = tuple(code for code in LATIN if code in known)
        self._scripts = {s: tuple(c for c in codes if c in known) for s, codes in SCRIPTS.items()}
        grouped = {c for g in RELATIVES for c in g}
        self._groups = [g for g in RELATIVES if set(g) <= set(self._latin)]
        self._groups += [(c,) for c in self._latin if c not in grouped]

    def detect(self, text: str, declared: str | None = None) -> Language:
        """The language of ``text``; ``declared`` is the operator's ``feeds.language``."""
        if declared:
            return Language(declared, 1.0, "feed")
        text = text[:MAX_CHARS]
        words = _words(text)
        english = sum(1 for w in words if w in ENGLISH_WORDS)
        if english >= 2 and english >= 0.12 * len(words):
            return Language("en", 1.0, "words")
        counts = {script: len(p.findall(text)) for script, p in _SCRIPT_LETTERS.items()}
        letters = sum(counts.values())
        if not letters:
            return Language("en", 0.0, "default")  # nothing to tell by: as before
        script = max(counts, key=counts.__getitem__)
        if script != "latin" and counts[script] > counts["latin"]:
            return self._by_script(text, script, counts[script] / letters)
        return self._by_langid(text, words)

    def detect_many(self, texts: Iterable[tuple[str, str | None]]) -> list[Language]:
        """``(text, declared)`` pairs in order."""
        return [self.detect(text, declared) for text, declared in texts]

    def _by_script(self, text: str, script: str, share: float) -> Language:
        if script in ONE_LANGUAGE:
            code = ONE_LANGUAGE[script]
            if script == "han" and _SCRIPT_LETTERS["kana"].search(text):
                code = "ja"
            return Language(code, round(share, 4), "script")
        for pattern, code in _LETTER_CLUES:
            if code in self._scripts.get(script, ()) and pattern.search(text):
                return Language(code, round(share, 4), "script")
        probs = self._probabilities(text, self._scripts[script])
        code = max(probs, key=probs.__getitem__)
        return Language(code, round(probs[code], 4), "script")

    def _by_langid(self, text: str, words: list[str]) -> Language:
        probs = self._probabilities(text, self._latin)
        # langid splits a text's probability among close relatives ("sr" 0.42, "sl" 0.34,
        # "bs" 0.16): the group's sum is how sure it is that the text is not English
        mass = {group: sum(probs.get(c, 0.0) for c in group) for group in self._groups}
        group = max(mass, key=mass.__getitem__)
        if group == ("en",) or mass[group] < FOREIGN_MIN:
            return Language(
                "en", round(1.0 - max(mass[g] for g in mass if g != ("en",)), 4), "langid"
            )
        code = max(group, key=lambda c: probs.get(c, 0.0))
        if code in FAMILY or (set(group) & set(FAMILY)):
            family = sum(probs.get(c, 0.0) for c in FAMILY)
            if family >= probs.get(code, 0.0):
                code = serbo_croatian(words) or max(FAMILY, key=lambda c: probs.get(c, 0.0))
        return Language(code, round(mass[group], 4), "langid")

    def _probabilities(self, text: str, candidates: tuple[str, ...]) -> dict[str, float]:
        """langid's probabilities over ``candidates``: a softmax of its scores with
        py3langid's own temperature (the square root of the text's UTF-8 length)."""
        raw = dict(self._identifier.rank(text))
        size = len(unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass"))
        scale = 1.0 / math.sqrt(size or 1)
        scores = {c: raw[c] * scale for c in candidates if c in raw}
        top = max(scores.values())
        exp = {c: math.exp(s - top) for c, s in scores.items()}
        total = sum(exp.values())
        return {c: e / total for c, e in exp.items()}


# what a cached identifier holds (bump when that changes: a new file name, rebuilt)
_CACHE_FORMAT = 1


def load_detector(cache_dir: Path | bool | None = True) -> LanguageDetector:
    """A detector with py3langid's shipped model (nothing is downloaded). In ``cache_dir``
    (True: the gazetteer's cache folder; None or False: no cache, everything in memory)
    the restricted, compacted identifier is kept as a mapped file (``mapfile``): a start
    then skips decompressing py3langid's xz model (0.5 s at every process start, most
    of it the decompression), and the transition table is served from the mapping, so
    only the pages texts walk through are resident, shared through the page cache."""
    if cache_dir is True:
        cache_dir = cachedir.default_cache_dir()
    if not cache_dir:
        return LanguageDetector(_stock_restricted())
    path = Path(cache_dir) / f"langid-{_cache_key()}.map"
    identifier = cachedir.mapped(
        path,
        _identifier_from,
        _stock_restricted,
        stored=_identifier_parts,
        stale=_CACHE_FILES,
        what="py3langid's model",
    )
    return LanguageDetector(identifier)


# what load_detector has written, in this format and before it (the table alone, .bin)
_CACHE_FILES = re.compile(r"langid-(?:[0-9a-f]{16}\.map|nextmove-[0-9a-f]{16}-[A-Za-z]\.bin)")


def _stock_restricted() -> Any:
    """py3langid's identifier from its shipped model, restricted to the languages this
    module tells apart and compacted (``compact_identifier``)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    wanted = {*LATIN, *(code for codes in SCRIPTS.values() for code in codes)}
    full.set_languages(sorted(wanted & set(full.labels)))
    # a model of those languages alone: their columns are copied and the full table
    # (142 languages, 28 MB) let go; a language's scores do not depend on the others
    identifier = LanguageIdentifier(
        full.nb_ptc,
        full.nb_pc,
        full.nb_classes,
        array("I", full.tk_nextmove) if isinstance(full.tk_nextmove, list) else full.tk_nextmove,
        full.tk_output,
        norm_probs=False,
        tk_row=full.tk_row,
    )
    del full
    return compact_identifier(identifier)


def _cache_key() -> str:
    """The shipped model file's hash with the languages kept and the cache's format."""
    import hashlib

    from py3langid.langid import MODEL_DIR, MODEL_FILE

    digest = hashlib.sha256((Path(MODEL_DIR) / MODEL_FILE).read_bytes())
    wanted = sorted({*LATIN, *(code for codes in SCRIPTS.values() for code in codes)})
    digest.update(f"{_CACHE_FORMAT}:{','.join(wanted)}".encode())
    return digest.hexdigest()[:16]


def _identifier_parts(identifier: Any) -> dict[str, Any]:
    return {
        "nb_ptc": identifier.nb_ptc,
        "nb_pc": identifier.nb_pc,
        "nb_classes": list(identifier.nb_classes),
        "tk_nextmove": identifier.tk_nextmove,
        "tk_output": identifier.tk_output,
        "tk_row": array("q", identifier.tk_row),
    }


def _identifier_from(path: Path) -> Any:
    """The identifier ``_identifier_parts`` stored in ``path``, its tables views of the
    file's mapping (kept open by the views)."""
    from py3langid.langid import LanguageIdentifier

    parts, _mapped = mapfile.load(path)
    identifier = LanguageIdentifier(
        parts["nb_ptc"],
        parts["nb_pc"],
        parts["nb_classes"],
        parts["tk_nextmove"],
        parts["tk_output"],
        norm_probs=False,
        tk_row=parts["tk_row"],
    )
    return compact_identifier(identifier)


def compact_identifier(identifier: Any) -> Any:
    """py3langid keeps two per-state tables of its automaton as Python lists of int
    (``tk_output``: the feature a state emits; ``_rowbase``: where its row of
    transitions starts): 105,000 int objects each, about 8 MB. Every text walked reads
    some of them, and a read writes the object's reference count, so each forked pool
    process copies the pages of the states it walked through. The same numbers in
    ``array`` buffers (int32, int64) are a few flat blocks that reads never write to:
    indexing gives the same int, so the walk and its scores are the same (the tests
    compare ``rank`` with py3langid's own identifier over a corpus). Returns
    ``identifier``, changed in place; an identifier without those tables is left as is."""
    output = getattr(identifier, "tk_output", None)
    rowbase = getattr(identifier, "_rowbase", None)
    if isinstance(output, list):
        identifier.tk_output = array("i", output)
    if isinstance(rowbase, list):
        identifier._rowbase = array("q", rowbase)
    return identifier


@functools.cache
def shared_detector() -> LanguageDetector:
    """The process-wide detector: a worker loads it before forking its pool."""
    return load_detector()
