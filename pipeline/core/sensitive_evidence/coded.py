"""Coded values (a diagnosis code, a test code, a medicine code) as evidence for the sensitive categories.

A format's reader (:mod:`.hl7_codes`, :mod:`.fhir_codes`, :mod:`.avro_codes`) hands over each coded value
as a :class:`Coded`: the code, the system as the record names it, the result when the code is a test, and
whether the record withdrew it (a refuted or entered-in-error Condition, an HL7 result posted as wrong).
:func:`classify_codes` looks each up in its system's table (:mod:`.code_tables`, and the ICD-10-CM ranges
of :mod:`.codes`) and returns the record's :class:`CodedEvidence`: per category, the ids of the groups or
ranges that hold one of its codes (closed vocabularies, never a code itself).

A code is strong evidence: a record is in a category if its codes or its text put it there
(:func:`with_codes` adds the codes' categories to the text's decision, each scored at least
:data:`~pipeline.core.sensitive_evidence.combine.STRONG_SCORE`). Negation and history do not apply to a
code (a coded diagnosis is affirmed by being coded, and a resolved one is still the patient's own history);
withdrawal does. Pure: no I/O, nothing here keeps a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pipeline.core.sensitive import (
    NOTHING_FOUND,
    CategoryScore,
    SensitiveCategory,
    SensitiveDecision,
    SensitivePolicy,
    found_categories,
    strictest,
)
from pipeline.core.sensitive_evidence.code_systems import CodeSystem, system_of
from pipeline.core.sensitive_evidence.code_tables import ICD9_RANGES, groups_for
from pipeline.core.sensitive_evidence.codes import RANGES, ranges_of
from pipeline.core.sensitive_evidence.combine import STRONG_SCORE


class Result(StrEnum):
    """A test's result as the record states it (only some tests need it: a pregnancy test)."""

    UNKNOWN = "unknown"
    POSITIVE = "positive"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class Coded:
    """One coded value of a record: ``system`` as written (URI, OID, HL7 mnemonic, schema tag)."""

    system: str | None
    code: str
    result: Result = Result.UNKNOWN
    somatic: bool = False  # a genomic result reported as somatic (a tumour's)
    withdrawn: bool = False  # refuted, entered in error, deleted, not done, not taken


_NONE: frozenset[SensitiveCategory] = frozenset()


