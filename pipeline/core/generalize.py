"""Safe Harbor generalizations: keep what the rule allows, drop the rest.

- ZIP codes keep their first three digits, unless the three-digit area holds 20,000 people or fewer
  (the 2000 Census list HHS publishes), in which case they become ``000``.
- Dates keep only the year.
- Ages over 89 collapse into one ``90+`` category; younger ages are not identifiers and stay.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from pipeline.core.errors import PipelineError

#: Three-digit ZIP prefixes with 20,000 or fewer residents (HHS guidance, 2000 Census).
LOW_POPULATION_ZIP3: frozenset[str] = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)

_ZIP_RE = re.compile(r"^\s*(\d{5})(?:-?\d{4})?\s*$")
_YEAR_RE = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class GeneralizationError(PipelineError, ValueError):
    """The value does not have the shape the generalization needs (message names the shape, not the value)."""

    reason = "invalid-field"


def zip3(value: str) -> str:
    """``12345`` or ``12345-6789`` -> ``123``; a low-population prefix -> ``000``."""
    match = _ZIP_RE.match(value)
    if not match:
        raise GeneralizationError("ZIP code must be 5 digits, optionally followed by 4 more")
    prefix = match.group(1)[:3]
    return "000" if prefix in LOW_POPULATION_ZIP3 else prefix


def year_only(value: str | date | datetime) -> str:
    """Any date (ISO string, date object, or text holding a four-digit year) -> its year."""
    if isinstance(value, date):
        return f"{value.year:04d}"
    match = _YEAR_RE.search(value)
    if not match:
        raise GeneralizationError("date has no four-digit year to keep")
    return match.group(1)


def age_bucket(age: int | str) -> str:
    """Ages 0-89 stay as they are; 90 and over become ``90+``."""
    try:
        years = int(str(age).strip().rstrip("+"))
    except ValueError:
        raise GeneralizationError("age must be a whole number of years") from None
    if years < 0:
        raise GeneralizationError("age cannot be negative")
    return "90+" if years >= 90 else str(years)
