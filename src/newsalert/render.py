"""Render one :class:`Alert` for one channel family: email, Slack, Telegram or plain text.

Pure functions over plain data; no apprise import (``delivery`` is the only module that
talks to apprise). What each family's body is, exactly:

- ``email``: an HTML fragment (``body_format="html"``) plus a plain-text alternative in
  ``attach_text``; the title is the one-line subject.
- ``slack``: CommonMark (``body_format="markdown"``). apprise 2.3 declares Slack as a
  Markdown service and translates declared CommonMark into Slack ``mrkdwn`` itself
  (``**b**`` -> ``*b*``, ``[label](<url>)`` -> ``<url|label>``, ``\\<`` -> ``&lt;``, ``&`` ->
  ``&amp;``). So feed text is escaped as CommonMark here, never as mrkdwn entities (an
  ``&lt;`` written here would arrive as ``&amp;lt;``). The title goes out as plain text
  (apprise entity-escapes Slack titles itself).
- ``telegram``: Telegram's HTML subset (``body_format="html"``) with the headline inside
  the body and an empty title (apprise would otherwise prepend ``<b>title</b>`` beyond our
  length budget).
- ``text``: plain text for every other apprise URL (apprise escapes it for the target).

Feed text is untrusted: control characters (CR/LF in titles, bidi overrides) are removed,
``scheme://`` inside feed text gets a zero-width space so no client auto-links it, and
the only link is :attr:`Alert.link`, if it is http(s). Slack mention and link syntax
(``<!channel>``, ``<@U1>``, ``<#C1>``, ``<url|label>``) cannot survive: ``<``, ``>``, ``[``
and ``]`` are escaped, and a zero-width space after ``!``/``@`` in anything shaped like a
mention defeats the un-escaping apprise's Slack plugin does for undeclared (passthrough)
bodies. Long summaries are cut at a word boundary with "…" so the final text fits the
service; the link and the reasons are kept.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from newsalert.channels import (  # noqa: F401  (re-exported: render.FAMILIES and co.)
    BODY_LIMITS,
    EMAIL_SCHEMES,
    FAMILIES,
    SLACK_HOSTS,
    TITLE_LIMITS,
    channel_family,
)
from newsalert.models import Alert, Message, Reason, StoryUpdate

MAX_TITLE = 300  # in bodies; subjects and chat titles are cut further (TITLE_LIMITS)
SHORT_TITLE = 80  # when even an alert without summary does not fit
MAX_LINK_LENGTH = 2048
MAX_RULE_REASONS = 4
MAX_MODEL_REASONS = 3
MAX_REASON_LABEL = 80
ELLIPSIS = "…"
ZWSP = "\u200b"
LINK_LABEL = "Open article"
MAP_LABEL = "Map (OpenStreetMap)"


def severity(score: float) -> str:
    if score >= 0.9:
        return "HIGH"
    if score >= 0.7:
        return "MEDIUM"
    return "LOW"


# apprise's notify types by severity: the JSON/form webhooks send it as "type", and
# Discord, Teams, Slack attachments and the like colour the message by it
NOTIFY_TYPES = {"HIGH": "failure", "MEDIUM": "warning", "LOW": "info", "TEST": "info"}


def notify_type(score: float) -> str:
    return NOTIFY_TYPES[severity(score)]


def render(
    alert: Alert,
    family: str,
    *,
    limit: int | None = None,
    templates: Mapping[str, str | None] | None = None,
) -> Message:
    """Render ``alert`` for ``family``; ``limit`` overrides the body limit (characters).

    ``templates`` (the config's ``templates``) may replace the body of a family and the
    subject line; placeholders are filled with values escaped for that family, and the
    summary is still cut so the result fits the service.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown channel family {family!r}; expected one of {FAMILIES}")
    budget = BODY_LIMITS[family] if limit is None else max(1, int(limit))
    parts = _parts(alert)
    formatter, measure = _FORMATTERS[family]
    custom = (templates or {}).get(family)
    if custom:
        formatter = _template_formatter(family, custom)
    message = replace(
        _fit(formatter, measure, parts, budget), notify_type=NOTIFY_TYPES[parts.severity]
    )
    if family == "telegram":  # the headline is in the body; apprise would prepend a title
        return message
    subject = (templates or {}).get("subject")
    if subject:
        line = subject.format_map(_values(parts, lambda text: clean(text, single_line=True)))
        title = cut(clean(line, single_line=True), TITLE_LIMITS[family])
    else:
        title = _title_line(family, parts, TITLE_LIMITS[family])
    if family == "email":
        title = no_encoded_words(title)
    elif family == "text":
        title = text_defuse(title)
    return replace(message, title=title)


# --- operator templates -------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "title",
    "severity",
    "score",
    "category",
    "source",
    "time",
    "why",
    "link",
    "summary",
    "ref",
    "feedback",
    "where",
    "map",
)
_BODY_FORMATS = {"email": "html", "slack": "markdown", "telegram": "html", "text": "text"}


