"""Locations smaller than a state: facilities, street addresses, cities and ZIP codes.

Facilities are found by their cue word ('Hospital', 'Medical Center', 'Clinic'), addresses by a house
number followed by a USPS street suffix, cities by a following state or a preceding 'lives in', and ZIP
codes by a state or 'ZIP' beside them. A full address yields separate STREET, CITY and ZIP spans, so each
can be transformed by its own policy (a ZIP generalised to ZIP3, a street replaced by a surrogate).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.core.detection.base import Cue, Doc, Gate, Pattern, PatternRecognizer, Recognizer
from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.recognizers.names import LO, STOPWORDS, UP
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_FACILITY_KEYS = [
    "Hospital", "Hospitals", "Medical Center", "Medical Centre", "Health Center", "Health Centre",
    "Health System", "Healthcare", "Health Care", "Clinic", "Clinics", "Infirmary", "Nursing Home",
    "Nursing Facility", "Nursing Center", "Rehabilitation Center", "Rehabilitation Hospital",
    "Rehab Center", "Hospice", "Urgent Care", "Surgery Center", "Surgical Center", "Cancer Center",
    "Cancer Institute", "Care Center", "Heart Institute", "Medical Group", "Medical Associates",
    "Family Practice", "Family Medicine", "Pharmacy", "Laboratories", "Laboratory", "Sanatorium",
    "Memorial", "Dialysis Center", "Imaging Center", "Assisted Living", "Senior Living", "Medical Plaza",
    "Children's", "Health", "VAMC", "Medical Office", "Surgical Hospital", "Psychiatric Center", "Hosp",
]  # fmt: skip
_KEY_RE = "|".join(sorted({*_FACILITY_KEYS, *(k.upper() for k in _FACILITY_KEYS)}, key=len, reverse=True))
#: Bounded (30 characters) so a crafted run such as "O'O'O'..." cannot make the facility pattern quadratic.
_CAPWORD = rf"(?:[{UP}][\w'\u2019&.-]{{0,30}})"
_FACILITY_LEAD_STOP = STOPWORDS - {"MEDICAL", "MEMORIAL", "CHILDREN'S", "CARE", "FAMILY", "HEART"}


_JOINING_WORDS = frozenset("TO FROM AT IN INTO VIA ON BY FOR WITH AND OF THE HIM HER HIS WAS IS".split())


def _after_last_stop_word(text: str, start: int, end: int) -> int:
    """In capitals, a facility's name starts after the last stop word before its facility word ('SON BROUGHT
    HIM TO UNION HOSP' -> 'UNION HOSP'); lower-case joining words ('Hospital of the ...') are not cut."""
    cut = start
    for token in re.finditer(r"\S+", text[start:end]):
        word = token.group(0).strip(",.;:")
        if word.isupper() and word in _JOINING_WORDS and token.end() + start < end:
            cut = start + token.end()
    while cut < end and text[cut] in " \t":
        cut += 1
    return cut


#: A movement word before a phrase makes it a place even when its words are ordinary ('TO UNION HOSP').
_MOVED_TO = re.compile(r"(?i)\b(?:to|from|at|into|via)[ \t]+(?:the[ \t]+)?$")


def _ordinary_caps_phrase(value: str) -> bool:
    """A phrase in capitals whose words before the facility word are everyday or clinical words, or include
    a verb's stop word ('LEAVE HOSPITAL', 'ORIENTED TO SELF AND HOSPITAL', 'LEGAL HEALTH CARE'): a sentence
    of an all-capitals note, not a name. Mixed-case text keeps its capitals as the signal."""
    if value.upper() != value:
        return False
    lex = lexicons()
    words = [w.strip(",.'") for w in re.split(r"[ \t]+", value)]
    keys = {k.upper() for k in _FACILITY_KEYS for k in k.split()}
    lead = [w for w in words if w and w not in keys]
    return not lead or all(
        w in STOPWORDS or lex.is_clinical(w) or (lex.is_common_word(w) and not lex.is_name_first(w)) for w in lead
    )


