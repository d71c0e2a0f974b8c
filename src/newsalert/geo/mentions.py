"""Find place-name mentions in an item's text and describe their context.

One pass over the title and the summary finds every gazetteer key that is a whole
word (no "Assad" in "ambassador"; ``geo/keyindex.py``), case-sensitively (a place
name is capitalised in mixed-case text), longest match first. Each mention then
gets the context the resolver needs: the word before and after, whether it is
governed by "in/near/at", is a dateline, a speaker ("Washington said"), part of
a person's or an organisation's name ("Paris Hilton", "Washington Post").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Set
from dataclasses import dataclass

from newsalert.geo.aliases import (
    AUXILIARIES,
    COUNTY_QUALIFIERS,
    DIRECTION_WORDS,
    FACILITY_WORDS,
    LOCATIVE_WORDS,
    NAME_SUFFIXES,
    PLACE_NOUNS,
    PLACE_PREFIXES,
    SPEECH_VERBS,
)
from newsalert.geo.fastre import first_char_gate
from newsalert.geo.gazetteer import KEY_DEMONYM, KIND_COUNTRY, KIND_PLACE, Gazetteer, fold

# "BELGRADE (Reuters) -", "KABUL, Afghanistan -", "BELGRADE, Sept 29 (Reuters) -",
# "KANDAHAR, Afghanistan, Dec 14 --", the dated wire form "PORT-AU-PRINCE, Haiti Oct. 3,
# 2004 -" (a year after the date's comma), and the Dow Jones wire's "JAKARTA (Dow
# Jones)--Indonesia's ..." (a double dash needs no space)
DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*[A-Z][A-Za-z.\-]+(?: [A-Za-z0-9.\-]+){0,3}){0,2}(?:,\s*(?:19|20)\d\d)?"
    r"\s*(?:\([^)]{1,40}\))?\s*(?:--(?=\S)|(?:-|--|—|–)\s)"
)
TIME_STAMP = re.compile(
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}, \d{4},? "
    r"\d{1,2}:\d{2} ?[AP]M\s+(?=[A-Z])"
)
# "NEW DELHI: The government ...", "ISLAMABAD: Security forces ...": a dateline with a
# colon, the form of South Asian outlets; the same form opens columns and features
# ("COMMENT:", "EXCLUSIVE:", "SARAH VINE:"), so it is read as a dateline only when the
# words name a city of COLON_DATELINE_MIN_POP or a national capital
# a date after a colon dateline's town ("LONDON, AUGUST 17: Britain charged ..."), the
# month's name or its abbreviation in capitals or title case
COLON_MONTH = (
    r"(?:JAN(?:UARY)?|FEB(?:RUARY)?|MAR(?:CH)?|APR(?:IL)?|MAY|JUNE?|JULY?|AUG(?:UST)?"
    r"|SEPT?(?:EMBER)?|OCT(?:OBER)?|NOV(?:EMBER)?|DEC(?:EMBER)?"
    r"|Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
COLON_DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*[A-Z][a-z]+(?: [A-Z][a-z]+){0,2})?"  # "KANDAHAR, Afghanistan :"
    r"(?:,\s*" + COLON_MONTH + r"\.? \d{1,2})?"  # "LONDON, AUGUST 17:", "NEW DELHI, Aug 17:"
    r"\s*:\s+(?=[A-Z\"'“‘])"
)
COLON_DATELINE_MIN_POP = 100_000
# "INDONESIA: 'Blow to democracy'", "IRAQ: Car bomb kills five": a headline's label in
# capitals before a colon, re-cased (as an all-capitals title is) when its words are a
# country's whole name ("COMMENT:", "SARAH VINE:" are not)
TITLE_LABEL = re.compile(r"^(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})\s*:\s")
# "ISLAMABAD, Pakistan Are there ...": a dateline and its country with the dash lost; read
# only when the capitals name a city (as a colon dateline's) and the words after the
# comma are a country's whole name
BARE_DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3}),\s*"
    r"(?P<country>[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}) (?=[A-Z\"'“‘])"
)
# "BAGHDAD Iraq promised Wednesday ...": the dash and the comma lost, the lead's first word
# its own country; read only when the capitals name a city of that country (as a colon
# dateline's city) and a lowercase word follows the country's whole name
RUNON_DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3}) "
    r"(?P<country>[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}) (?=[a-z])"
)
# "... but trouble with Taiwan looms. BEIJING--Having taken over ...": a summary that
# repeats the headline's teaser before the wire's own lead; read as a dateline only
# after a sentence's end and when the words name a city (as a colon dateline is)
MID_DATELINE = re.compile(
    r"(?<=[.!?] )(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*[A-Z][A-Za-z.\-]+(?: [A-Za-z0-9.\-]+){0,3})?"
    r"\s*(?:\([^)]{1,40}\))?\s*(?:--(?=\S)|(?:-|--|—|–)\s)"
)
# what comes before a lead's first word after a dateline, once re-cased ("Cairo (AP) -",
# "New Delhi:", "Kabul, Afghanistan -", "Islamabad, Pakistan Oct. 10, 2004 -")
LEAD_DATELINE = re.compile(
    r"(?:[A-Z][\w.&'’]*(?: [A-Za-z][\w.&'’]*){0,4} - )?"  # an outlet's tag (OUTLET_TAG)
    r"[A-Z][\w'.\-]*(?: (?:[A-Z][\w'.\-]*|al|el|de|du|la|au)){0,3}"
    r"(?:, ?[A-Z][\w.\-]*(?: [\w.\-]+){0,3})?(?:, ?(?:19|20)\d\d)?"  # a dated wire's year
    r"\s*(?:\([^)]{1,40}\))?\s*(?:--|-|—|–|:)"
)
# "Los Angeles Times - BAGHDAD —", "SPACE.com - TORONTO, Canada --": AG News's form, the
# outlet's tag and a dash before the wire's own dateline (DATELINE's body after the tag)
OUTLET_TAG = r"[A-Z][\w.&'’]*(?: [A-Za-z][\w.&'’]*){0,4} - "
OUTLET_DATELINE = re.compile(r"^\s*" + OUTLET_TAG + DATELINE.pattern.removeprefix(r"^\s*"))
# a firm's legal form after a name ("Google Inc.", "Toyota Motor Corp"): the name is the
# firm's wherever the item uses it (a place named in another sense keeps none; measured on
# any capitalised word after it, that dropped council's and shops' towns)
# (mixed case only: an all-capitals word after a name is not read as its part)
FIRM_FORMS = frozenset({"Inc", "Corp", "Corporation", "Co", "Ltd", "Plc", "GmbH"})
# "By Mark Ledsom BASEL (Reuters) -"
AGENCY_DATELINE = re.compile(
    r"(?<![A-Za-z])(?P<place>[A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})(?:,[^()]{0,40})?"
    r"\s*\((?:Reuters|AP|AFP|UPI|dpa|DPA|AFX|CP|Xinhua|IANS|PTI)\)"
)
# (a quantity between: "cyber attacks on a number of Armenian ... websites", "strikes on
# several Syrian army positions")
TARGET_BEFORE = re.compile(
    r"\b(?:attacks?|strikes?|raids?|assault|bombing|shelling|offensive|advance)\s+(?:on|against)\s+(?:the\s+)?"
    r"(?:(?:a\s+(?:number|series|string|wave|host)\s+of|several|dozens\s+of|scores\s+of"
    r"|hundreds\s+of|various)\s+)?$",
    re.I,
)
# "join forces against a possible US-led attack on Iraq", "warned of any strike on Iran":
# an attack spoken of as possible or threatened has no place yet, so its target is not
# the event's
HYPOTHETICAL_TARGET_BEFORE = re.compile(
    r"\b(?:possible|potential|planned|threatened|any|future|impending|imminent|likely|"
    r"feared|expected|prospective)\s+(?:[\w’'-]+\s+){0,2}?(?:attacks?|strikes?|raids?|"
    r"assault|offensive|advance)\s+(?:on|against)\s+(?:the\s+)?$",
    re.I,
)
# an incident word a few words before "in/near/at X"
INCIDENT_BEFORE = re.compile(
    r"\b(?:attack(?:s|ed)?|clash(?:es|ed)?|shoot(?:ing|ings)?|shot|bomb(?:ing|ings|s|ed)?|"
    r"explosions?|blasts?|killed|killings?|fighting|raids?|ambush(?:ed)?|riots?|rioting|"
    r"violence|incidents?|strikes?|struck|offensive|assault|siege|massacre|hostages?|"
    r"kidnapp(?:ed|ing)|abducted|stabb(?:ed|ing)|gunfire|shelling|looting|unrest)\b"
    r"(?:\W+\w+){0,4}?\W+(?:in|near|at|outside|on|against)\s+(?:the\s+)?"
    r"(?:\w+\s+){0,2}$",
    re.I,
)
# words after which a country is the subject of a clause ("whether Serbia is preparing")
CLAUSE_OPENERS = frozenset(
    {"that", "whether", "if", "because", "while", "although", "though", "unless", "and", "but"}
)
# "to/from/via X": a destination or origin, not an addressee ("flights to China to resume")
DESTINATION_WORDS = frozenset({"to", "from", "via", "into", "toward", "towards"})
# "asks Serbia to withdraw": the country addressed is asked to act, so it is a government
OBJECT_TO_VERB = re.compile(
    r"^\s+to\s+(?!the\b|a\b|an\b|its\b|their\b|his\b|her\b|this\b|that\b|be\b)[a-z]+\b"
)
OFFICE_WORDS = frozenset(
    {
        "president",
        "pm",
        "premier",
        "prime",
        "minister",
        "foreign",
        "defence",
        "defense",
        "chancellor",
        "king",
        "queen",
        "prince",
        "ambassador",
        "envoy",
        "secretary",
        "leader",
        "diplomat",
        "diplomats",
    }
)
# "the Hungarian parliament rejected ...", "a Canadian judge ruled", "Zimbabwean police
# fired tear gas": a country's own institutions act at home, so their country is the
# event's place however foreign the subject ("troops in Iraq")
HOME_INSTITUTIONS = frozenset(
    {
        "parliament",
        "parliamentary",
        "court",
        "courts",
        "judge",
        "judges",
        "lawmakers",
        "legislators",
        "legislature",
        "senate",
        "senators",
        "congress",
        "cabinet",
        "police",
        "policemen",
        "voters",
        "prosecutors",
    }
)
# "Nigeria Police peacekeepers withdrew from Liberia", "the Indian police contingent":
# an institution's officers serving abroad in a mission, not the institution at home
ABROAD_AFTER_INSTITUTION = re.compile(r"^\s+\S+\s+(?:peacekeep(?:ers?|ing)|contingents?)\b", re.I)
# "the UN withdrew peacekeepers from Rwanda", "peacekeepers were withdrawn from Liberia":
# a force's withdrawal, done, happens where it served (a stated readiness to withdraw
# troops: INTENT_TROOPS_BEFORE)
WITHDRAWN_FROM_BEFORE = re.compile(
    r"\bwithdr(?:ew|awn)\b(?:\s+[\w’'-]+){0,5}?\s+from\s+(?:the\s+)?$", re.I
)
# "a missile that could hit most cities in neighbouring India", "Its Missiles Can Hit
# Anywhere in Israel": a weapon's reach, spoken of, is no place of the item's event (the
# test or the warning is at home)
REACH_IN_BEFORE = re.compile(
    r"\b(?:can|could|would|able to|capable of)\s+(?:hit|hitting|reach|reaching|strike|"
    r"striking|target|targeting)\s+(?:[\w’'-]+\s+){0,3}?in\s+(?:neighbou?ring\s+)?$",
    re.I,
)
# "conspiring to use British troops in Iraq", "a request for British troops to be moved
# into central Iraq", "plans to send 500 more troops to Afghanistan": troops to be sent,
# used or kept somewhere go to the place they go (the subject convention: troops sent,
# withdrawn or refused; until the twenty-seventh round they were a decision or a debate at
# home, the speaker's reading), weighed as the scene, however the sender is named (an
# infinitive or "to be" only: "sent troops into Fallujah" is read as any operation)
TROOPS_TO_BEFORE = re.compile(
    r"(?:\bto\s+(?:send|deploy|redeploy|use|move|commit|station|keep|contribute)"
    r"(?:\s+[\w’'-]+){0,3}?\s+(?:troops|soldiers)|"
    r"\b(?:troops|soldiers)\s+to\s+be\s+(?:sent|deployed|redeployed|used|moved|stationed|kept))"
    r"(?:\s+[\w’'-]+){0,3}?\s+(?:in|into|to)\s+(?:the\s+)?(?:[a-z]+\s+){0,2}$",
    re.I,
)
# "Ireland has provided EUR 3.5 million in humanitarian funding to Lebanon", "U.S. military
# gives medical equipment to Nicaragua": aid given goes to the recipient, which is where the
# help is (the donor's decision is not the news); and when it is stopped or cut
# ("suspended military aid to Pakistan": a measure aimed at the recipient, placed there
# as the subject convention places sanctions); not when it is only offered, asked or
# eased ("is willing to provide assistance to Turkey", "must continue military aid to
# Egypt", "ease its restrictions on humanitarian assistance to North Korea"): a norm or
# an intent at home; a shipment is aid's word too ("the shipment of water to the Haitian
# people")
AID_TO_BEFORE = re.compile(
    r"\b(?:aid|assistance|funding|funds|donations?|relief|supplies|equipment|goods|"
    r"contributions?|grants?|loans?|shipments?)\b(?:\s+[\w’'-]+){0,2}?\s+to\s+(?:the\s+)?$",
    re.I,
)
# "handed over medical equipment ... to the Ministry of Health of Ethiopia", "donated
# ambulances to the government of Pakistan", "food aid to the people of Yemen": aid given
# to a country's government, ministry or people is aid to that country, placed as
# AID_TO_BEFORE places it (the re-ranker had moved such items to the donor)
AID_TO_BODY_OF_BEFORE = re.compile(
    r"\b(?:aid|assistance|funding|funds|donations?|relief|supplies|equipment|goods|"
    r"contributions?|grants?|loans?|donat(?:ed|es|ing)|handed\s+over)\b"
    r"(?:\s+[\w’'$.,-]+){0,6}?\s+to\s+the\s+(?:government|people|ministry|authorities)"
    r"(?:\s+(?:of\s+|for\s+)?[A-Z][\w’'-]*){0,3}?\s+of\s+(?:the\s+)?$",
    re.I,
)
# "Finland will give Tanzania a grant of 580 million shillings", "Japan lent Sri Lanka a
# $500 million loan": the aid's receiver as the verb's first object is where the aid
# goes, placed as AID_TO_BEFORE places "a grant to Tanzania" (main weighed the donor,
# named first, above it); the verb right before the name, the aid noun within four words
AID_GIVEN_ENDS = ("give ", "gives ", "gave ", "giving ", "lend ", "lends ", "lent ", "lending ")
# the same verbs as a whole word, written once: the tuple is the cheap test before it
AID_GIVEN_BEFORE = re.compile(rf"\b(?:{'|'.join(end.strip() for end in AID_GIVEN_ENDS)})\s+$", re.I)
AID_GIVEN_AFTER = re.compile(
    r"^\s+(?:an?\s+|the\s+)?(?:[\w$.,’'-]+\s+){0,4}?"
    r"(?:aid|assistance|grants?|loans?|credits?|donations?|funding)\b",
    re.I,
)
# "Ivan Ljubicic of Croatia beat Victor Hanescu of Romania 6-3, 6-2": in a result with a
# score, "<First> <Last> of <country>" is a player's country, not where the match is
PLAYER_OF_BEFORE = re.compile(r"\b[A-Z][a-z]+\s+(?:[A-Z][\w'’-]+\s+){1,2}of\s+$")
SCORE = re.compile(r"\b\d{1,2}-\d{1,2}\b")
# aid not (yet) given: the words of an intent, a request, a norm or a change of rules
# (AID_TO_BEFORE); aid suspended, cut, halted, frozen, withheld or stopped is not among
# them: that measure goes to the recipient
AID_INTENDED = re.compile(
    r"\b(?:ban\w*|lift\w*|willing|ready|prepared|offer\w*|propos\w*|"
    r"plan\w*|consider\w*|seek\w*|sought|ask\w*|urg\w*|call\w*|demand\w*|threat\w*|"
    r"must|should|restrict\w*|eas(?:e|es|ed|ing)|loosen\w*|tighten\w*|allow\w*|permit\w*)\b",
    re.I,
)
# "Washington suspended military aid to Pakistan", "Denmark announced a suspension of aid
# to Egypt": the donor's decision is a measure aimed at the recipient, whom AID_TO_BEFORE
# then places; so the donor opening the sentence is not the event's home
AID_STOPPED_AFTER = re.compile(
    r"^\s+(?:[\w.’'-]+\s+){0,5}?(?:suspen\w*|cut\w*|halt\w*|free?z\w*|froze\w*|"
    r"withh\w*|stop\w*)\s+(?:[\w’'-]+\s+){0,3}?(?:aid|assistance|funding|funds|loans?|"
    r"grants?)\b(?:\s+[\w’'-]+){0,2}?\s+to\s+(?:the\s+)?(?-i:[A-Z])",  # a name: upper case
    re.I,
)
# "will not lift the ban on Sri Lanka's Tamil Tigers", "a ban on imports of British beef",
# "new sanctions against Syria": a sanction, ban, embargo or boycott aimed at a country is
# placed there (the subject convention), as aid stopped to it is; the name right after
_MEASURE_ON = (
    r"\b(?:sanctions|ban|embargo(?:es)?|boycott)\s+(?:on|against)\s+"
    r"(?:(?:imports?|exports?)\s+(?:of|from)\s+|doing\s+business\s+with\s+)?(?:the\s+)?"
)
MEASURE_ON_BEFORE = re.compile(_MEASURE_ON + "$", re.I)
# the imposing country opening the sentence, the measure and its target after it: so the
# imposer is not the event's home (a clause, not past the sentence's end)
# (no "^": matched from the name's end with ``match(text, pos)``, where "^" would fail)
MEASURE_ON_AFTER = re.compile(r"[^.;!?]{0,80}?" + _MEASURE_ON + r"(?-i:[A-Z])", re.I)
# "a senior Hamas leader", "Hamas gunmen": a group's members; a town known by that name
# only as an alternate one (Hamas, an old name of Hamm) is no place here
MEMBERS_AFTER = re.compile(
    r"^\s+(?:leaders?|militants?|gunmen|fighters?|members?|spokes(?:man|woman|person)|"
    r"movement|activists?|commanders?|founder|operatives?|cadres?|official)\b"
)
# "Shan-e-Mustafa", "Dasht-e-Barchi", "Pul-i-Alam", "Jamaat-ud-Dawa": a Persian or Urdu
# compound's connector (izafe, or the Arabic article as Urdu writes it) after its first word
DASHES = ("-", "‑")  # a tuple: "" (no character before or after) is not in it
IZAFE_AFTER = re.compile(r"^[-‑](?:e|i|ud|ul|ur|us|ut)[-‑][A-Z]")
IZAFE_BEFORE = re.compile(r"[a-z][-‑](?:e|i|ud|ul|ur|us|ut)[-‑]$")
# "the Palestinian militant group Hamas": a group's name in apposition
GROUP_BEFORE = re.compile(r"\b(?:group|movement|militia|organi[sz]ation)\s+$")
# "Cleveland officials", "Cleveland residents": a town's own people or officers (lowercase)
LOCAL_BODIES = frozenset({"officials", "authorities", "residents", "council", "councillors"})
# "U.S. to expel Chinese students", "India extradited a top Pakistan militant", "Libya
# freed 37 prisoners": a government acting on people in its hands acts at home, however
# foreign the people (who are named by demonym, country or the place they came from)
_HOME_AUX = (
    r"(?:(?:has|have|had|will|would|to|is\s+to|plans\s+to|is\s+set\s+to|moves\s+to|"
    r"has\s+begun\s+to)\s+)?"
)
_HOME_VERBS = (
    r"(?:expel(?:s|led)?|extradit(?:e|es|ed)|deport(?:s|ed)?|free(?:s|d)?|releas(?:e|es|ed)|"
    r"arrest(?:s|ed)?|detain(?:s|ed)?|execut(?:e|es|ed)|jail(?:s|ed)?|imprison(?:s|ed)?|"
    r"hang(?:s|ed)|sentenc(?:e|es|ed)|pardon(?:s|ed)?)\b"
)
HOME_ACTION_AFTER = re.compile(r"^\s+" + _HOME_AUX + _HOME_VERBS, re.I)
# "US authorities have deported an Irish businessman", "Malaysian immigration authorities
# deported ...": the same, with the government's officers named before the verb (not its
# troops or forces, who act abroad: "US troops detained ..." in Iraq)
BODY_ACTION_AFTER = re.compile(
    r"^\s+(?:(?:immigration|border|federal|state|local|security)\s+)?"
    r"(?:authorities|officials|police|government)\s+" + _HOME_AUX + _HOME_VERBS,
    re.I,
)
# "Australia is willing to withdraw its troops from Iraq", "Colombia is ready to contribute
# troops": a government's stated readiness is news made at home, whatever it offers to do
# abroad (a plain "will" or "has agreed to" is not: "Israel will start liquidating the
# Erez zone in Gaza", "Saudi Arabia has agreed to a ceasefire in Yemen")
INTENT_AFTER = re.compile(
    r"^\s+(?:is|was|are|were|remains)\s+(?:not\s+)?(?:willing|ready|prepared)\s+to\b"
)
# "Australia is willing to withdraw its troops from Iraq", "Canada is ready to send troops to
# Haiti": stated readiness to move troops out of or into a named place is a measure aimed at
# that place (the subject convention: troops sent, withdrawn or refused go to it), so the
# government is not the event's home and the place is weighed as the scene; readiness of any
# other kind stays at home (INTENT_AFTER)
_TROOPS_MOVED = (
    r"(?:willing|ready|prepared)\s+to\s+(?:withdraw|pull\s+out|reduce|cut|send|deploy|"
    r"redeploy|contribute|dispatch)\s+(?:[\w’'-]+\s+){0,3}?(?:troops|soldiers|forces|"
    r"peacekeepers)\s+(?:from|to|in|into|out\s+of)\s+(?:the\s+)?"
)
INTENT_TROOPS_AFTER = re.compile(
    r"^\s+(?:is|was|are|were|remains)\s+(?:not\s+)?" + _TROOPS_MOVED + r"(?-i:[A-Z])", re.I
)
# the named place itself, a few lower-case words on ("from the disputed territory of Kashmir")
INTENT_TROOPS_BEFORE = re.compile(r"\b" + _TROOPS_MOVED + r"(?:[a-z]+\s+){0,3}$", re.I)
BACKER_WORDS = frozenset(
    {"backed", "led", "supported", "sponsored", "allied", "funded", "made", "based"}
)
# "warplanes supported by Russia", "rebels backed by Rwanda": the passive of "Russia-backed",
# a sponsor, not the place ("led by" left out: talks "led by Qatar" may be held there)
BACKED_BY_BEFORE = re.compile(
    r"\b(?:backed|supported|sponsored|funded|financed|armed)\s+by\s+(?:the\s+)?$"
)
PREPOSITIONS = frozenset(
    {
        "in",
        "on",
        "at",
        "to",
        "of",
        "for",
        "with",
        "from",
        "by",
        "near",
        "and",
        "or",
        "as",
    }
)
UNKNOWN_PLACE_BEFORE = re.compile(
    r"\b(?:in|at|near|outside|on|from)\s+(?:the\s+)?(?:[A-Z][\w'’.\-]*\s+){0,4}[A-Z][\w'’.\-]*,\s*$"
)
PARTICLES = frozenset(
    {"Au", "Aux", "De", "Del", "Des", "Du", "La", "Le", "Les", "El", "Al", "Of", "Es", "Sur"}
)
ARTICLE_PREFIX = re.compile(r"\b(?:al|el|Al|El|ul|ad|as|ash|ar|an|at)[-‑]$")
PLACE_NOUN_BEFORE = re.compile(
    r"\b(?:in|at|near|outside|inside)\s+(?:the\s+)?(?:[\w'’\-]+\s+){0,3}?(?:"
    + "|".join(sorted(PLACE_NOUNS))
    + r"),?\s+$",
    re.I,
)
ORG_OF_AFTER = re.compile(r"^ of [A-Z][a-z]")
POSSESSOR_SPEAKS = re.compile(
    r"^\s?['’]s(?:\s+[\w\-]+){1,4}?\s+(?:" + "|".join(sorted(SPEECH_VERBS)) + r")\b"
)
BORDER_BEFORE = re.compile(
    r"\b(?:border|borders|frontier)\s+(?:with|of)\s+(?:the\s+)?$|\bbordering\s+$", re.I
)
# "more deaths than the U.S.", "surpasses that of Italy": a yardstick, not the place
COMPARED_BEFORE = re.compile(
    r"\b(?:than|that\s+of|those\s+of|compared\s+(?:with|to)|relative\s+to)\s+(?:the\s+)?$",
    re.I,
)
# "in talks with Australia, S. Korea", "ties with Egypt": the other party to talks
# or a relation, a government, not where anything happened
COUNTERPART_BEFORE = re.compile(
    r"\b(?:talks?|talking|meetings?|meets?|met|deals?|agreements?|accords?|ties|relations|"
    r"relationship|cooperation|treaty|pact|summit|negotiations?|dialogue|"
    r"communications?|contacts?|hotlines?|work|works|working|worked|cooperate[sd]?|"
    r"cooperating|partner(?:s|ed|ing)?)\s+with\s+"
    r"(?:the\s+)?(?:[\"'“‘][\w\-]+[\"'”’]\s+)?$",
    re.I,
)
# "communication with 'enemy' South Korea": a quoted word between a word and a name
QUOTED_WORD_END = re.compile(r"\s*[\"'“‘][\w\-]+[\"'”’]$")
# "an ex-president living in exile in Britain", "based in London", "avoid deportation
# to the United States", "he was living freely in Pakistan": where someone lives or is
# sent, not where the event happened
# "Kim Jong Un's sister threatens South Korea", "Iran berates US", "fight against
# U.S.": the country addressed by words or a lawsuit, not where anything happened
# (the speaker is; "Israel strikes Syria" is a target, see TARGET_BEFORE)
ADDRESSED_BEFORE = re.compile(
    r"\b(?:threat(?:en|ens|ened)|warn(?:s|ed)?|admonish(?:es|ed)?|berat(?:e|es|ed)|"
    r"slam(?:s|med)?|accus(?:e|es|ed)|blam(?:e|es|ed)|condemn(?:s|ed)?|"
    r"critici[sz](?:e|es|ed)|rebuk(?:e|es|ed)|chid(?:e|es|ed)|scold(?:s|ed)?|"
    r"denounc(?:e|es|ed)|lambast(?:s|ed)?|prais(?:e|es|ed)|thank(?:s|ed)?|"
    r"su(?:e|es|ed)|counter(?:s|ed|ing)?|(?:hurls?|hurled)\s+\w+\s+at|(?:lash(?:es|ed)?|hit(?:s)?)\s+out\s+at|"
    r"(?:swipes?|jabs?|digs?|aim(?:s|ed)?|angry|furious|fires?\s+back)\s+at|"
    r"(?:fight|battle|campaign|lawsuit|case|complaint|war\s+of\s+words)\s+against|"
    r"support\s+for|solidarity\s+with)\s+(?:the\s+)?$",
    re.I,
)
# "US $50 million", "NZ$3m", "HK$ 10": a currency, not a place
CURRENCY_AFTER = re.compile(r"^\s?\$")
# "World Bank's Neman: 'Critical time' ...": a headline's speaker, named before a quote
# at the headline's start or after a possessive (not "... in Hong Kong: 'We've seen'")
QUOTE_LABEL_AFTER = re.compile(r"^\s*:\s*['‘\"“]")
ELSEWHERE_BEFORE = re.compile(
    r"\b(?:based|living|lives|lived|exiled?|headquartered|residing|resident|"
    r"deport(?:ed|ation)|extradit(?:ed|ion)|repatriat(?:ed|ion)|"
    # a travel warning's destination: "warns citizens not to travel to Australia"
    r"(?:not\s+to|against(?:\s+all)?(?:\s+non-essential)?|avoid)\s+travel(?:l?ing)?)"
    r"\s+(?:back\s+)?"
    r"(?:[a-z]+ly\s+)?(?:in|to)\s+"  # "living freely in Pakistan"
    r"(?:the\s+)?$",
    re.I,
)
# "refugees who have fled violence in the western Darfur region", "Iraqis who fled Mosul":
# the place a relative clause says people fled is where they came from, not where they are
FLED_BEFORE = re.compile(
    r"\bwho\s+(?:have\s+|had\s+|has\s+)?fled\s+"
    r"(?:(?:the\s+)?(?:violence|fighting|war|conflict|persecution|unrest|clashes|attacks)\s+)?"
    r"(?:(?:in|from)\s+)?(?:the\s+)?"
    r"(?:(?:north|south|east|west|central|north-?east|north-?west|south-?east|south-?west)"
    r"(?:ern)?\s+)?$"
)
# "protests sparked by the death of George Floyd in the US", "marched over the killing of
# George Floyd in Minneapolis": a death named as the cause of what the item reports
# (protests, reactions elsewhere) places the death, not the item's event
DEATH_CAUSE_BEFORE = re.compile(
    r"\b(?:over|after|following|protesting|for|by|wake\s+of)\s+(?:the\s+)?(?:[a-z]+\s+)?"
    r"(?:death|killing|murder)\s+of\s+(?:[A-Z][\w'’.\-]*\s+){1,3}in\s+(?:the\s+)?$"
)
# "Al Jazeera's Scott Heidler reports from Bangkok", "has more from Mexico City": where
# the reporter stands, as a dateline is, not necessarily where the event happened; and
# "the minister told reporters in Ankara": where a speaker met the press, likewise
REPORTER_BEFORE = re.compile(
    r"\b(?:(?:told|telling)\s+(?:reporters|journalists|a\s+(?:news|press)\s+conference)"
    r"\s+in\s+|"
    r"(?:reports?|reporting|has\s+more|filed|writes)\s+from\s+)"
    r"(?:the\s+)?(?:(?:[A-Z][\w'’.\-]*\s+){0,4}[A-Z][\w'’.\-]*,\s*)?$"
)
# "Libya conflict: Russia and Turkey ...", "Hong Kong protests: ...": a headline's
# topic label, the story's place (a word or two after the name, then a colon)
TOPIC_AFTER = re.compile(r"^\s+(?:[a-z][\w'’\-]*\s+){0,2}[a-z][\w'’\-]*\s*:")
REGION_AFTER_POSSESSOR = re.compile(
    r"^\s?['’]s\s+(?:[A-Z][\w'’\-]*\s+){1,2}(?:state|province|region|district|county|"
    r"prefecture|governorate|territory)\b"
)
# "County Durham", "County Cork", "Co. Antrim": the name after "County" is a county of
# Ireland or the UK (the US puts the word after the name: "Orange County")
REGION_WORD_AFTER = re.compile(
    r"^ (state|province|region|county|district|governorate|prefecture)\b", re.I
)
AFTER_COMMA = re.compile(r"[A-Za-z]\w*, $")
COUNTY_BEFORE = re.compile(r"(?<![\w.])(?:County|Co\.)\s$")
COUNTY_COUNTRIES = frozenset({"GB", "IE"})
# "Essex County, New Jersey", "Kiambu County, Kenya": a county is in the region or country
# after the comma; the county's name is no town of that name elsewhere (Essex, Maryland)
COUNTY_OF_AFTER = " County, "
# "Delta Air Lines", "Kenya Airways": an airline's name (one sense in the item: its other
# "Delta Pilots" are the firm's too)
AIRLINE_AFTER = re.compile(r"^ (?:Air ?[Ll]ines|Airlines|Airways)\b")
# "Singapore Airlines", "Kenya Airways", "Canada Post": a country's carrier or postal
# service, named after the country it serves; an actor there (as "US officials"), a weak
# place that any other place named outweighs, not a name's part that says nothing
NATIONAL_FIRM_WORDS = frozenset({"Airlines", "Airways", "Post"})
# "a Delta 4 rocket", "its Delta IV heavy-lift rocket", "the Titan 2 missile": a model's
# name and number before the kind of machine it names
MODEL_AFTER = re.compile(
    r"^ (?:\d{1,2}|II|III|IV|V|VI|VII|VIII|IX|X)(?:-[A-Z][a-z]+)? (?:[a-z][\w-]* ){0,2}"
    r"(?:rockets?|launchers?|missiles?|jets?|aircraft|airliners?|engines?|satellites?|"
    r"spacecraft|tanks?)\b"
)
# "the Delta variant", "the Kent strain", "the South African variant": where a virus
# variant was first found or the letter it was given, which says nothing of the event
VARIANT_AFTER = re.compile(r"^[\s-]+(?:sub-?)?(?:variant|strain|lineage)s?\b")
# "Hurricane Ivan", "Typhoon Haiyan", "Tropical Storm Frances": a storm's given name
# (the noun only: "gunmen storm Guayaquil" is the verb, so a lowercase "storm" is not one)
STORM_BEFORE = re.compile(
    r"\b(?:[Hh]urricane|[Tt]yphoon|[Cc]yclone|(?:Tropical |Super|Winter )?Storm|"
    r"(?:tropical |winter )storm|superstorm)\s+$"
)
STORM_WORDS = ("urrican", "yphoon", "yclone", "torm")  # the cheap gate of STORM_BEFORE
# "Hampshire College in Amherst", "Essex County College in Newark", "Amirabad Prison in
# Gorgan", "Logan Airport in Boston": a school, hospital, prison, airport or other building
# named after a place, then the town it is in (whose mention starts right there); a
# building's (group 1) only before a town ("Bradford Industrial Museum in West Yorkshire",
# "Santa Cruz Prison in Bolivia" keep the name's town)
INSTITUTION_IN_AFTER = re.compile(
    r"^(?: [A-Z][\w'’&-]*){0,2} (?:College|University|Hospital|School|Academy|Institute|"
    r"Polytechnic|Seminary|(Prison|Jail|Gaol|Penitentiary|Airport|Stadium|Hotel|Mosque|"
    r"Church|Cathedral|Palace|Museum)) (?:in|at) "
)
# "the Gulf of Mexico", "the Bay of Bengal", "the Sea of Azov": a body of water, named by
# neither word ("Gulf" is Papua New Guinea's province; the sea is no event's country)
WATER_WORDS = frozenset({"Gulf", "Bay", "Sea"})
WATER_OF_AFTER = re.compile(r"^ of (?:the )?[A-Z]")
WATER_OF_BEFORE = re.compile(r"\b(?:Gulf|Bay|Sea) of (?:the )?$")
# "Indonesia's Paris embassy", "the Indonesian embassy in Paris": the mission's owner, which
# says no more of where it is than a person's origins do (dropped alike)
EMBASSY_AFTER = re.compile(
    r"^(?: ?['’]s)?(?: [A-Z][\w'’.-]*){0,2} (?:[Ee]mbass(?:y|ies)|[Cc]onsulates?|"
    r"[Hh]igh [Cc]ommission)\b"
)
# "Kennedy Space Center", "the Johnson Space Center": a site named after a person
SPACE_CENTRE_AFTER = re.compile(r"^ Space (?:Flight )?Cent(?:er|re)\b")
# "the reclusive North Korean regime", "Iranian authorities": a demonym that names a
# country's government, whose acts are at home
# "a state visit he was currently making to China", "began his visit to China"
VISIT_BEFORE = re.compile(r"\b(?:visit(?:s|ing)?|trip|tour)\b(?:\W+\w+){0,5}?\W+to\s+(?:the\s+)?$")
# "cancelled a planned visit to Britain", "called off his trip to Japan": a visit that will
# not happen puts no one at its destination, so it is no visit's place (the re-ranker
# weighs "visited" heavily toward the event's place); the decision is made at home. The
# destination keeps its weight as named (marked elsewhere too, it moved "The UK prime
# minister has cancelled a planned visit to Washington" to the US: measured, not kept)
CALLED_OFF_VISIT_BEFORE = re.compile(
    r"\b(?:cancel\w*|call(?:s|ed|ing)?\s+off|postpon\w*|scrap\w*|put\s+off|shelv\w*|"
    r"abandon\w*|axe[sd]?)\b(?:\W+\w+){0,3}?\W+(?:visit(?:s|ing)?|trip|tour)\b"
    r"(?:\W+\w+){0,5}?\W+to\s+(?:the\s+)?$",
    re.I,
)
# "her Filipino heritage", "a man of Moroccan descent", "an Indian-origin scientist": a
# demonym naming a person's origins says nothing of where the event is
ORIGINS_AFTER = re.compile(r"^[\s-]+(?:heritage|descent|ancestry|origins?|extraction)\b")
# "Sudanese refugees", "Afghan asylum seekers": where people fled from, not where they are;
# not "Greek refugee camps" (camps in Greece) nor refugees who "returned home" there
REFUGEES_AFTER = re.compile(r"^ (?:refugees?|asylum[- ]seekers?)\b(?! camps?\b)", re.I)
# "Sudanese Refugee Camp in Chad", "a Palestinian refugee camp in Lebanon": a camp placed in
# another place is the refugees' origin again ("Greek refugee camps" alone stay in Greece)
REFUGEE_CAMP_IN_AFTER = re.compile(r"^ (?i:refugee camps?) (?:in|at|near) (?:the )?[A-Z]")
RETURN_WORDS = ("eturn", "epatriat")  # "returned home", "repatriated": back where they came from
OFFICIALS_AFTER = re.compile(
    r"^\s+(?:regime|government|authorities|leadership|officials|ministry|state\s+media|"
    r"state\s+television)\b"
)
REGIME_AFTER = re.compile(
    r"^\s+(?:regime|government|authorities|leadership|state\s+media|state\s+television)\b"
)
# "Sudan on Wednesday rejected a US-sponsored resolution", "Syria says it will not accept
# refugees from Iraq", "The Guatemalan government declared a state of siege", "U.S.
# President Donald Trump has accepted an invitation": a statement or decision that opens
# the headline or the lead is the reported event, made at home (data/README.md: "a
# government's statement or decision at home about another country is the speaker's"),
# so its country weighs as a place named after "in"; a place the statement reports an
# incident at ("after a tanker seizure in Hormuz") still outweighs it
STATEMENT_VERBS = (
    r"(?:say|says|said|announc(?:e|es|ed)|reject(?:s|ed)?|den(?:y|ies|ied)|"
    r"confirm(?:s|ed)?|accept(?:s|ed)?|grant(?:s|ed)?|suspend(?:s|ed)?|declar(?:e|es|ed)|"
    r"decid(?:e|es|ed)|refus(?:e|es|ed)|recogni[sz](?:e|es|ed)|insist(?:s|ed)?|"
    r"vow(?:s|ed)?|criticis(?:e|es|ed)|criticiz(?:e|es|ed)|condemn(?:s|ed)?|"
    r"welcom(?:e|es|ed)|protest(?:s|ed)?|veto(?:es|ed)?|recall(?:s|ed)?|summon(?:s|ed)?|"
    # "The United States on Thursday defended the right of Russian troops to fire on
    # militants in Azerbaijan": a defence of another's act, said at home
    r"defend(?:s|ed)?|"
    # "Australia turns down plea for more troops ... in Iraq": a refusal, as "rejects" is
    r"turn(?:s|ed)?\s+down|declin(?:e|es|ed)|rebuff(?:s|ed)?|spurn(?:s|ed)?)"
)
STATEMENT_ADVERBIAL = (
    r"(?:(?:on|last|this|early|late)\s+[A-Za-z]+\s+|today\s+|yesterday\s+|"
    r"(?:has|have|had|will|would|again|also|now|formally|officially|publicly|"
    r"[a-z]+ly)\s+)*"
)
STATEMENT_AFTER = re.compile(r"^\s+" + STATEMENT_ADVERBIAL + STATEMENT_VERBS + r"\b")
# a capital for its government decides at home ("Washington suspended military aid to
# Pakistan", "Berlin rejected calls"); a capital that only "says" is a voice about
# elsewhere ("Washington says Iran plans to ...": `tune` labels it IR)
DECISION_AFTER = re.compile(
    r"^\s+" + STATEMENT_ADVERBIAL + r"(?!say|says|said\b)" + STATEMENT_VERBS + r"\b"
)
# the speaker named by the country's government or an office and a name after it
STATEMENT_BY_AFTER = re.compile(
    r"^\s+(?:(?:government|authorities|officials|leadership|foreign\s+ministry|ministry)|"
    r"(?:(?:President|Prime\s+Minister|PM|Premier|Foreign\s+Minister|Chancellor|King|"
    r"Secretary\s+of\s+State)\s+(?:[A-Z][\w.'’\-]*\s+){1,3}))\s*"
    + STATEMENT_ADVERBIAL
    + STATEMENT_VERBS
    + r"\b"
)
# "South Korea suspended aid to North Korea after the country conducted a nuclear test",
# "Washington says it will sanction Iran after a tanker seizure": a decision taken in
# response places the event at what it responds to (the labelled set's convention), so
# a lead with such a clause is no statement at home ("after he took refuge": a person's
# doings, not an event)
RESPONSE_CLAUSE = re.compile(
    r"\b(?:after|following|in\s+response\s+to|in\s+retaliation\s+for)\s+"
    r"(?:the|a|an|its|their|his|her|this|last|latest|recent|[A-Z])"
)
# "military intervention in the Libyan conflict", "the Syrian civil war", "into Japanese
# territorial waters": a demonym before a word for a conflict or a country's ground names
# where the event is, as "in Libya" does (not whose people act, as "Libyan troops" does)
SCENE_AFTER = re.compile(
    r"^\s+(?:civil\s+war|war|conflict|unrest|uprising|revolution|insurgency|"
    r"territorial\s+waters?|waters|soil|mainland|countryside|capital|coast)"
    # the word ends the phrase: not "war crimes", "coast guard", "capital markets"
    r"(?=\s*(?:[,.;:)]|$)|\s+(?:in|on|at|of|and|with|that|which|to|by|for|as|is|was|has|"
    r"had|between|over|since|after|last|this|on)\b|\s+[A-Z])"
)
# "Nepal capital under curfew", "the Lebanon capital's southern suburbs": a country's name
# before "capital" names its capital city, as "the Nepalese capital" does (SCENE_AFTER);
# not "capital markets", "capital punishment", "capital flight"
CAPITAL_AFTER = re.compile(
    r"^ capital(?:['’]s)?(?!\s+(?:markets?|punishment|flight|gains?|spending|expenditure|"
    r"controls?|investment|ratio|requirements?|city\s+of\b))\b"
)
# "militants have attacked a Chadian village", "shelling hit a Syrian border town": a
# demonym before a word for a settlement or an area names a place of that country, as
# "in Chad" does ("settlement" is left out: "an Israeli settlement" is in the West Bank;
# "crossings that connect Arsal to the Syrian border town of Flita" are on this side, so
# a border town, or a town that is where something goes to or comes from, is not)
SETTLEMENT_AFTER = re.compile(
    r"^\s+(?:(?:coastal|northern|southern|eastern|western|remote|small|mountain|desert)\s+)?"
    r"(?:village|villages|town|towns|hamlet)\b"
)
# "in a Gaza refugee camp", "outside a Saudi shopping center", "at an Istanbul
# nightclub": a name between "in/at/near/outside a" and a word for a site (up to two
# words between) says where the site is ("base" is left out: "at a US base in Qatar")
LOCATIVE_ARTICLE_BEFORE = re.compile(
    r"\b(?:[Ii]n|[Aa]t|near|outside|inside|(?P<struck>attacked|raided|struck|bombed|shelled|"
    r"stormed))\s+an?\s+$"
)
# "war-torn", "quake-hit", "violence-ravaged": a lower-case noun and a past participle
# (not "arch-rival", "top-security", "south-central" or "lower-than-expected", which
# after "inside", "outside the", "in" or "off" qualify something other than the place)
PARTICIPLE_COMPOUND = re.compile(r"[a-z]+-(?:[a-z]+(?:ed|en|rn)|hit|struck)$")
SITE_AFTER = re.compile(
    r"^\s+(?:[a-z][\w'’\-]*\s+){0,2}?(?:(?:refugee\s+)?camp|village|town|suburb|"
    r"neighbou?rhood|district|hospital|clinic|school|mosque|church|temple|synagogue|market|"
    r"prison|jail|hotel|restaurant|caf[eé]|nightclub|club|bar|mall|shopping\s+(?:cent(?:er|re)|"
    r"mall)|station|airport|factory|mine|compound|checkpoint|street|square|park|"
    r"university|courthouse|home|house|apartment|building)s?\b"
)
# "Victoria station, central London", "Tahrir square, Cairo": a landmark named after a
# town elsewhere, then the town it is in (lowercase words: "Central Station" is
# FACILITY_WORDS' name)
LANDMARK_WORDS = frozenset(
    {"station", "airport", "square", "street", "road", "avenue", "bridge", "stadium"}
    | {"hospital", "hotel", "mall", "market", "prison", "mosque", "church", "cathedral"}
    | {"palace", "museum", "park", "tower", "terminal"}
)
# the landmark's word, a comma and a direction word, if any, before the town (whose
# mention must start right there; "Central London" too, hence re.I)
LANDMARK_AFTER = re.compile(
    r"^ [a-z]+,\s+(?:(?:" + "|".join(sorted(DIRECTION_WORDS)) + r"|downtown)\s+)?", re.I
)
# a town's part or site after its possessive ("in Kabul's diplomatic quarter"), or a
# named one ("in Beijing's Tiananmen Square")
SITE_OF_WORDS = (
    LANDMARK_WORDS
    | {"quarter", "district", "suburb", "suburbs", "outskirts"}
    | {
        "centre",
        "center",
        "streets",
        "neighbourhood",
        "neighborhood",
    }
)
# the site's word after a lowercase one ("city centre", "diplomatic quarter"), or "city"
# there ("the old city", "the inner city"), before the sentence goes on
SITE_AFTER_WORD = re.compile(
    r"^ (?:" + "|".join(sorted(SITE_OF_WORDS | {"city"})) + r")\b(?!['’\-])", re.I
)


def _site_follows(rest: str) -> bool:
    """Whether the word after a possessive's lowercase next word is a site's."""
    return SITE_AFTER_WORD.match(rest) is not None


# a demonym before aid's word: the donor's ("Australian aid", "Japanese development
# assistance"), not aid workers, agencies or convoys, which are where they work
DONOR_AID_AFTER = re.compile(
    r"^ (?:(?:government|state|foreign|overseas|development|humanitarian|military|economic)"
    r" )?(?:aid|assistance|funding|donations?)\b"
    r"(?! (?:workers?|agenc|groups?|organi[sz]|officials?|staff|convoys?|teams?|volunteers?))"
)
# a country giving another aid by name ("the United States has provided Egypt with ... economic
# assistance", "Japan gave Haiti $5 million in aid"): the donor, weighed as the demonym's is
DONOR_GAVE_AFTER = re.compile(
    r"^ (?:has |have |had )?(?:provided|provides|given|gave|gives|granted|grants|sent|sends)"
    r" (?:the )?[A-Z][\w'’\-]*(?: [A-Z][\w'’\-]*){0,2} [^.;]{0,120}?"
    r"\b(?:aid|assistance|funding|donations?)\b"
    r"(?! (?:workers?|agenc|groups?|organi[sz]|officials?|staff|convoys?|teams?|volunteers?))"
)
DONOR_VERBS = ("provide", "give", "gave", "grant", "sent", "send")
DESTINATION_BEFORE = re.compile(r"\b(?:to|from|into|toward|towards|via)\s+(?:a|an|the)\s+$")
# ... and a verb of attack right before it makes the place the incident's (a verb, not
# "a rocket attack on an Israeli town", which is often the cause of what is reported)
STRUCK_BEFORE = re.compile(
    r"\b(?:attacked|raided|struck|bombed|shelled|stormed|overran|seized|torched|"
    r"burned|burnt)\s+(?:a|an|the)\s+(?:[a-z]+\s+)?$"
)
NAME_PARTICLES = frozenset({"von", "van", "zu", "bin", "ibn", "der", "den"})
# "Diane von Furstenberg", "Osama bin Laden": a name's particle after a given name
NAME_PARTICLE_BEFORE = re.compile(
    r"\b[A-Z][\w'’\-]*\s+(?:von|van|zu|bin|ibn)\s+(?:der\s+|den\s+)?$"
)
# "Wadi al-Khayl", "Ras el-Tin": the first word of a longer Arabic name
ARTICLE_NAME_AFTER = re.compile(r"^ (?:al|el|ad|ash|ar|as|an|at|az|ez|ul)[-‑][A-Z]")
# "Attorney General Bill Barr", "Mayor London Breed": a title, a given name (which may
# be a common word: "Bill", "Rose"), then the surname
TITLE_NAME_BEFORE = re.compile(
    r"\b(?:President|General|Minister|Secretary|Senator|Sen\.|Governor|Gov\.|Mayor|"
    r"Judge|Justice|Rep\.|Representative|Chancellor|Ambassador|Commissioner|Chief|"
    r"Sheriff|Detective|Officer|Sgt\.?|Sergeant|Captain|Capt\.|Colonel|Col\.|"
    r"Lt\.|Lieutenant|Inspector|Constable|Professor|Prof\.|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|"
    r"Sir|Dame|Lord|Lady|Rev\.|Reverend|Bishop|Coach|Premier|Speaker|Prince|Princess)"
    r"\s+[A-Z][a-z][\w'’\-]*\s+$"
)
# "former President Obama", "Gov. Cuomo": a person's title right before a town's name
# makes it a surname (one sense per item then); "General" and "Chief" are left out, as
# they open places' names ("General Santos") and bodies' ("Chief Executive")
TITLE_BEFORE = re.compile(
    r"\b(?:President|Minister|Secretary|Senator|Sen\.|Governor|Gov\.|Mayor|Judge|Rep\.|"
    r"Representative|Chancellor|Ambassador|Sheriff|Detective|Sgt\.?|Sergeant|Captain|"
    r"Capt\.|Colonel|Col\.|Lt\.|Lieutenant|Inspector|Professor|Prof\.|Dr\.?|Mr\.?|"
    r"Mrs\.?|Ms\.?|Sir|Dame|Rev\.|Reverend|Bishop|Prince|Princess) $"
)
# "George W. Bush": a first name before a middle initial and a surname
MIDDLE_INITIAL_AFTER = re.compile(r"^ [A-Z]\. [A-Z][a-z]")
# "King Hassan of Morocco", "Emir Hamad of Qatar": a ruler's title right before a town's
# name and "of" a country after it (and an ordinal, "II"): the ruler's name, not a place
RULER_BEFORE = re.compile(r"\b(?:King|Queen|Emir|Sheikh|Sultan) $")
RULER_OF_AFTER = re.compile(r"^(?: [IVX]+)? of (?:the )?[A-Z]")
# "the late President Nelson Mandela of South Africa", "King Abdullah II of Jordan": the
# person's country, whose he is, not where the event is (weighed as "Turkish President")
PERSON_OF_BEFORE = re.compile(
    TITLE_NAME_BEFORE.pattern.split(r")\s+[A-Z][a-z]")[0]
    + r"|King|Queen|Emir|Sheikh|Sultan)\s+(?:[A-Z][\w'’\-]*\.?\s+){1,3}of\s+(?:the\s+)?$"
)
BORDER_AFTER = re.compile(r"^(?:'s|’s)?\s*(?:border|frontier)\b", re.I)
# "the Kenya-Somalia border": the first of a pair is a border too
PAIR_BORDER_AFTER = re.compile(
    r"^[-‑–/]\s?[A-Z][\w'’.]*(?:\s[A-Z][\w'’.]*)?\s+(?:border|frontier)\b", re.I
)
FUNCTION_WORDS = frozenset(
    {
        "and",
        "or",
        "but",
        "nor",
        "in",
        "on",
        "at",
        "to",
        "of",
        "for",
        "with",
        "from",
        "by",
        "after",
        "before",
        "as",
        "since",
        "until",
        "over",
        "under",
        "into",
        "during",
        "amid",
        "against",
        "about",
        "than",
        "that",
        "which",
        "who",
        "where",
        "when",
        "while",
        "if",
        "because",
        "though",
        "although",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "has",
        "have",
        "had",
        "will",
        "would",
        "can",
        "could",
        "may",
        "might",
        "must",
        "should",
        "shall",
        "do",
        "does",
        "did",
        "not",
        "also",
        "still",
        "now",
        "then",
        "again",
        "too",
    }
)
# a continent's name, which with a direction word before it names a region of it
CONTINENTS = frozenset({"Africa", "America", "Americas", "Asia", "Europe", "Oceania"})
CALENDAR_WORDS = frozenset(w for w in (*calendar.month_name, *calendar.day_name) if w)
SENTENCE_END = frozenset(".!?:;\"'“‘(\n")


@dataclass(slots=True)
class Found:
    """One mention and its context (mutable while the resolver works on it)."""

    key_id: int
    text: str
    field: str  # "title" or "summary"
    start: int  # in the combined text
    end: int
    demonym: bool
    dateline: bool = False
    locative: bool = False
    incident: bool = False  # "the attack in Banjska": the event's own place
    border: bool = False  # "the border with Kosovo", "the Cameroon border": not the place
    qualifies: bool = False  # right after "X, ": the qualifier in "Mobile, Alabama"
    backer: bool = False  # "Russia-backed", "US-led": a sponsor, not the place
    actor: bool = False  # "Syria has offered": a country acting, as a subject
    speaker: bool = False
    possessive: bool = False
    sited: bool = False  # "in Baghdad's Green Zone": a site of the town, after "in"/"at"
    sentence_start: bool = False
    in_lead: bool = False
    name_part: bool = False
    office: bool = False  # "Turkish President", "Iraq PM": a person's nationality
    attributive: bool = False  # "US officials", "Kosovo police": an actor, not a place
    compared: bool = False  # "more deaths than the U.S.": a yardstick
    elsewhere: bool = False  # "living in exile in Britain", "deportation to the US"
    reporter: bool = False  # "reports from Bangkok": where the reporter stands
    topic: bool = False  # "Libya conflict: ...": the headline's topic label
    counterpart: bool = False  # "talks with Australia": the other party, a government
    addressed: bool = False  # "threatens South Korea", "fight against U.S.": words' target
    currency: bool = False  # "US $50 million"
    home: bool = False  # "the Hungarian parliament": an institution acting at home
    # "Khost province", "Kano state", "Gao region": the region, not its seat (the word
    # itself: "the Washington region" may still be a big city's, not a state's)
    region_word: str = ""
    after_comma: bool = False  # "in Lucanamarca, Ayacucho": qualifies a place before it
    sponsor: bool = False  # "Arab-backed", "Hamas-led": whose backing, never the town
    county: bool = False  # "County Durham", "Co. Antrim": a British or Irish county
    regime: bool = False  # "the North Korean regime": a demonym naming a government
    visited: bool = False  # "a state visit he was making to China": where the visitor is
    institution: bool = False  # "Naroda Police": a home institution follows the name
    local_body: bool = False  # "Cleveland officials": a town's institution or officers
    members: bool = False  # "a senior Hamas leader": a group's members follow the name
    officials: bool = False  # "the Chinese government", "Russian officials": who acts
    qualified_by: int = -1  # index of the mention right after ", " ("Mobile, Alabama")
    subject: bool = False  # "Obama gave", "Bolton would": a verb follows the name
    # "her Filipino heritage", "Ivan Ljubicic of Croatia beat ...": a person's origins or
    # a player's country, no place of the event
    origins: bool = False
    county_after: bool = False  # "Hampshire County": a US-style county, not England's Hampshire
    firm: bool = False  # "Singapore Airlines": a country's own carrier or post, weak everywhere


def _ends_with_with(before: str) -> bool:
    """The text before a name ends with "with" or "with the", a quoted word aside ("talks
    with 'enemy' South Korea"); "with" anywhere in it is tested first (cheap: the rest is
    a lowercased prefix of it, so it holds "with" whenever the rest ends with it)."""
    return "with" in before.lower() and QUOTED_WORD_END.sub("", before.rstrip()).lower().endswith(
        ("with", "with the")
    )


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def prepare(
    title: str, summary: str, gazetteer: Gazetteer | None = None
) -> tuple[str, int, tuple[int, int] | None]:
    """Combine the fields into one text (title, newline, summary).

    An all-capitals title and a dateline are title-cased (same length, so spans
    hold) so that their place names match the mixed-case keys. A dateline with a colon
    ("NEW DELHI:") is read only with ``gazetteer``, which says whether it names a city.
    """
    title = " ".join(title.split())
    summary = " ".join(summary.split())
    if title and not any(ch.islower() for ch in title):
        title = title.title()
    elif gazetteer is not None and title[:1].isupper() and ":" in title:
        label = TITLE_LABEL.match(title)
        if label and _names_country(gazetteer, _dateline_case(label.group("place"))):
            end = label.end("place")
            title = _dateline_case(title[:end]) + title[end:]
    dateline = None
    # "June 03, 2020 6:54 PM SINGAPORE - ...": a feed's time stamp before the wire's
    # dateline (The Straits Times); the dateline is read after it
    stamp = TIME_STAMP.match(summary) if summary[:1].isupper() else None
    skip = stamp.end() if stamp else 0
    lead = summary[skip:] if skip else summary
    m = DATELINE.match(lead) or OUTLET_DATELINE.match(lead) or _agency_dateline(lead[:120])
    if m is not None and _dated_home_lead(m, lead):
        m = None
    if m is None:
        skip = 0  # the other forms are read on the whole summary
    # the forms that also open columns or sentences count only when they name a city
    if m is None and gazetteer is not None:
        for form in (COLON_DATELINE.match, _mid_dateline):
            m = form(summary)
            if m and _names_city(gazetteer, _dateline_case(m.group("place"))):
                break
            m = None
    if m is None and gazetteer is not None:
        m = _bare_dateline(gazetteer, summary) or _runon_dateline(gazetteer, summary)
    if m:
        start, end = m.span("place")
        start, end = start + skip, end + skip
        summary = summary[:start] + _dateline_case(summary[start:end]) + summary[end:]
        dateline = (start, end)
    offset = len(title) + 1
    if dateline is not None:
        dateline = (dateline[0] + offset, dateline[1] + offset)
    return f"{title}\n{summary}", offset, dateline


DATED_COUNTRY = re.compile(
    r",\s*(?P<country>[A-Z][a-z]+(?: [A-Z][a-z]+){0,2}) [A-Z][a-z]{2,8}\.? \d{1,2}, (?:19|20)\d\d\b"
)


def _dated_home_lead(m: re.Match[str], lead: str) -> bool:
    """A dated wire's dateline ("KABUL, Afghanistan Sept. 13, 2004 -") whose lead places the
    event in its own country ("... in southern Afghanistan"): the town is where the report
    was filed, so the dateline is not read (the country is named). "Across Thailand" is
    no such place: the whole country holds the dateline's town (held13's z052, Bangkok)."""
    dated = DATED_COUNTRY.match(m.group(0), m.end("place") - m.start())
    if dated is None:
        return False
    end = LEAD_END.search(lead, m.end())
    body = lead[m.end() : end.end() if end else len(lead)]
    # the country's name whole, or its first word after a direction ("GAZA CITY, Gaza Strip
    # Dec 18, 2004 - ... in southern Gaza")
    name = dated["country"]
    first = name.split()[0]
    home = rf"\bin (?:the )?(?:(?:[a-z]+ )?{re.escape(name)}|[a-z]+ern {re.escape(first)})\b"
    return re.search(home, body) is not None


def _agency_dateline(head: str) -> re.Match[str] | None:
    # AGENCY_DATELINE needs the agency's "(": most texts have none in their first 120
    # characters, and the search tried every position
    return AGENCY_DATELINE.search(head) if "(" in head else None


def _mid_dateline(summary: str) -> re.Match[str] | None:
    # MID_DATELINE ends in a dash: a summary with none has no match (searched whole)
    if "-" in summary or "—" in summary or "–" in summary:
        return MID_DATELINE.search(summary)
    return None


def _bare_dateline(gazetteer: Gazetteer, summary: str) -> re.Match[str] | None:
    """BARE_DATELINE's match when its words name a city and then a country, else None."""
    m = BARE_DATELINE.match(summary)
    if m is None or not _names_city(gazetteer, _dateline_case(m.group("place"))):
        return None
    words = m.group("country").split()
    rest = summary[m.start("country") :].split()
    for n in range(1, len(words) + 1):
        name = " ".join(words[:n])
        # "BANGKOK, Thailand Sept. 30, 2004 - ...": a dated wire form this does not read
        if rest[n].rstrip(".,") not in DATE_WORDS and any(
            start == 0 and stop == len(name) and is_country_key(gazetteer, kid)
            for start, stop, kid in gazetteer.keys.find(name)
        ):
            return m  # only the place's span is read
    return None


