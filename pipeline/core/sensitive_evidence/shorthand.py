"""Obstetric shorthand that no token list can hold: gestational age (``24w3d``, ``at 38w``, ``31 wks
pregnant``) and gravida/para (``G2P1001``). Each pattern is a plain regular expression without nested
repetition (linear time)."""

from __future__ import annotations

import re

from pipeline.core.sensitive import SensitiveCategory
from pipeline.core.sensitive_evidence.vocabulary import Strength

#: (id, pattern, strength): a gestational age written the obstetric way is strong; G/P alone (also in
#: histories of a past pregnancy) lets the model decide.
PATTERNS: tuple[tuple[str, re.Pattern[str], Strength], ...] = (
    ("rh.gestational_age", re.compile(r"(?i)\b\d{1,2} ?w(?:ks?)? ?\d ?d\b"), Strength.STRONG),
    ("rh.gestational_age", re.compile(r"(?i)\b(?:at|@) ?\d{1,2} ?(?:w|wk|wks|weeks?)\b(?! ?(?:ago|post|after))"),
     Strength.STRONG),
    ("rh.gravida_para", re.compile(r"(?i)\bg ?\d{1,2} ?p ?\d{1,4}\b"), Strength.WEAK),
)  # fmt: skip
CATEGORY = SensitiveCategory.REPRODUCTIVE


def shorthand_in_text(text: str) -> list[tuple[int, str, Strength]]:
    """(offset, id, strength) for every obstetric shorthand in the text."""
    return [(m.start(), name, strength) for name, pattern, strength in PATTERNS for m in pattern.finditer(text)]
