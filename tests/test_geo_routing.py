"""Place filters end to end: a loopback feed, the real store and model, a real SMTP server.

Three incidents: gunmen in Banjska (Kosovo), gunmen in Marseille, gunmen somewhere
the text does not say. The Mitrovica office (countries [XK], a 30 km zone, unlocated
passes by default) gets Banjska and the unlocated one, with "Where: Banjska, Kosovo (N
km from mitrovica-office)" and a map link; the Marseille desk ([FR], unlocated: false)
gets Marseille only. Each item's location is stored with its score.
"""

from __future__ import annotations

import html
import textwrap
from pathlib import Path

import pytest

from newsalert.cli import main
from newsalert.config import SubscriberConfig
from newsalert.geo.filters import GeoFilter, describe, map_link
from newsalert.geo.model import Location
from newsalert.geo.records import locations_of
from newsalert.store import Store
from tests.feedserver import FeedServer
from tests.smtpserver import SMTPServer

ITEMS = (
    (
        "banjska",
        "Gunmen attack Kosovo police in Banjska",
        "About 30 masked gunmen attacked Kosovo Police in the village of Banjska near "
        "Zvecan, killing a police sergeant, officials said.",
    ),
    (
        "marseille",
        "Gunmen attack police station in Marseille",
        "Gunmen opened fire on a police station in the French city of Marseille overnight.",
    ),
    (
        "nowhere",
        "Gunmen attack police station",
        "Gunmen opened fire on a police station overnight, wounding two officers.",
    ),
)


def rss() -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{html.escape(title)}</title>"
        f"<link>https://news.example.org/{guid}</link>"
        f"<description>{html.escape(summary)}</description>"
        "<pubDate>Fri, 29 Sep 2023 18:00:00 GMT</pubDate></item>"
        for guid, title, summary in ITEMS
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>D</title>{body}</channel></rss>'.encode()