class FacilityRecognizer(Recognizer):
    """Named hospitals, clinics and other care sites: capitalised words ending in a facility cue word."""

    name = "facility"
    _regex = re.compile(
        rf"(?<![\w])(?:(?:St\.?|Saint|Mt\.?|Mount)[ \t]{{1,3}})?"
        rf"(?:{_CAPWORD}[ \t]{{1,3}}(?:(?:of|and|the|for|&)[ \t]{{1,3}})?){{1,5}}(?:{_KEY_RE})(?![\w])"
        rf"(?:[ \t]{{1,3}}(?:of|at)[ \t]{{1,3}}(?:the[ \t]{{1,3}})?{_CAPWORD}(?:[ \t]{{1,3}}{_CAPWORD}){{0,2}})?"
    )
    _gate = Gate(re.compile(rf"(?:{_KEY_RE})(?![\w])"))

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        if not self._gate.passes(doc):
            return
        for match in self._regex.finditer(text):
            start, end = match.span()
            for token in re.finditer(r"\S+", text[start:end]):
                if token.group(0).strip(",.;:").upper() not in _FACILITY_LEAD_STOP:
                    start += token.start()
                    break
            else:
                continue
            start = _after_last_stop_word(text, start, end)
            words = text[start:end].split()
            moved = _MOVED_TO.search(text, max(0, start - 20), start) is not None
            if len(words) < 2 or (_ordinary_caps_phrase(text[start:end]) and not moved):
                continue
            span = self.span(start, end, PhiType.FACILITY, 0.8, ["pattern:facility_cue"])
            if span is not None:
                yield span


_SUFFIXES = """
Alley Aly Avenue Ave Av Bay Bend Boulevard Blvd Branch Br Bridge Brg Brook Brooks Burg Burgs Bypass Byp Camp
Canyon Cape Causeway Center Ctr Centers Circle Cir Circles Cliff Cliffs Club Common Commons Corner Corners
Course Court Ct Courts Cove Coves Creek Crescent Cres Crest Crossing Xing Crossroad Curve Dale Dam Divide
Drive Dr Drives Estate Estates Expressway Expy Extension Ext Fall Falls Ferry Field Fields Flat Flats Ford
Fords Forest Forge Forges Fork Forks Fort Freeway Fwy Garden Gardens Gateway Glen Glens Green Greens Grove
Groves Harbor Harbors Haven Heights Hts Highway Hwy Hill Hills Hollow Inlet Island Islands Isle Junction
Junctions Key Keys Knoll Knolls Lake Lakes Land Landing Lane Ln Light Lights Loaf Lock Locks Lodge Loop Mall
Manor Manors Meadow Meadows Mews Mill Mills Mission Motorway Mount Mountain Mountains Neck Orchard Oval
Overpass Park Parks Parkway Pkwy Parkways Pass Passage Path Pike Pine Pines Place Pl Plain Plains Plaza Point
Points Port Ports Prairie Radial Ramp Ranch Rapid Rapids Rest Ridge Ridges River Road Rd Roads Route Rte Row
Rue Run Shoal Shoals Shore Shores Skyway Spring Springs Spur Spurs Square Sq Squares Station Stravenue Stream
Street St Streets Summit Terrace Ter Throughway Trace Track Trafficway Trail Trl Trailer Tunnel Turnpike
Tpke Underpass Union Unions Valley Valleys Via Viaduct View Views Village Villages Ville Vista Walk Walks
Wall Way Ways Well Wells
""".split()
#: Words that end a place's name after the name itself ('Franklin Square', 'Elk Ridge', 'Baltimore Rehab').
PLACE_NAME_ENDINGS: frozenset[str] = frozenset(
    """Square Ridge Hill Hills Heights Park Harbor Harbour Falls Springs Valley Village Lake Beach Point Shore
    Rehab Hosp Hospital Memorial Manor Commons Crossing Gardens Grove Terrace""".split()
)
_SUFFIX_RE = "|".join(sorted({*_SUFFIXES, *(s.upper() for s in _SUFFIXES)}, key=len, reverse=True))
_STREET_WORD = rf"(?:[{UP}0-9][\w'\u2019.-]*|\d+(?:st|nd|rd|th))"
_DIRECTION = r"(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?"
_UNIT = (
    r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Ste|Unit|Rm|Room|Fl|Floor|Bldg|Building|APT|SUITE|STE|UNIT|#)"
    r"\.?[ \t]*#?[ \t]*[\w-]+)"
)

