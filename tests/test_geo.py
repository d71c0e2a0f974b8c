"""The offline geoparser: the seed article, the guards, demonyms, the score CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from newsalert.cli import main
from newsalert.geo import Geoparser
from newsalert.geo.distance import haversine_km
from newsalert.geo.evaluate import load_rows, score
from newsalert.geo.gazetteer import fingerprint
from newsalert.geo.geoparser import default_cache_dir

ROOT = Path(__file__).resolve().parent.parent
BANJSKA = (42.9686, 20.7647)  # GeoNames: Banjska / Banjskë, Zvečan municipality, Kosovo


def seed() -> tuple[str, str]:
    lines = (ROOT / "tests" / "data" / "banjska-kosovo-2023.txt").read_text().splitlines()
    title = next(line for line in lines if line.startswith("The US asks Serbia"))
    body = "\n".join(lines[lines.index(title) + 2 :])
    return title, body


def test_seed_article_is_located_in_kosovo_at_banjska(geo: Geoparser) -> None:
    title, body = seed()
    result = geo.locate(title, body)
    assert result.where is not None
    assert result.where.country == "XK"
    assert result.where.precision == "place"
    assert haversine_km(result.where.lat, result.where.lon, *BANJSKA) < 25
    assert "Banjska" in result.why
    # the other places are kept: Serbia and Belgrade are mentioned, not where it happened
    assert {"RS", "XK"} <= {p.country for p in result.places}


@pytest.mark.parametrize("form", ["title + first 1,500 characters", "full text", "file as is"])
def test_seed_article_is_at_banjska_in_the_forms_a_feed_carries(geo: Geoparser, form: str) -> None:
    title, body = seed()
    raw = (ROOT / "tests" / "data" / "banjska-kosovo-2023.txt").read_text()
    # a feed's summary is the start of the body: here it names Banjska once, in
    # "the attack in Banjska", against a dozen mentions of Serbia as an actor
    args = {
        "title + first 1,500 characters": (title, body[:1500]),
        "full text": (title, body),
        "file as is": ("", raw),
    }[form]
    assert body[:1500].count("Banjska") == 1
    result = geo.locate(*args)
    assert result.where is not None
    assert (result.where.place, result.where.country) == ("Banjska", "XK")
    assert haversine_km(result.where.lat, result.where.lon, *BANJSKA) < 25


def test_seed_title_alone_is_the_border_not_the_voice(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # The title names no place of an event: the US speaks, Serbia is asked to act,
    # Kosovo is "the border with". It must not be the US; which side of the border
    # is a judgement the title leaves open ("near the border with Turkey" is Iraq's
    # side in the labelled set), so either neighbour is accepted, as a country.
    title, body = seed()
    article = body.split(title, 1)[1]  # the page repeats the title above the text
    lead = article.split(".")[0] + "."  # the lead sentence, as a short summary has it
    for summary in ("", lead, f"{title}\n\n{lead}"):
        result = geo.locate(title, summary)
        assert result.where is not None
        assert result.where.country in {"RS", "XK"}, result.why
        assert result.where.precision == "country"
        assert {"RS", "XK", "US"} <= {p.country for p in result.places}


def test_a_border_named_as_another_countrys_keeps_both_sides(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # the troops are in Serbia, at Kosovo's border: a desk in Kosovo must hear of it
    where = geo.locate("Serbia masses troops on the Kosovo border", "").where
    assert where is not None and (where.country, where.across) == ("RS", "XK")
    assert where.countries == ("RS", "XK")
    # the seed title: whichever side is chosen, the other is kept across the border
    title, _ = seed()
    seed_where = geo.locate(title, "").where
    assert seed_where is not None
    assert {seed_where.country, seed_where.across} == {"RS", "XK"}
    near = geo.locate(
        "Gunmen kill 12 villagers in Niger near Mali border",
        "Unidentified gunmen killed 12 villagers in the Tillaberi region of Niger.",
    ).where
    assert near is not None and (near.country, near.across) == ("NE", "ML")
    # no other country named: the border's own country, nothing across
    alone = geo.locate("Clashes on the Thai border", "Troops clashed on Monday.").where
    assert alone is not None and (alone.country, alone.across) == ("TH", None)


def test_items_not_in_english_are_read_without_englishs_guards(geo: Geoparser) -> None:
    # a capitalised word at a sentence start is any word ("Policija" is Police, Poland;
    # "Sulm", Albanian for "attack", a German village): only places the language names
    sr = (
        "Napad u Novom Sadu: policija uhapsila dvojicu osumnjičenih",
        "Policija je u Novom Sadu uhapsila dvojicu muškaraca nakon napada na pumpu.",
    )
    assert geo.locate(*sr).where is not None  # read as English: Police, Poland
    novi_sad = geo.locate(*sr, None, None, "sr").where  # "u Novom Sadu": the locative
    assert novi_sad is not None and (novi_sad.place, novi_sad.country) == ("Novi Sad", "RS")
    sq = geo.locate(
        "Sulm në Banjskë",
        "Një grup i armatosur sulmoi policinë e Kosovës në Banjskë afër Zveçanit.",
        language="sq",
    ).where
    assert sq is not None and (sq.place, sq.country) == ("Banjska", "XK")
    # German capitalises its nouns: "Polizei Berlin" is no person's name
    de = geo.locate("Polizei Berlin meldet Schüsse", "", language="de").where
    assert de is not None and de.country == "DE"
    # big cities' names in other languages are kept ("Londres")
    fr = geo.locate("Attentat à Londres", "Un homme a attaqué des passants jeudi.", language="fr")
    assert fr.where is not None and fr.where.country == "GB"
    # English (or not detected) is read as before
    assert geo.locate(*sr, language="en").where == geo.locate(*sr).where


def test_case_forms_of_place_names_in_languages_that_inflect_them(geo: Geoparser) -> None:
    mitrovica = geo.locate(
        "Pucnjava u Mitrovici", "Policija je saopštila da je ranjen jedan muškarac.", language="sr"
    ).where
    assert mitrovica is not None and mitrovica.country == "XK"
    zagreb = geo.locate("Eksplozija u Zagrebu", "Policija istražuje.", language="hr").where
    assert zagreb is not None and (zagreb.place, zagreb.country) == ("Zagreb", "HR")
    banjska = geo.locate(
        "Napad na policiju kod Banjske", "Naoružana grupa napala je policiju.", language="sr"
    ).where
    assert banjska is not None and (banjska.place, banjska.country) == ("Banjska", "XK")
    # a case form is looked up only for an item in that language
    assert geo.locate("Eksplozija u Zagrebu", "", language="de").where is None
    # and only kept where the language's guard keeps the place (no Romanian "Sadu")
    assert geo.locate("Sadu", "", language="sr").where is None


def test_names_with_particles_titles_and_articles_are_people(geo: Geoparser) -> None:
    barr = geo.locate(
        "Trump signs executive order",
        "Flanked by Attorney General Bill Barr, President Trump signed an order on Thursday.",
    ).where
    assert barr is None or barr.country != "FR"
    dvf = geo.locate(
        "Diane von Furstenberg's UK business goes into administration",
        "The fashion designer Diane von Furstenberg, 73, revealed the news in a letter.",
    ).where
    assert dvf is not None and dvf.country == "GB"
    wadi = geo.locate(
        "",
        "According to Lebanese media, Hezbollah fighters retook the crossings; Wadi "
        "al-Khayl hilltops were among the crossings recaptured.",
    ).where
    assert wadi is not None and wadi.country == "LB"  # not Wadi, India


def test_the_other_party_to_talks_is_not_the_place(geo: Geoparser) -> None:
    talks = geo.locate(
        "Singapore in talks with Australia, S. Korea on 'green lanes' for travel",
        "Talks are under way with South Korea and Australia to establish green lanes.",
    ).where
    assert talks is not None and talks.country == "SG"
    # a city-state's police act in it
    hk = geo.locate(
        "Police fire tear gas on pro-democracy protesters",
        "Clashes between Hong Kong police and protesters rallying against China's "
        "proposed security law for the city.",
    ).where
    assert hk is not None and hk.country == "HK"


def test_actors_voices_and_officials_are_not_the_event_place(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # a country asked to act, or the subject of a clause, is a government
    asked = geo.locate(
        "Taiwan Invites China To Air Talks",
        "Taiwan invited China to send envoys to the island to discuss charter flights.",
    ).where
    assert asked is not None and asked.country == "TW"
    # a president's nationality is not where the attack was
    blamed = geo.locate(
        "", "Turkish President Erdogan blamed the Syrian government for a chemical attack."
    ).where
    assert blamed is not None and blamed.country == "SY"
    visit = geo.locate(
        "Pakistan's Musharraf calls for unity",
        "Pakistani President Pervez Musharraf began a three-day visit to Italy on Monday.",
    ).where
    assert visit is not None and visit.country == "IT"
    # but what a country possesses is there: "Brazil's death toll", "Lebanon's president"
    offered = geo.locate(
        "", "Syria has again offered its troops to Lebanon's new President to oust a general."
    ).where
    assert offered is not None and offered.country == "LB"


def test_a_country_named_as_a_yardstick_is_not_the_place(geo: Geoparser) -> None:
    # "more deaths than the U.S.": the comparison's other side is not where it happened
    toll = geo.locate(
        "Peru's daily death toll surpasses that of U.S.",
        "Peru reported more deaths in one day than the United States.",
    ).where
    assert toll is not None and toll.country == "PE", toll
    compared = geo.locate("", "Chile has tested more people per head compared with Germany.").where
    assert compared is not None and compared.country == "CL"


def test_where_someone_lives_or_is_sent_is_not_the_event_place(
    geo: Geoparser, geo_rules: Geoparser
) -> None:
    # a home or a destination weighs no more than a demonym ("Bolivian police"); the rules
    # alone for the exile and the journalist: the subject-trained re-ranker gives Argentina
    # and Britain (test_geo_rerank's DEPARTURES)
    exile = geo_rules.locate(
        "",
        "Bolivian opposition supporters clashed with police after a court freed a former "
        "president living in exile in Argentina.",
    ).where
    assert exile is not None and exile.country == "BO", exile
    deport = geo.locate(
        "",
        "The engagement could win him sympathy among Japanese officials and help him "
        "avoid deportation to the United States.",
    ).where
    assert deport is not None and deport.country == "JP", deport
    based = geo_rules.locate(
        "", "A Nigerian journalist based in London was arrested on Monday."
    ).where
    assert based is not None and based.country == "NG", based


def test_a_dateline_abroad_is_where_the_report_was_filed(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # filed in Seoul about North Korea, Seoul's ministry only speaking
    filed = geo.locate(
        "",
        "SEOUL (Reuters) - North Korea has executed a senior official, South Korea's "
        "spy agency said on Friday.",
    ).where
    assert filed is not None and filed.country == "KP", filed
    # "WASHINGTON (AP) - Iran ...": the same, from the US capital
    iran = geo.locate(
        "", "WASHINGTON (AP) — Iran has seized a foreign tanker, US officials said on Monday."
    ).where
    assert iran is not None and iran.country == "IR"
    # the dateline stays when the title names its country, or the text places things there
    swap = geo.locate(
        "Israel, Egypt in prisoner swap",
        "CAIRO (Reuters) - Israel released six Egyptian students on Sunday, Egyptian "
        "security sources said.",
    ).where
    assert swap is not None and swap.country == "EG"
    home = geo.locate(
        "", "BAGHDAD (Reuters) - Iraq said on Monday that a bomb killed five people in Mosul."
    ).where
    assert home is not None and home.country == "IQ"
    # a possessor is whose, not where: the dateline keeps the match in Basel
    basel = geo.locate(
        "Henman sails at the Swiss Indoors",
        "BASEL (Reuters) - Britain's world number four Tim Henman won his opening match.",
    ).where
    assert basel is not None and basel.country == "CH"


def test_where_the_reporter_stands_is_a_dateline_not_the_event(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # the title names the event's country; the reporter is across the border
    story = geo.locate(
        "Bolivia braces for protests",
        "Supporters of the former president plan marches. "
        "Al Jazeera's Teresa Bo reports from Salta, Argentina.",
    ).where
    assert story is not None and story.country == "BO", story
    # a possessor's region is a place, not a person ("Pakistan's Musharraf" is)
    karen = geo.locate(
        "Refugees stranded",
        "Thousands have fled the fighting in Myanmar's Karen state. "
        "Al Jazeera's Scott Heidler reports from Mae Sot, Thailand.",
    ).where
    assert karen is not None and karen.country == "MM", karen
    # alone, the reporter's place still says where
    alone = geo.locate("Floods", "Al Jazeera's reporter has more from Dhaka.").where
    assert alone is not None and alone.country == "BD"


def test_a_headline_topic_label_is_the_story_place(geo: Geoparser) -> None:
    label = geo.locate(
        "Libya conflict: Russia and Turkey risk Syria repeat",
        "Gen Haftar's forces have been beaten back but that does not mean peace is at hand.",
    ).where
    assert label is not None and label.country == "LY", label


def test_surnames_and_compound_names_are_not_places(geo: Geoparser) -> None:
    # "O'Sullivan" is not Sullivan, "St George-Illawarra" not St George
    assert geo.locate("Recruitment boss", "Peter O'Sullivan is working his magic.").where is None
    assert (
        geo.locate("Warriors win", "The Warriors beat the St George-Illawarra Dragons.").where
        is None
    )
    # two places joined by a hyphen are still places
    pair = geo.locate("", "Fighting continued along the Armenia-Azerbaijan frontier.").where
    assert pair is not None and pair.country in {"AM", "AZ"}


def test_a_tiny_village_named_bare_is_a_word_not_a_place(geo: Geoparser) -> None:
    # Virgin (Utah) and Supreme (Louisiana) have about 1,000 people each
    assert geo.locate("Virgin Orbit rocket cuts short its test flight", "").where is None
    court = geo.locate(
        "",
        "Opposition supporters clashed with police in the Maldives after the Supreme "
        "Court ordered the release of prisoners.",
    ).where
    assert court is not None and court.country == "MV", court
    # after "in", in a dateline or with a qualifier, a village is a place
    village = geo.locate("", "Two people were killed in an attack in Banjska on Sunday.").where
    assert village is not None and village.place == "Banjska"


def test_a_surname_once_seen_with_a_first_name_is_a_person_throughout(geo: Geoparser) -> None:
    # "Kirby" is a town in England and in the US; after "John Kirby" it is the man
    result = geo.locate(
        "Spokesman briefs reporters",
        "John Kirby spoke to reporters. Kirby was asked about the clashes in Mitrovica.",
    )
    assert result.where is not None and result.where.country == "XK"
    assert "Kirby" not in {p.place for p in result.places}


def test_appositions_and_headline_abbreviations(geo: Geoparser) -> None:
    kyiv = geo.locate(
        "Ministers meet",
        "Ministers from the Commonwealth of Independent States gathered in the "
        "Ukrainian capital Kiev on Monday.",
    ).where
    assert kyiv is not None and (kyiv.country, kyiv.precision) == ("UA", "place")
    guinea = geo.locate("E. Guinea coup suspects say they were tortured", "").where
    assert guinea is not None and guinea.country == "GQ"


def test_a_country_used_as_a_government_is_at_most_a_country(geo: Geoparser) -> None:
    jordan = geo.locate("Jordan said on Monday it would close its border", "").where
    assert jordan is not None and (jordan.country, jordan.precision) == ("JO", "country")
    washington = geo.locate("Washington said it would impose new sanctions", "").where
    assert washington is not None
    assert (washington.country, washington.precision) == ("US", "country")
    # the same name as a place where something happened is the city
    shooting = geo.locate("Shooting near Washington school", "Police in Washington, D.C. said")
    assert shooting.where is not None and shooting.where.precision == "place"
    assert haversine_km(shooting.where.lat, shooting.where.lon, 38.895, -77.036) < 25


def test_people_named_like_places_are_not_places(geo: Geoparser) -> None:
    assert geo.locate("Paris Hilton sued over nightclub appearance", "").where is None
    assert geo.locate("Match report", "Michael Jordan scored 30 points on Tuesday.").where is None
    assert geo.locate("Tributes paid", "Jordan Henderson praised the fans.").where is None
    # the guard does not swallow the place itself
    paris = geo.locate("Police in Paris arrest three", "").where
    assert paris is not None and paris.country == "FR"


def test_georgia_the_state_or_the_country_by_what_else_is_named(geo: Geoparser) -> None:
    atlanta = geo.locate("Gunman opens fire", "Police in Georgia said three were shot in Atlanta.")
    assert atlanta.where is not None and atlanta.where.country == "US"
    assert {(p.place, p.country) for p in atlanta.places} >= {("Georgia", "US")}
    tbilisi = geo.locate("Clashes in Georgia", "Police fired tear gas in Tbilisi, Georgia.")
    assert tbilisi.where is not None and tbilisi.where.country == "GE"
    assert tbilisi.where.place == "Tbilisi"


def test_demonyms_and_directions_place_the_event(geo: Geoparser) -> None:
    result = geo.locate(
        "Serbian troops on alert", "Kosovar police said shots were fired in northern Kosovo."
    )
    assert result.where is not None and result.where.country == "XK"
    # a demonym alone gives the country, not a town
    alone = geo.locate("Nigerian soldiers killed in ambush", "")
    assert alone.where is not None
    assert (alone.where.country, alone.where.precision) == ("NG", "country")


def test_names_match_whole_words_only(geo: Geoparser) -> None:
    # "Niger" inside "Nigerian", "Assad" inside "ambassador", "Oman" inside "Romania"
    assert geo.locate("Nigerian troops deployed", "").where.country == "NG"  # type: ignore[union-attr]
    assert geo.locate("The ambassador spoke", "The embassy was closed.").places == ()
    romania = geo.locate("Floods in Romania", "")
    assert [p.country for p in romania.places] == ["RO"]


def test_no_place_named_gives_no_location(geo: Geoparser) -> None:
    result = geo.locate("Shares rise as investors cheer results", "The index closed higher.")
    assert result.where is None and result.places == ()
    assert geo.locate(None, None).where is None


def test_feed_country_breaks_a_tie_toward_home(geo: Geoparser) -> None:
    text = ("Police appeal after stabbing", "A man was stabbed in Perth on Friday night.")
    au = geo.locate(*text, feed_country="AU").where
    gb = geo.locate(*text, feed_country="GB").where
    assert au is not None and gb is not None
    assert (au.country, gb.country) == ("AU", "GB")


def test_the_gazetteer_is_cached_and_keyed_by_what_it_is_built_from(geo: Geoparser) -> None:
    cached = list(default_cache_dir().glob("gazetteer-*.map"))
    assert [p.name for p in cached if fingerprint() in p.name]


def test_accuracy_on_the_labelled_set_does_not_regress(geo: Geoparser) -> None:
    # A regression guard, not an independent measurement: the set is ours and part of
    # it was used to tune the rules (bench/geo.py reports the held-out part apart).
    rows = load_rows(ROOT / "data" / "geo_eval.jsonl")
    first = [r for r in rows if r["split"] in ("tune", "heldout")]
    result = score(lambda t, s: geo.locate(t, s).where, first).as_dict()
    assert result["items"] >= 500
    assert result["country_accuracy"] >= 0.91
    assert result["wrong_country"] <= 0.05
    assert result["place_within_25km"] >= 0.92
    # held2 (labelled later; far more items a reader places by inference, "Trump
    # tells governors", so a lower share right): guard the wrong-country rate
    held2 = score(
        lambda t, s: geo.locate(t, s).where, [r for r in rows if r["split"] == "held2"]
    ).as_dict()
    assert held2["items"] >= 200
    assert held2["wrong_country"] <= 0.06
    assert held2["place_within_25km"] >= 0.85
    # held3 (never looked at item by item; its figures read twice, README): a
    # regression guard at its measured level, not a target
    held3 = score(
        lambda t, s: geo.locate(t, s).where, [r for r in rows if r["split"] == "held3"]
    ).as_dict()
    assert held3["items"] >= 150
    assert held3["wrong_country"] <= 0.12
    assert held3["place_within_25km"] >= 0.85


def test_score_command_adds_where_and_places(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "newsalert.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            storage:
              data_dir: {model_dir}
              database_url: sqlite:///{tmp_path / "db"}
            feeds:
              - name: desk
                url: http://127.0.0.1:9/feed
                allow_private: true
            """
        ),
        encoding="utf-8",
    )
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {"title": "Car bomb kills 11 in Baghdad", "summary": "Two car bombs exploded."},
                {"title": "Shares rise", "summary": "The index closed higher."},
                {"title": "Stabbing in Perth", "summary": "", "country": "GB"},
            )
        ),
        encoding="utf-8",
    )
    assert main(["--config", str(config), "score", str(lines)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(out) == 3
    baghdad, shares, perth = out
    assert set(baghdad["where"]) == {"place", "country", "admin1", "lat", "lon", "precision"}
    assert (baghdad["where"]["country"], baghdad["where"]["precision"]) == ("IQ", "place")
    assert [p["country"] for p in baghdad["places"]] == ["IQ"]
    assert shares["where"] is None and shares["places"] == []
    assert perth["where"]["country"] == "GB"  # the line's country stands in for the feed's


def test_whom_words_address_is_not_where_they_were_said(geo_rules: Geoparser) -> None:
    geo = geo_rules  # the rules alone: the re-ranker answers otherwise (test_geo_rerank)
    # "threatens South Korea": the target of words, not their place
    kp = geo.locate(
        "Pyongyang's envoy threatens South Korea over drills",
        "The North Korean official admonished South Korea in a statement.",
    ).where
    assert kp is not None and kp.country == "KP"
    # "hurls abuse at Bush": an "at" that places nothing (Būsh, Egypt)
    bush = geo.locate(
        "N.Korea Hurls Abuse at Bush",
        "SEOUL (Reuters) - North Korea hurled insults at President Bush on Tuesday.",
    ).where
    # "North Korea hurled": a country and its verb, not an attribute ("US officials")
    assert bush is not None and bush.country == "KP"


def test_currencies_quote_speakers_and_home_institutions(geo: Geoparser) -> None:
    haiti = geo.locate("", "Ousted leader accused of misusing US $50 million by Haitian officials.")
    assert haiti.where is not None and haiti.where.country == "HT"  # "US $": a currency
    assert geo.locate("Deal worth US$3 billion", "").where is None
    # a headline's speaker before a quote is a person (Durham, North Carolina)
    iraq = geo.locate(
        "IMF's Durham: 'Critical time' as Iraq faces crises",
        "Iraq is grappling with its worst fiscal crisis in decades.",
    ).where
    assert iraq is not None and iraq.country == "IQ"
    # a parliament's vote on keeping troops abroad goes where the troops are with the
    # default (the subject convention, data/README.md: "Hungary's parliament on its troops
    # in Iraq: IQ"; HU, the speaker's reading, until the twenty-seventh round); the rules
    # alone still weigh the parliament at home above the troops' place
    hu = geo.locate(
        "", "The Hungarian parliament on Monday rejected a plan to keep 300 troops in Iraq."
    ).where
    assert hu is not None and hu.country == ("IQ" if geo.reranker is not None else "HU")
    # a parliament's vote on a matter at home stays at home
    pension = geo.locate(
        "", "The Hungarian parliament on Monday rejected a plan to raise the pension age."
    ).where
    assert pension is not None and pension.country == "HU"


def test_a_lone_foreign_village_in_an_item_about_another_country(geo: Geoparser) -> None:
    # the gazetteer knows Golweyn only as Golwayn, Ethiopia: the item is about Somalia
    so = geo.locate(
        "", "Fighters attacked a base in Golweyn village in the Lower Shabelle region of Somalia."
    ).where
    assert so is not None and so.country == "SO"
    # a town the item places things in stays, next to a foreign demonym
    holyoke = geo.locate("", "The Japanese pilots trained in Holyoke before the war.").where
    assert holyoke is not None and (holyoke.place, holyoke.country) == ("Holyoke", "US")
    # US states named with common words are keyed ("New Jersey": "jersey")
    nj = geo.locate("", "Merck cut jobs in Whitehouse Station, New Jersey.").where
    assert nj is not None and (nj.place, nj.country) == ("Whitehouse Station", "US")


def test_a_wire_dateline_with_a_double_dash_is_a_dateline() -> None:
    """The Dow Jones wire writes "PERTH (Dow Jones)--Shares ...": no space after the dash."""
    from newsalert.geo.mentions import prepare

    for summary in (
        "PERTH (Dow Jones)--Shares in the miner fell.",
        "BRUSSELS--The Commission said on Monday.",
        "KABUL, Afghanistan - A bomb exploded.",
    ):
        text, _, dateline = prepare("", summary)
        assert dateline is not None, summary
        assert text[dateline[0] : dateline[1]].split()[0].rstrip(",-") in (
            "Perth",
            "Brussels",
            "Kabul",
        )
    # a hyphen inside a word is not one
    for summary in ("ANTI-GOVERNMENT protesters marched.", "NATO-led troops arrived."):
        assert prepare("", summary)[2] is None, summary