def _runon_dateline(gazetteer: Gazetteer, summary: str) -> re.Match[str] | None:
    """RUNON_DATELINE's match when its capitals name a city of the country named next."""
    m = RUNON_DATELINE.match(summary)
    if m is None:
        return None
    g = gazetteer
    country = m.group("country")
    codes = {
        g.country[p]
        for start, stop, kid in g.keys.find(country)
        if start == 0 and stop == len(country) and g.key_kind[kid] != KEY_DEMONYM
        for p in g.places_of(kid)
        if g.kind[p] == KIND_COUNTRY
    }
    if codes and _names_city(g, _dateline_case(m.group("place")), codes):
        return m  # only the place's span is read
    return None


def _names_country(gazetteer: Gazetteer, name: str) -> bool:
    """``name`` whole is a country's name (not its demonym)."""
    return any(
        start == 0
        and stop == len(name)
        and gazetteer.key_kind[kid] != KEY_DEMONYM
        and is_country_key(gazetteer, kid)
        for start, stop, kid in gazetteer.keys.find(name)
    )


def _names_city(gazetteer: Gazetteer, name: str, countries: Set[str] | None = None) -> bool:
    """``name`` whole is a city of COLON_DATELINE_MIN_POP or a national capital (of one of
    ``countries``, when given)."""
    g = gazetteer
    return any(
        start == 0
        and stop == len(name)
        and any(
            g.kind[p] != KIND_COUNTRY
            and (countries is None or g.country[p] in countries)
            and (g.population[p] >= COLON_DATELINE_MIN_POP or p in g.capital)
            for p in g.places_of(kid)
        )
        for start, stop, kid in g.keys.find(name)
    )


