"""What is never PHI, whoever proposed it: the last word on every span before the merge.

Safe Harbor lists eighteen identifiers. Times of day, durations, vital signs, lab values, scores and
grades, ratios, doses, bare years and ages under 90 are not among them, and a de-identified note that
loses them is of no use to a clinician. A model fine-tuned on notes marks many of them anyway (measured
on real ICU notes: half its false alarms were times and clinical numbers called DATE, a quarter nursing
shorthand called NAME). So every span passes here, from a model or a rule:

- a DATE must have calendar structure: a month name with a day or year, a holiday, or numbers that form
  a valid month and day and are not a score, a strength grade, a blood pressure or a time;
- an AGE must be 90 or over (or say so in words: '90s', 'nonagenarian');
- a NAME made only of clinical vocabulary (drug names, medical abbreviations, device eponyms, everyday
  English words that are not names first) needs a person cue beside it ('Dr.', 'wife', 'per', ', RN');
- a place made only of drug names, abbreviations or generic units ('MICU', 'OSH', 'rehab') is dropped;
- a telephone number short of seven digits with no pager or extension cue is read as a postcode.

The word lists come from maintained sources (:mod:`pipeline.core.detection.lexicons`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.core.detection.base import case_counts
from pipeline.core.detection.lexicons import Lexicons, lexicons
from pipeline.core.detection.recognizers.dates import MONTH
from pipeline.core.detection.regions import is_state_or_larger
from pipeline.core.detection.values import (
    DATE_WORDS,
    after_measurement,
    after_ventilator_talk,
    is_setting_shape,
    is_small_fraction,
    number_run,
    ventilated_note,
    word_before,
)
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

#: A word in any script ('Ján', 'ΠΑΦΟΣ' are words too); digits and underscores are not letters.
_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\u2019-])*")

# -- dates -------------------------------------------------------------------------------------------

_MONTH_NAME = re.compile(rf"(?<![A-Za-z])(?:{MONTH})\.?(?![a-z])")
#: Any-case month names, trusted only with a number beside them ('last bm jul 11').
_MONTH_ANY_CASE = re.compile(
    r"(?i)(?<![a-z])(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?(?![a-z])"
)
_MONTH_YEAR = re.compile(r"(?<!\d)(?:0?[1-9]|1[0-2])\s?[/-]\s?(?:19|20)\d\d(?!\d)")
_HOLIDAY = re.compile(r"(?i)christmas|thanksgiving|easter|hanukkah|halloween|new\s+year|independence\s+day")
_TIME_ONLY = re.compile(
    r"(?i)^\s*@?\s*(?:(?:[01]?\d|2[0-3]):?[0-5]\d(?::[0-5]\d)?\s*(?:h|hrs?|hours?)?\s*(?:[ap]\.?m\.?)?"
    r"|(?:1[0-2]|0?[1-9])\s*(?:[ap]\.?m\.?|[ap])|noon|midnight|noc"
    r"|(?:1[0-2]|0?[1-9])\s*[ap]\s*-\s*(?:1[0-2]|0?[1-9])\s*[ap]|7-3|3-11|11-7|7-7|7-19|19-7)\s*$"
)
_YEAR_ONLY = re.compile(r"^\s*(?:in\s+)?'?(?:(?:1[89]|20)\d\d|'\d\d)s?\s*$", re.IGNORECASE)
_MONTH_SHORT_YEAR = re.compile(r"(?:0?[1-9]|1[0-2])/(?:3[2-9]|[4-9]\d)")
_NUMERIC_MD = re.compile(r"(?<!\d)(?P<m>\d{1,2})\s*(?P<sep>[/.-])\s*(?P<d>\d{1,2})(?!\d)")
_FULL_NUMERIC = re.compile(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d{8}")
#: Words before a fraction that make it a score, grade, pressure or ratio rather than a month/day.
_SCORE_CUE = re.compile(
    r"(?i)(?:\b(?:pain|bp|b/p|sbp|dbp|map|nbp|abp|art|cvp|pap|pcwp|gcs|score|scale|rated|grade|grades|strength|str"
    r"|motor|power|grips?|mae|bue|ble|lue|rue|lle|rle|extremit(?:y|ies)|ratio|i/o|i&o|ins?|outs?|peep|ps|cpap|bipap"
    r"|vent|ac|simv|tv|rr|hr|sats?|spo2|o2|fio2|k|na|cl|hco3|bun|cr|hct|hgb|wbc|plt|inr|ptt|abg|vbg|murmur|sem"
    r"|apgar|g\d|p\d|x|of|out\s+of|q|every|doses?|tabs?|in\s+the|between|range|ranging)[^\w.;]{0,4}"
    r"|=\s?|\d\s?[-/]\s?)$"
)
_SCORE_AFTER = re.compile(
    r"(?i)^\s*(?:/\s?\d|mm|mmhg|%|cm|mg|mcg|ml|cc|l\b|units?|u\b|meq|pain|strength|murmur|sem|power|in\b|out\b"
    r"|bilat|[+]|s(?![/\w])|'s|x\b|times|hrs?|hours?|min|mins|minutes|days?|weeks?|wks?|months?|yrs?|years?"
    r"|degrees?|peep|ips|psv|ps\b|cpap|ns\b|amps?\b|way\b|up\b|')"
)
#: A bare ordinal is a day after 'the', 'on', 'by' ('call back on 4th') with no noun after it ('on 1st step').
_ORDINAL_CUE = re.compile(r"(?i)\b(?:the|on|by|since|until|till|before|after|from)\s+$")
_ORDINAL_NEXT = re.compile(r"(?i)\s*(?:$|[.,;:)!?\n]|(?:to|at|of|and|or|for|in|with|when|from|until)\b)")
#: Words right before a fraction that make '1/2' a date after all ('on 1/2', 'DOS 1/3').
_STRONG_DATE_CUE = re.compile(r"(?i)\b(?:on|since|dated?|dos|dob|admitted|adm)\W{0,3}$")
#: Cues strong enough for a pair of equal numbers ('since 5/5'); 'on 5/5' is a ventilator setting as often.
_EQUAL_PAIR_CUE = re.compile(r"(?i)\b(?:since|dated?|dos|dob|admitted|adm)\W{0,3}$")
_DATE_CUE = re.compile(
    r"(?i)\b(?:on|since|dated?|dos|dob|from|until|till|thru|through|by|last|next|adm(?:itted)?|d/?c'?d?|discharged"
    r"|seen|s/p|started|stopped|began|onset|due|scheduled|appt|f/u|returns?|cxr|ct|mri|echo|ekg|ecg|cath|egd|us"
    r"|bm|cx|culture|surgery|procedure|placed|inserted|changed|done|performed|report|note)\W{0,4}$"
)


#: A model this sure of a hyphenated month-day ('US ABDOMEN 8-25') is believed without a date cue.
_CONFIDENT = 0.9


def _calendar_evidence(value: str) -> bool:
    if _MONTH_NAME.search(value) or _HOLIDAY.search(value) or _FULL_NUMERIC.search(value):
        return True
    if _MONTH_YEAR.search(value):
        return True
    return bool(_MONTH_ANY_CASE.search(value) and re.search(r"\d", value))


def date_is_possible(text: str, span: Span) -> bool:
    """A DATE span with calendar structure that is not a time, a bare year, a score or a pressure."""
    value = text[span.start : span.end]
    if _TIME_ONLY.match(value) or _YEAR_ONLY.match(value):
        return False
    month = _MONTH_NAME.search(value)
    if month is not None:
        name = month.group(0).rstrip(".")
        # 'may', 'march' and 'sept' alone are verbs or abbreviations unless a number or cue sits beside them.
        if name.lower() in ("may", "march", "mar", "sept", "jan", "dec", "aug", "sat", "sun") and not re.search(
            r"\d", value
        ):
            return _DATE_CUE.search(text, max(0, span.start - 14), span.start) is not None
        return True
    if is_setting_shape(number_run(text, span.start, span.end)):
        return False
    if _calendar_evidence(value):
        return True
    if _MONTH_SHORT_YEAR.fullmatch(value.strip()):
        before = text[max(0, span.start - 24) : span.start]
        return not (_SCORE_CUE.search(before) or after_measurement(text, span.start))
    match = _NUMERIC_MD.search(value)
    if match is None:
        # A bare ordinal ('the 3rd', '3rd of') is a day; '1st one', 'on 1st step' are not.
        ordinal = re.search(r"(?i)\b\d{1,2}(?:st|nd|rd|th)\b", value)
        return bool(ordinal) and (
            _ORDINAL_CUE.search(text, max(0, span.start - 8), span.start) is not None
            and _ORDINAL_NEXT.match(text, span.end) is not None
        )
    first, second = int(match.group("m")), int(match.group("d"))
    if not (1 <= first <= 12 and 1 <= second <= 31):
        return False
    if match.group("sep") == ".":
        return False  # '3.5', '6.25', 'up from 1.5': decimals; a dotted date carries its year
    if (
        is_small_fraction(value, text, span.start)
        and not _STRONG_DATE_CUE.search(text, max(0, span.start - 12), span.start)
        and word_before(text, span.start) not in DATE_WORDS
    ):
        return False
    if after_measurement(text, span.start) or after_ventilator_talk(text, span.start):
        return False
    if (
        first == second
        and ventilated_note(text)
        and not _EQUAL_PAIR_CUE.search(text, max(0, span.start - 12), span.start)
        and word_before(text, span.start) not in DATE_WORDS
    ):
        return False  # '5/5', '10/10' in a ventilated patient's note: pressure support over PEEP
    before = text[max(0, span.start - 24) : span.start]
    after = text[span.end : span.end + 12]
    cued = _DATE_CUE.search(before) is not None
    if _SCORE_CUE.search(before) and not cued:
        return False
    if _SCORE_AFTER.match(after) and word_before(text, span.start) not in DATE_WORDS:
        return False  # 'cx 3/23 in am' keeps its date; '3/4 up', '1/2 NS' do not
    if match.group("sep") == "-" and re.match(r"(?i)\s*[ap]\.?m\b", after):
        return False  # '8-9 am': hours
    if match.group("sep") == "-" and not cued and span.score < _CONFIDENT:
        return False  # '10-12' is a range far more often than a date
    return True


# -- case -------------------------------------------------------------------------------------------

#: A capitalised word that does not start a sentence or a line ('... called Dr. Lee', '... at Mercy').
_INNER_CAPITAL = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]{2,}")
_INNER_CAPITALS_NEEDED = 3


@lru_cache(maxsize=256)
def writes_capitals(text: str) -> bool:
    """The note is written in mixed case and capitalises proper names inside sentences, so a word in lower
    case is not a name or a place. Notes all in capitals or all in lower case say nothing by case."""
    letters, lowers, _ = case_counts(text)
    if not letters:
        return False
    lower = lowers / letters
    return 0.5 < lower < 0.97 and len(_INNER_CAPITAL.findall(text)) >= _INNER_CAPITALS_NEEDED


# -- ages --------------------------------------------------------------------------------------------

_AGE_WORDS = re.compile(r"(?i)nonagenarian|centenarian|ninet|hundred|90s|100s")


#: A saturation, rate or reading before 'mid 90s' or '110': a value, not an age.
_READING_BEFORE = re.compile(
    r"(?i)\b(?:sats?|spo2|sao2|o2|saturations?|satting|hr|pulse|bp|sbp|dbp|map|rr|temp|t|glucose|bs|fs|fsbs|u/?o"
    r"|uop|wt|weight|plt|k|na|bun|cr)\b[^.;\n]{0,14}$"
)


def age_is_possible(text: str, span: Span) -> bool:
    """Ages under 90 are not identifiers under Safe Harbor; a reading ('sats mid 90s') is no age at all."""
    value = text[span.start : span.end]
    if _READING_BEFORE.search(text, max(0, span.start - 24), span.start):
        return False
    if _AGE_WORDS.search(value):
        return True
    digits = re.findall(r"\d+", value)
    return bool(digits) and int(digits[0]) >= 90


# -- names -------------------------------------------------------------------------------------------

_PERSON_CUE_BEFORE = re.compile(
    r"(?i)(?:\b(?:dr|drs|doctor|mr|mrs|ms|miss|mx|prof|rn|np|pa|md|pt\s+name|name(?:\s+is)?|named|wife|husband|husb"
    r"|son|sons|daughter|daughters|dtr|dau|sister|sis|brother|bro|mother|mom|father|dad|niece|nephew|grandson"
    r"|granddaughter|grandmother|grandfather|aunt|uncle|cousin|fianc[eé]e?|partner|boyfriend|girlfriend|friend"
    r"|neighbou?r|hcp|proxy|guardian|per|called|paged|page|spoke(?:\s+with|\s+to)?|talked\s+(?:with|to)|d/w"
    r"|discussed\s+with|seen\s+by|notified|informed|attending|resident|fellow|intern|nurse|pcp|signed|by|cc"
    r"|says|said|asked|told|replied|thanked|and|&)[.,:?]?\s*(?:-\s*)?)$"
)
_PERSON_CUE_AFTER = re.compile(r"(?i)^(?:,?\s*(?:md|m\.d\.|do|rn|np|pa(?:-c)?|lpn|cna|phd|pharmd)\b|'s\s)")
_KIN_BEFORE = re.compile(
    r"(?i)\b(?:wife|husband|son|daughter|dtr|sister|brother|mother|mom|father|dad|niece|nephew|aunt|uncle|cousin"
    r"|friend|partner|grandson|granddaughter|hcp|proxy)[,:]?\s+$"
)
_DOCTOR_BEFORE = re.compile(r"(?i)\b(?:dr|drs|doctor)\.?\s*$")
_TITLE_BEFORE = re.compile(r"(?i)\b(?:dr|drs|doctor|mr|mrs|ms|miss|mx|prof)\.?\s*$")
#: An everyday word this frequent is a word even after a person cue ('wife will call', 'son may visit'),
#: though not after a title ('Dr. May').
_FUNCTION_ZIPF = 5.5


def _vocabulary_name_allowed(lex: Lexicons, token: str, cue: str, score: float) -> bool:
    """A word-name after a cue: capitalised, and after a kinship or role cue also a Census name ('wife Hope',
    but not 'wife supportive' or 'WIFE SUPPORTIVE'); a model this sure ('SISTER MAY', 0.98) is believed."""
    if not cue or len(token) <= 1:
        return False
    if cue == "doctor" and (token[0].isupper() or not lex.is_common_word(token)):
        return True  # 'Dr. May', 'dr. pica': a doctor's title makes even a clinical word a surname
    if cue == "credential":
        return lex.name_share(token) > 0  # 'LE, RN' but not 'SEE MD H&P', '2 LITERS NP'
    if not token[0].isupper():
        return False
    if lex.is_clinical(token) and (not lex.is_name_first(token) or (token.isupper() and len(token) <= 3)):
        return False  # 'by HO', 'per PA': a role's letters, not a surname
    if cue == "title" or score >= _CONFIDENT:
        return True
    return lex.name_share(token) > 0 and lex.common_words.get(token.lower(), 0.0) < _FUNCTION_ZIPF


def name_is_possible(text: str, span: Span, lex: Lexicons | None = None) -> bool:
    """A NAME span holds a token that can be a name, or sits beside a person cue. In a note that
    capitalises names, a name written all in lower case ('brady', 'neice', 'ho') needs a title before it
    or a kinship word ('sister hall') before it, or a credential after it ('dr. lindquist', 'anita morris rn')."""
    lex = lex or lexicons()
    value = text[span.start : span.end]
    tokens = _WORD.findall(value)
    if not tokens:
        return False
    if writes_capitals(text) and value == value.lower():
        before = text[max(0, span.start - 24) : span.start]
        if not (
            _TITLE_BEFORE.search(before)
            or _KIN_BEFORE.search(before)
            or _PERSON_CUE_AFTER.match(text[span.end : span.end + 10])
        ):
            return False
    if any(not lex.is_vocabulary(token.strip("'\u2019-"), as_written=True) for token in tokens):
        return True
    before = text[max(0, span.start - 24) : span.start]
    if re.match(r"[ \t]*[<>]?\d", text[span.end : span.end + 4]) and all(lex.is_clinical(t) for t in tokens):
        return False  # 'PER DR. BS 250': a lab and its value after a sentence ends
    cue = ""
    if _DOCTOR_BEFORE.search(before):
        cue = "doctor"
    elif _TITLE_BEFORE.search(before):
        cue = "title"
    elif _PERSON_CUE_AFTER.match(text[span.end : span.end + 10]):
        cue = "credential"
    elif _PERSON_CUE_BEFORE.search(before):
        cue = "person"
    return any(_vocabulary_name_allowed(lex, token, cue, span.score) for token in tokens)


# -- places ------------------------------------------------------------------------------------------

_GENERIC_PLACES = frozenset(
    """
    micu sicu ccu csru ctic cvicu nicu picu tsicu msicu icu ed or pacu ir cath lab floor floors unit ward
    rehab snf ltac ltach acute osh oh ew home hospice nursing facility clinic hospital er rm room bed step down
    stepdown telemetry tele vicu trauma neuro
    """.split()
)


#: 'via' is left out: what comes via is a line, a device or an ambulance ('via RIJ', 'via foley').
_PLACE_CUE = re.compile(
    r"(?i)(?:\b(?:from|to|at|in|into|near|lives|lived|resides|moved|visiting|transferred|arrived|admitted|sent)|->)"
    r"\W{1,3}$"
)


def place_is_possible(text: str, span: Span, lex: Lexicons | None = None) -> bool:
    """A place must hold a word that is not a drug, an abbreviation or a generic unit name; an abbreviation
    after a place word ('TRANSFERRED FROM PMH') may be a hospital's initials, a drug or a unit never is.

    A state or a country is not an identifier (Safe Harbor keeps them). Everyday words make a place only
    as a proper name: in a note that capitalises names, a place written in lower case needs a place word
    before it and a word that is not everyday or clinical ('transfer to quartermain 2', not 'from aline');
    a single everyday word in lower case ('eve', 'custard') is no place."""
    lex = lex or lexicons()
    value = text[span.start : span.end]
    tokens = _WORD.findall(value)
    if not tokens:
        # A number alone is part of an address or a ward ('LUNDER 19'): dropping it would leave it in clear.
        return any(c.isdigit() for c in value)
    name = re.sub(r"(?i)^the\s+", "", value.strip(" .,;:"))
    if len(name) > 2 and is_state_or_larger(name):
        return False  # two-letter codes are left alone: 'NH', 'VA' are also facilities' initials
    cued = _PLACE_CUE.search(text, max(0, span.start - 16), span.start) is not None
    if writes_capitals(text) and value == value.lower() and any(len(t) > 2 for t in tokens):
        return cued and any(not lex.is_vocabulary(t) and not _is_unit(t) for t in tokens)
    if (
        len(tokens) == 1
        and not cued
        and tokens[0].islower()
        and not any(c.isdigit() for c in value)
        and lex.is_vocabulary(tokens[0])
        and not lex.is_clinical(tokens[0])
    ):
        return False
    if (
        _is_initials(tokens, value)
        and not tokens[0].endswith("H")
        and not (cued and not lex.is_clinical(tokens[0]))
        and not _TRANSFER_BEFORE.search(text, max(0, span.start - 30), span.start)
    ):
        # 'via RIJ', 'PICC IN SVC', 'returned to SIMV': a line, a vein or a mode. A hospital's initials end in
        # H ('GH', 'BWH'), come after a transfer ('TRANSFERRED FROM BMC'), or after a movement word and are
        # no clinical abbreviation.
        return False
    if _service_phrase(tokens, lex):
        return False
    if any(not _is_unit(t) and not lex.is_clinical(t) for t in tokens):
        return True
    if all(_is_unit(t) or t.lower() in lex.drugs for t in tokens):
        return False
    if len(tokens) == 1 and len(tokens[0]) <= _INITIALS_MAX:
        return cued  # a hospital's initials after a movement word ('sent to GH', 'at gh')
    # Clinical words only ('from ALINE', 'SKIN CARE'): a name only in Title Case where names are capitalised.
    return len(tokens) > 1 and writes_capitals(text) and all(t.istitle() for t in tokens)


_INITIALS_MAX = 4
#: The last words of phrases that name a kind of care, not a place of it ('funeral home', 'SKIN CARE',
#: 'medical floor', 'assisted living facility', 'CCU service', 'nursing school').
_SERVICE_ENDINGS = frozenset("home homes care facility floor service services school team".split())


def _service_phrase(tokens: list[str], lex: Lexicons) -> bool:
    """Everyday or clinical words ending in a kind of care, in lower case or two words in capitals, none of
    them a name ('Riverside Nursing Home', 'WARD HOME CARE' are kept)."""
    lower = all(t.islower() for t in tokens)
    short_caps = len(tokens) <= 2 and all(t.isupper() for t in tokens)
    return (
        (lower or short_caps)
        and tokens[-1].lower() in _SERVICE_ENDINGS
        and not any(t.istitle() and lex.is_name_first(t) for t in tokens)
        and all(lex.is_vocabulary(t) or lex.is_clinical(t) or _is_unit(t) for t in tokens)
    )


def _is_unit(token: str) -> bool:
    """A generic unit or ward word, or a unit's initials ('NSICU', 'NISICU', 'micua' end in an ICU)."""
    low = token.lower()
    return low in _GENERIC_PLACES or (len(low) <= 6 and re.search(r"(?:icu|ccu)a?$", low) is not None)