def test_subscribers_get_the_incidents_in_their_places_with_where_and_a_map(
    tmp_path: Path,
    model_dir: Path,
    feed_server: FeedServer,
    smtp_server: SMTPServer,
    classifier: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.route("/desk", body=rss(), headers={"Content-Type": "application/rss+xml"})
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {model_dir}
              database_url: sqlite:///{tmp_path / "db"}
            rules:
              include:
                - name: gunmen
                  terms: [gunmen]
            feeds:
              - name: desk
                url: {feed_server.url("/desk")}
                allow_private: true
                country: xk
            subscribers:
              - name: mitrovica
                urls: ["{smtp_server.url(to="mitrovica@example.org")}"]
                countries: [XK]
                near:
                  - {{name: mitrovica-office, lat: 42.891, lon: 20.866, radius_km: 30}}
              - name: marseille
                urls: ["{smtp_server.url(to="marseille@example.org")}"]
                countries: [fr]
                unlocated: false
            """
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "poll", "--once"]) == 0

    got: dict[str, list[str]] = {}
    for message in smtp_server.messages:
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        got.setdefault(message["To"], []).append(text)
    mitrovica = got["mitrovica@example.org"]
    marseille = got["marseille@example.org"]
    assert sorted(m.split("\n")[0] for m in mitrovica) == [
        "Gunmen attack Kosovo police in Banjska",
        "Gunmen attack police station",
    ]
    assert [m.split("\n")[0] for m in marseille] == ["Gunmen attack police station in Marseille"]
    [banjska] = [m for m in mitrovica if "Banjska" in m.split("\n")[0]]
    assert "Where: Banjska, Kosovo (" in banjska and " km from mitrovica-office)" in banjska
    assert "Map (OpenStreetMap): https://www.openstreetmap.org/?mlat=42.96" in banjska
    [unlocated] = [m for m in mitrovica if m.split("\n")[0] == "Gunmen attack police station"]
    assert "Where:" not in unlocated and "openstreetmap" not in unlocated
    assert "Where: Marseille" in marseille[0]

    capsys.readouterr()
    assert main(["--config", str(config), "stories", "--hours", "100000"]) == 0
    stories = capsys.readouterr().out
    assert "where: Banjska, Kosovo (1 of 1 reports in XK, 1 at Banjska)" in stories
    assert "[Banjska, XK]" in stories

    store = Store(f"sqlite:///{tmp_path / 'db'}", create=False)
    try:
        located = locations_of(store.engine, range(1, 4))
    finally:
        store.close()
    assert len(located) == 3  # every scored item was located, or told it is nowhere
    countries = sorted((w.country if w else "-") for w, _ in located.values())
    assert countries == ["-", "FR", "XK"]


def sub(**keys: object) -> SubscriberConfig:
    return SubscriberConfig.model_validate({"name": "s", "urls": ["json://127.0.0.1"], **keys})


def place(name: str, cc: str, lat: float, lon: float, precision: str = "place") -> Location:
    return Location(name, cc, None, lat, lon, precision)  # type: ignore[arg-type]


BANJSKA = place("Banjska", "XK", 42.9686, 20.7647)
BELGRADE = place("Belgrade", "RS", 44.804, 20.4651)
KOSOVO = place("Kosovo", "XK", 42.6, 20.9, "country")
ZONE = {"name": "office", "lat": 42.891, "lon": 20.866, "radius_km": 30}


def test_zones_countries_and_unlocated_items() -> None:
    zone_only = GeoFilter(sub(near=[ZONE]), country_at=lambda lat, lon: "XK")
    verdict = zone_only.check(BANJSKA, 0.9, "armed_conflict")
    assert verdict.passes and verdict.zone is not None and 10 < verdict.zone.km < 13  # type: ignore[operator]
    assert not zone_only.check(BELGRADE, 0.9, "armed_conflict").passes
    assert zone_only.check(KOSOVO, 0.9, "armed_conflict").passes  # only a country: it may be near
    assert zone_only.check(None, 0.9, "armed_conflict").passes  # unlocated passes by default
    strict = GeoFilter(sub(near=[ZONE], unlocated=False))
    assert not strict.check(None, 0.9, "armed_conflict").passes
    # a zone's own categories and min_score
    picky = GeoFilter(sub(near=[{**ZONE, "categories": ["terrorism"], "min_score": 0.8}]))
    assert not picky.check(BANJSKA, 0.9, "armed_conflict").passes
    assert not picky.check(BANJSKA, 0.7, "terrorism").passes
    assert picky.check(BANJSKA, 0.9, "terrorism").passes
    # countries, with or without zones
    both = GeoFilter(sub(countries=["rs"], near=[ZONE]))
    assert both.check(BELGRADE, 0.5, "civil_unrest").passes
    assert both.check(BANJSKA, 0.5, "civil_unrest").passes
    assert not both.check(place("Paris", "FR", 48.85, 2.35), 0.5, "civil_unrest").passes
    # no place filter: everything passes
    assert GeoFilter(sub()).check(None, 0.1, "none").passes


def test_an_event_at_a_border_reaches_the_desks_of_both_sides() -> None:
    # "Serbia masses troops on the Kosovo border": in Serbia, at Kosovo's border
    serbia = Location("Serbia", "RS", None, 44.0, 20.9, "country", across="XK")
    kosovo_desk = GeoFilter(sub(countries=["xk"]))
    verdict = kosovo_desk.check(serbia, 0.9, "military_posture")
    assert verdict.passes and "border with XK" in verdict.why
    zone_only = GeoFilter(sub(near=[ZONE]), country_at=lambda lat, lon: "XK")
    assert zone_only.check(serbia, 0.9, "military_posture").passes  # country only: may be near
    assert GeoFilter(sub(countries=["rs"])).check(serbia, 0.9, "military_posture").passes
    assert not GeoFilter(sub(countries=["fr"])).check(serbia, 0.9, "military_posture").passes
    assert describe(serbia) == "Serbia, at the border with Kosovo"
    assert serbia.as_dict()["across"] == "XK" and "across" not in BANJSKA.as_dict()


def test_bad_place_settings_name_the_key_and_the_fix(tmp_path: Path) -> None:
    from newsalert.config import load_config
    from newsalert.errors import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text(
        textwrap.dedent(
            """\
            feeds:
              - {name: a, url: "https://example.org/f", country: Serbia}
            subscribers:
              - name: s
                urls: ["json://127.0.0.1"]
                countries: [XX]
                near: [{name: z, lat: 95, lon: 20, radius_km: 30}]
            """
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_config(config)
    text = str(err.value)
    assert "feeds[0].country" in text and "XK for Kosovo" in text
    assert "subscribers[0].countries" in text
    assert "subscribers[0].near[0].lat" in text


def test_where_line_and_map_link() -> None:
    hit = GeoFilter(sub(near=[ZONE])).check(BANJSKA, 0.9, "x").zone
    assert describe(BANJSKA, hit) == "Banjska, Kosovo (12 km from office)"
    assert describe(KOSOVO) == "Kosovo"
    assert map_link(BANJSKA) == (
        "https://www.openstreetmap.org/?mlat=42.9686&mlon=20.7647#map=12/42.9686/20.7647"
    )


def test_the_where_line_is_escaped_and_present_in_every_channel() -> None:
    from newsalert.models import Alert
    from newsalert.render import render

    alert = Alert(
        item_id=3,
        title="Attack",
        source="desk",
        published=None,
        score=0.9,
        category="terrorism",
        reasons=(),
        link=None,
        summary="",
        where="<b>Town</b> <!channel> [x](http://evil.example) *bold*",
        map_url="https://www.openstreetmap.org/?mlat=1.0000&mlon=2.0000#map=12/1.0000/2.0000",
    )
    bodies = {
        family: render(alert, family).body for family in ("email", "slack", "telegram", "text")
    }
    for family, body in bodies.items():
        assert "Where" in body, family
        assert "openstreetmap.org/?mlat=1.0000" in body, family
    for family in ("email", "telegram"):
        assert "<b>Town</b>" not in bodies[family] and "&lt;b&gt;Town" in bodies[family]
    slack = bodies["slack"]
    assert "<!channel>" not in slack and "[x](http://evil.example)" not in slack
    assert "*bold*" not in slack
    # digests too: one line per alert, with where and the map
    from newsalert.render import render_digest

    for family in ("email", "slack", "telegram", "text"):
        body = "".join(m.body for m in render_digest([alert], family))
        assert "Town" in body and "openstreetmap.org/?mlat=1.0000" in body, family
        if family != "text":  # plain text is shown as it is: no markup to inject
            assert "<b>Town</b>" not in body and "<!channel>" not in body, family


def test_backtest_shows_what_a_place_filter_would_cost(
    tmp_path: Path, model_dir: Path, classifier: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    data = tmp_path / "d.jsonl"
    data.write_text(
        "\n".join(json.dumps({"title": t, "summary": s, "label": 1}) for _, t, s in ITEMS),
        encoding="utf-8",
    )
    configs = []
    for name, extra in (("a", ""), ("b", "    countries: [XK]\n    unlocated: false\n")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            textwrap.dedent(
                f"""\
                storage:
                  data_dir: {model_dir}
                  database_url: sqlite:///{tmp_path / "db"}
                rules:
                  include:
                    - name: gunmen
                      terms: [gunmen]
                subscribers:
                  - name: desk
                    urls: ["json://127.0.0.1:9"]
                """
            )
            + extra,
            encoding="utf-8",
        )
        configs.append(str(path))
    args = ["--config", configs[0], "backtest", "--config", configs[1], "--data", str(data)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    # (the two police-station reports are one story for the clusterer: two alerts before)
    assert result["current"]["alerts"]["desk"] >= 2
    assert result["proposed"]["alerts"] == {"desk": 1}  # Banjska only


def test_a_story_is_where_most_of_its_reports_place_it() -> None:
    from newsalert.geo.combine import story_location

    where, why = story_location([None, KOSOVO, BANJSKA, BELGRADE, BANJSKA])
    assert where == BANJSKA
    assert why == "3 of 5 reports in XK, 2 at Banjska"
    assert story_location([None, None]) == (None, "none of 2 reports names a place")
    assert story_location([KOSOVO])[0] == KOSOVO