def _dateline_case(text: str) -> str:
    """``PORT-AU-PRINCE`` -> ``Port-au-Prince``: title case, particles lowercased."""
    titled = text.title()
    return re.sub(
        r"(?<=[-\s])([A-Z][a-z]{1,2})(?=[-\s])",
        lambda m: m.group(1).lower() if m.group(1) in PARTICLES else m.group(1),
        titled,
    )


# Case endings of languages that inflect place names, and what the name may end in
# instead ("u Novom Sadu": Novi Sad; "u Mitrovici": Mitrovica; "afër Zveçanit":
# Zveçan): Serbian, Croatian and Bosnian (locative, genitive, dative, instrumental of
# nouns and adjectives), Albanian (definite and oblique endings). An inflected form is
# looked up only where no name was found as written, and only a whole name of one or
# two words that the language's guard (``resolve.foreign_places``) then keeps.
INFLECTIONS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "bcs": (
        ("oga", ("i", "o")),
        ("ome", ("i", "o")),
        ("om", ("", "o", "a", "i")),
        ("em", ("", "o", "e")),
        ("og", ("i", "o")),
        ("oj", ("a", "i")),
        ("im", ("i", "a")),
        ("u", ("", "o", "a")),
        ("a", ("", "o")),
        ("e", ("a", "o")),
        ("i", ("a", "")),
    ),
    "sq": (
        ("it", ("", "ë")),
        ("in", ("", "ë")),
        ("ës", ("ë", "a")),
        ("ën", ("ë",)),
        ("i", ("", "ë")),
        ("a", ("ë",)),
        ("ë", ("",)),
    ),
    # Polish: "w Warszawie", "z Warszawy" (Warszawa), "w Krakowie", "do Krakowa"
    # (Kraków), "w Gdańsku" (Gdańsk), "we Wrocławiu" (Wrocław), "w Gdyni" (Gdynia)
    "pl": (
        ("owie", ("ów", "owo")),
        ("owa", ("ów",)),
        ("wie", ("wa",)),
        ("iu", ("",)),
        ("ie", ("", "a")),
        ("em", ("",)),
        ("ą", ("a",)),
        ("u", ("",)),
        ("y", ("a",)),
        ("i", ("a", "ia")),
        ("a", ("",)),
    ),
    # Slovene: "v Ljubljani", "iz Ljubljane" (Ljubljana), "v Mariboru" (Maribor),
    # "v Celju" (Celje)
    "sl": (
        ("ju", ("e",)),
        ("om", ("",)),
        ("i", ("a", "")),
        ("e", ("a",)),
        ("o", ("a",)),
        ("u", ("",)),
        ("a", ("",)),
    ),
}
INFLECTING_LANGUAGES = {
    "sr": "bcs",
    "hr": "bcs",
    "bs": "bcs",
    "sh": "bcs",
    "cnr": "bcs",
    "sq": "sq",
    "pl": "pl",
    "sl": "sl",
}
CAPITALISED_WORD = re.compile(r"(?<![\w'’\-])[^\W\d_a-z][^\W\d_]{2,}(?![\w\-])")