def check_template(template: str) -> str | None:
    """A problem with an operator template, or None. Used by config validation."""
    fix = "write literal braces as {{ and }}"
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"not a valid template ({exc}); {fix}"
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        name = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not name:
            return f"not a valid template (a placeholder without a name, {{{field}}}); {fix}"
        if name not in TEMPLATE_FIELDS:
            return f"unknown placeholder {{{name}}}; use {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}"
        # an index, attribute, conversion or format spec would be checked only on sample
        # values and could fail on a real item ({summary[0]} on an empty summary)
        if field != name or spec or conversion:
            shown = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            return f"placeholder {{{shown}}} is not allowed: write the field alone, {{{name}}}"
    return None


def _values(
    p: _Parts, escape: Callable[[str], str], link_escape: Callable[[str], str] | None = None
) -> dict[str, str]:
    return {
        "title": escape(p.title),
        "severity": p.severity,
        "score": p.score,
        "category": escape(p.category),
        "source": escape(p.source),
        "time": p.time,
        "why": escape(_why(p)),
        "link": (link_escape or escape)(p.link or ""),
        "summary": escape(p.summary),
        "ref": escape(p.ref_line or ""),
        "feedback": "",  # filled per family by _template_formatter
        "where": escape(p.where),
        "map": (link_escape or escape)(p.map_url or ""),
    }


def _template_formatter(family: str, template: str) -> Callable[[_Parts], Message]:
    # feed text is escaped for the family exactly as in the built-in layouts; links come
    # from safe_link (http(s), already percent-encoded), so Slack gets them unescaped
    escape: Callable[[str], str] = {
        "email": html.escape,
        "telegram": html.escape,
        "slack": slack_escape,
        "text": text_defuse,
    }[family]
    link_escape = (lambda link: link) if family == "slack" else None

    def fmt(p: _Parts) -> Message:
        block = _FEEDBACK[family](p.actions) if p.actions else ""
        values = {**_values(p, escape, link_escape), "feedback": block}
        body = template.format_map(values)
        if block and "{feedback}" not in template:  # every alert carries its answers
            body += ("<br>" if family == "email" else "\n") + block
        return Message(
            title="",
            body=body,
            body_format=_BODY_FORMATS[family],
            extra={"family": family, "severity": p.severity, "template": "yes"},
            buttons=p.actions if family == "telegram" else (),
        )

    return fmt


# --- plain data for the formatters -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parts:
    title: str  # clean, one line
    severity: str
    score: str  # "0.93"
    category: str
    source: str
    time: str  # "2023-09-29 14:05 UTC"
    reasons: tuple[tuple[str, str], ...]  # ("rule", "word" or "language", text)
    more_reasons: int  # how many were left out
    link: str | None
    summary: str  # clean, may hold newlines
    ref: int | None = None  # the stored item's id, for `newsalert feedback`
    actions: tuple[tuple[str, str], ...] = ()  # feedback links: (words, url)
    where: str = ""  # clean, one line: "Banjska, Kosovo (8 km from mitrovica-office)"
    map_url: str | None = None  # OpenStreetMap, through safe_link

    @property
    def headline(self) -> str:
        if self.severity == "TEST":  # `send-test`: no score or category to alarm anyone
            return "TEST"
        return f"{self.severity} {self.score} {self.category}"

    @property
    def ref_line(self) -> str:
        """How to answer: "ref: item 7 · newsalert feedback 7 yes|no" ("" without an item)."""
        return f"ref: item {self.ref} · newsalert feedback {self.ref} yes|no" if self.ref else ""


def _parts(alert: Alert) -> _Parts:
    reasons, more = _reasons(alert.reasons)
    title = cut(clean(alert.title, single_line=True), MAX_TITLE) or "(untitled)"
    if alert.update is not None:  # a story update held for a digest: say so on its line
        changes = "; ".join(c for c in (clean(x, single_line=True) for x in alert.update) if c)
        title = cut(f"Update: {title}" + (f" ({changes})" if changes else ""), MAX_TITLE + 100)
    return _Parts(
        title=title,
        severity="TEST" if alert.test else severity(alert.score),
        score=f"{alert.score:.2f}",
        category=clean(alert.category, single_line=True) or "none",
        source=clean(alert.source, single_line=True) or "unknown source",
        time=format_time(alert.published),
        reasons=reasons,
        more_reasons=more,
        link=safe_link(alert.link),
        summary=clean(alert.summary),
        ref=alert.item_id if alert.item_id > 0 else None,
        actions=tuple(
            (clean(words, single_line=True), safe)
            for words, url in alert.actions
            if (safe := safe_link(url))
        ),
        where=clean(alert.where, single_line=True),
        map_url=safe_link(alert.map_url),
    )


_TERM_LABEL = re.compile(r'^(?:term )?"(.+)"$')