STATE_CODES = frozenset(
    """AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND
    OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR GU VI AS MP AA AE AP""".split()
)
_AMBIGUOUS_CODES = frozenset({"MD", "PA", "ME", "OR", "IN", "OK", "HI", "DE", "MA", "CO", "OH", "AS", "ID", "DC"})
STATE_NAMES = [
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio",
    "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas",
    "Utah", "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming", "Puerto Rico",
]  # fmt: skip
_STATE_RE = "|".join(sorted([*STATE_CODES, *STATE_NAMES], key=len, reverse=True))
_CITY = rf"(?:[{UP}][{LO}]+(?:[ \t-](?:[{UP}][{LO}]+|de|la|del|of)){{0,3}}|[{UP}]{{2,}}(?:[ \t][{UP}]{{2,}}){{0,2}})"
_ZIP = r"\d{5}(?:-\d{4})?"


#: Suffixes that say 'street' and nothing else; the rest of the USPS list are also everyday nouns ('WELL',
#: 'RUN', 'COURSE', 'REST'), which a run of capitals in a nursing note ends with far more often.
_PLAIN_SUFFIXES = frozenset(
    "STREET ST AVENUE AVE AV ROAD RD BOULEVARD BLVD LANE LN DRIVE COURT CT TERRACE TER HIGHWAY HWY PARKWAY "
    "PKWY CIRCLE CIR".split()
)
_HOUSE_NUMBER = re.compile(r"\d{1,6}(?P<unit>[A-Za-z]?)(?:-\d{1,4})?")


def _street_is_possible(text: str, start: int, street_end: int) -> bool:
    """A house number, street words and a suffix, not a dose, a count or a sentence run together in
    capitals ('2 MG AS WELL', '14 DAY COURSE', '1800 PER DR RONAYNE', '100 RANGE. CVP 13. DR.')."""
    words = text[start:street_end].split()
    number = _HOUSE_NUMBER.fullmatch(words[0])
    inner, suffix = words[1:-1], words[-1].rstrip(".").upper()
    if number is None or any(w.strip(",").upper() in STOPWORDS for w in inner):
        return False
    if any(w.endswith(".") and len(w) > 3 for w in inner):
        return False  # a sentence ends inside
    if suffix == "DR" and re.match(r"\.?[ \t]+[A-Z]", text[street_end:]):
        return False  # 'per Dr Ronayne'
    lex = lexicons()
    if any(lex.is_clinical(w.strip(",.")) for w in inner if not w[0].isdigit()):
        return False
    shouting = text[start:street_end].upper() == text[start:street_end]
    if shouting and number.group("unit"):
        return False  # '12U REG', '3L CORDIS': a unit after a dose, not a house number
    return not (
        shouting
        and suffix not in _PLAIN_SUFFIXES
        and all(w[0].isdigit() or lex.is_vocabulary(w.strip(",.")) for w in inner)
    )