def _base_forms(word: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    out = []
    for ending, bases in table:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: len(word) - len(ending)]
            out.extend(stem + b for b in bases)
    return out


def _inflected_hits(
    gazetteer: Gazetteer, text: str, hits: list[tuple[int, int, int]], language: str
) -> list[tuple[int, int, int]]:
    """Names written in a case form: (start, end, key id) of the base form's key."""
    table = INFLECTIONS[INFLECTING_LANGUAGES[language]]
    taken = [(s, e) for s, e, _ in hits]
    words = list(CAPITALISED_WORD.finditer(text))
    out: list[tuple[int, int, int]] = []
    used_until = -1
    for i, w in enumerate(words):
        if w.start() < used_until:
            continue
        spans = []
        if i + 1 < len(words) and text[w.end() : words[i + 1].start()] == " ":
            # "Novom Sadu" (whose "Sadu" is a Romanian village, found as written)
            nxt = words[i + 1]
            firsts = [w.group(), *_base_forms(w.group(), table)]
            seconds = _base_forms(nxt.group(), table)
            spans.append((nxt.end(), [f"{a} {b}" for a in firsts for b in seconds]))
        if not any(s < w.end() and w.start() < e for s, e in taken):
            spans.append((w.end(), _base_forms(w.group(), table)))
        for end, names in spans:
            names = list(dict.fromkeys(n2 for n in names for n2 in (n, fold(n))))
            kids = [k for k in gazetteer.keys.exact(names) if k >= 0]
            if kids:
                out.append((w.start(), end, kids[0]))
                used_until = end
                break
    return out