def _reasons(reasons: tuple[Reason, ...]) -> tuple[tuple[tuple[str, str], ...], int]:
    """(kind, text) of the rules that fired (as given), then the words that pushed the model
    up most. No weights: a rule's boost is a probability and a word's a log-odds weight, and
    side by side they read as one unit; ``newsalert explain`` shows the arithmetic. Model
    features that are not words a reader can find in the text (cue-group counts such as
    ``[violence] words``) are left out here."""
    rules = [r for r in reasons if r.kind == "rule"]
    words: list[str] = []
    positive = (r for r in reasons if r.kind != "rule" and r.weight > 0)
    for r in sorted(positive, key=lambda r: -r.weight):
        found = _TERM_LABEL.match(r.label.strip())
        word = found.group(1) if found else r.label
        if "[" not in word and word not in words:
            words.append(word)
    picked = [("rule", r.label) for r in rules[:MAX_RULE_REASONS]]
    picked += [("word", w) for w in words[:MAX_MODEL_REASONS]]
    # an item not in English was judged by rules alone: the reader should know why
    picked += [("language", r.label) for r in reasons if r.kind == "language"][:1]
    texts = tuple(
        (kind, cut(clean(text, single_line=True), MAX_REASON_LABEL)) for kind, text in picked
    )
    languages = sum(kind == "language" for kind, _ in picked)
    return texts, len(rules) + len(words) - (len(picked) - languages)


def _why(parts: _Parts) -> str:
    """'rule include "armed attack" (title); words: troops, border (+1 more)'."""
    if not parts.reasons:
        return ""
    rules = [text for kind, text in parts.reasons if kind == "rule"]
    words = [text for kind, text in parts.reasons if kind == "word"]
    said = []
    if rules:
        said.append(("rule " if len(rules) == 1 else "rules: ") + ", ".join(rules))
    if words:
        said.append(("word: " if len(words) == 1 else "words: ") + ", ".join(words))
    said += [text for kind, text in parts.reasons if kind == "language"]
    more = f" (+{parts.more_reasons} more)" if parts.more_reasons else ""
    return "; ".join(said) + more