class StreetAddressRecognizer(Recognizer):
    """House number + street words + USPS suffix (+ unit), then optionally 'City, ST 12345' or a PO box."""

    name = "street_address"
    _street = re.compile(
        rf"\d(?<![\w.-]\d)\d{{0,5}}[A-Za-z]?(?:-\d{{1,4}})?[ \t]+(?:{_DIRECTION}[ \t]+)?(?:{_STREET_WORD}[ \t]+){{1,4}}"
        rf"(?:{_SUFFIX_RE})\b\.?(?:[ \t]+{_DIRECTION}(?![\w]))?{_UNIT}?"
        rf"(?:(?P<sep>[ \t]*[,\n][ \t]*\n?[ \t]*|[ \t]+)(?P<city>{_CITY})[ \t]*,?[ \t]*(?P<state>{_STATE_RE})\.?"
        rf"(?:[ \t]+(?P<zip>{_ZIP}))?(?![\w]))?"
    )
    _po_box = re.compile(r"(?i)(?<![\w])(?:P\.?[ \t]?O\.?[ \t]*Box|Post[ \t]+Office[ \t]+Box)[ \t]*#?[ \t]*\d+")
    _military = re.compile(
        r"(?<![\w])(?:(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+Box[ \t]+\d{1,5}|(?:USNS|USNV|USS|USCGC)[ \t]+[\w'\u2019-]+)"
        r"[ \t]*[,\n][ \t]*(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}(?![\w])"
    )
    _po_box_gate = Gate(words=("box",))
    _military_gate = Gate(re.compile(r"(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d"))

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        po_box, military = self._po_box_gate.passes(doc), self._military_gate.passes(doc)
        for match in self._street.finditer(text):
            street_end = match.start("sep") if match.group("city") else match.end()
            street_end = len(text[:street_end].rstrip(" \t,\n"))
            if not _street_is_possible(text, match.start(), street_end):
                continue
            span = self.span(match.start(), street_end, PhiType.STREET, 0.85, ["pattern:street_suffix"])
            if span is not None:
                yield span
            if match.group("city"):
                city = self.span(*match.span("city"), PhiType.CITY, 0.8, ["pattern:address_city"])
                if city is not None:
                    yield city
            if match.group("zip"):
                zip_span = self.span(*match.span("zip"), PhiType.ZIP, 0.9, ["pattern:address_zip"])
                if zip_span is not None:
                    yield zip_span
        for regex, name, possible in (
            (self._po_box, "pattern:po_box", po_box),
            (self._military, "pattern:military_address", military),
        ):
            for match in regex.finditer(text) if possible else ():
                span = self.span(match.start(), match.end(), PhiType.STREET, 0.85, [name])
                if span is not None:
                    yield span


#: The words that introduce a city ('lives in', 'native of', 'city:'), case-insensitive: a verb (not the end
#: of a longer word) and a preposition, or one of the other phrases.
_CITY_VERB = (
    r"(?:lives|living|lived|resides|residing|moved|relocated|born|grew\s+up|raised|"
    r"visiting|travel(?:l)?ed|returned|commutes)\s+(?:in|to|from|at)"
)
_CITY_PHRASE = r"resident\s+of|native\s+of|hometown(?:\s+is)?|city\s*:|town\s+of|city\s+of|town\s*:"