# a country's name with an "s" and no apostrophe before a lowercase word, not after "the"
# ("the Americas", "the Koreas") and not before a word after which such a form is a name
# or a plural ("Frances and Charley", "Koreas to meet"): "Britains top police officer",
# "Japans killer earthquake"
BARE_POSSESSIVE = re.compile(
    r"(?<![\w'’\-])(?<!the )([A-Z][A-Za-z]+)s (?=[a-z0-9])"
    r"(?!(?:and|or|of|in|on|at|to|for|with|from|by|is|are|was|were|has|have|had|will|would"
    r"|said|says)\b)"
)
# the same without its context tests, which cost a regular expression search several
# times as long: a third of the corpus's items pass it
BARE_POSSESSIVE_GATE = re.compile(r"[A-Z][A-Za-z]+s [a-z0-9]")
BARE_POSSESSIVE_NAMES = frozenset({"Frances"})  # a given name (and 2004's hurricane)


def _bare_possessive_hits(gazetteer: Gazetteer, text: str) -> list[tuple[int, int, int]]:
    """Countries written as a possessive without its apostrophe: (start, end, key id)."""
    out: list[tuple[int, int, int]] = []
    for m in BARE_POSSESSIVE.finditer(text):
        if m.group(1) + "s" in BARE_POSSESSIVE_NAMES:
            continue
        kid = gazetteer.keys.exact([m.group(1)])[0]
        if kid >= 0 and gazetteer.key_kind[kid] != KEY_DEMONYM and is_country_key(gazetteer, kid):
            out.append((m.start(), m.end(1) + 1, kid))
    return out


def find_mentions(
    gazetteer: Gazetteer,
    title: str,
    summary: str,
    *,
    english: bool = True,
    language: str | None = None,
) -> list[Found]:
    """Every whole-word gazetteer key in the item, longest first, with its context.

    ``english``: the item is in English. Otherwise a capitalised word next to a name
    says nothing about it (German capitalises every noun; a Serbian title its
    first word), so those guards are left out. ``language`` (an item not in
    English): a language that inflects place names (INFLECTIONS) also has its names'
    case forms found.
    """
    text, offset, dateline = prepare(title, summary, gazetteer)
    hits: list[tuple[int, int, int]] = []
    for start, stop, kid in gazetteer.keys.find(text):  # whole words only
        end = stop - 1
        if (
            start > 1
            and text[start - 1] in "'’"
            and text[start - 2] in "OD"
            and (start == 2 or not _is_word_char(text[start - 3]))
        ):
            continue  # "O'Sullivan", "D'Angelo": a surname, not Sullivan or Angelo
        if start > 1 and text[start - 1] in "-‑" and text[start - 2].isalpha():
            # "Faber-Castell", "al-Shabab": part of a compound name, unless the
            # prefix is a lowercase one ("pro-Russian", "anti-Serbian") or a
            # country pair ("India-China border", handled as countries)
            word = re.search(r"([A-Za-z]+)[-‑]$", text[max(0, start - 30) : start])
            compound = word and (
                word.group(1)[0].isupper() or ARTICLE_PREFIX.search(text[max(0, start - 6) : start])
            )
            if compound and not _country_only(gazetteer, kid):
                continue
        hits.append((start, end + 1, kid))
    if (
        english
        and BARE_POSSESSIVE_GATE.search(text)
        and not any(is_country_key(gazetteer, h[2]) for h in hits)
    ):
        # no country found as written: "Britains top police officer", "Afghanistans
        # election" (a possessive whose apostrophe the feed dropped)
        hits.extend(_bare_possessive_hits(gazetteer, text))
    base = (language or "").lower().replace("_", "-").split("-")[0]
    if not english and base in INFLECTING_LANGUAGES:
        hits.extend(_inflected_hits(gazetteer, text, hits, base))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    found: list[Found] = []
    last_end = -1
    for start, end, kid in hits:
        if start < last_end:
            continue  # inside a longer name already taken ("New York" over "York")
        last_end = end
        found.append(
            Found(
                key_id=kid,
                text=text[start:end],
                field="title" if start < offset else "summary",
                start=start,
                end=end,
                demonym=gazetteer.key_kind[kid] == KEY_DEMONYM,
                dateline=dateline is not None and dateline[0] <= start < dateline[1],
            )
        )
    # the dateline is its last name, not a byline's ("By BRUCE MEYERSON NEW YORK (AP) --")
    in_dateline = [m for m in found if m.dateline]
    for m in in_dateline[:-1]:
        m.dateline = False
    _describe(gazetteer, text, offset, found, english)
    return found


PREV = re.compile(r"([^\W\d_][\w'\-]*)(\W*)$")


def _prev_word(before: str) -> re.Match[str] | None:
    r"""``PREV.search(before)``, searched only from where a match can start.

    A match is a letter, then [\w'-] characters, then non-word characters to the end, so it
    holds the last word character, and every character between its start and that one is
    in [\w'-]: no match starts at or before the last character outside [\w'-] ahead of
    the last word character. ``search(before, pos)`` reads the same text (its lookbehinds
    and ``\b`` see before ``pos``): the same match, without trying the positions before
    (PREV tried each of them, a few µs a mention).
    """
    k = len(before) - 1
    while k >= 0 and not (before[k].isalnum() or before[k] == "_"):  # the \W tail
        k -= 1
    while k >= 0 and (before[k].isalnum() or before[k] in "_'-"):  # [\w'-] before it
        k -= 1
    return PREV.search(before, k + 1)


NEXT = re.compile(r"(\W*)([^\W\d_][\w'\-]*)")