def _title_line(family: str, parts: _Parts, limit: int) -> str:
    """One line, no control characters: "[newsalert] HIGH 0.93 armed_conflict: <title>"."""
    prefix = "[newsalert] " if family in ("email", "text") else ""
    head = f"{prefix}{parts.headline}: "
    if family != "slack":
        return head + cut(parts.title, max(1, limit - len(head)))
    # apprise entity-escapes Slack titles (& < >): the escaped header must stay <= limit.
    room = limit - len(head)
    while True:
        line = _slack_defuse(head + cut(parts.title, max(1, room)))
        escaped = len(line) + 4 * line.count("&") + 3 * (line.count("<") + line.count(">"))
        if escaped <= limit or room <= 1:
            return line
        room -= max(1, (escaped - limit) // 5)


# --- cleaning untrusted text --------------------------------------------------------------

# C0 controls except \t \n, DEL, C1 controls, bidi embeddings/overrides/isolates, BOM.
_STRIP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_NEWLINES = re.compile("\r\n|[\r\x85\u2028\u2029]")
_SPACES = re.compile(r"[^\S\n]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_SCHEME = re.compile(r":(?=//)")  # any "x://", whatever precedes it ("1https", "_https")


def clean(text: str | None, *, single_line: bool = False) -> str:
    """Untrusted text -> safe plain text: no control chars, no bidi tricks, no auto-links."""
    if not text:
        return ""
    text = _NEWLINES.sub("\n", str(text))
    text = _STRIP.sub("", text)
    if single_line:
        text = " ".join(text.split())
    else:
        text = _SPACES.sub(" ", text)
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _MANY_NEWLINES.sub("\n\n", text).strip()
    # "https://evil" in feed text must not become a link in any client: break the scheme.
    return _SCHEME.sub(":" + ZWSP, text)


def no_encoded_words(subject: str) -> str:
    """An e-mail client decodes "=?utf-8?b?...?=" in a subject (RFC 2047), which would
    bring back the line breaks and bidi overrides ``clean`` removed: break the opener."""
    return subject.replace("=?", "=" + ZWSP + "?")


def text_defuse(text: str) -> str:
    """The chat services behind the plain-text family (Discord, Mattermost, ...) read
    "@everyone", "@here", "@channel" and "<@123>" in a message as mentions, and apprise
    escapes none of them: every "@" of feed text is broken."""
    return text.replace("@", "@" + ZWSP)


def cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary and ending in "…"."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    if limit == 1:
        return ELLIPSIS
    head = text[: limit - 1]
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= (limit - 1) // 2:  # a word boundary not too far back; else hard cut
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def format_time(when: datetime | None) -> str:
    if when is None:
        return "time unknown"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _unsafe_chars(link: str) -> bool:
    """Whether ``link`` has a space or a character that is not printable. In ASCII the
    only printable space is " " (tab, CR, LF ... are not printable): two string methods
    instead of a test per character."""
    if link.isascii():
        return " " in link or not link.isprintable()
    return any(ch.isspace() or not ch.isprintable() for ch in link)


def safe_link(link: str | None) -> str | None:
    """The alert link if it is a plain http(s) URL, percent-encoded for markup; else None."""
    if not link:
        return None
    link = link.strip()
    if len(link) > MAX_LINK_LENGTH or _unsafe_chars(link):
        return None
    try:
        parts = urlsplit(link)
        host = parts.hostname
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or has_userinfo:
        return None
    # Keep URL syntax and existing %-escapes; encode what could break out of markup:
    # < > " \ ` { } | ^ and non-ASCII.
    return quote(link, safe=":/?#[]@!$&'()*+,;=%~-._")


# --- email --------------------------------------------------------------------------------


def _format_email(p: _Parts) -> Message:
    e = html.escape
    why = _why(p)
    rows = [
        ("Score", f"{p.severity} {p.score}"),
        ("Category", p.category),
        ("Source", p.source),
        ("Time", p.time),
    ]
    if p.where:
        rows.append(("Where", p.where))
    if why:
        rows.append(("Why", why))
    facts = "<br>".join(f"<b>{k}:</b> {e(v)}" for k, v in rows)
    out = ['<div style="font-family:sans-serif">']
    if p.title:
        out.append(f"<h2>{e(p.title)}</h2>")
    out.append(f"<p>{facts}</p>")
    if p.link:
        out.append(f'<p><a href="{e(p.link)}">{e(p.link)}</a></p>')
    if p.map_url:
        out.append(f'<p>{MAP_LABEL}: <a href="{e(p.map_url)}">{e(p.map_url)}</a></p>')
    if p.ref_line:
        out.append(f"<p><small>{e(p.ref_line)}</small></p>")
    if p.actions:
        out.append(f"<p>{_email_feedback(p.actions)}</p>")
    if p.summary:
        paragraphs = [e(par).replace("\n", "<br>") for par in p.summary.split("\n\n")]
        out.extend(f"<p>{par}</p>" for par in paragraphs)
    out.append("</div>")

    text = [*([p.title, ""] if p.title else []), *(f"{k}: {v}" for k, v in rows)]
    if p.link:
        text.append(f"Link: {p.link}")
    if p.map_url:  # the HTML's label: the e-mail's text part is this text (delivery)
        text.append(f"{MAP_LABEL}: {p.map_url}")
    if p.ref_line:
        text.append(p.ref_line)
    if p.actions:
        text.append(_text_feedback(p.actions))
    if p.summary:
        text += ["", p.summary]
    return Message(
        title="",
        body="\n".join(out),
        body_format="html",
        attach_text="\n".join(text),
        extra={"family": "email", "severity": p.severity},
    )


# --- Slack --------------------------------------------------------------------------------

# "!word>" / "@word|" : anything apprise's passthrough un-escaper could turn into a mention.
_MENTIONISH = re.compile(r"([!@])(?=[^\s|<>]*[|>])")


def _slack_defuse(text: str) -> str:
    return _MENTIONISH.sub(lambda m: m.group(1) + ZWSP, text)


_SLACK_LOOKALIKES = str.maketrans({"\\": "\u2216", "`": "\u02cb", "*": "\u2217", "~": "\u02dc"})
_SLACK_HEADING = re.compile(r"(?m)^([ \t]*)#")
# "_" opens or closes italics only at a word's edge: "armed_conflict" stays as it is
_SLACK_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def slack_escape(text: str) -> str:
    """Feed text -> CommonMark that apprise turns into inert Slack mrkdwn.

    ``<`` ``>`` become ``\\<`` ``\\>`` (apprise emits ``&lt;`` ``&gt;``); ``[`` ``]`` are
    escaped so no ``[label](url)`` can form; a backslash becomes U+2216 and a backtick
    U+02CB (look-alikes) so feed text can neither cancel our escapes nor open a code span
    in which escapes are not processed. ``&`` stays raw: apprise entity-escapes it.
    apprise turns ``*`` ``~``, ``_`` at a word's edge and a leading ``#`` into Slack bold,
    strike, italics and headings, and Slack shows a backslash escape as a backslash:
    those become look-alikes too (U+2217, U+02DC, U+02CD, U+FF03), so a feed cannot
    dress its text as a bold banner.
    """
    text = _slack_defuse(text).translate(_SLACK_LOOKALIKES)
    text = _SLACK_HEADING.sub("\\1\uff03", _SLACK_UNDERSCORE.sub("\u02cd", text))
    return re.sub(r"([<>\[\]])", r"\\\1", text)


def _format_slack(p: _Parts) -> Message:
    s = slack_escape
    lines = [f"**{s(p.title)}**"] if p.title else []
    lines.append(f"**{p.severity} {p.score}** · {s(p.category)} · {s(p.source)} · {p.time}")
    why = _why(p)
    if p.where:
        lines.append(
            f"Where: {s(p.where)}" + (f" · [{MAP_LABEL}](<{p.map_url}>)" if p.map_url else "")
        )
    if why:
        lines.append(f"Why: {s(why)}")
    if p.link:
        lines.append(f"[{LINK_LABEL}](<{p.link}>)")
    if p.ref_line:
        lines.append(s(p.ref_line))
    if p.actions:
        lines.append(_slack_feedback(p.actions))
    if p.summary:
        lines += ["", s(p.summary)]
    return Message(
        title="",
        body="\n".join(lines),
        body_format="markdown",
        extra={"family": "slack", "severity": p.severity},
    )


def _measure_slack(message: Message) -> int:
    # apprise turns "&" into "&amp;" (+4) and "\<" / "\>" into "&lt;" / "&gt;" (+2).
    body = message.body
    return len(body) + 4 * body.count("&") + 2 * (body.count("\\<") + body.count("\\>"))


# --- Telegram -----------------------------------------------------------------------------


def _format_telegram(p: _Parts) -> Message:
    e = html.escape
    lines = [f"<b>{e(p.headline)}</b>"]
    if p.title:
        lines.append(f"<b>{e(p.title)}</b>")
    lines.append(f"{e(p.source)} · {p.time}")
    if p.where:
        link = f' · <a href="{e(p.map_url)}">{MAP_LABEL}</a>' if p.map_url else ""
        lines.append(f"<i>Where:</i> {e(p.where)}{link}")
    why = _why(p)
    if why:
        lines.append(f"<i>Why:</i> {e(why)}")
    if p.link:
        lines.append(f'<a href="{e(p.link)}">{LINK_LABEL}</a>')
    if p.ref_line:
        lines.append(e(p.ref_line))
    if p.summary:
        lines += ["", e(p.summary)]
    return Message(
        title="",
        body="\n".join(lines),
        body_format="html",
        extra={"family": "telegram", "severity": p.severity},
        buttons=p.actions,  # an inline keyboard of URL buttons (delivery adds it)
    )


def _measure_telegram(message: Message) -> int:
    # Telegram counts UTF-16 code units; apprise sends "\n" as "\r\n".
    body = message.body
    return len(body.encode("utf-16-le")) // 2 + body.count("\n")


# --- plain text ---------------------------------------------------------------------------


def _format_text(p: _Parts) -> Message:
    d = text_defuse
    lines = [d(p.title)] if p.title else []
    lines.append(f"{p.severity} {p.score} · {p.category} · {p.source} · {p.time}")
    if p.where:
        lines.append(f"Where: {d(p.where)}")
    why = _why(p)
    if why:
        lines.append(f"Why: {why}")
    if p.link:
        lines.append(f"Link: {p.link}")
    if p.map_url:
        lines.append(f"Map: {p.map_url}")
    if p.ref_line:
        lines.append(p.ref_line)
    if p.actions:
        lines.append(_text_feedback(p.actions))
    if p.summary:
        lines += ["", d(p.summary)]
    return Message(
        title="",
        body="\n".join(lines),
        body_format="text",
        extra={"family": "text", "severity": p.severity},
    )


def _measure_len(message: Message) -> int:
    return len(message.body)


_FORMATTERS: dict[str, tuple[Callable[[_Parts], Message], Callable[[Message], int]]] = {
    "email": (_format_email, _measure_len),
    "slack": (_format_slack, _measure_slack),
    "telegram": (_format_telegram, _measure_telegram),
    "text": (_format_text, _measure_len),
}


# --- feedback links (feedback_links.py): the answer's words, then its signed URL ----------


def _email_feedback(actions: tuple[tuple[str, str], ...]) -> str:
    e = html.escape
    links = " · ".join(f'<a href="{e(url)}">{e(words)}</a>' for words, url in actions)
    return f"Was this alert right? {links}"


def _text_feedback(actions: tuple[tuple[str, str], ...]) -> str:
    return "Feedback:\n" + "\n".join(f"  {words}: {url}" for words, url in actions)


def _slack_feedback(actions: tuple[tuple[str, str], ...]) -> str:
    links = " · ".join(f"[{slack_escape(words)}](<{url}>)" for words, url in actions)
    return f"Feedback: {links}"


def _telegram_feedback(actions: tuple[tuple[str, str], ...]) -> str:
    e = html.escape
    return " · ".join(f'<a href="{e(url)}">{e(words)}</a>' for words, url in actions)


_FEEDBACK: dict[str, Callable[[tuple[tuple[str, str], ...]], str]] = {
    "email": _email_feedback,
    "slack": _slack_feedback,
    "telegram": _telegram_feedback,
    "text": _text_feedback,
}


def with_feedback(message: Message, family: str, actions: tuple[tuple[str, str], ...]) -> Message:
    """``message`` (a story update, say) with the feedback links added at its end:
    e-mail and Slack links, Telegram URL buttons, plain-text URLs."""
    links = tuple((clean(w, single_line=True), s) for w, u in actions if (s := safe_link(u)))
    if not links or family not in _FEEDBACK:
        return message
    if family == "telegram":
        return replace(message, buttons=links)
    if family == "email":
        body = message.body.removesuffix("</div>") + f"<p>{_email_feedback(links)}</p>"
        body += "</div>" if message.body.endswith("</div>") else ""
        text = message.attach_text and f"{message.attach_text}\n\n{_text_feedback(links)}"
        return replace(message, body=body, attach_text=text)
    return replace(message, body=f"{message.body}\n{_FEEDBACK[family](links)}")


# --- fitting the limit --------------------------------------------------------------------


def _fit(
    fmt: Callable[[_Parts], Message], measure: Callable[[Message], int], parts: _Parts, limit: int
) -> Message:
    """Cut the summary to fit. Only if even no summary does not fit (tiny limits): a shorter
    title, then fewer reasons, then a title cut to fit, and the link goes last."""

    def fits(p: _Parts) -> bool:
        return measure(fmt(p)) <= limit

    whole = fmt(parts)  # nearly always fits: formatted once, not once to measure and again
    if measure(whole) <= limit:
        return whole
    candidates = [parts, replace(parts, title=cut(parts.title, SHORT_TITLE))]
    while candidates[-1].reasons:
        last = candidates[-1]
        candidates.append(
            replace(last, reasons=last.reasons[:-1], more_reasons=last.more_reasons + 1)
        )
    for candidate in candidates:
        if fits(replace(candidate, summary="")):
            return fmt(_shrink(candidate, "summary", fits))
    bare = replace(candidates[-1], summary="", title=parts.title)
    bare = _shrink(bare, "title", fits)
    if not fits(bare) and bare.link:
        bare = _shrink(replace(bare, link=None, title=parts.title), "title", fits)
    return fmt(bare)


def _shrink(parts: _Parts, field: str, fits: Callable[[_Parts], bool]) -> _Parts:
    """The longest cut of ``field`` that fits (binary search; "" if nothing does)."""
    text: str = getattr(parts, field)
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(replace(parts, **{field: cut(text, mid)})):
            lo = mid
        else:
            hi = mid - 1
    return replace(parts, **{field: cut(text, lo)})


# --- digests ------------------------------------------------------------------------------


def render_digest(alerts: list[Alert], family: str, *, period: str = "") -> list[Message]:
    """One digest of many alerts, most severe first, split into as few messages as fit.

    Each line carries severity, score, category, title, source, time and link; feed
    text is escaped exactly as in single alerts. ``period`` names what the digest
    covers (e.g. "quiet hours" or "hourly digest").
    """
    return [message for message, _ in render_digest_parts(alerts, family, period=period)]


def render_digest_parts(
    alerts: list[Alert], family: str, *, period: str = ""
) -> list[tuple[Message, list[Alert]]]:
    """:func:`render_digest`'s messages, each with the alerts it lists (a story update
    answers the message that carried the story's first alert)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown channel family {family!r}; expected one of {FAMILIES}")
    ordered = sorted(
        alerts, key=lambda a: (-a.score, a.published or datetime.min.replace(tzinfo=UTC))
    )
    parts = [_parts(a) for a in ordered]
    line, wrap, fmt, measure = _DIGEST[family]
    # room for the header and the part marker; an e-mail digest stays one message
    budget = (500_000 if family == "email" else BODY_LIMITS[family]) - 200
    chunks: list[list[str]] = [[]]
    carried: list[list[Alert]] = [[]]
    size = 0
    for a, p in zip(ordered, parts, strict=True):
        text = line(p)
        if measure(text) + 1 > budget and p.link:  # a feed's absurd link costs only itself
            text = line(replace(p, link=None))
        cost = measure(text) + 1
        if chunks[-1] and size + cost > budget:
            chunks.append([])
            carried.append([])
            size = 0
        chunks[-1].append(text)
        carried[-1].append(a)
        size += cost
    what = period or "digest"
    updates = sum(1 for a in ordered if a.update is not None)
    total = len(ordered) - updates
    high = sum(1 for a in ordered if severity(a.score) == "HIGH" and a.update is None)
    counted = f"{total} alert{'s' if total != 1 else ''} ({high} HIGH)"
    if updates:
        counted += f" and {updates} update{'s' if updates != 1 else ''}"
    messages = []
    for n, (chunk, listed) in enumerate(zip(chunks, carried, strict=True), 1):
        marker = f" (part {n}/{len(chunks)})" if len(chunks) > 1 else ""
        header = f"{counted}, {what}{marker}"
        title = cut(clean(f"[newsalert] {header}", single_line=True), TITLE_LIMITS.get(family, 250))
        body, text = wrap(header, chunk)
        message = Message(
            title="" if family == "telegram" else title,
            body=body,
            body_format=fmt,
            attach_text=text,
            extra={"family": family, "digest": "yes"},
            notify_type=notify_type(max(a.score for a in listed)) if listed else "info",
        )
        messages.append((message, listed))
    return messages


def _link_label(link: str) -> str:
    """What a digest shows for a link: its host, so a feed title such as
    "www.bank.example/login" can never be the visible text of a link elsewhere."""
    return urlsplit(link).hostname or LINK_LABEL


def _digest_email_line(p: _Parts) -> str:
    e = html.escape
    title = e(p.title or "(no title)")
    linked = f'{title} (<a href="{e(p.link)}">{e(_link_label(p.link))}</a>)' if p.link else title
    ref = f", ref {p.ref}" if p.ref else ""
    where = f", {e(p.where)}" if p.where else ""
    if p.where and p.map_url:
        where += f' (<a href="{e(p.map_url)}">map</a>)'
    answers = f" <small>{_email_feedback(p.actions)}</small>" if p.actions else ""
    return f"<li><b>{p.severity} {p.score}</b> {e(p.category)}: {linked} <small>({e(p.source)}, {p.time}{where}{ref})</small>{answers}</li>"


def _digest_slack_line(p: _Parts) -> str:
    s = slack_escape
    title = s(p.title or "(no title)")
    linked = f"{title} ([{s(_link_label(p.link))}](<{p.link}>))" if p.link else title
    ref = f" · ref {p.ref}" if p.ref else ""
    where = f" · {s(p.where)}" if p.where else ""
    if p.where and p.map_url:
        where += f" ([map](<{p.map_url}>))"
    answers = f" · {_slack_feedback(p.actions)}" if p.actions else ""
    return f"- **{p.severity} {p.score}** {s(p.category)}: {linked} · {s(p.source)} · {p.time}{where}{ref}{answers}"


def _digest_telegram_line(p: _Parts) -> str:
    e = html.escape
    title = e(p.title or "(no title)")
    linked = f'{title} (<a href="{e(p.link)}">{e(_link_label(p.link))}</a>)' if p.link else title
    ref = f" · ref {p.ref}" if p.ref else ""
    where = f" · {e(p.where)}" if p.where else ""
    if p.where and p.map_url:
        where += f' (<a href="{e(p.map_url)}">map</a>)'
    answers = f"\n  {_telegram_feedback(p.actions)}" if p.actions else ""
    return f"• <b>{p.severity} {p.score}</b> {e(p.category)}: {linked} · {e(p.source)} · {p.time}{where}{ref}{answers}"


def _digest_text_line(p: _Parts) -> str:
    link = f"\n  {p.link}" if p.link else ""
    ref = f" · ref {p.ref}" if p.ref else ""
    title = text_defuse(p.title or "(no title)")
    where = f" · {text_defuse(p.where)}" if p.where else ""
    if p.where and p.map_url:
        link += f"\n  map: {p.map_url}"
    answers = "".join(f"\n  {words}: {url}" for words, url in p.actions)
    return f"- {p.severity} {p.score} {p.category}: {title} · {p.source} · {p.time}{where}{ref}{link}{answers}"


def _wrap_email(header: str, lines: list[str]) -> tuple[str, str | None]:
    body = f'<div style="font-family:sans-serif"><h2>{html.escape(header)}</h2><ul>{"".join(lines)}</ul></div>'
    return body, None


def _wrap_slack(header: str, lines: list[str]) -> tuple[str, str | None]:
    return f"**{slack_escape(header)}**\n" + "\n".join(lines), None


def _wrap_telegram(header: str, lines: list[str]) -> tuple[str, str | None]:
    return f"<b>{html.escape(header)}</b>\n" + "\n".join(lines), None


def _wrap_text(header: str, lines: list[str]) -> tuple[str, str | None]:
    return header + "\n" + "\n".join(lines), None


def _telegram_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2 + text.count("\n")


def _slack_len(text: str) -> int:
    return len(text) + 4 * text.count("&") + 2 * (text.count("\\<") + text.count("\\>"))


_DIGEST: dict[
    str,
    tuple[
        Callable[[_Parts], str],
        Callable[[str, list[str]], tuple[str, str | None]],
        str,
        Callable[[str], int],
    ],
] = {
    "email": (_digest_email_line, _wrap_email, "html", len),
    "slack": (_digest_slack_line, _wrap_slack, "markdown", _slack_len),
    "telegram": (_digest_telegram_line, _wrap_telegram, "html", _telegram_len),
    "text": (_digest_text_line, _wrap_text, "text", len),
}


# --- story updates (stories.py) ----------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    text: str  # "" when the report names no place
    map_url: str | None


@dataclass(frozen=True)
class _Update:
    """An update's parts, cleaned and cut, as each channel's formatter lays them out."""

    story: str
    headline: str
    changes: str
    sources: str
    facts: str
    link: str | None
    summary: str
    where: _Where


UPDATE_SUMMARY = 600  # an update is short: what is new, not the whole article
UPDATE_SOURCES = 8  # feeds named in an update; the rest are counted


def render_update(update: StoryUpdate, family: str) -> Message:
    """A short message for a later report of a story the subscriber was alerted to.

    E-mail answers the first alert ("Re: <its subject>"; the caller adds the thread
    headers). Slack and Telegram get a short "Update" message, which the caller marks
    ``reply_to`` the first alert when the service gave its id: Telegram (one chat) sends it
    as a reply, a Slack bot token (one channel) in the first alert's thread; Slack webhooks
    cannot thread and answer with no id, so there it stands alone.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown channel family {family!r}; expected one of {FAMILIES}")
    a = update.alert
    story = cut(clean(update.story_title, single_line=True), MAX_TITLE) or "(untitled)"
    headline = cut(clean(a.title, single_line=True), MAX_TITLE) or "(untitled)"
    changes = "; ".join(c for c in (clean(x, single_line=True) for x in update.changes) if c)
    names = [n for n in (clean(s, single_line=True) for s in update.sources) if n]
    listed = ", ".join(names[:UPDATE_SOURCES])
    if len(names) > UPDATE_SOURCES:
        listed += f" and {len(names) - UPDATE_SOURCES} more"
    sources = f"{len(names)} source{'' if len(names) == 1 else 's'}, {update.item_count} reports"
    sources += f": {listed}" if listed else ""
    facts = (
        f"{severity(a.score)} {a.score:.2f} · {clean(a.category, single_line=True) or 'none'} · "
        f"{clean(a.source, single_line=True) or 'unknown source'} · {format_time(a.published)}"
    )
    link = safe_link(a.link)
    # the same "Where:" line a first alert has (the story may have moved since)
    where = _Where(clean(a.where, single_line=True), safe_link(a.map_url))
    parts = _Update(
        story, headline, changes, sources, facts, link, cut(clean(a.summary), UPDATE_SUMMARY), where
    )
    limit = BODY_LIMITS[family]
    while True:
        message = replace(_UPDATE_FORMATS[family](parts), notify_type=notify_type(a.score))
        measure = {"slack": _measure_slack, "telegram": _measure_telegram}.get(family, _measure_len)
        if measure(message) <= limit or not (parts.summary or parts.link):
            break
        if summary := parts.summary:
            parts = replace(
                parts, summary=cut(summary, len(summary) // 2) if len(summary) > 40 else ""
            )
        else:  # the summary is gone and it still does not fit: a feed's absurd link
            parts = replace(parts, link=None)
    if family == "email":
        subject = clean(update.reply_subject, single_line=True) if update.reply_subject else ""
        if subject:
            subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        else:
            subject = f"[newsalert] Update: {story}"
        return replace(message, title=no_encoded_words(cut(subject, TITLE_LIMITS["email"])))
    if family == "text":
        title = cut(f"[newsalert] Update: {story}", TITLE_LIMITS["text"])
        return replace(message, title=text_defuse(title))
    return message


def _update_email(u: _Update) -> Message:
    e = html.escape
    out = ['<div style="font-family:sans-serif">', f"<p><b>Update:</b> {e(u.story)}</p>"]
    if u.changes:
        out.append(f"<p><b>What is new:</b> {e(u.changes)}</p>")
    out.append(f"<h3>{e(u.headline)}</h3>")
    out.append(f"<p>{e(u.facts)}<br>{e(u.sources)}</p>")
    if u.where.text:
        place = f"<b>Where:</b> {e(u.where.text)}"
        if u.where.map_url:
            place += f' (<a href="{e(u.where.map_url)}">{MAP_LABEL}</a>)'
        out.append(f"<p>{place}</p>")
    if u.link:
        out.append(f'<p><a href="{e(u.link)}">{e(u.link)}</a></p>')
    if u.summary:
        out.append(f"<p>{e(u.summary).replace(chr(10), '<br>')}</p>")
    out.append("</div>")
    text = [f"Update: {u.story}"]
    if u.changes:
        text.append(f"What is new: {u.changes}")
    text += ["", u.headline, u.facts, u.sources]
    if u.where.text:
        text.append(f"Where: {u.where.text}")
        if u.where.map_url:
            text.append(f"{MAP_LABEL}: {u.where.map_url}")
    if u.link:
        text.append(f"Link: {u.link}")
    if u.summary:
        text += ["", u.summary]
    return Message(
        title="",
        body="\n".join(out),
        body_format="html",
        attach_text="\n".join(text),
        extra={"family": "email", "kind": "update"},
    )


def _update_slack(u: _Update) -> Message:
    s = slack_escape
    lines = [f"**Update:** {s(u.story)}"]
    if u.changes:
        lines.append(f"What is new: {s(u.changes)}")
    lines.append(f"**{s(u.headline)}**")
    lines.append(f"{s(u.facts)} · {s(u.sources)}")
    if u.where.text:
        lines.append(
            f"Where: {s(u.where.text)}"
            + (f" · [{MAP_LABEL}](<{u.where.map_url}>)" if u.where.map_url else "")
        )
    if u.link:
        lines.append(f"[{LINK_LABEL}](<{u.link}>)")
    if u.summary:
        lines += ["", s(u.summary)]
    return Message(
        title="", body="\n".join(lines), body_format="markdown", extra={"family": "slack"}
    )


def _update_telegram(u: _Update) -> Message:
    e = html.escape
    lines = [f"<b>Update:</b> {e(u.story)}"]
    if u.changes:
        lines.append(f"<i>What is new:</i> {e(u.changes)}")
    lines.append(f"<b>{e(u.headline)}</b>")
    lines.append(f"{e(u.facts)}\n{e(u.sources)}")
    if u.where.text:
        place = f' · <a href="{e(u.where.map_url)}">{MAP_LABEL}</a>' if u.where.map_url else ""
        lines.append(f"<i>Where:</i> {e(u.where.text)}{place}")
    if u.link:
        lines.append(f'<a href="{e(u.link)}">{LINK_LABEL}</a>')
    if u.summary:
        lines += ["", e(u.summary)]
    return Message(
        title="", body="\n".join(lines), body_format="html", extra={"family": "telegram"}
    )


def _update_text(u: _Update) -> Message:
    d = text_defuse
    lines = [f"Update: {d(u.story)}"]
    if u.changes:
        lines.append(f"What is new: {d(u.changes)}")
    lines += [d(u.headline), u.facts, u.sources]
    if u.where.text:
        lines.append(f"Where: {d(u.where.text)}")
    if u.link:
        lines.append(f"Link: {u.link}")
    if u.where.text and u.where.map_url:
        lines.append(f"Map: {u.where.map_url}")
    if u.summary:
        lines += ["", d(u.summary)]
    return Message(title="", body="\n".join(lines), body_format="text", extra={"family": "text"})


_UPDATE_FORMATS: dict[str, Callable[[_Update], Message]] = {
    "email": _update_email,
    "slack": _update_slack,
    "telegram": _update_telegram,
    "text": _update_text,
}