class CityRecognizer(Recognizer):
    """Cities followed by a state ('Springfield, IL 62704') or introduced by 'lives in', 'born in'."""

    name = "city"
    _city_state = re.compile(
        rf"(?<![\w])(?P<city>{_CITY})[ \t]*,[ \t]*(?P<state>{_STATE_RE})\.?(?:[ \t]+(?P<zip>{_ZIP}))?(?![\w])"
    )
    _cue = re.compile(rf"(?i:(?<![a-z]){_CITY_VERB}|{_CITY_PHRASE})[ \t]*(?P<city>{_CITY})")
    _city_state_gate = Gate(re.compile(rf",[ \t]*(?:{_STATE_RE})"))
    _cue_gate = Gate(
        words=(
            "liv", "resid", "moved", "relocated", "born", "grew", "raised", "visiting", "travel", "returned",
            "commutes", "native", "hometown", "city", "town",
        )
    )  # fmt: skip

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        for match in self._city_state.finditer(text) if self._city_state_gate.passes(doc) else ():
            state = match.group("state")
            if match.group("zip"):
                score = 0.8
            elif state in _AMBIGUOUS_CODES:
                score = 0.3
            else:
                score = 0.6 if len(state) == 2 else 0.7
            bounds = _city_bounds(text, *match.span("city"))
            if bounds is not None:
                span = self.span(*bounds, PhiType.CITY, score, ["pattern:city_state"])
                if span is not None:
                    yield span
            if match.group("zip"):
                zip_span = self.span(*match.span("zip"), PhiType.ZIP, 0.9, ["pattern:state_zip"])
                if zip_span is not None:
                    yield zip_span
        for match in self._cue.finditer(text) if self._cue_gate.passes(doc) else ():
            bounds = _city_bounds(text, *match.span("city"))
            if bounds is not None and _ordinary_caps_phrase(text[bounds[0] : bounds[1]]):
                continue  # 'RETURNED TO PREVIOUS SETTING', 'HR RETURNED TO NSR'
            if bounds is not None:
                span = self.span(*bounds, PhiType.CITY, 0.65, ["pattern:city_cue"])
                if span is not None:
                    yield span


def _city_bounds(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop leading stop words ('Patient', 'The') from a city candidate; None when nothing is left."""
    for token in re.finditer(r"\S+", text[start:end]):
        if token.group(0).upper() not in STOPWORDS:
            return start + token.start(), end
    return None


class ZipRecognizer(PatternRecognizer):
    """Five-digit ZIP (+4) codes; alone they are only weak candidates, 'ZIP' or a state beside them decides."""

    def __init__(self) -> None:
        super().__init__(
            "zip",
            PhiType.ZIP,
            [Pattern("zip", re.compile(r"\d(?<![\w.,/$-]\d)\d{4}(?:-\d{4})?(?![\w/]|[.,]\d)"), 0.2)],
            context=Cue("zip", ["zip", "zipcode", "zip code", "postal", "postal code", "postcode"], before=20),
            context_boost=0.6,
        )

    _state_before = re.compile(rf"(?:{_STATE_RE})\.?,?[ \t]*$")

    def score_match(self, doc: Doc, start: int, end: int, pattern: Pattern) -> Span | None:
        span = super().score_match(doc, start, end, pattern)
        if span is None or span.score >= 0.6:
            return span
        if self._state_before.search(doc.text, max(0, start - 20), start):
            return self.span(start, end, PhiType.ZIP, 0.8, [*span.reasons, "context:state"])
        return span


class TransferPlaceRecognizer(Recognizer):
    """A hospital by its initials after a transfer or arrival word ('TRANSFERRED FROM LMC', 'arrived from
    SMH'); the ensemble's vetting drops generic units and abbreviations ('OSH', 'MICU', 'rehab')."""

    name = "transfer_place"
    _moved = (
        r"(?:transferred|transfered|transfer|tx'?d|xfer(?:red)?|arrived|admitted|came|sent|returned"
        r"|d/c'?d|discharged|brought|admit)[ \t]+(?:back[ \t]+)?(?:from|to|at)[ \t]+"
    )
    _regex = re.compile(rf"(?i:(?<![a-z]){_moved}(?:the[ \t]+)?)(?P<place>[A-Z][A-Z&]{{1,7}})(?![\w])")
    _gate = Gate(re.compile(_moved), lowered=True)

    def find(self, doc: Doc) -> Iterator[Span]:
        if not self._gate.passes(doc):
            return
        lex = lexicons()
        for match in self._regex.finditer(doc.text):
            place = match.group("place")
            if place in STOPWORDS or lex.is_common_word(place):
                continue  # 'CAME TO VISIT', 'ADMITTED FROM AN OSH'
            span = self.span(*match.span("place"), PhiType.FACILITY, 0.55, ["pattern:transfer_initials"])
            if span is not None:
                yield span