def _describe(
    gazetteer: Gazetteer, text: str, offset: int, found: list[Found], english: bool = True
) -> None:
    lead_end = _lead_end(text, offset)
    headline = _is_headline(text[: offset - 1])
    people: set[str] = set()  # surnames seen after a first name ("John Kirby")
    starts = {m.start for m in found}
    ends = {m.end for m in found}
    for i, m in enumerate(found):
        field_start = 0 if m.field == "title" else offset
        before = text[max(field_start, m.start - 60) : m.start]
        after = text[m.end : m.end + 60].split("\n", 1)[0]
        m.sentence_start = _starts_sentence(text, m.start, field_start)
        # substring tests first: each pattern needs its words, so no match is lost
        m.county = ("Co" in before) and bool(COUNTY_BEFORE.search(before))
        # England names its counties without the word ("Hampshire", "Hampshire County
        # Council"); "Hampshire County" alone is Massachusetts' or West Virginia's
        m.county_after = after.startswith(" County") and not after.startswith(" County Council")
        rw = REGION_WORD_AFTER.match(after)
        m.region_word = rw.group(1).lower() if rw else ""
        m.after_comma = ("," in before) and bool(AFTER_COMMA.search(before))
        m.regime = m.demonym and bool(REGIME_AFTER.match(after))
        m.officials = m.demonym and bool(OFFICIALS_AFTER.match(after))
        m.origins = m.demonym and bool(
            ORIGINS_AFTER.match(after)
            or (
                ("efugee" in after or "sylum" in after)  # cheap first
                and (REFUGEES_AFTER.match(after) or REFUGEE_CAMP_IN_AFTER.match(after))
                and not any(w in after for w in RETURN_WORDS)
            )
        )
        if (
            m.demonym
            and any(w in after[:32] for w in ("aid", "assist", "fund", "donat"))  # cheap first
            and DONOR_AID_AFTER.match(after)
        ):
            # "Australian aid supported Pakistani girls": the donor, as a firm named after
            # its country is, weighed only when nothing else is named
            m.firm = True
        elif (
            not m.demonym
            and any(w in after[:14] for w in DONOR_VERBS)  # cheap first
            and DONOR_GAVE_AFTER.match(text[m.end : m.end + 160].split("\n", 1)[0])
        ):
            m.firm = True  # "the United States has provided Egypt with ... assistance"
        if ("ariant" in after or "train" in after or "ineage" in after) and VARIANT_AFTER.match(
            after
        ):
            m.origins = True  # "the Delta variant", "the Kent strain": a variant's name
        m.visited = before.endswith(("to ", "the ")) and bool(VISIT_BEFORE.search(before))
        if m.visited and CALLED_OFF_VISIT_BEFORE.search(before):  # only after a visit's "to"
            m.visited = False
        m.in_lead = m.field == "summary" and m.start < lead_end
        prev_word, prev_gap, prev_start = "", "", m.start
        pm = _prev_word(before)
        if pm:
            prev_word, prev_gap = pm.group(1), pm.group(2)
            prev_start = m.start - len(before) + pm.start(1)
        low = prev_word.lower()
        lpm = pm  # the word the locative test reads
        if pm and prev_gap == " " and "-" in prev_word and PARTICIPLE_COMPOUND.match(prev_word):
            # "in turmoil-torn Ivory Coast", "in the war-torn Darfur region": a noun and a
            # participle between the locative word and the name say what befell the place
            pm2 = _prev_word(before[: pm.start(1)])
            if pm2 and pm2.group(2) == " ":
                lpm, low = pm2, pm2.group(1).lower()
        if low == "the" and lpm:
            # "in the Gaza Strip": the word before the article decides
            pm2 = _prev_word(before[: lpm.start(1)])
            low = pm2.group(1).lower() if pm2 and pm2.group(2) == " " else ""
        if low in DIRECTION_WORDS or (low in LOCATIVE_WORDS and prev_gap.strip() == ""):
            m.locative = True
        elif low == "of" and lpm:
            # "the town of Beatrice", "north of Baghdad", "outside of Washington"
            pm2 = _prev_word(before[: lpm.start(1)])
            word2 = pm2.group(1).lower() if pm2 else ""
            if word2 in PLACE_NOUNS or word2 in DIRECTION_WORDS or word2 in LOCATIVE_WORDS:
                m.locative = True
        if not m.locative and PLACE_NOUN_BEFORE.search(before):
            m.locative = True  # "in the Ukrainian capital Kiev", "at the village Banjska"
        if (
            english
            and not m.locative
            and before.endswith(("a ", "an "))  # cheap first
            and (la := LOCATIVE_ARTICLE_BEFORE.search(before))
            and SITE_AFTER.match(after)
            # "at a Hilton hotel": a brand named after a family, not a small town
            and (m.demonym or _known_place(gazetteer, m.key_id))
        ):
            # "in a Gaza refugee camp", "outside a Saudi shopping center", "raided a West
            # Bank refugee camp": the name qualifies the site where it happened
            if m.demonym:
                m.home = True
            else:
                m.locative = True
            m.incident = la.group("struck") is not None
        if REPORTER_BEFORE.search(before):
            m.reporter = True
            m.locative = False
        po = PERSON_OF_BEFORE.search(before) if english and not m.demonym else None
        if po and not _opens_sentence(text, m.start - len(before) + po.start(), field_start):
            # "leaders ... like President Nelson Mandela of South Africa": his country; the
            # sentence's subject ("King Abdullah II of Jordan said") speaks or acts at home
            m.locative = False
            m.office = True
        if (
            english
            and not po
            and not m.demonym
            and before.endswith(" of ")  # cheap first
            and SCORE.search(text, m.end, m.end + 200)
            and (pm := PLAYER_OF_BEFORE.search(before))
            and pm.group().split(None, 1)[0].lower() not in gazetteer.lower_words
        ):
            # "Ivan Ljubicic of Croatia beat ... 6-3": a player's country, which says no
            # more of where the match is than "of Indian origin" does (dropped alike)
            m.locative = False
            m.origins = True
        if COMPARED_BEFORE.search(before):
            m.compared = True
            m.locative = False
        elif (_ends_with_with(before) and COUNTERPART_BEFORE.search(before)) or (
            i > 0
            and found[i - 1].counterpart
            and text[found[i - 1].end : m.start] in (", ", " and ")
        ):
            m.counterpart = True
        elif ELSEWHERE_BEFORE.search(before):
            m.elsewhere = True
            m.locative = False
        elif "fled" in before and FLED_BEFORE.search(before):
            m.elsewhere = True  # "refugees who have fled violence in Darfur": their origin
            m.locative = False
        elif _a_death_as_cause(before):  # its own cheap tests first
            m.elsewhere = True  # "protests over the death of George Floyd in Minneapolis"
            m.locative = False
        elif ADDRESSED_BEFORE.search(before):
            m.addressed = True  # "hurls abuse at Bush": an "at" that places nothing
            m.locative = False
        if "by " in before[-8:] and BACKED_BY_BEFORE.search(before):
            m.backer = m.sponsor = True
            m.locative = False
        if CURRENCY_AFTER.match(after) and len(m.text) <= 3:
            m.currency = True
        if (
            english
            and m.field == "title"
            and not m.locative
            and (not text[: m.start].strip() or before.endswith(("'s ", "’s ")))
            and QUOTE_LABEL_AFTER.match(after)
            # "Indonesia: 'Blow to democracy'": a country's name is the headline's label
            and (m.demonym or not is_country_key(gazetteer, m.key_id))
        ):
            m.name_part = True  # the speaker of a headline's quote, a person
        if (
            BORDER_BEFORE.search(before)
            or BORDER_AFTER.match(after)
            or PAIR_BORDER_AFTER.match(after)
        ):
            m.border = True
            m.locative = False
        m.possessive = after.startswith(("'s", "’s", " 's", " ’s"))
        base = after.lstrip(" ")[2:] if m.possessive else after
        nm = NEXT.match(base)
        next_gap, next_word = (nm.group(1), nm.group(2)) if nm else ("", "")
        # in a headline ("Taiwan Invites China To Air Talks") case says nothing
        next_low = next_word.lower() if headline and m.field == "title" else next_word
        m.institution = next_gap == " " and next_word.lower() in HOME_INSTITUTIONS
        # "in Baghdad's Green Zone", "in Kabul's diplomatic quarter": a site in the town,
        # named after "in"/"at", places the event in the town (a capital's possessive is
        # otherwise its government's: "Beijing's decision")
        m.sited = (
            m.possessive
            and m.locative
            and next_gap == " "
            and (
                next_word.lower() in SITE_OF_WORDS
                # a lowercase word before the site's ("in Nairobi's city centre", "in
                # Kabul's diplomatic quarter", "in Jerusalem's old city")
                or (next_word.islower() and _site_follows(base[nm.end() :]))
                or (
                    next_word[:1].isupper()
                    # not a country's name or demonym ("Washington's Afghan policy")
                    and not any(
                        m.end < o.start <= m.end + 4
                        and (o.demonym or is_country_key(gazetteer, o.key_id))
                        for o in found
                    )
                )
            )
        )
        # "residents of Derna torched", "from Timaru went": the name qualifies a noun
        m.subject = (
            english
            and next_gap == " "
            and not m.possessive
            and not m.locative
            and low not in PREPOSITIONS
            and _verb_follows(next_word)
        )
        if m.institution and ABROAD_AFTER_INSTITUTION.match(after):
            m.institution = False
        m.members = not m.possessive and (
            bool(MEMBERS_AFTER.match(after)) or bool(GROUP_BEFORE.search(before))
        )
        # "Cleveland officials have imposed a curfew": a town's own body, not a surname
        # ("Victoria Police", a state's force, and "Hampton Court" are names)
        m.local_body = (
            next_gap == " "
            and next_word.islower()
            and (next_word in HOME_INSTITUTIONS or next_word in LOCAL_BODIES)
        )
        if m.institution and (m.demonym or is_country_key(gazetteer, m.key_id)):
            m.home = True
        # a demonym standing alone before a noun ("the Serbo-Croatian conflict" is not)
        plain_demonym = (
            english and m.demonym and not m.possessive and not before.endswith(("-", "‑"))
        )
        if plain_demonym and SCENE_AFTER.match(after):
            m.home = True  # "in the Libyan conflict": the scene, weighed as "in Libya"
        elif (
            english
            and not m.demonym
            and not m.possessive
            and after.startswith(" capital")  # cheap first
            and CAPITAL_AFTER.match(after)
            and is_country_key(gazetteer, m.key_id)
        ):
            m.home = True  # "Nepal capital under curfew": its capital, weighed as "in Nepal"
        if (
            plain_demonym
            and SETTLEMENT_AFTER.match(after)
            and not DESTINATION_BEFORE.search(before)
        ):
            m.home = True  # "a Chadian village": a place in Chad
            m.incident = bool(STRUCK_BEFORE.search(before))
        if (
            not m.possessive
            and not m.locative
            and not m.demonym
            and (m.sentence_start or (low in CLAUSE_OPENERS and prev_gap == " "))
            and is_country_key(gazetteer, m.key_id)
            and HOME_ACTION_AFTER.match(after)
        ):
            m.home = True  # "India extradited a top Pakistan militant": acts at home
        elif (m.sentence_start or low in CLAUSE_OPENERS) and _body_acts_at_home(
            gazetteer, m, after, low, prev_gap, english
        ):
            m.home = True  # "US authorities have deported an Irish businessman"
        elif (
            not m.possessive
            and not m.locative
            and not m.demonym
            and (m.sentence_start or (low in CLAUSE_OPENERS and prev_gap == " "))
            and is_country_key(gazetteer, m.key_id)
            and INTENT_AFTER.match(after)
            and not INTENT_TROOPS_AFTER.match(after)
        ):
            m.home = True  # "Australia is willing to withdraw its troops from Iraq"
        elif (
            english
            and not m.possessive
            and not m.locative
            and _opens_lead(text, m, field_start)
            and not RESPONSE_CLAUSE.search(text[m.end : lead_end if m.in_lead else offset])
            and (
                (
                    is_country_key(gazetteer, m.key_id)
                    and (
                        (not m.demonym and STATEMENT_AFTER.match(after))
                        or STATEMENT_BY_AFTER.match(after)
                    )
                )
                # "Washington suspended military aid to Pakistan": a capital for its
                # government (the resolver gives its country)
                or (
                    not m.demonym
                    and _names_capital(gazetteer, m.key_id)
                    and DECISION_AFTER.match(after)
                )
            )
        ):
            m.home = True  # "Sudan on Wednesday rejected a US-sponsored resolution"
        if m.home and " to " in after and AID_STOPPED_AFTER.match(after):
            m.home = False  # "Washington suspended military aid to Pakistan": see above
        if m.home and english and MEASURE_ON_AFTER.match(text, m.end, m.end + 120):
            m.home = False  # "France will not lift the ban on UK beef": see MEASURE_ON_AFTER
        if not m.possessive and not m.locative and _speaks(after):
            m.speaker = True
        elif (
            (m.sentence_start or (low in CLAUSE_OPENERS and prev_gap == " "))
            and not m.possessive
            and not m.locative
            and next_gap == " "
            and next_low.islower()
            and next_low not in PREPOSITIONS
        ):
            m.actor = True  # "Syria has offered", "... that Serbia is preparing"
        elif (
            not m.locative
            and not m.possessive
            and low not in DESTINATION_WORDS
            and is_country_key(gazetteer, m.key_id)
            and OBJECT_TO_VERB.match(after if not headline or m.field != "title" else after.lower())
        ):
            m.actor = True  # "asks Serbia to withdraw", "invited China to send": addressed
        elif next_gap == "-" and next_word.islower():
            m.attributive = True  # "Russia-backed", "US-led"
            m.backer = next_word in BACKER_WORDS
            # "an Arab-backed resolution", "the Hamas-led attack": a sponsor, no place
            # ("Auckland-based" says where a firm is)
            m.sponsor = m.backer and next_word not in ("based", "made")
        elif (
            next_gap == " "
            and next_word.lower() not in FUNCTION_WORDS
            and not _past_tense(next_word, headline and m.field == "title")
            and m.end + 1 not in starts
            and not m.locative
            and not m.possessive
            # "PORT-AU-PRINCE, Haiti Oct. 3, 2004 -": a dateline's country before its date
            and not (m.after_comma and next_word.rstrip(".") in DATE_WORDS)
        ):
            m.attributive = True
            # "Turkish President Erdogan blamed ...", "Iraq PM to address US Congress":
            # the person's nationality, who travels and speaks, not the event's place
            m.office = next_word.lower() in OFFICE_WORDS
        if (
            not m.locative
            and ORG_OF_AFTER.match(after)
            and m.end + 4 not in starts
            and not is_country_key(gazetteer, m.key_id)
        ):
            m.name_part = True  # "Commonwealth of Independent States": a body's name
        if m.possessive and is_country_key(gazetteer, m.key_id):
            if (
                next_word[:1].isupper()
                and not REGION_AFTER_POSSESSOR.match(after)  # "Myanmar's Karen state"
                and not (headline and m.field == "title")
                and next_word.lower() not in gazetteer.lower_words
                and m.end + 3 not in starts
            ):
                m.office = True  # "Pakistan's Musharraf": whose man, not where he is
            elif POSSESSOR_SPEAKS.match(after):
                m.speaker = True  # "South Korea's Unification Ministry said"
        if (
            next_gap in ("-", "‑")
            and next_word[:1].isupper()
            and m.end + 1 not in starts
            and not _country_only(gazetteer, m.key_id)
        ):
            m.name_part = True  # "St George-Illawarra Dragons": a compound name
        # the country's name only: "British Airways" is the demonym's, weighed as one already
        national_firm = not m.demonym and _national_firm(
            gazetteer, m.key_id, next_gap, next_word, after
        )
        if national_firm:
            m.attributive = m.firm = True  # "Singapore Airlines": the country's own firm
        elif next_word in NAME_SUFFIXES and next_gap == " ":
            m.name_part = True
        if (
            not national_firm
            and next_gap == " "
            and next_word.startswith("Air")
            and AIRLINE_AFTER.match(after)
        ):
            m.name_part = True  # "Delta Air Lines": the firm, and its "Delta Pilots" too
            people.add(m.text)
        if (
            after[:1] == " "
            and (after[1:2].isdigit() or (next_word.isupper() and next_word[:1] in "IVX"))
            and MODEL_AFTER.match(after)
        ):
            m.name_part = True  # "a Delta 4 rocket": a model's name and number
            if not is_country_key(gazetteer, m.key_id):
                people.add(m.text)  # one sense per item: "Delta launcher" too
        # "Kosovo Force", a country's, stays Kosovo
        if next_word == "Force" and next_gap == " " and not _country_only(gazetteer, m.key_id):
            m.name_part = True  # "Delta Force", "the Quds Force": a unit's name
        if (
            ("mbass" in after or "onsul" in after or "ommission" in after)  # cheap first
            and (m.demonym or is_country_key(gazetteer, m.key_id))
            and EMBASSY_AFTER.match(after)
        ):
            m.origins = True  # "the Indonesian embassy in Paris": its owner, not its place
        if (
            next_word == "Space"
            and next_gap == " "
            and SPACE_CENTRE_AFTER.match(after)
            and not is_country_key(gazetteer, m.key_id)
        ):
            m.name_part = True  # "Kennedy Space Center": the site's name, not Kennedy, Colombia
        if (m.text in WATER_WORDS and WATER_OF_AFTER.match(after)) or (
            before.endswith((" of ", " of the ")) and WATER_OF_BEFORE.search(before)
        ):
            m.name_part = True  # "the Gulf of Mexico": the sea, neither Gulf (PG) nor Mexico
        if (
            english
            and next_gap == " "
            and next_word[:1].isupper()
            and (" in " in after or " at " in after)  # cheap first
            and (im := INSTITUTION_IN_AFTER.match(after))
            and m.end + im.end() in starts
            # a town after "in"; a region or country only when none of the name's towns is
            # in it ("Stanford University in California" keeps its town; "Columbia
            # University in New York" is not Columbia, South Carolina)
            and _named_elsewhere(
                gazetteer,
                m.key_id,
                next(o.key_id for o in found if o.start == m.end + im.end()),
                building=bool(im.group(1)),
            )
        ):
            # "Hampshire College in Amherst": the school's name; the town after "in" places it
            m.name_part = True
        if (
            m.county_after
            and after.startswith(COUNTY_OF_AFTER)
            and m.end + len(COUNTY_OF_AFTER) in starts
        ):
            _county_of(gazetteer, found, i)
        if (after[:1] in DASHES or before[-1:] in DASHES) and _izafe_name(before, after):
            m.name_part = True  # "Shan-e-Mustafa", "Dasht-e-Barchi": one compound name
        if (
            english
            and next_gap == " "
            and next_word in LANDMARK_WORDS
            and (lm := LANDMARK_AFTER.match(after))
            and m.end + lm.end() in starts
        ):
            # "at Victoria station, central London": a landmark's name before the town
            # that places it (the town is the place; its incident word goes with it)
            m.name_part = True
            town = next(o for o in found[i + 1 :] if o.start == m.end + lm.end())
            town.locative = town.locative or m.locative
            town.incident = town.incident or m.incident
        if (
            next_word in FACILITY_WORDS
            and next_gap == " "
            and m.text.lower() in gazetteer.lower_words
        ):
            m.name_part = True  # "Central Station", "Bay Area"
        if (
            m.locative
            and not m.demonym
            and next_gap == " "
            and next_word[:1].isupper()
            and not (headline and m.field == "title")
            and next_word.lower() in gazetteer.lower_words
            and next_word not in CALENDAR_WORDS
            and is_country_key(gazetteer, m.key_id)
        ):
            # "a coordinator at the US National Security Council": an institution's
            # name, whose staff, not a place
            m.locative = False
            m.attributive = m.office = True
        if (
            m.field == "title"
            and not text[: m.start].strip()
            and not m.possessive
            and TOPIC_AFTER.match(after)
        ):
            m.topic = True
            m.attributive = m.office = m.actor = m.speaker = False
        if not m.locative and _unknown_place_before(before):
            m.locative = True  # "in Parliament Square, London"
        if (
            not m.locative
            and TARGET_BEFORE.search(before)
            and not HYPOTHETICAL_TARGET_BEFORE.search(before)
        ):
            m.locative = True  # "attacks on Saudi oil facilities": the target is the place
        if not m.locative and WITHDRAWN_FROM_BEFORE.search(before):
            m.locative = True  # "withdrew peacekeepers from Rwanda": the scene they leave
        # "roops", "oldiers": a title's capitalised "Troops to be sent to Iraq" too (no lower())
        troops = "roops" in before or "oldiers" in before
        if english and (
            # "plans to send 500 more troops to Afghanistan": see TROOPS_TO_BEFORE
            (troops and TROOPS_TO_BEFORE.search(before))
            # "is willing to withdraw its troops from Iraq": see INTENT_TROOPS_BEFORE
            or (
                not m.locative
                and (troops or "orces" in before or "eepers" in before)
                and INTENT_TROOPS_BEFORE.search(before)
            )
        ):
            m.locative = True  # where the troops go or leave
            m.elsewhere = False
        if (
            english
            and m.locative
            and before.endswith(("in ", "In ", "neighbouring ", "neighboring "))  # cheap first
            and REACH_IN_BEFORE.search(before)
        ):
            m.locative = False  # "could hit most cities in neighbouring India": its reach
            m.elsewhere = True
        if (
            english
            and not m.locative
            # "a grant to the University of Arkansas": a body's name, not a place
            and (m.demonym or m.text.lower() not in gazetteer.lower_words)
            and before.endswith(("to ", "to the ", "To ", "To the ", "To The "))  # cheap first
            and AID_TO_BEFORE.search(before)
            and not AID_INTENDED.search(_sentence_before(text, m.start, field_start))
        ):
            # "humanitarian funding to Lebanon": where the aid goes, weighed as "in
            # Lebanon"; "assistance to the Palestinians" as "in the Palestinian areas"
            if m.demonym:
                m.home = True
            else:
                m.locative = True
        if (
            english
            and not m.locative
            and before.endswith(("on ", "against ", "of ", "from ", "with ", "the "))  # cheap
            and MEASURE_ON_BEFORE.search(before)
            # "sanctions on Belgrade": a capital there is its government, which the
            # resolver weighs as a speaker's (the seed article's), not a town to place
            and (m.demonym or not _names_capital(gazetteer, m.key_id))
        ):
            # "the ban on Sri Lanka's Tamil Tigers", "imports of British beef": the target
            if m.demonym:
                m.home = True
            else:
                m.locative = True
            # "Sri Lanka's Tamil Tigers": the target's own body, not an office speaking
            m.addressed = m.counterpart = m.office = False
        if (
            english
            and not m.locative
            and not m.demonym
            and before.endswith(AID_GIVEN_ENDS)  # cheap first: the verb's forms
            and AID_GIVEN_BEFORE.search(before)  # a whole word ("forgive" is not)
            and AID_GIVEN_AFTER.match(after)
            and not AID_INTENDED.search(_sentence_before(text, m.start, field_start))
        ):
            m.locative = True  # "will give Tanzania a grant": the aid's receiver
            m.addressed = m.counterpart = False
        if (
            english
            and not m.locative
            and not m.demonym
            and before.endswith(("of ", "of the "))  # cheap first
            and " to the " in (sentence := _sentence_before(text, m.start, field_start))
            and AID_TO_BODY_OF_BEFORE.search(sentence)
            and not AID_INTENDED.search(sentence)
        ):
            m.locative = True  # "equipment to the Ministry of Health of Ethiopia"
            m.attributive = m.office = False
        if m.locative and INCIDENT_BEFORE.search(before):
            m.incident = True
        # a capitalised word that is neither a common word nor a place right
        # before or after the name makes it part of a person's name
        if (
            english
            and prev_gap == " "
            and prev_word[:1].isupper()
            and not prev_word.endswith(("'s", "’s"))
            and prev_word.rstrip(".") not in PLACE_PREFIXES
            and prev_word.lower() not in gazetteer.lower_words
            and prev_start not in ends
            and not m.demonym
            and not (_country_only(gazetteer, m.key_id) and _full_name_before(gazetteer, before))
        ):
            m.name_part = True
            people.add(m.text)
        if (
            english
            and not m.possessive
            and next_gap == " "
            and next_word[:1].isupper()
            and not next_word.isupper()
            and next_word.lower() not in gazetteer.lower_words
            # "the streets of Hong Kong Sunday": a date follows the place, no surname
            and next_word.rstrip(".") not in DATE_WORDS
            and not m.demonym
            and not _national_firm(gazetteer, m.key_id, next_gap, next_word, after)
        ):
            m.name_part = True
            if next_word in FIRM_FORMS and not _country_only(gazetteer, m.key_id):
                people.add(m.text)  # "Google Inc.'s shares": the firm everywhere in the item
            if (
                m.end + 1 in starts
                # "in Central Baghdad": a capitalised direction word (a town "Central")
                # places the name after it, as "central Baghdad" does; "Central America"
                # and "Central Asia" are regions of a continent, no country's
                and (m.text.lower() not in DIRECTION_WORDS or found[i + 1].text in CONTINENTS)
                and not (
                    _country_only(gazetteer, found[i + 1].key_id)
                    and _full_name_before(gazetteer, text[max(field_start, m.end - 59) : m.end + 1])
                )
            ):
                found[i + 1].name_part = True  # "Jordan Henderson": both are names
        if (
            english
            and not m.demonym
            and pm is not None
            and (
                (prev_word in NAME_PARTICLES and NAME_PARTICLE_BEFORE.search(before))
                or (
                    prev_word[:1].isupper()
                    and prev_start not in ends
                    and TITLE_NAME_BEFORE.search(before)
                )
            )
        ):
            m.name_part = True  # "Diane von Furstenberg", "Attorney General Bill Barr"
            people.add(m.text)
        if (
            english
            and not m.demonym
            and (
                TITLE_BEFORE.search(before)
                or MIDDLE_INITIAL_AFTER.match(after)
                or (RULER_OF_AFTER.match(after) and RULER_BEFORE.search(before))
            )
            and _towns_only(gazetteer, m.key_id)
        ):
            m.name_part = True  # "former President Obama", "George W. Bush"
            people.add(m.text)
        if (
            english
            and not m.demonym
            and before.endswith(" ")
            and any(w in before for w in STORM_WORDS)  # cheap first
            and (sm := STORM_BEFORE.search(before))
            # a headline's "Gunmen Storm Guayaquil" is the verb
            and not (headline and m.field == "title" and "Storm" in sm.group())
            and not is_country_key(gazetteer, m.key_id)
        ):
            m.name_part = True  # "Hurricane Ivan": the storm, and "after Ivan" in the item
            people.add(m.text)
        if (
            english
            and not m.demonym
            and not m.possessive
            and next_gap == " "
            and next_word[:1].isupper()
            and not next_word.isupper()
            # a capitalised word that is also a common word ("Bonds"): the rule above
            # takes the others ("Brett Gardner")
            and next_word.lower() in gazetteer.lower_words
            and not (headline and m.field == "title")
            and m.end + 1 not in starts
            and m.text[-1:].isalpha()  # "Calif. Investors": a sentence after an abbreviation
            and not m.dateline
            # a town's name only: "Virginia Tech", "Washington State" are a state's
            and _towns_only(gazetteer, m.key_id)
            and not ARTICLE_BEFORE.search(before)  # "the Miami Dolphins": a team or a body
            and _surname_alone(text, m, next_word, offset, headline)
        ):
            # "Barry Bonds hit ..." with "Bonds" alone elsewhere in the item: a first name
            # and a surname (news names a person in full once, then by surname)
            m.name_part = True
            people.add(m.text)
        if english and ARTICLE_NAME_AFTER.match(after) and not _country_only(gazetteer, m.key_id):
            m.name_part = True  # "Wadi al-Khayl hilltops"
        if (
            english
            and prev_word == "The"
            and prev_gap == " "
            and not (headline and m.field == "title")
            and LOWER_WORD_BEFORE.search(text[max(field_start, prev_start - 30) : prev_start])
            and not m.demonym
            and not is_country_key(gazetteer, m.key_id)
        ):
            # "set on fire near The Grove", "a statement to The Atlantic": a capital "The"
            # after a lowercase word opens a venue's or a work's name, not a town's (a lead
            # opening "The Chicago White Sox" after a dateline is no such "The")
            m.name_part = True
        if i + 1 < len(found) and text[m.end : found[i + 1].start].strip() == ",":
            m.qualified_by = i + 1
            found[i + 1].qualifies = True
            county = found[i + 1]
            if (
                county.text in COUNTY_QUALIFIERS
                and not text.startswith(" County", county.end)  # "Essex County, New Jersey"
                and any(gazetteer.country[p] == "GB" for p in gazetteer.places_of(m.key_id))
            ):
                # "Maldon, Essex", "Canterbury, Kent": an English county the gazetteer holds
                # as towns abroad only; it says the town before it is the British one
                m.county = True
                county.name_part = True
    if english and "ondolence" in text:  # cheap first
        _condolences(gazetteer, text, found, lead_end)
    if people:
        # one sense per item: once "John Kirby", every "Kirby" is the man, not
        # a town ("Kirby was asked"; "Sharon Predicts ..." after "Ariel Sharon")
        for m in found:
            if m.text in people and not _country_only(gazetteer, m.key_id):
                m.name_part = True


