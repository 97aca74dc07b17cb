"""Hospitals and wards by the short names staff use: initials after a movement word ('sent to GH', 'at
gh er'), wards named after a person or a place with their number ('ON QUARTERMAIN 6', 'to Lunder 19'), and
universities by their state ('per U Maryland scale').

The longer forms ('Mercy Hospital', '12 Main Street') are :mod:`pipeline.core.detection.recognizers.places`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.core.detection.base import Doc, Gate, Recognizer, case_blind_matches, case_counts
from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.recognizers.names import UP
from pipeline.core.detection.recognizers.places import STATE_NAMES
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_MOVEMENT = r"(?:(?<![a-z])(?:to|at|from|in|into|back\s+to|tx\s+to|sent\s+to|transfer(?:red)?\s+to)[ \t]+|->[ \t]*)"
#: Words after initials that say they name a hospital ('GH ER', 'gh ew', 'MGH attorneys' does not).
#: A lab value after the letters ('TSH 6.1', 'BNP >400'); not a time ('bch 2245', 'bch 2p').
_VALUE_NEXT = re.compile(r"[ \t]*(?:[:=][ \t]*)?[<>]?(?:\d{1,3}(?:\.\d+)?|\.\d+)(?![\d:apAP])")
_HOSPITAL_NEXT = re.compile(r"(?i)[ \t]+(?:er|ed|ew|icu|ccu|micu|sicu|hosp(?:ital)?|clinic|er\b)\b")


class FacilityInitialsRecognizer(Recognizer):
    """Two or three letters after a movement word that end in H (for Hospital: 'GH', 'MGH', 'BWH') or are
    followed by a hospital's unit ('SMC EW'); in capitals, or in lower case when the note is."""

    name = "facility_initials"
    _place = r"(?P<place>[A-Za-z]{2,3})(?![\w/&'-])"
    _regex = re.compile(rf"(?i:{_MOVEMENT}(?:the[ \t]+)?){_place}")
    #: The same, case-sensitive, for the lower-cased copy of an ASCII note: the same matches, twice as fast.
    _lowered = re.compile(rf"{_MOVEMENT}(?:the[ \t]+)?{_place}")

    def find(self, doc: Doc) -> Iterator[Span]:
        text = doc.text
        lex = lexicons()
        for match in case_blind_matches(doc, self._regex, self._lowered):
            value = text[match.start("place") : match.end("place")]
            if not (value.isupper() or value.islower()):
                continue
            if _VALUE_NEXT.match(text, match.end()):
                continue  # 'elevated in TSH 4.5': a lab and its value
            hospital_like = value[-1] in "Hh" or _HOSPITAL_NEXT.match(text, match.end()) is not None
            if not hospital_like:
                continue
            if value.islower() and (lex.is_common_word(value) or _writes_in_capitals(text)):
                continue  # 'to oh', 'at th'; lower-case initials only in notes written in lower case
            if value.isupper() and lex.is_common_word(value) and not value.endswith("H"):
                continue
            span = self.span(*match.span("place"), PhiType.FACILITY, 0.6, ["pattern:facility_initials"])
            if span is not None:
                yield span


def _writes_in_capitals(text: str) -> bool:
    letters, _, uppers = case_counts(text)
    return bool(letters) and uppers > 0.2 * letters


class WardRecognizer(Recognizer):
    """A ward by a proper name and its number after 'on', 'to', 'from', 'at', 'per' or a label ('ON QUARTERMAIN 6',
    'per Quartermain 3 RN', 'to Lunder 19'): the name is no word, drug, abbreviation or Census name, and
    the number is no dose ('on Levo 5', 'to PEEP 5' never match)."""

    name = "ward"
    _regex = re.compile(
        r"(?i:(?:(?<![a-z])(?:on|to|from|at|in|per|back\s+to)[ \t]+|:[ \t]*)(?:the[ \t]+)?)"
        r"(?P<ward>(?P<word>[A-Za-z][a-z]{3,20}|[A-Z]{4,21})[ \t]\d{1,2}[A-Za-z]?)"
        r"(?![\w%/']|\.\d|[ \t]*(?i:mg|mcg|ml|cc|l\b|u\b|units?|meq|x\b|%|/|'))"
    )

    def find(self, doc: Doc) -> Iterator[Span]:
        lex = lexicons()
        lower_ok = not _writes_in_capitals(doc.text) and case_counts(doc.text)[2] < 0.02 * len(doc.text)
        for match in self._regex.finditer(doc.text):
            word = match.group("word")
            if word.islower() and not lower_ok:
                continue
            known = word.lower() in lex.common_words or lex.name_share(word) > 0 or lex.is_vocabulary(word)
            if known or lex.is_clinical(word) or lex.is_typo(word):
                continue
            span = self.span(*match.span("ward"), PhiType.LOCATION, 0.7, ["pattern:ward_number"])
            if span is not None:
                yield span


_STATES = "|".join(sorted(STATE_NAMES, key=len, reverse=True))


class SaintRecognizer(Recognizer):
    """A hospital named after a saint, after a place word ('accepted at St. Agnes', 'a bed @ St A.', 'to
    SAINT JOSEPH'): the name is a Census name or no everyday word, so 'SR TO ST WITH PVCS' stays a rhythm."""

    name = "saint"
    _regex = re.compile(
        r"(?i:(?<![a-z])(?:to|at|from|in|into|by|@)[ \t]+)"
        rf"(?P<place>(?:St|ST|Saint|SAINT|Ste)\.?[ \t]+(?:[{UP}][a-z]+|[{UP}]{{2,}}|[{UP}]\.)(?:[ \t]+[{UP}][a-z]+)?)"
    )
    _gate = Gate(re.compile(r"(?:St|ST|Saint|SAINT|Ste)\.?[ \t]"))

    def find(self, doc: Doc) -> Iterator[Span]:
        if not self._gate.passes(doc):
            return
        lex = lexicons()
        for match in self._regex.finditer(doc.text):
            words = match.group("place").split()[1:]
            first = words[0].rstrip(".")
            if len(first) > 1 and lex.is_vocabulary(first) and not lex.is_name_first(first):
                continue
            span = self.span(*match.span("place"), PhiType.FACILITY, 0.7, ["pattern:saint"])
            if span is not None:
                yield span


class UniversityRecognizer(Recognizer):
    """A university hospital by its state: 'U Maryland', 'U. Vermont', 'Univ of Maryland'."""

    name = "university"
    _regex = re.compile(
        rf"U(?<![\w.]U)(?:|niv|niversity)\.?[ \t]+(?:of[ \t]+)?(?:{_STATES}|{_STATES.upper()})(?![\w])",
    )

    def find(self, doc: Doc) -> Iterator[Span]:
        for match in self._regex.finditer(doc.text):
            span = self.span(*match.span(), PhiType.FACILITY, 0.8, ["pattern:university_state"])
            if span is not None:
                yield span
