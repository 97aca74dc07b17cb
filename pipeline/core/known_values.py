"""Find a record's own structured PHI values inside its free text.

A note about a patient usually repeats what the record's fields already say: the patient's name, MRN,
phone, dates. Those values are known exactly, so looking for them is the most reliable detector there
is, whatever the writing style, and it is one no text-only tool (Presidio, Philter) can have. Each
value is looked for in the forms clinicians write it: a name in full and by each part, an ISO date as
``3/14/2025``, ``03/14/25``, ``March 14, 2025`` or ``14-Mar-2025``, a phone or SSN with any separators
or none. Matching is by token sequence (:mod:`pipeline.core.token_match`): no regex is compiled per
record, so this costs microseconds per note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.core.token_match import SequenceIndex, token_positions, tokens

DETECTOR = "record"
SCORE = 0.97
_MIN_PART_CHARS = 2


def _date_forms(value: str) -> list[str]:
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return [value]
    month, short, yy = d.strftime("%B"), d.strftime("%b"), f"{d.year % 100:02d}"
    forms = [value]
    for m, day in ((str(d.month), str(d.day)), (f"{d.month:02d}", f"{d.day:02d}")):
        forms += [f"{m}/{day}/{d.year}", f"{m}/{day}/{yy}"]
    for name in (month, short):
        forms += [f"{name} {d.day} {d.year}", f"{name} {d.day:02d} {d.year}", f"{d.day} {name} {d.year}"]
    return forms


def _forms(phi_type: PhiType, value: str) -> list[str]:
    value = value.strip()
    if phi_type is PhiType.DATE:
        return _date_forms(value)
    if phi_type in (PhiType.PHONE, PhiType.FAX, PhiType.SSN):
        return [value, re.sub(r"\D", "", value)]
    if phi_type is PhiType.NAME:
        return [value, *(part for part in tokens(value) if len(part) >= _MIN_PART_CHARS)]
    return [value]


class KnownValueFinder:
    """Built once per record: every form of every known value, as token sequences."""

    def __init__(self, values: Iterable[tuple[PhiType, str]]) -> None:
        self._index: SequenceIndex[PhiType] = SequenceIndex()
        for phi_type, value in values:
            for form in _forms(phi_type, value):
                self._index.add(tuple(tokens(form)), phi_type)

    def find(self, text: str) -> list[Span]:
        if not self._index.size:
            return []
        positions = token_positions(text)
        words = [token for _, _, token in positions]
        return [
            Span(
                positions[first][0],
                positions[first + count - 1][1],
                phi_type,
                SCORE,
                DETECTOR,
                ("value from the record",),
            )
            for first, count, phi_type in self._index.matches(words)
        ]