CONDOLENCE = re.compile(r"\b[Cc]ondolences?\b")


def _condolences(gazetteer: Gazetteer, text: str, found: list[Found], lead_end: int) -> None:
    """ "Saudi King Salman sends condolences to Afghanistan after Kabul attack": a
    message of condolence is news where it is sent from (data/README.md: the speaker's
    country), so the places after the word in its sentence are elsewhere and its sender
    (a country, a demonym or a capital before it) acts at home. Without a sender
    ("condolences poured in after the bombing in Kabul") nothing changes, nor after the
    lead ("A car bomb killed 12 in Baghdad. Iran sent its condolences": the bombing is)."""
    for c in CONDOLENCE.finditer(text, 0, lead_end):
        start = c.start() - len(_sentence_before(text, c.start(), 0))
        stop = re.search(r"[.!?](?:\s|$)|\n", text[c.end() :])
        end = c.end() + stop.start() if stop else len(text)
        senders = [
            m
            for m in found
            if start <= m.start < c.start()
            and not m.name_part
            and not m.dateline  # "OTTAWA (CP) - Stockwell Day ... didn't send condolences"
            and (
                m.demonym
                or is_country_key(gazetteer, m.key_id)
                or _names_capital(gazetteer, m.key_id)
            )
        ]
        if not senders:
            continue
        for m in senders:
            m.home = True
        for m in found:
            if c.end() <= m.start < end:
                m.elsewhere = True
                m.locative = m.incident = m.home = False


# "Obama gave Putin a warning", "hoped Bolton would", "Fu said": a verb right after a name
# makes it a clause's subject, a person or a body more often than a small town
# (not a copula: "Mosman is not Newtown" describes a place; nor what towns do as hosts and
# communities: "Solingen held a memorial service", "the city voted")
SUBJECT_VERBS = frozenset(
    {"has", "had", "will", "would", "could", "should", "can", "may", "might", "must"}
    | {"does", "did", "gave", "told", "met", "sent", "took", "made", "won", "lost", "went"}
    | {"came", "left", "spoke", "wrote", "became", "began", "brought", "thought", "kept"}
    | {"got", "saw", "wants", "hopes", "believes", "thinks", "knows"}
)
PLACE_VERBS = frozenset(
    {"held", "hosted", "voted", "elected", "welcomed", "celebrated", "mourned", "marked"}
    | {"remembered", "commemorated", "flooded", "reopened", "recorded", "reported"}
)