_TRANSFER_BEFORE = re.compile(
    r"(?i)\b(?:transferred|transfered|transfer|tx'?d|arrived|admitted|came|sent|brought|discharged|d/c'?d)"
    r"\s+(?:back\s+)?(?:from|to)\s+(?:the\s+)?$"
)


def _is_initials(tokens: list[str], value: str) -> bool:
    """One token of two to five capitals ('GH', 'RIJ', 'NSICU'), the whole span."""
    return len(tokens) == 1 and 2 <= len(tokens[0]) <= 5 and tokens[0].isupper() and value.strip(" .") == tokens[0]


# -- telephone ---------------------------------------------------------------------------------------

#: A number too short for a telephone is one only after a word that says so ('pager 41772', 'pg 2-3456').
_SHORT_NUMBER_CUE = re.compile(
    r"(?i)(?<![a-z])(?:pager|pgr|pg|p#|beeper|bpr|beep|ext|extension|phone|tel|call|cell|page|paged|fax|x)\W{0,12}$"
)
_PHONE_DIGITS = 7

_PLACE_TYPES = frozenset({PhiType.CITY, PhiType.FACILITY, PhiType.LOCATION, PhiType.STREET})

#: Identifiers with no fixed shape of their own, which a setting or a range can imitate.
_NUMBER_ID_TYPES = frozenset(
    {
        PhiType.ACCOUNT, PhiType.MRN, PhiType.ID, PhiType.DEVICE, PhiType.BIOMETRIC, PhiType.HEALTH_PLAN,
        PhiType.LICENSE, PhiType.ZIP,
    }
)  # fmt: skip
#: A value or a range of two ('110', '74-94', '3/+4', '-629'): identifiers are longer or have three groups.
_SMALL_NUMBERS = re.compile(r"[\s(]*[-+]?\d{1,3}(?:\s*[-/]\s*[-+]?\d{1,3})?[\s)]*")
_ABBREVIATION_VALUE = re.compile(r"(?P<word>[A-Za-z]{2,6})\s?\d{1,3}")
_ZIP_DIGITS = 4
_ZIP_CUE = re.compile(r"(?i)\b(?:zip|postal|post\s*code|postcode)\b")