@dataclass
class CodedEvidence:
    """Per category, the ids of the code groups or ranges found; how many codes were dropped, and why."""

    found: dict[SensitiveCategory, set[str]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def categories(self) -> frozenset[SensitiveCategory]:
        if not self.found:  # most records: no code of a sensitive category
            return _NONE
        return frozenset(c for c, ids in self.found.items() if ids)

    def add(self, category: SensitiveCategory, group: str) -> None:
        self.found.setdefault(category, set()).add(group)

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    def merge(self, other: CodedEvidence) -> None:
        for category, ids in other.found.items():
            self.found.setdefault(category, set()).update(ids)
        for why, count in other.dropped.items():
            self.dropped[why] = self.dropped.get(why, 0) + count

    def as_record(self) -> dict[str, object]:
        """For explanations: group ids per category (sorted) and drop counts; no code, no value."""
        return {
            "found": {c.value: sorted(ids) for c, ids in sorted(self.found.items()) if ids},
            "dropped": dict(sorted(self.dropped.items())),
        }


#: HL7 v2 abnormal flags (table 0078) and FHIR v3 ObservationInterpretation codes that state a result, and
#: SNOMED CT qualifier values (10828004 Positive, 260373001 Detected, 260385009 Negative, 260415000 Not
#: detected) used as coded results.
POSITIVE_FLAGS = frozenset({"POS", "DET", "A", "AA", "RR", "10828004", "260373001"})
NEGATIVE_FLAGS = frozenset({"NEG", "ND", "N", "NR", "260385009", "260415000"})
_POSITIVE_WORDS = frozenset({"positive", "pos", "detected", "reactive"})
_NEGATIVE_WORDS = frozenset({"negative", "neg", "nonreactive", "non-reactive"})
_NEGATIVE_PHRASES = ("not detected", "none detected", "non reactive", "not reactive")


def result_of(flags: Iterable[str], texts: Iterable[str] = ()) -> Result:
    """A result from flags or coded results (any negative wins: a test read twice is not positive) and,
    failing those, from a short text value (``Positive``, ``not detected``)."""
    seen = {f.strip().upper() for f in flags if f and f.strip()}
    if seen & NEGATIVE_FLAGS:
        return Result.NEGATIVE
    if seen & POSITIVE_FLAGS:
        return Result.POSITIVE
    for text in texts:
        words = " ".join(text.lower().replace(".", " ").replace(",", " ").split())
        if not words or len(words) > 40:  # a sentence is the detector's and the text evidence's, not a result
            continue
        first = words.split()[0]
        if first in _NEGATIVE_WORDS or words.startswith(_NEGATIVE_PHRASES):
            return Result.NEGATIVE
        if first in _POSITIVE_WORDS:
            return Result.POSITIVE
    return Result.UNKNOWN


def classify_codes(items: Iterable[Coded]) -> CodedEvidence:
    """The categories of a record's coded values (see the module docstring)."""
    evidence = CodedEvidence()
    for item in items:
        system = system_of(item.system)
        if system is None or not item.code.strip():
            continue
        hits = _hits(system, item)
        if not hits:
            continue
        if item.withdrawn:
            evidence.drop("withdrawn")
            continue
        for group, category in hits:
            evidence.add(category, group)
    return evidence


#: The ICD ranges' hits per (system, code): records repeat a few thousand codes, and the ranges' walk costs
#: more than the rest of a record's code evidence.
_RANGE_HITS: dict[tuple[CodeSystem, str], tuple[tuple[str, SensitiveCategory], ...]] = {}
_RANGE_TABLES = {CodeSystem.ICD10CM: ("icd10cm", RANGES), CodeSystem.ICD9CM: ("icd9cm", ICD9_RANGES)}


def _range_hits(system: CodeSystem, code: str) -> tuple[tuple[str, SensitiveCategory], ...]:
    key = (system, code)
    hits = _RANGE_HITS.get(key)
    if hits is None:
        if len(_RANGE_HITS) >= 65_536:  # codes without end (malformed ones): start again
            _RANGE_HITS.clear()
        prefix, ranges = _RANGE_TABLES[system]
        hits = _RANGE_HITS[key] = tuple((f"{prefix}.{label}", category) for label, category in ranges_of(code, ranges))
    return hits


def _hits(system: CodeSystem, item: Coded) -> Sequence[tuple[str, SensitiveCategory]]:
    code = item.code.strip().upper()
    if system in _RANGE_TABLES:
        return _range_hits(system, code)
    hits = []
    for group in groups_for(system):
        if not group.holds(code):
            continue
        if group.needs_positive and item.result is not Result.POSITIVE:
            continue
        if group.germline_only and item.somatic:
            continue
        hits.append((group.id, group.category))
    return hits


def with_codes(
    decision: SensitiveDecision,
    evidence: CodedEvidence | None,
    thresholds: Mapping[SensitiveCategory, float],
    policy: SensitivePolicy,
) -> SensitiveDecision:
    """``decision`` (from the record's text) with the categories of its codes added: a category the codes
    put the record in scores at least :data:`STRONG_SCORE` (and never below its threshold); the action is
    the strictest again."""
    if evidence is None or not evidence.categories:
        return decision
    scores = {found.category: found.score for found in decision.found}
    limits = {c: thresholds.get(c, 0.5) for c in SensitiveCategory}
    for category in evidence.categories:
        scores[category] = max(scores.get(category, 0.0), STRONG_SCORE, limits[category])
    found = tuple(CategoryScore(c, s, policy.action_for(c)) for c, s in found_categories(scores, limits))
    if not found:
        return NOTHING_FOUND
    return SensitiveDecision(found, strictest([f.action for f in found]))