def _verb_follows(word: str) -> bool:
    if word in PLACE_VERBS:
        return False
    return word in SUBJECT_VERBS or word in SPEECH_VERBS or _past_tense(word, False)


LOWER_WORD_BEFORE = re.compile(r"(?<![\w'’\-])[a-z][\w'’\-]* $")
# "US armed forces", "UK based firms": -ed words that qualify a noun after a country
PARTICIPLE_ADJECTIVES = frozenset({"armed", "based", "led", "backed", "owned", "linked", "allied"})


def _past_tense(word: str, headline: bool) -> bool:
    """``hurled`` in "North Korea hurled invective": a verb, so the country is the
    subject, not an attribute as in "US officials" (lowercase -ed words only, and
    in a Title Case headline any case)."""
    low = word.lower()
    return (
        (headline or word.islower())
        and len(low) > 4
        and low.endswith("ed")
        and low not in PARTICIPLE_ADJECTIVES
    )


def _is_headline(title: str) -> bool:
    """Title Case ("Taiwan Invites China To Air Talks"), where capitals mark no name."""
    words = [w for w in title.split() if len(w) > 3 and w[0].isalpha()]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.75 * len(words)


SPEAKS = re.compile(r"^\s+(?:(\w+)\s+)?(\w+)")


# "on Tuesday, U.S. officials said", "in October, Russia ...": a date, not a place
DATE_WORDS = CALENDAR_WORDS | {"Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept"}
DATE_WORDS |= {"Oct", "Nov", "Dec", "Mon", "Tue", "Tues", "Wed", "Thu", "Thurs", "Fri"}


def _unknown_place_before(before: str) -> bool:
    """ "in Parliament Square, London": a place the gazetteer lacks, then this one."""
    um = UNKNOWN_PLACE_BEFORE.search(before) if "," in before else None  # it ends in ","
    if not um:
        return False
    return not any(w.rstrip(".,") in DATE_WORDS for w in um.group(0).split()[1:])


def _speaks(after: str) -> bool:
    """``Jordan said``, ``Serbia has denied``: the name is a government speaking."""
    m = SPEAKS.match(after)
    if not m:
        return False
    first, second = (m.group(1) or "").lower(), m.group(2).lower()
    if not first:
        return second in SPEECH_VERBS
    return first in SPEECH_VERBS or (first in AUXILIARIES and second in SPEECH_VERBS)


def _head(text: str, field_start: int, pos: int) -> str:
    """The field's text before ``pos``, without quotes and a "The" right before it."""
    head = text[field_start:pos].rstrip(" \"'“‘")
    return head.removesuffix("The").removesuffix("the").rstrip()


def _opens_lead(text: str, m: Found, field_start: int) -> bool:
    """The name opens the headline or the lead sentence ("The" may come before)."""
    if m.field != "title" and not m.in_lead:
        return False
    head = _head(text, field_start, m.start).lstrip(" \"'“‘")
    # "CAIRO (AP) - Sudan rejected": after a dateline
    return not head or (m.field == "summary" and LEAD_DATELINE.fullmatch(head) is not None)


def _opens_sentence(text: str, pos: int, field_start: int) -> bool:
    """What starts at ``pos`` opens a sentence, the field or the lead after a dateline."""
    head = _head(text, field_start, pos)
    return (
        not head
        or head[-1] in SENTENCE_END
        or (field_start > 0 and LEAD_DATELINE.fullmatch(head) is not None)
    )


# "Vladimir Putin Portugal expels ...": a capitalised word before a country makes it a
# surname ("Rep. Steve Israel") unless a full name ends there already
FULL_NAME_BEFORE = re.compile(r"(?<![\w.'’\-])([A-Z][a-z]+) ([A-Z][a-z]+) $")


def _full_name_before(gazetteer: Gazetteer, before: str) -> bool:
    fm = FULL_NAME_BEFORE.search(before)
    return fm is not None and all(w.lower() not in gazetteer.lower_words for w in fm.groups())


def _names_capital(gazetteer: Gazetteer, key_id: int) -> bool:
    return any(p in gazetteer.capital for p in gazetteer.places_of(key_id))


def _named_elsewhere(
    gazetteer: Gazetteer, key_id: int, area_key: int, building: bool = False
) -> bool:
    """The mention after "<Name> University in" is a town only, or a region or country in
    which the name has no town: the name is then the school's, not where it is. After a
    building's name ("<Name> Prison in") the mention must have a town reading: a building
    before a region or country is as often named after its own town ("Bradford Industrial
    Museum in West Yorkshire", whose region the gazetteer does not tie to Bradford)."""
    g = gazetteer
    if building and not any(g.kind[p] == KIND_PLACE for p in g.places_of(area_key)):
        return False
    areas = {p for p in g.places_of(area_key) if g.kind[p] != KIND_PLACE}
    if not areas:
        return True
    codes = {g.country[p] for p in areas if g.kind[p] == KIND_COUNTRY}
    return not any(
        g.kind[p] == KIND_PLACE and (g.admin1_place[p] in areas or g.country[p] in codes)
        for p in g.places_of(key_id)
    )


def _towns_only(gazetteer: Gazetteer, key_id: int) -> bool:
    """Every reading of the key is a populated place (no country, no region)."""
    return all(gazetteer.kind[p] == KIND_PLACE for p in gazetteer.places_of(key_id))


SITE_MIN_POP = 15_000


def _known_place(gazetteer: Gazetteer, key_id: int) -> bool:
    """A reading of the key is a country, a region or a town of SITE_MIN_POP or more."""
    g = gazetteer
    return any(
        g.kind[p] != KIND_PLACE or g.population[p] >= SITE_MIN_POP for p in g.places_of(key_id)
    )


def _country_only(gazetteer: Gazetteer, key_id: int) -> bool:
    return all(gazetteer.kind[p] == KIND_COUNTRY for p in gazetteer.places_of(key_id))


def _sentence_before(text: str, pos: int, field_start: int) -> str:
    """The text of the sentence before ``pos``, in its field."""
    head = text[field_start:pos]
    ends = [head.rfind(c) for c in ".!?\n"]
    return head[max(ends) + 1 :]


def _starts_sentence(text: str, pos: int, field_start: int) -> bool:
    stripped = text[field_start:pos].rstrip(" \"'“‘")
    return not stripped or stripped[-1] in SENTENCE_END


LEAD_END = re.compile(r"[.!?](\s|$)")
# "Islamabad, Pakistan Oct. 10, 2004 -": a dated wire's dateline (DATELINE's year), once
# re-cased; its month's abbreviation is no sentence's end, so the lead is read after it
DATED_LEAD_DATELINE = re.compile(
    r"[A-Z][\w'.\-]*(?: [A-Z][\w'.\-]*){0,3}(?:, ?[A-Z][\w.\-]*(?: [\w.\-]+){0,3})?"
    r", ?(?:19|20)\d\d\s*(?:\([^)]{1,40}\))?\s*(?:--|-|—|–)"
)


def _lead_end(text: str, offset: int) -> int:
    # searched from ``offset`` in the text, not in a copy of the summary: the summary is the
    # text's end, so "$" reads alike, and no match can start before ``offset``
    dated = DATED_LEAD_DATELINE.match(text, offset)
    m = LEAD_END.search(text, dated.end() if dated else offset)
    return m.end() if m else len(text)


def _a_death_as_cause(before: str) -> bool:
    """A death named as the cause of what is reported ("over the death of George Floyd
    in"): cheap substring tests first, then ``DEATH_CAUSE_BEFORE``."""
    if not before.endswith(("in ", "in the ")):
        return False
    tail = before[-90:]
    return (
        "death of " in tail or "killing of " in tail or "murder of " in tail
    ) and DEATH_CAUSE_BEFORE.search(tail) is not None


def _izafe_name(before: str, after: str) -> bool:
    """The mention is a word of a Persian or Urdu compound ("Shan-e-Mustafa" a rally,
    "Pul-i-Alam" and "Sar-e-Pul" towns, "Fazl-ur-Rehman" a man) that the gazetteer does not
    hold whole: a word of it alone is no place (``IZAFE_AFTER``, ``IZAFE_BEFORE``)."""
    if after.startswith(("-", "‑")) and IZAFE_AFTER.match(after):
        return True
    return before.endswith(("-", "‑")) and IZAFE_BEFORE.search(before[-6:]) is not None


def _body_acts_at_home(
    gazetteer: Gazetteer, m: Found, after: str, low: str, prev_gap: str, english: bool
) -> bool:
    """A country (or its demonym) whose officers act on people in their hands, opening a
    sentence or clause: "US authorities have deported ..." (``BODY_ACTION_AFTER``)."""
    return (
        english
        and not m.possessive
        and not m.locative
        and (m.sentence_start or (low in CLAUSE_OPENERS and prev_gap == " "))
        and after[:1] == " "  # cheap tests first: a country key, then the expression
        and is_country_key(gazetteer, m.key_id)
        and BODY_ACTION_AFTER.match(after) is not None
    )


# a surname's other uses count unless they are one of these (a place's own body or site)
SURNAME_NOT = NAME_SUFFIXES | FACILITY_WORDS | FIRM_FORMS
# a determiner before a capitalised word makes it a thing's or a team's name ("the
# Dolphins", "a Mini", "every Test"), not a person's surname
DETERMINERS = frozenset(
    {"the", "a", "an", "every", "each", "this", "that", "these", "those", "its", "their"}
    | {"his", "her", "our", "my", "your", "any", "no", "some"}
)
ARTICLE_BEFORE = re.compile(r"(?<![\w'’-])(?:[Tt]he|[Aa]n?)\s+$")


def _surname_alone(text: str, m: Found, word: str, offset: int, headline: bool) -> bool:
    """``word`` (capitalised after the name ``m``) is also named alone elsewhere in the
    item, never in lowercase, never as part of a longer name, and not only in a title-case
    headline: a person's surname, as "Bonds" in "Barry Bonds hit ... Bonds said". A place's
    own body, site or team is not one ("Hampshire Police", "Delta Center", "helped City
    win", "the Dolphins")."""
    low = word.lower()
    if word in SURNAME_NOT or low in HOME_INSTITUTIONS or low in LOCAL_BODIES:
        return False
    # an office, a kind of place or a function word ("the Mayor", "City", "This")
    if low in OFFICE_WORDS or low in PLACE_NOUNS or low in DETERMINERS or low in FUNCTION_WORDS:
        return False
    if low in LANDMARK_WORDS or text.count(word) < 2:  # cheap first: only the pair itself
        return False
    if low in text and re.search(rf"(?<![\w'’-]){re.escape(low)}(?![\w-])", text):
        return False
    own = m.end + 1
    alone = False
    for hit in re.finditer(rf"(?<![\w'’-]){re.escape(word)}(?![\w-])", text):
        if hit.start() == own or (headline and hit.start() < offset):
            continue
        if text[: hit.start()].endswith(m.text + " "):
            continue  # the same pair again
        # alone: no capitalised word or determiner before it, no capitalised word after it
        # or after its possessive ("Harbour Bridge", "Bridge Street", "the Bills",
        # "Cowboys' Mike McCarthy"); one use otherwise makes it no surname
        prev = _prev_word(text[: hit.start()])
        if (
            prev
            and prev.group(2) == " "
            and (prev.group(1)[:1].isupper() or prev.group(1).lower() in DETERMINERS)
        ):
            return False
        nxt = NEXT.match(text, hit.end())
        if nxt and nxt.group(2)[:1].isupper() and nxt.group(1) in (" ", "' ", "’ ", "'s ", "’s "):
            return False
        alone = True
    return alone


def _county_of(gazetteer: Gazetteer, found: list[Found], i: int) -> None:
    """``found[i]`` is "<Name> County, <region or country>" ("Essex County, New Jersey"):
    a town of the name in that region or country is the county's (the region qualifies it,
    as in "Mobile, Alabama"); without one the county is no town the gazetteer has, and the
    region after the comma takes its place (and its in/at)."""
    g = gazetteer
    m = found[i]
    j = next(k for k in range(i + 1, len(found)) if found[k].start == m.end + len(COUNTY_OF_AFTER))
    region = found[j]
    if _towns_only(g, region.key_id):
        return
    areas = set(g.places_of(region.key_id))
    codes = {g.country[p] for p in areas if g.kind[p] == KIND_COUNTRY}
    if any(
        g.kind[p] == KIND_PLACE and (g.admin1_place[p] in areas or g.country[p] in codes)
        for p in g.places_of(m.key_id)
    ):
        m.qualified_by = j
        region.qualifies = True
    else:
        m.name_part = True
        region.locative = region.locative or m.locative
        region.incident = region.incident or m.incident


def _national_firm(
    gazetteer: Gazetteer, key_id: int, next_gap: str, next_word: str, after: str
) -> bool:
    """A country's name leading its carrier's or postal service's ("Kenya Airways")."""
    return (
        next_gap == " "
        and (next_word in NATIONAL_FIRM_WORDS or AIRLINE_AFTER.match(after) is not None)
        and is_country_key(gazetteer, key_id)
    )


def is_country_key(gazetteer: Gazetteer, key_id: int) -> bool:
    return any(gazetteer.kind[p] == KIND_COUNTRY for p in gazetteer.places_of(key_id))


# the guards' searches of the text before a name, each with a lookahead of the letters its
# words begin with after its leading \b (``geo/fastre.py``: the same matches; those that
# the lookahead made no faster on the corpus's mentions are left as they are)
ADDRESSED_BEFORE = first_char_gate(ADDRESSED_BEFORE)
AID_TO_BEFORE = first_char_gate(AID_TO_BEFORE)
AID_INTENDED = first_char_gate(AID_INTENDED)
BORDER_BEFORE = first_char_gate(BORDER_BEFORE)
COMPARED_BEFORE = first_char_gate(COMPARED_BEFORE)
COUNTERPART_BEFORE = first_char_gate(COUNTERPART_BEFORE)
ELSEWHERE_BEFORE = first_char_gate(ELSEWHERE_BEFORE)
HYPOTHETICAL_TARGET_BEFORE = first_char_gate(HYPOTHETICAL_TARGET_BEFORE)
INCIDENT_BEFORE = first_char_gate(INCIDENT_BEFORE)
LOCATIVE_ARTICLE_BEFORE = first_char_gate(LOCATIVE_ARTICLE_BEFORE)
PERSON_OF_BEFORE = first_char_gate(PERSON_OF_BEFORE)
PLACE_NOUN_BEFORE = first_char_gate(PLACE_NOUN_BEFORE)
TARGET_BEFORE = first_char_gate(TARGET_BEFORE)
TITLE_BEFORE = first_char_gate(TITLE_BEFORE)
TITLE_NAME_BEFORE = first_char_gate(TITLE_NAME_BEFORE)
WITHDRAWN_FROM_BEFORE = first_char_gate(WITHDRAWN_FROM_BEFORE)
