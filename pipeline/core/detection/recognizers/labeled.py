"""Identifiers that are only recognisable by the label in front of them: 'MRN: 0012345', 'member ID X12'.

The label is the evidence; the span covers the value only. Each instance is one identifier class with
its own cue words, so the ensemble can prefer the more specific label ('member ID' over plain 'ID').
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pipeline.core.detection.base import Doc, Recognizer, by_first_letter, matches_at
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_CONNECTOR = r"[ \t]*(?:(?:number|num|nbr|no|id|code)\b\.?[ \t]*)?(?:is[ \t]+|:|#|=|-|\.)?[ \t]*#?[ \t]*"
_VALUE = r"(?P<value>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"


class CueScan:
    """Where the cues of several labelled-ID recognizers start in a note: one case-sensitive scan of the
    lower-cased text for all of them, kept on the :class:`Doc`, after which each recognizer checks its own
    cues only there. Much faster than each recognizer's case-insensitive scan (most notes hold none of its
    cues), and in ASCII text a case-insensitive match is a case-sensitive one in the lower-cased copy, so
    it finds every place a recognizer's pattern can match; other text is scanned in full.

    The scan is a zero-width look-ahead, so cues that start inside another cue ('id' in 'user id') are
    found too. The cues are grouped by their first letter (:func:`~pipeline.core.detection.base.by_first_letter`):
    the same places, a fraction of the scan."""

    def __init__(self, cues: Sequence[str]) -> None:
        either = by_first_letter(f"(?:{cue})(?![a-z])" for cue in cues)
        self._regex = re.compile(rf"(?<![a-z0-9])(?={either})")

    def starts(self, doc: Doc) -> tuple[int, ...]:
        found = doc.shared.get(self)
        if found is None:
            found = doc.shared[self] = tuple(match.start() for match in self._regex.finditer(doc.lower))
        return found


def share_cue_scan(recognizers: Sequence[LabeledIdRecognizer]) -> list[LabeledIdRecognizer]:
    """``recognizers``, from now on sharing one :class:`CueScan` of all their cues."""
    scan = CueScan([cue for r in recognizers for cue in r.cues])
    for recognizer in recognizers:
        recognizer.scan = scan
    return list(recognizers)


class LabeledIdRecognizer(Recognizer):
    """A value after one of the given cue phrases (regex fragments, case-insensitive)."""

    def __init__(
        self,
        name: str,
        phi_type: PhiType,
        cues: Sequence[str],
        *,
        score: float = 0.85,
        min_length: int = 4,
        value_regex: str = _VALUE,
        need_digit: bool = True,
    ) -> None:
        self.name = name
        self.phi_type = phi_type
        self.score = score
        self.min_length = min_length
        self.need_digit = need_digit
        self.cues = tuple(cues)
        self.cue_group = "|".join(cues)
        self._regex = re.compile(rf"(?i)(?<![a-z0-9])(?P<cue>{self.cue_group})(?![a-z]){_CONNECTOR}{value_regex}")
        #: The cue alone, matched case-sensitively in the lower-cased text where a scan found some cue.
        self._cue_at = re.compile(rf"(?:{self.cue_group})(?![a-z])")
        #: Its own scan, or one shared with other labelled-ID recognizers (:func:`share_cue_scan`).
        self.scan = CueScan(self.cues)

    def find(self, doc: Doc) -> Iterator[Span]:
        matches: Iterator[re.Match[str]]
        if doc.text.isascii():
            # Only where a cue of this recognizer starts can the case-insensitive pattern match.
            starts = [at for at in self.scan.starts(doc) if self._cue_at.match(doc.lower, at)]
            matches = matches_at(self._regex, doc.text, starts)
        else:
            matches = self._regex.finditer(doc.text)
        for match in matches:
            start, end = match.span("value")
            value = match.group("value")
            if len(value.replace(" ", "").replace("-", "")) < self.min_length:
                continue
            if self.need_digit and not any(c.isdigit() for c in value):
                continue
            cue = re.sub(r"\s+", " ", match.group("cue").lower())
            span = self.span(start, end, self.phi_type, self.score, [f"cue:{self.name}", f"context:{cue}"])
            if span is not None:
                yield span


def mrn_recognizer() -> LabeledIdRecognizer:
    """Medical record numbers after 'MRN', 'MR#', 'medical record', 'chart', 'hospital number'."""
    return LabeledIdRecognizer(
        "mrn",
        PhiType.MRN,
        [
            r"mrn", r"mr\s?#", r"medical\s+record", r"med\s+rec", r"record", r"chart", r"hospital\s+number",
            r"unit\s+number", r"patient\s+id", r"pt\s+id", r"patient\s+number", r"hosp\s*#", r"emr",
        ],
        score=0.9,
    )  # fmt: skip


def health_plan_recognizer() -> LabeledIdRecognizer:
    """Health-plan beneficiary and member numbers."""
    return LabeledIdRecognizer(
        "health_plan",
        PhiType.HEALTH_PLAN,
        [
            r"member", r"member\s+id", r"subscriber", r"subscriber\s+id", r"policy", r"policy\s+holder\s+id",
            r"group", r"insurance", r"insurance\s+id", r"medicaid", r"medicare", r"hicn", r"mbi",
            r"beneficiary", r"health\s+plan", r"plan\s+id", r"payer\s+id",
        ],
        score=0.9,
    )  # fmt: skip


def account_recognizer() -> LabeledIdRecognizer:
    """Account numbers: billing, bank, encounter accounts, cards that fail Luhn but are labelled."""
    return LabeledIdRecognizer(
        "account",
        PhiType.ACCOUNT,
        [
            r"account", r"acct", r"acc", r"a/c", r"billing", r"invoice", r"bank\s+account", r"routing",
            r"card", r"credit\s+card", r"encounter", r"visit\s+id", r"fin", r"har", r"claim",
        ],
        score=0.85,
    )  # fmt: skip


def license_recognizer() -> LabeledIdRecognizer:
    """Certificate and licence numbers (professional, driver's, board certification)."""
    return LabeledIdRecognizer(
        "license",
        PhiType.LICENSE,
        [
            r"licen[cs]e(?!\s+plate)", r"lic", r"certificate", r"cert", r"dl", r"driver'?s\s+licen[cs]e",
            r"driving\s+licen[cs]e", r"board\s+certification", r"state\s+licen[cs]e", r"permit",
            r"registration(?!\s+plate)",
        ],
        score=0.85,
    )  # fmt: skip


def plate_recognizer() -> LabeledIdRecognizer:
    """Vehicle licence plates, which have no fixed shape: the cue decides."""
    return LabeledIdRecognizer(
        "plate",
        PhiType.VEHICLE,
        [r"licen[cs]e\s+plate", r"plate", r"tag", r"registration\s+plate", r"vehicle"],
        score=0.9,
        min_length=3,
        value_regex=r"(?P<value>[A-Za-z0-9]{1,4}[- ][A-Za-z0-9]{1,4}|[A-Za-z0-9]{2,8})(?![\w-])",
    )


#: A plate after a vehicle word: letters and digits both, upper case, not a time or a distance
#: ('BY AMBULANCE XC 3145', not 'BY AMBULANCE AT 1400' or 'BY CAR 15 MIN').
_PLATE_AFTER_VEHICLE_WORD = (
    r"(?P<value>(?-i:(?!(?:AT|IN|ON|TO|FOR|BY|AND|OR|OF|THE|FROM|WITH|VIA|X|Q|ETA|APPROX)\b)"
    r"(?![A-Z0-9]{1,4} (?:MINS?|HRS?|HOURS?|MG|KM|MI|MILES?|H|AM|PM)\b)"
    r"(?=[A-Z0-9 -]{0,9}\d)(?=[A-Z0-9 -]{0,9}[A-Z])(?:[A-Z0-9]{1,4}[- ][A-Z0-9]{1,4}|[A-Z0-9]{4,8})))"
    r"(?![\w-])"
)


def transport_plate_recognizer() -> LabeledIdRecognizer:
    """A plate named only by the vehicle it is on ('by ambulance XC 3145', 'transport van 6UPZ415')."""
    return LabeledIdRecognizer(
        "transport_plate",
        PhiType.VEHICLE,
        [r"ambulance", r"(?:transport\s+|wheelchair\s+)?van", r"car", r"truck", r"taxi", r"cab", r"motorcycle"],
        score=0.85,
        min_length=4,
        value_regex=_PLATE_AFTER_VEHICLE_WORD,
    )


def device_recognizer() -> LabeledIdRecognizer:
    """Device identifiers and serial numbers (implants, pumps, monitors)."""
    return LabeledIdRecognizer(
        "device",
        PhiType.DEVICE,
        [
            r"serial", r"s/n", r"sn", r"ser\.?\s*#", r"device", r"device\s+id", r"udi", r"imei",
            r"implant\s+id", r"pacemaker\s+serial",
        ],
        score=0.85,
    )  # fmt: skip


def biometric_recognizer() -> LabeledIdRecognizer:
    """References to stored biometric identifiers (fingerprint, voiceprint, retina template ids)."""
    return LabeledIdRecognizer(
        "biometric",
        PhiType.BIOMETRIC,
        [
            r"fingerprint",
            r"finger\s*print",
            r"voice\s*print",
            r"voice\s+id",
            r"voice\s+sample",
            r"retina(?:l)?\s+(?:scan|template)",
            r"iris\s+(?:scan|template)",
            r"biometric",
            r"palm\s*(?:vein|print)(?:\s+scan)?",
            r"face\s*(?:print|template|scan|id)",
            r"facial\s+(?:scan|template|recognition)",
            r"hand\s+geometry",
            r"dna\s+profile",
        ],
        score=0.9,
    )


def personal_id_recognizer() -> LabeledIdRecognizer:
    """Identifiers that name a person outside the hospital: passports, national, study and subject ids."""
    return LabeledIdRecognizer(
        "personal_id",
        PhiType.ID,
        [
            r"passport", r"national\s+id", r"study\s+id", r"research\s+id", r"subject\s+id",
            r"participant\s+id", r"enrollment\s+id", r"trial\s+id", r"student\s+id", r"employee\s+id",
        ],
        score=0.85,
    )  # fmt: skip


#: After a bare 'user', a log-in name has a digit, dot or underscore in it ('lee.khan', 'blaurent65'),
#: unlike 'user interface'; after 'username' or 'login' any word is the name ('my username is parka').
_USER_NAME = r"(?P<value>(?=[\w.-]*[\d._])[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w@])"
_LOGIN_NAME = r"(?P<value>[A-Za-z0-9][\w.-]*[A-Za-z0-9])(?![\w@])"


def user_name_recognizers() -> list[LabeledIdRecognizer]:
    """Log-in names (Safe Harbor's 'any other unique identifier'): after a bare 'user' the value must look
    like a log-in; after 'username' (and its common misspellings) or 'login' any word is one."""
    return [
        LabeledIdRecognizer(name, PhiType.ID, cues, score=score, min_length=3, value_regex=value, need_digit=False)
        for name, cues, score, value in (
            ("user_name", [r"user", r"user\s+id", r"userid", r"handle", r"screen\s+name"], 0.85, _USER_NAME),
            ("login_name", [r"use?r?\s*n+(?:a?me|ma?e)", r"log-?in(?:\s+name)?", r"sign-?in\s+name"], 0.9, _LOGIN_NAME),
        )
    ]


def other_id_recognizer() -> LabeledIdRecognizer:
    """Any other labelled identifier ('ID:', 'case #', 'employee id'): Safe Harbor's catch-all."""
    return LabeledIdRecognizer(
        "other_id",
        PhiType.ID,
        [
            r"id",
            r"identifier",
            r"case",
            r"employee",
            r"badge",
            r"ticket",
            r"reference",
            r"ref",
            r"accession",
            r"specimen",
        ],
        score=0.7,
    )
