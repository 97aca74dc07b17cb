"""Government, financial and professional numbers that carry a checksum or a structural rule."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pipeline.core.detection import checksums
from pipeline.core.detection.base import Cue, Doc, Gate, Pattern, PatternRecognizer, Recognizer
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span


def _ssn_check(value: str) -> tuple[str, float] | None:
    return ("valid:ssn_structure", 0.0) if checksums.ssn_valid(value) else None


class SsnRecognizer(PatternRecognizer):
    """Social Security numbers: dashed or spaced groups, or nine bare digits only with context."""

    def __init__(self) -> None:
        super().__init__(
            "ssn",
            PhiType.SSN,
            [
                Pattern("ssn_dashed", re.compile(r"\d(?<![\w-]\d)\d\d-\d{2}-\d{4}(?![\w-])"), 0.65),
                Pattern("ssn_spaced", re.compile(r"\d(?<![\w-]\d)\d\d \d{2} \d{4}(?![\w-])"), 0.45),
                Pattern("ssn_bare", re.compile(r"\d(?<![\w.,-]\d)\d{8}(?![\w-]|[.,]\d)"), 0.3),
            ],
            validator=_ssn_check,
            context=Cue("ssn", ["ssn", "ss#", "ss #", "social security", "soc sec", "social", "ssn#"]),
            context_boost=0.35,
        )


def _card_check(value: str) -> tuple[str, float] | None:
    digits = checksums.digits_only(value)
    if not 13 <= len(digits) <= 19 or not checksums.luhn_valid(digits):
        return None
    known_issuer = digits[0] in "3456" or digits[:2] in ("22", "23", "24", "25", "26", "27")
    return ("checksum:luhn", 0.1 if known_issuer else 0.0)


class PaymentCardRecognizer(PatternRecognizer):
    """Payment card numbers (13-19 digits, optional space/dash groups) that pass Luhn: an account number."""

    def __init__(self) -> None:
        super().__init__(
            "payment_card",
            PhiType.ACCOUNT,
            [Pattern("card", re.compile(r"\d(?<![\w-]\d)(?:[ -]?\d){12,18}(?![\w-])"), 0.7)],
            validator=_card_check,
            context=Cue("card", ["card", "visa", "mastercard", "amex", "credit", "debit", "cc#", "account"]),
            context_boost=0.2,
        )


def _iban_check(value: str) -> tuple[str, float] | None:
    return ("checksum:iban_mod97", 0.0) if checksums.iban_valid(value) else None


class IbanRecognizer(PatternRecognizer):
    """International bank account numbers validated by mod-97."""

    def __init__(self) -> None:
        super().__init__(
            "iban",
            PhiType.ACCOUNT,
            [
                Pattern(
                    "iban",
                    re.compile(
                        r"[A-Za-z](?<!\w[A-Za-z])[A-Za-z]\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b"
                    ),
                    0.85,
                    gate=Gate(re.compile(r"\d\d(?<=[A-Za-z]{2}\d\d)")),  # the country code and check digits
                )
            ],
            validator=_iban_check,
        )


def _npi_check(value: str) -> tuple[str, float] | None:
    return ("checksum:npi", 0.0) if checksums.npi_valid(value) else None


class NpiRecognizer(PatternRecognizer):
    """National Provider Identifiers: ten digits with the NPI Luhn check; context 'NPI' makes them sure."""

    def __init__(self) -> None:
        super().__init__(
            "npi",
            PhiType.LICENSE,
            [Pattern("npi", re.compile(r"[12](?<![\w.,-][12])\d{9}(?![\w-]|[.,]\d)"), 0.5)],
            validator=_npi_check,
            context=Cue("npi", ["npi", "provider id", "national provider"]),
            context_boost=0.45,
        )


class DeaRecognizer(PatternRecognizer):
    """DEA registration numbers (two letters, seven digits) with their check digit."""

    def __init__(self) -> None:
        super().__init__(
            "dea",
            PhiType.LICENSE,
            [
                Pattern(
                    "dea",
                    re.compile(r"[A-Za-z](?<![\w-][A-Za-z])[A-Za-z9]\d{7}(?![\w-])"),
                    0.5,
                    gate=Gate(re.compile(r"\d{7}")),
                )
            ],
            validator=self._check,
            context=Cue("dea", ["dea", "dea#", "dea #", "dea number", "registration"]),
            context_boost=0.4,
        )

    @staticmethod
    def _check(value: str) -> tuple[str, float] | None:
        return ("checksum:dea", 0.35) if checksums.dea_valid(value) else ("unchecked:dea", -0.3)

    def score_match(self, doc: Doc, start: int, end: int, pattern: Pattern) -> Span | None:
        span = super().score_match(doc, start, end, pattern)
        # A failed check digit is only kept when the word DEA is right there.
        if (
            span is not None
            and "unchecked:dea" in span.reasons
            and not any(r.startswith("context:") for r in span.reasons)
        ):
            return None
        return span


class VinRecognizer(Recognizer):
    """Vehicle identification numbers: 17 characters; the check digit or the cue 'VIN' must agree."""

    name = "vin"
    _regex = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-HJ-NPR-Za-hj-npr-z0-9]{17}\b")
    _cue = Cue("vin", ["vin", "vin#", "vehicle", "car", "truck", "chassis"], before=30)
    _gate = Gate(re.compile(r"[A-HJ-NPR-Za-hj-npr-z0-9]{17}"))

    def find(self, doc: Doc) -> Iterator[Span]:
        if not self._gate.passes(doc):
            return
        for match in self._regex.finditer(doc.text):
            value = match.group(0)
            cue = self._cue.found(doc, match.start(), match.end())
            if checksums.vin_valid(value):
                score, reasons = 0.85, ["pattern:vin", "checksum:vin"]
            elif cue is not None:
                score, reasons = 0.6, ["pattern:vin"]
            else:
                continue
            if cue is not None:
                reasons.append(f"context:{cue}")
                score += 0.1
            span = self.span(match.start(), match.end(), PhiType.VEHICLE, score, reasons)
            if span is not None:
                yield span


class GenericIdRecognizer(PatternRecognizer):
    """Long digit runs and letter-digit codes with no other explanation: Safe Harbor's 'any other number'.

    Scored just above the ID threshold so that any better-typed recognizer wins, while an unexplained
    seven-digit number in a note is still removed (recall first).
    """

    def __init__(self) -> None:
        super().__init__(
            "generic_id",
            PhiType.ID,
            [
                Pattern("long_number", re.compile(r"\d(?<![\w.,/:-]\d)\d{6,}(?![\w,/:]|\.\d)"), 0.45),
                Pattern(
                    "letter_number_code",
                    re.compile(
                        r"(?:[A-Z](?<![\w.,/:-][A-Z])[A-Z]{0,2}-?\d{6,}|\d(?<![\w.,/:-]\d)\d{5,}[A-Z]{1,3})(?![\w,/:]|\.\d)"
                    ),
                    0.45,
                    gate=Gate(re.compile(r"\d{6}")),
                ),
            ],
            context=Cue("id", ["id", "number", "no", "#", "identifier", "code"], before=20),
            context_boost=0.15,
        )
