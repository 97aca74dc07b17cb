"""Find a record's own structured PHI values inside its free text.

A note about a patient usually repeats what the record's fields already say: the patient's name, MRN,
phone, dates. Those values are known exactly, so looking for them is the most reliable detector there
is, whatever the writing style, and it is one no text-only tool (Presidio, Philter) can have. Each
value is looked for in the forms clinicians write it: a name in full and by each part, an ISO date as
``3/14/2025``, ``03/14/25``, ``March 14, 2025`` or ``14 Mar 2025``, a phone or SSN with any separators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

DETECTOR = "record"
SCORE = 0.97
_MIN_PART = 2
_SEPARATORS = r"[\s().\-/]{0,3}"


def _date_forms(value: str) -> list[str]:
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return [value]
    month, short = d.strftime("%B"), d.strftime("%b")
    forms = [
        value,
        f"{d.month}/{d.day}/{d.year}",
        f"{d.month:02d}/{d.day:02d}/{d.year}",
        f"{d.month}/{d.day}/{d.year % 100:02d}",
        f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
        f"{d.month}-{d.day}-{d.year}",
        f"{d.month:02d}-{d.day:02d}-{d.year}",
        f"{month} {d.day}, {d.year}",
        f"{month} {d.day:02d}, {d.year}",
        f"{month} {d.day} {d.year}",
        f"{short} {d.day}, {d.year}",
        f"{short}. {d.day}, {d.year}",
        f"{d.day} {month} {d.year}",
        f"{d.day} {short} {d.year}",
        f"{d.day:02d}-{short}-{d.year}",
        f"{d.day}-{short}-{d.year}",
    ]
    return forms


def _pattern(phi_type: PhiType, value: str) -> list[str]:
    """Regex alternatives for one value (already escaped where literal)."""
    value = value.strip()
    if not value:
        return []
    if phi_type is PhiType.DATE:
        return [re.escape(form) for form in _date_forms(value)]
    digits = re.sub(r"\D", "", value)
    if phi_type in (PhiType.PHONE, PhiType.FAX, PhiType.SSN) and len(digits) >= 7:
        return [_SEPARATORS.join(digits)]
    if phi_type is PhiType.NAME:
        parts = [p for p in re.split(r"[\s,]+", value) if len(p.strip(".")) >= _MIN_PART]
        return [re.escape(value)] + [re.escape(p.strip(".")) for p in parts]
    return [re.escape(value)]


class KnownValueFinder:
    """Compiled once per record: every form of every known value, longest first, whole words only."""

    def __init__(self, values: Iterable[tuple[PhiType, str]]) -> None:
        alternatives: dict[str, PhiType] = {}
        for phi_type, value in values:
            for alternative in _pattern(phi_type, value):
                alternatives.setdefault(alternative, phi_type)
        self._types: list[PhiType] = []
        groups: list[str] = []
        for alternative, phi_type in sorted(alternatives.items(), key=lambda item: -len(item[0])):
            groups.append(f"({alternative})")
            self._types.append(phi_type)
        self._regex = (
            re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(groups)})(?![A-Za-z0-9])", re.IGNORECASE) if groups else None
        )

    def find(self, text: str) -> list[Span]:
        if self._regex is None:
            return []
        spans: list[Span] = []
        for match in self._regex.finditer(text):
            group = match.lastindex
            if group is None or match.end() == match.start():
                continue
            phi_type = self._types[group - 1]
            spans.append(Span(match.start(), match.end(), phi_type, SCORE, DETECTOR, ("value from the record",)))
        return spans
