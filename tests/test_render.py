"""Rendering: one alert, one renderer per channel family; feed text is hostile."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsalert.models import Alert, Reason, StoryUpdate
from newsalert.render import (
    BODY_LIMITS,
    ELLIPSIS,
    FAMILIES,
    ZWSP,
    _unsafe_chars,
    channel_family,
    clean,
    cut,
    render,
    render_digest,
    render_update,
    safe_link,
    severity,
)

LINK = "https://news.example.org/story?id=1&lang=en"
HOSTILE_TITLE = "<!channel> <https://evil.example|Bank> <@U123> <#C42> <!here|x> <!everyone>"


def make_alert(**overrides: object) -> Alert:
    fields: dict[str, object] = {
        "item_id": 7,
        "title": "Troops cross border",
        "source": "Reuters",
        "published": datetime(2023, 9, 29, 14, 5, 31, tzinfo=UTC),
        "score": 0.93,
        "category": "armed_conflict",
        "reasons": (
            Reason("rule", 'include "armed attack" (title)', 0.4),
            Reason("model", 'term "troops"', 0.12),
        ),
        "link": LINK,
        "summary": "Fighting <b>erupted</b> & spread.",
    }
    fields.update(overrides)
    return Alert(**fields)  # type: ignore[arg-type]


# --- channel families ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "family"),
    [
        ("mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org", "email"),
        ("mailtos://user:pw@smtp.example.org", "email"),
        ("MAILTO://example.org", "email"),
        ("sendgrid://key:a@example.org/b@example.org", "email"),
        ("ses://a@example.org/k/s/us-east-1/b@example.org", "email"),
        ("slack://T1/B1/C1", "slack"),
        ("https://hooks.slack.com/services/T1/B1/C1", "slack"),
        ("https://hooks.slack-gov.com/services/T1/B1/C1", "slack"),
        ("tgram://123456:ABCDEF/987654", "telegram"),
        ("discord://1/2", "text"),
        ("https://example.com/hook", "text"),
        ("json://127.0.0.1/x", "text"),
        ("garbage", "text"),
        ("", "text"),
    ],
)
def test_channel_family(url: str, family: str) -> None:
    assert channel_family(url) == family


@pytest.mark.parametrize(
    ("score", "word"),
    [
        (1.0, "HIGH"),
        (0.9, "HIGH"),
        (0.8999, "MEDIUM"),
        (0.7, "MEDIUM"),
        (0.6999, "LOW"),
        (0.0, "LOW"),
    ],
)
def test_severity(score: float, word: str) -> None:
    assert severity(score) == word


def test_unknown_family_is_an_error() -> None:
    with pytest.raises(ValueError, match="family"):
        render(make_alert(), "sms")


# --- content --------------------------------------------------------------------------------


def test_email_has_html_body_text_alternative_and_subject() -> None:
    message = render(make_alert(), "email")
    assert message.body_format == "html"
    assert message.title == "[newsalert] HIGH 0.93 armed_conflict: Troops cross border"
    assert message.attach_text is not None
    for needle in (
        "Reuters",
        "2023-09-29 14:05 UTC",
        "0.93",
        "armed_conflict",
        "rule include",
        "troops",
    ):
        assert needle in message.body
        assert needle in message.attach_text
    assert f'<a href="{LINK.replace("&", "&amp;")}">' in message.body
    assert f"Link: {LINK}" in message.attach_text
    # feed HTML is text, not markup
    assert "Fighting &lt;b&gt;erupted&lt;/b&gt; &amp; spread." in message.body
    assert "<b>erupted" not in message.body
    assert "Fighting <b>erupted</b> & spread." in message.attach_text


def test_time_is_utc_and_readable() -> None:
    cest = timezone(timedelta(hours=2))
    for published, shown in [
        (datetime(2023, 9, 29, 16, 5, tzinfo=cest), "2023-09-29 14:05 UTC"),
        (datetime(2023, 9, 29, 14, 5), "2023-09-29 14:05 UTC"),  # naive: taken as UTC
        (None, "time unknown"),
    ]:
        for family in FAMILIES:
            assert shown in render(make_alert(published=published), family).body


def test_reasons_are_compact_rules_first_then_top_positive_terms() -> None:
    reasons = (
        Reason("model", 'term "weak"', 0.01),
        Reason("rule", 'include "shelling" (summary)', 0.3),
        Reason("model", 'term "strong"', 0.2),
        Reason("model", 'term "negative"', -0.5),
        Reason("model", 'term "medium"', 0.1),
        Reason("model", 'term "small"', 0.05),
    )
    text = render(make_alert(reasons=reasons), "text").body
    why = next(line for line in text.splitlines() if line.startswith("Why: "))
    # the rules that fired, then the words that counted: no weights (a rule's boost is a
    # probability, a word's a log-odds weight), no model jargon; `explain` has the arithmetic
    assert why == 'Why: rule include "shelling" (summary); words: strong, medium, small (+1 more)'
    assert "Why:" not in render(make_alert(reasons=()), "text").body
    cues = (
        Reason("rule", 'boost "Kosovo" (title)', 0.05),
        Reason("rule", 'include "troops" (title)', 0.5),
        Reason("model", '"[violence] words"', 3.66),
        Reason("model", '"police"', 1.2),
    )
    why = next(
        line
        for line in render(make_alert(reasons=cues), "text").body.splitlines()
        if line.startswith("Why: ")
    )
    assert why == 'Why: rules: boost "Kosovo" (title), include "troops" (title); word: police'


@pytest.mark.parametrize("family", FAMILIES)
def test_an_item_not_in_english_says_it_was_judged_by_rules(family: str) -> None:
    reasons = (
        Reason("language", "language: sr (not English, langid 1.00): rules only", 0.0),
        Reason("rule", 'include "napad" (title)', 0.5),
    )
    body = render(make_alert(reasons=reasons), family).body
    assert 'include "napad" (title); language: sr (not English, langid 1.00): rules only' in (
        body.replace("&quot;", '"')
    ), body


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_carries_the_essentials(family: str) -> None:
    message = render(make_alert(), family)
    text = message.title + message.body
    for needle in (
        "Troops cross border",
        "Reuters",
        "2023-09-29 14:05 UTC",
        "0.93",
        "armed_conflict",
    ):
        assert needle in text
    assert "troops" in message.body  # the reasons
    assert "news.example.org/story?id=1" in message.body


# --- hostile feed text --------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "title",
    [
        "x\r\nBcc: victim@example.org",
        "x\nBcc: victim@example.org",
        "x\rBcc: victim@example.org",
        "x\u2028Bcc: victim@example.org",
        "x\x85Bcc: victim@example.org",
        "x\x00\x1b[31m\x7f\u202eBcc: victim@example.org",
    ],
)
def test_titles_are_one_line_without_control_characters(family: str, title: str) -> None:
    message = render(make_alert(title=title), family)
    subject = message.title if family != "telegram" else message.body.splitlines()[1]
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]", subject)
    # kept as text, on the same line (the text family breaks "@": see below)
    assert "Bcc: victim@example.org" in subject.replace(ZWSP, "")


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "ftp://x.example/f",
        "https://user:pw@evil.example/",
        "//evil.example/x",
        "https://",
        "not a link",
        "https://x.example/\nBcc: y",
        "https://x.example/" + "a" * 3000,
    ],
)
@pytest.mark.parametrize("family", FAMILIES)
def test_only_plain_http_links_reach_a_message(link: str, family: str) -> None:
    message = render(make_alert(link=link), family)
    text = message.body + (message.attach_text or "")
    assert "javascript:" not in text
    assert "data:" not in text
    assert "href" not in text
    assert "Open article" not in text
    assert "Link:" not in text


def test_link_characters_that_could_break_markup_are_percent_encoded() -> None:
    link = "https://x.example/a>b|<!channel>\"q'`{}^\\?u=é"
    safe = safe_link(link)
    assert safe == "https://x.example/a%3Eb%7C%3C!channel%3E%22q'%60%7B%7D%5E%5C?u=%C3%A9"
    assert safe_link("HTTPS://X.example/p%20q") == "HTTPS://X.example/p%20q"  # no double escape


@pytest.mark.parametrize("family", FAMILIES)
def test_urls_in_feed_text_are_not_links(family: str) -> None:
    message = render(make_alert(summary="see https://evil.example/login now", link=None), family)
    assert "https://evil.example" not in message.body
    assert f"https:{ZWSP}//evil.example/login" in message.body


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "text",
    ["1https://evil.example/x", "Breaking_https://evil.example/x", "aaaahttps://evil.example/x"],
)
def test_urls_glued_to_other_text_are_not_links_either(family: str, text: str) -> None:
    message = render(make_alert(title=text, summary=f"see {text} now", link=None), family)
    assert "://" not in message.body + message.title
    assert f"https:{ZWSP}//evil.example/x" in message.body


def test_an_encoded_word_in_a_title_cannot_bring_back_what_clean_removed() -> None:
    """A mail client decodes "=?utf-8?b?...?=" in a subject: here to a bidi override
    and a line break. The opener is broken, so the subject shows as typed."""
    title = "Update from =?utf-8?b?4oCuS0NPTELigKwgQmFuazogdmVyaWZ5DQpYLVNwb29mOiAx?= now"
    message = render(make_alert(title=title), "email")
    assert "=?" not in message.title and f"={ZWSP}?utf-8?b?" in message.title
    update = render_update(
        StoryUpdate(make_alert(title=title), 1, title, ("a", "b"), 2, ()), "email"
    )
    assert "=?" not in update.title


@pytest.mark.parametrize("where", ["alert", "digest", "update"])
def test_plain_text_chats_get_no_mentions_from_feed_text(where: str) -> None:
    """Discord and Mattermost take the plain-text family, and read these as mentions."""
    hostile = "@everyone @here @channel @all <@&123456789012345678> Breaking"
    alert = make_alert(title=hostile, summary=f"Also {hostile}")
    if where == "alert":
        messages = [render(alert, "text")]
    elif where == "digest":
        messages = render_digest([alert], "text")
    else:
        messages = [render_update(StoryUpdate(alert, 1, hostile, ("a", "b"), 2, ()), "text")]
    for message in messages:
        text = message.title + "\n" + message.body
        assert not re.search(r"@(everyone|here|channel|all|&)", text)
        assert f"@{ZWSP}everyone" in text


@pytest.mark.parametrize("family", ["email", "slack", "telegram"])
def test_a_digest_never_shows_a_feed_title_as_the_text_of_a_link(family: str) -> None:
    """A title that looks like an address must not be what a link says it leads to:
    a digest's link shows the host it goes to."""
    alert = make_alert(title="www.paypal.com/security-check", link="https://evil.example/phish")
    [message] = render_digest([alert], family)
    body = message.body
    assert "https://evil.example/phish" in body
    for spoof in (">www.paypal.com/security-check</a>", "[www.paypal.com/security-check]"):
        assert spoof not in body
    label = {"email": ">evil.example</a>", "telegram": ">evil.example</a>"}.get(
        family, "[evil.example](<https://evil.example/phish>)"
    )
    assert label in body
    assert "www.paypal.com/security-check" in body  # the title is still there, as text


