"""Kind signals from an item's link and title form (newsalert.kinds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsalert.kinds import KIND_NAMES, kind_features


@pytest.mark.parametrize(
    ("title", "link", "want"),
    [
        # link sections, across outlets' spellings
        ("", "https://www.cnn.com/videos/world/2020/05/24/hk-protests.cnn", {"kind:video"}),
        ("", "https://www.theguardian.com/commentisfree/2020/jun/01/x", {"kind:opinion"}),
        ("", "https://www.nytimes.com/2020/06/01/opinion/police.html", {"kind:opinion"}),
        ("", "https://www.bbc.co.uk/news/live/world-us-canada-52869212", {"kind:live"}),
        ("", "https://www.youtube.com/watch?v=sDWWI3yWYh8", {"kind:video"}),
        ("", "https://www.dailymail.co.uk/tvshowbiz/article-1/x.html", {"kind:soft"}),
        ("", "https://www.latimes.com/sports/story/2020-06-01/x", {"kind:sport"}),
        # the slug's words count, whole words only ("olive" is not "live")
        ("", "https://example.org/2020/06/01/minneapolis-live-updates", {"kind:live"}),
        ("", "https://example.org/2020/06/01/olive-oil-prices", set()),
        # generic sections say nothing about kind; the slug is not a section
        ("", "https://www.bbc.co.uk/news/world-us-canada-52869212", set()),
        ("", "https://example.org/opinion", {"kind:opinion"}),
        # title forms
        ("How can police brutality be brought to an end? | Inside Story", None,
         {"title:pipe", "title:programme", "title:explainer"}),
        ("Can the police be reformed?", None, {"title:question"}),
        ("Watch: Police fire tear gas at protesters", None, {"kind:video"}),
        ("Opinion | The riots are a symptom", None, {"kind:opinion", "title:pipe"}),
        # the link and the title saying the same kind are one signal
        ("Opinion: the riots", "https://example.org/opinion/2020/x", {"kind:opinion"}),
        ("Analysis: what the deal means", None, {"kind:analysis"}),
        ("Kenya: gunmen kill 12 in Mandera", None, {"title:labelled"}),
        ("Minneapolis unrest: what we know", None, {"title:labelled", "title:explainer"}),
        ("'We are pained', says Michelle Obama", None, {"title:quote"}),
        ("Police fire tear gas at protesters in Minneapolis", None, set()),
        # an apostrophe inside a word is not a quotation
        ("Kosovo's police attacked in Banjska", None, set()),
    ],
)  # fmt: skip
def test_kind_features(title: str, link: str | None, want: set[str]) -> None:
    assert kind_features(title, "", link) == want


def test_every_signal_is_a_model_column() -> None:
    """Anything kind_features returns has a column; the column list has no duplicates."""
    assert len(set(KIND_NAMES)) == len(KIND_NAMES)
    found = set()
    for title, link in [
        ("Watch: x? | Inside Story 'q'", "https://youtube.com/watch?v=1"),
        ("Live: what we know", "https://a.org/opinion/videos/live/podcasts/analysis/x"),
        ("Breaking: photos", "https://a.org/features/lifestyle/sport/business/tech/health/x"),
        ("In pictures: timeline", "https://a.org/politics/2020/x-gallery"),
        ("Kenya: who gains?", None),
    ]:
        found |= kind_features(title, "", link)
    assert found == set(KIND_NAMES)


@pytest.mark.parametrize("link", ["http://[::1", "not a url", "", "https://"])
def test_malformed_links_say_nothing(link: str) -> None:
    assert kind_features("", "", link) == set()


def test_score_command_reads_the_link(
    tmp_path: Path, model_dir: Path, classifier: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """`newsalert score` takes a line's link, so an op-ed scores as a feed's op-ed would."""
    from newsalert.cli import main

    config = tmp_path / "newsalert.yaml"
    config.write_text(f"storage: {{data_dir: {model_dir}}}\n", encoding="utf-8")
    riot = {"title": "Police fire tear gas at protesters in Minneapolis", "summary": ""}
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps(dict(riot, **extra))
            for extra in (
                {},
                {"link": "https://example.com/2020/05/29/opinion/minneapolis.html"},
                {"link": "javascript:alert(1)"},  # not http(s): no link at all
            )
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "score", str(lines)]) == 0
    plain, opinion, bogus = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert opinion["score"] < plain["score"], (plain, opinion)
    assert bogus["score"] == plain["score"]