def id_is_possible(text: str, span: Span, lex: Lexicons | None = None) -> bool:
    """An account, record or device number is not a setting ('700x10', 'peep10') or a value or range of
    small numbers ('74-94', '3/+4'); a postcode has four digits or more, letters, or a 'zip' cue."""
    value = text[span.start : span.end]
    if is_setting_shape(number_run(text, span.start, span.end)):
        return False
    if span.type is PhiType.ZIP:
        return (
            sum(c.isdigit() for c in value) >= _ZIP_DIGITS
            or any(c.isalpha() for c in value)
            or _ZIP_CUE.search(text, max(0, span.start - 20), span.start) is not None
        )
    if _SMALL_NUMBERS.fullmatch(value):
        return False
    word = _ABBREVIATION_VALUE.fullmatch(value.strip())
    return word is None or not (lex or lexicons()).is_clinical(word.group("word"))


#: A letter or digit: ``str.isalnum`` exactly (re's word characters are those and the underscore).
_ALNUM = re.compile(r"[^\W_]")


def vet(span: Span, text: str) -> Span | None:
    """``span`` as the PHI it can be, or None when it can be none (see the module's rules)."""
    if _ALNUM.search(text, span.start, span.end) is None:
        return None
    value = text[span.start : span.end]
    if span.type is PhiType.DATE:
        return span if date_is_possible(text, span) else None
    if span.type is PhiType.AGE:
        return span if age_is_possible(text, span) else None
    if span.type is PhiType.NAME:
        return span if name_is_possible(text, span) else None
    if span.type in _PLACE_TYPES:
        return span if place_is_possible(text, span) else None
    if span.type in _NUMBER_ID_TYPES:
        return span if id_is_possible(text, span) else None
    if (
        span.type in (PhiType.PHONE, PhiType.FAX)
        and sum(c.isdigit() for c in value) < _PHONE_DIGITS
        and _SHORT_NUMBER_CUE.search(text, max(0, span.start - 25), span.start) is None
    ):
        if sum(c.isdigit() for c in value) < _ZIP_DIGITS:
            return None
        return Span(span.start, span.end, PhiType.ZIP, span.score, span.detector, (*span.reasons, "short-number"))
    return span
