"""Dates of HL7 v2 (``DTM``: ``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]``) and FHIR (``YYYY[-MM[-DD[Thh:mm:ss...]]]``):
the year alone, and a shift by whole days that keeps the value's precision, time and zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_HL7 = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})?(?P<d>\d{2})?(?P<rest>(?:\d{2}){0,3}(?:\.\d{1,4})?(?:[+-]\d{4})?)$")
_FHIR = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?P<rest>T.*)?)?)?$")


def _shift_parts(year: int, month: int | None, day: int | None, days: int) -> tuple[int, int | None, int | None]:
    if month is None:
        return year, None, None  # a bare year is not PHI (below 90): kept as it is
    if day is None:  # month precision: whole months, at least one
        months = round(days / 30.4) or (1 if days > 0 else -1)
        index = year * 12 + month - 1 + months
        return index // 12, index % 12 + 1, None
    moved = date(year, month, day) + timedelta(days=days)
    return moved.year, moved.month, moved.day


def _shifted(match: re.Match[str] | None, days: int, separator: str) -> str | None:
    """A matched date moved by ``days``, written back at its own precision (year, month, day) with the
    format's separator and whatever followed the date (time, zone) unchanged; None when it is no date."""
    if not match:
        return None
    try:
        year, month, day = _shift_parts(
            int(match["y"]), int(match["m"]) if match["m"] else None, int(match["d"]) if match["d"] else None, days
        )
    except ValueError:
        return None
    text = f"{year:04d}" + (f"{separator}{month:02d}" if month else "") + (f"{separator}{day:02d}" if day else "")
    return text + (match["rest"] or "")


@dataclass(frozen=True)
class Hl7Dates:
    """HL7 v2 ``DT``/``DTM``/``TS`` values."""

    def year(self, value: str) -> str | None:
        match = _HL7.match(value.strip())
        return match["y"] if match else None

    def shift(self, value: str, days: int) -> str | None:
        return _shifted(_HL7.match(value.strip()), days, "")


@dataclass(frozen=True)
class FhirDates:
    """FHIR ``date``, ``dateTime`` and ``instant`` values; an instant has no year-only form."""

    instant: bool = False

    def year(self, value: str) -> str | None:
        match = _FHIR.match(value.strip())
        if not match or self.instant:
            return None
        return match["y"]

    def shift(self, value: str, days: int) -> str | None:
        return _shifted(_FHIR.match(value.strip()), days, "-")


HL7_DATES = Hl7Dates()
FHIR_DATES = FhirDates()
FHIR_INSTANTS = FhirDates(instant=True)