ABSURD_LINK = "https://news.example.org/?" + "&" * 2000  # x5 once escaped for HTML


@pytest.mark.parametrize("family", ["slack", "telegram", "text"])
def test_an_absurd_link_costs_only_itself_in_digests_and_updates(family: str) -> None:
    """A link within the length cap that grows fivefold when escaped must not push a
    digest line or a story update past the service's limit (Telegram would cut the
    message to its first line): the link is left out, the rest stays."""
    alert = make_alert(title="Gunmen attack police post", link=ABSURD_LINK)
    limit = BODY_LIMITS[family]
    measure = {"telegram": lambda m: len(m.body.encode("utf-16-le")) // 2 + m.body.count("\n")}
    size = measure.get(family, lambda m: len(m.body))
    messages = render_digest([alert, make_alert(title="Second report")], family)
    update = render_update(StoryUpdate(alert, 1, "Police post attack", ("a", "b"), 2, ()), family)
    for message in [*messages, update]:
        assert size(message) <= limit
        assert "Gunmen attack police post" in message.body
    assert len(messages) == 1 and "Second report" in messages[0].body


def test_slack_neutralises_mentions_and_links_from_feed_text() -> None:
    alert = make_alert(
        title=HOSTILE_TITLE,
        summary="<script>x</script> [click](https://evil.example) `<!here>` \\<!channel\\> a & b",
        reasons=(Reason("model", "term <@U99>", 0.3),),
    )
    message = render(alert, "slack")
    assert message.body_format == "markdown"
    body = message.body
    # Every "<" ">" "[" "]" from the feed is CommonMark-escaped; only our link is a link.
    unescaped = re.findall(r"(?<!\\)[<>\[\]]", body)
    assert unescaped == ["[", "]", "<", ">"]
    assert f"[Open article](<{LINK}>)" in body
    # No contiguous mention keyword survives (defeats un-escaping of "!channel&gt;" too).
    for keyword in ("!channel", "!here", "!everyone", "@U123", "@U99"):
        assert keyword not in body
        assert keyword not in message.title
    assert "`" not in body  # no code span in which escapes would not apply
    assert "\\\\" not in body  # a feed backslash cannot cancel an escape
    assert "a & b" in body  # apprise entity-escapes "&" itself


def test_telegram_is_escaped_html_with_the_headline_in_the_body() -> None:
    message = render(make_alert(title="<script>alert(1)</script>"), "telegram")
    assert message.body_format == "html"
    assert message.title == ""
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.body
    tags = re.findall(r"<(/?[a-z]+)", message.body)
    assert set(tags) <= {"b", "/b", "i", "/i", "a", "/a"}
    assert tags.count("a") == 1


# --- length ----------------------------------------------------------------------------------


def test_cut_at_word_boundary() -> None:
    assert cut("short", 10) == "short"
    assert cut("one two three four", 12) == "one two" + ELLIPSIS
    assert cut("x" * 50, 10) == "x" * 9 + ELLIPSIS  # one long word: hard cut
    assert cut("abc", 1) == ELLIPSIS
    assert cut("abc", 0) == ""
    assert len(cut("word " * 1000, 4000)) <= 4000


@pytest.mark.parametrize("family", FAMILIES)
def test_long_summary_is_cut_and_keeps_link_and_reasons(family: str) -> None:
    summary = " ".join(f"word{i}" for i in range(4000))  # ~30,000 characters
    message = render(make_alert(summary=summary), family)
    assert len(message.body) <= BODY_LIMITS[family]
    assert "news.example.org/story" in message.body
    assert "rule include" in message.body and "troops" in message.body
    assert ELLIPSIS in message.body
    kept = re.findall(r"word\d+", message.body)
    assert kept and kept[-1] in summary.split()  # whole words only
    assert len(message.body) > BODY_LIMITS[family] * 0.8  # and not cut far too short


def test_telegram_limit_counts_final_characters() -> None:
    # "&" grows to "&amp;" and "\n" to "\r\n" on the wire; emoji count twice in UTF-16.
    summary = ("a & b\n\U0001f525 " * 3000).strip()
    body = render(make_alert(summary=summary), "telegram").body
    wire = body.replace("\n", "\r\n")
    assert len(wire.encode("utf-16-le")) // 2 <= 4096
    assert LINK.replace("&", "&amp;") in body


def test_limit_overrides_the_family_default() -> None:
    message = render(make_alert(summary="word " * 500), "text", limit=300)
    assert len(message.body) <= 300
    assert LINK in message.body


@pytest.mark.parametrize("family", FAMILIES)
def test_absurdly_small_limit_degrades_without_crashing(family: str) -> None:
    message = render(make_alert(summary="word " * 500, title="t " * 200), family, limit=120)
    assert message.body


def test_long_titles_are_cut_for_subjects_and_slack_headers() -> None:
    alert = make_alert(title="word " * 200)
    assert len(render(alert, "email").title) <= 200
    assert render(alert, "email").title.endswith(ELLIPSIS)
    hostile = make_alert(title="<&>" * 100)
    title = render(hostile, "slack").title
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert len(escaped) <= 150  # Slack header blocks: 150 characters


def test_clean_keeps_text_but_not_controls() -> None:
    assert clean("a\r\n\r\n\r\n\r\nb\t\tc\x00") == "a\n\nb c"
    assert clean(" a \n b ", single_line=True) == "a b"
    assert clean(None) == ""


def test_render_is_pure() -> None:
    alert = make_alert()
    assert render(alert, "slack") == render(replace(alert), "slack")


@pytest.mark.parametrize("family", ["email", "slack", "telegram", "text"])
def test_story_updates_say_where_as_first_alerts_do(family: str) -> None:
    placed = make_alert(
        where="Banjska, Kosovo (8 km from mitrovica-office)",
        map_url="https://www.openstreetmap.org/?mlat=42.9686&mlon=20.7647",
    )
    first = render(placed, family).body
    update = render_update(StoryUpdate(placed, 1, "Police post attack", ("a", "b"), 2, ()), family)
    for body in (first, update.body):
        assert "Banjska, Kosovo (8 km from mitrovica-office)" in body
        assert "openstreetmap.org/?mlat=42.9686" in body
    if family == "email":
        assert "Where: Banjska" in (update.attach_text or "")
        # the e-mails' text parts (sent as they are) carry the map's URL, labelled as in the HTML
        for text in (render(placed, family).attach_text, update.attach_text):
            assert "Map (OpenStreetMap): https://www.openstreetmap.org/?mlat=42.9686" in (
                text or ""
            )
    # a report that names no place gets no Where line
    bare = render_update(StoryUpdate(make_alert(), 1, "Police post attack", ("a",), 1, ()), family)
    assert "Where" not in bare.body and "openstreetmap" not in bare.body


@pytest.mark.parametrize("code", [*range(128), 0x85, 0xA0, 0x2028, 0x3000, 0xE9, 0x1F600])
def test_safe_link_refuses_exactly_spaces_and_unprintable_characters(code: int) -> None:
    """The ASCII shortcut of ``safe_link``'s character test answers as the test per
    character does, for every ASCII character and a few others, alone and in a link."""
    ch = chr(code)
    for text in (ch, f"https://example.org/{ch}x", f"https://example.org/a?q={ch}{ch}z"):
        refused = any(c.isspace() or not c.isprintable() for c in text)
        assert _unsafe_chars(text) == refused
        if refused:
            assert safe_link(text) is None


def test_an_alert_that_fits_is_formatted_once() -> None:
    """The first formatting is measured and returned as it is, not formatted again."""
    from newsalert import render as render_module

    calls: list[object] = []

    def counted(p: render_module._Parts) -> object:
        calls.append(p)
        return render_module._format_email(p)

    parts = render_module._parts(make_alert())
    message = render_module._fit(counted, render_module._measure_len, parts, 20_000)  # type: ignore[arg-type]
    assert message == render_module._format_email(parts)
    assert len(calls) == 1
    # one that does not fit is still cut: measured again for each candidate
    calls.clear()
    short = render_module._fit(counted, render_module._measure_len, parts, 400)  # type: ignore[arg-type]
    assert len(short.body) <= 400 and len(calls) > 2
