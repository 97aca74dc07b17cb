"""The policy model: per format, paths to actions; deny and allow lists; custom recognizers.

One model serves every input the pipeline takes: HL7 v2 paths (``PID-11.1``, or an HL7 data type
such as ``XAD.5`` for every field of that type), FHIR paths (``Patient.address.line``, or a FHIR data
type such as ``HumanName`` or ``dateTime`` wherever it occurs) and Avro field paths
(``clinical_record.ssn``; the schema's own tags map onto the same rules, see
:func:`pipeline.core.policy.avro.rules_from_schema`). A rule says what to do with the values under
its path and which Safe Harbor class they belong to; the most specific rule wins (see each format's
processor for the order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.core.formats.names import Format
from pipeline.core.formats.rules import FormatRules, Rule, RuleAction
from pipeline.core.linear_regex import LinearPattern
from pipeline.core.phi_types import PhiType
from pipeline.core.sensitive import SensitiveAction, SensitiveCategory
from pipeline.core.transform.actions import Action

__all__ = [
    "CustomRecognizer",
    "DenyList",
    "Format",
    "FormatRules",
    "Policy",
    "Rule",
    "RuleAction",
    "TermList",
]


@dataclass(frozen=True, slots=True)
class TermList:
    """Terms (matched whole-word, case-insensitive) and regular expressions."""

    terms: tuple[str, ...] = ()
    patterns: tuple[LinearPattern, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.terms or self.patterns)

    def finditer(self, text: str) -> list[tuple[int, int]]:
        """Where the list's terms and patterns occur in ``text`` (character offsets, end exclusive)."""
        found: list[tuple[int, int]] = []
        if self.terms:
            for match in _term_regex(self.terms).finditer(text):
                found.append((match.start(), match.end()))
        for pattern in self.patterns:
            found.extend((m.start(), m.end()) for m in pattern.finditer(text) if m.end() > m.start())
        return found

    def covers(self, text: str) -> bool:
        """True when ``text`` as a whole is one of the terms or matches one of the patterns fully."""
        folded = text.strip().casefold()
        return any(folded == term.casefold() for term in self.terms) or any(
            p.fullmatch(text.strip()) for p in self.patterns
        )


_TERM_CACHE: dict[tuple[str, ...], re.Pattern[str]] = {}


def _term_regex(terms: tuple[str, ...]) -> re.Pattern[str]:
    regex = _TERM_CACHE.get(terms)
    if regex is None:
        alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        regex = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
        _TERM_CACHE[terms] = regex
    return regex


@dataclass(frozen=True, slots=True)
class DenyList:
    """Values that are always PHI of ``phi_type`` wherever they occur in free text."""

    phi_type: PhiType
    entries: TermList


@dataclass(frozen=True, slots=True)
class CustomRecognizer:
    """A pattern recognizer written in the policy file: a regex, context words that raise its score
    when they occur within 40 characters before a match, a base score and the PHI type it finds."""

    name: str
    pattern: LinearPattern
    phi_type: PhiType
    score: float
    context: tuple[str, ...] = ()
    context_boost: float = 0.35


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy. ``text`` maps PHI types found in free text to actions; ``source``
    names the file (or ``safe-harbor`` for the shipped defaults)."""

    source: str
    text: Mapping[PhiType, Action]
    formats: Mapping[Format, FormatRules]
    deny: tuple[DenyList, ...] = ()
    allow: TermList = field(default_factory=TermList)
    recognizers: tuple[CustomRecognizer, ...] = ()
    shift_days: tuple[int, int] = (-365, 365)
    #: Per sensitive category, the action the file sets (``sensitive:``); categories it does not name
    #: keep the worker's setting (PHI_SENSITIVE_POLICY) or its default.
    sensitive: Mapping[SensitiveCategory, SensitiveAction] = field(default_factory=dict)

    def rules(self, fmt: Format) -> FormatRules:
        return self.formats.get(fmt, FormatRules())

    @property
    def changes_detection(self) -> bool:
        """True when the policy adds to or filters the detector's spans."""
        return bool(self.deny or self.allow or self.recognizers)
