"""Identifiers that are only recognisable by the label in front of them: 'MRN: 0012345', 'member ID X12'.

The label is the evidence; the span covers the value only. Each instance is one identifier class with
its own cue words, so the ensemble can prefer the more specific label ('member ID' over plain 'ID').
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pipeline.core.detection.base import Doc, Recognizer
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_CONNECTOR = r"[ \t]*(?:(?:number|num|nbr|no|id|code)\b\.?[ \t]*)?(?:is[ \t]+|:|#|=|-|\.)?[ \t]*#?[ \t]*"
_VALUE = r"(?P<value>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)"


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
        cue_group = "|".join(cues)
        self._regex = re.compile(rf"(?i)(?<![a-z0-9])(?P<cue>{cue_group})(?![a-z]){_CONNECTOR}{value_regex}")

    def find(self, doc: Doc) -> Iterator[Span]:
        for match in self._regex.finditer(doc.text):
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
            r"passport", r"registration(?!\s+plate)",
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
        [r"fingerprint", r"finger\s*print", r"voice\s*print", r"retina(?:l)?\s+scan", r"iris\s+scan", r"biometric"],
        score=0.85,
    )


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
