"""Place names at state level or above, which Safe Harbor does not count as identifiers.

HIPAA's geographic identifier is 'all geographic subdivisions smaller than a State' (45 CFR
164.514(b)(2)(i)(B)). Outside corpora label countries, states and provinces with the same tag as towns
(presidio-research's GPE), so scoring them as PHI would reward a detector for removing what the rule
lets a record keep. Names that are also cities ('New York', 'Washington', 'Quebec') stay PHI: the
conservative reading when the label cannot tell which was meant.

The vetting uses the same list, so a detector never removes a state or a country either ('son went back
to California', 'wife called from Bermuda'); the scorers of outside corpora use it to set such labels aside.
"""

from __future__ import annotations

from pipeline.core.detection.recognizers.places import STATE_CODES, STATE_NAMES

COUNTRIES: frozenset[str] = frozenset(
    name.casefold()
    for name in """
Afghanistan|Albania|Algeria|Andorra|Angola|Antigua and Barbuda|Argentina|Armenia|Australia|Austria|Azerbaijan|
Bahamas|Bahrain|Bangladesh|Barbados|Belarus|Belgium|Belize|Benin|Bhutan|Bolivia|Bosnia and Herzegovina|
Botswana|Brazil|Brunei|Bulgaria|Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|Central African Republic|
Chad|Chile|China|Colombia|Comoros|Congo|Costa Rica|Croatia|Cuba|Cyprus|Cyprus (Greek)|Cyprus (Turkish)|
Czech Republic|Czechia|Denmark|Djibouti|Dominica|Dominican Republic|Ecuador|Egypt|El Salvador|
Equatorial Guinea|Eritrea|Estonia|Eswatini|Ethiopia|Fiji|Finland|France|Gabon|Gambia|Georgia|Germany|Ghana|
Greece|Greenland|Grenada|Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hungary|Iceland|India|Indonesia|
Iran|Iraq|Ireland|Israel|Italy|Ivory Coast|Jamaica|Japan|Jordan|Kazakhstan|Kenya|Kiribati|Kosovo|Kuwait|
Kyrgyzstan|Laos|Latvia|Lebanon|Lesotho|Liberia|Libya|Liechtenstein|Lithuania|Luxembourg|Madagascar|Malawi|
Malaysia|Maldives|Mali|Malta|Marshall Islands|Mauritania|Mauritius|Mexico|Micronesia|Moldova|Monaco|Mongolia|
Montenegro|Morocco|Mozambique|Myanmar|Namibia|Nauru|Nepal|Netherlands|The Netherlands|New Zealand|Nicaragua|
Niger|Nigeria|North Korea|North Macedonia|Norway|Oman|Pakistan|Palau|Palestine|Panama|Papua New Guinea|
Paraguay|Peru|Philippines|Poland|Portugal|Qatar|Romania|Russia|Russian Federation|Rwanda|Saint Lucia|Samoa|
San Marino|Saudi Arabia|Senegal|Serbia|Seychelles|Sierra Leone|Singapore|Slovakia|Slovenia|Solomon Islands|
Somalia|South Africa|South Korea|Korea|South Sudan|Spain|Sri Lanka|Sudan|Suriname|Sweden|Switzerland|Syria|
Taiwan|Tajikistan|Tanzania|Thailand|Timor-Leste|Togo|Tonga|Trinidad and Tobago|Tunisia|Turkey|Turkmenistan|
Tuvalu|Uganda|Ukraine|United Arab Emirates|United Kingdom|UK|Great Britain|England|Scotland|Wales|
Northern Ireland|United States|United States of America|USA|US|America|Uruguay|Uzbekistan|Vanuatu|
Vatican City|Venezuela|Vietnam|Yemen|Zambia|Zimbabwe|Faroe Islands|Bermuda|Puerto Rico|Guam|Caribbean
""".replace("\n", "").split("|")
    if name
)

#: Canadian provinces and territories, names and postal abbreviations.
PROVINCES: frozenset[str] = frozenset(
    name.casefold()
    for name in (
        "Alberta", "British Columbia", "Manitoba", "New Brunswick", "Newfoundland and Labrador", "Nova Scotia",
        "Ontario", "Prince Edward Island", "Saskatchewan", "Northwest Territories", "Nunavut", "Yukon",
        "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "SK", "YT",
    )
)  # fmt: skip

#: State-level names that are also the names of cities: kept as PHI.
ALSO_CITIES: frozenset[str] = frozenset({"new york", "washington", "quebec", "singapore", "monaco", "luxembourg"})

_STATE_LEVEL = (
    COUNTRIES | PROVINCES | {code.casefold() for code in STATE_CODES} | {name.casefold() for name in STATE_NAMES}
) - ALSO_CITIES


#: The abbreviations of state names that notes write ('from Calif.', 'back to FLA') and that are no word.
STATE_ABBREVIATIONS: frozenset[str] = frozenset("calif fla conn penna mich ariz colo minn wisc tenn okla nebr".split())


def is_state_or_larger(value: str) -> bool:
    """True for a country, US state or Canadian province (name, postal code or usual abbreviation), any case."""
    key = " ".join(value.split()).casefold()
    return key in _STATE_LEVEL or key.rstrip(".") in STATE_ABBREVIATIONS
