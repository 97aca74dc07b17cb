"""Find a note's evidence for each sensitive category: vocabulary terms and ICD-10-CM codes in context.

:func:`find_evidence` reads a text once (token look-ups through one index of every phrase, see
:mod:`pipeline.core.token_match`) and returns a :class:`NoteEvidence`: per category, the ids of the
terms found affirmed for the patient (strong and weak apart), and how many were dropped as negated, a
relative's, a negative screen or inside an exclusion. Ids are vocabulary names, never note text.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from pipeline.core.sensitive import SensitiveCategory
from pipeline.core.sensitive_evidence import shorthand
from pipeline.core.sensitive_evidence.codes import codes_in_text
from pipeline.core.sensitive_evidence.context import (
    Tokens,
    answered_no,
    looks_like_nursing_note,
    negated,
    negative_result,
    relative_owns,
    screened,
    tokenize,
)
from pipeline.core.sensitive_evidence.vocabulary import EXCLUSIONS, TERMS, Strength, Term
from pipeline.core.token_match import SequenceIndex

#: Categories whose screening questions (``screened for depression``) are no finding; an HIV or STI test
#: counts whatever its result, and a genetic screen is a genetic test.
SCREENED = frozenset({SensitiveCategory.MENTAL_HEALTH, SensitiveCategory.SUBSTANCE_USE, SensitiveCategory.REPRODUCTIVE})
#: Categories whose weak terms listed in the patient's past history (``PMH: etoh``, ``h/o anxiety``) are a
#: diagnosis of the patient's own, hence strong.
HISTORY_PROMOTES = frozenset({SensitiveCategory.MENTAL_HEALTH, SensitiveCategory.SUBSTANCE_USE})


@dataclass
class CategoryEvidence:
    """What a note says for one category: ids of affirmed strong and weak terms, and the dropped ones."""

    strong: set[str] = field(default_factory=set)
    weak: set[str] = field(default_factory=set)
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    @property
    def any(self) -> bool:
        return bool(self.strong or self.weak)


@dataclass
class NoteEvidence:
    """Per category, the evidence of one text (or of several texts merged), and whether the text reads as a
    nursing or ICU progress note."""

    categories: dict[SensitiveCategory, CategoryEvidence] = field(
        default_factory=lambda: {c: CategoryEvidence() for c in SensitiveCategory}
    )
    nursing_note: bool = False

    def __getitem__(self, category: SensitiveCategory) -> CategoryEvidence:
        return self.categories[category]

    def merge(self, other: NoteEvidence) -> None:
        for category, evidence in other.categories.items():
            mine = self.categories[category]
            mine.strong |= evidence.strong
            mine.weak |= evidence.weak
            for why, count in evidence.dropped.items():
                mine.dropped[why] = mine.dropped.get(why, 0) + count
        self.nursing_note = self.nursing_note or other.nursing_note

    def as_record(self) -> dict[str, object]:
        """For explanations: per category with any evidence, the term ids (sorted) and drop counts."""
        return {
            c.value: {"strong": sorted(e.strong), "weak": sorted(e.weak), "dropped": dict(sorted(e.dropped.items()))}
            for c, e in self.categories.items()
            if e.strong or e.weak or e.dropped
        }


@dataclass(frozen=True, slots=True)
class _Exclusion:
    category: SensitiveCategory


@cache
def _index() -> SequenceIndex[Term | _Exclusion]:
    index: SequenceIndex[Term | _Exclusion] = SequenceIndex()
    for term in TERMS:
        for phrase in term.phrases:
            index.add(tuple(phrase.split()), term)
    for category, phrases in EXCLUSIONS.items():
        for phrase in phrases:
            index.add(tuple(phrase.split()), _Exclusion(category))
    return index


def find_evidence(text: str) -> NoteEvidence:
    """The evidence of one text."""
    evidence = NoteEvidence(nursing_note=looks_like_nursing_note(text))
    tokens = tokenize(text)
    hits = list(_index().matches(tokens.words))
    excluded = _excluded_positions(hits)
    for first, length, label in _longest(hits):
        _judge(evidence[label.category], label, tokens, first, length, excluded)
    for offset, code, categories in codes_in_text(text):
        for category in categories:
            _affirm(evidence[category], tokens, offset, f"icd10.{code}", Strength.STRONG)
    for offset, name, strength in shorthand.shorthand_in_text(text):
        _affirm(evidence[shorthand.CATEGORY], tokens, offset, name, strength)
    return evidence


def _affirm(target: CategoryEvidence, tokens: Tokens, offset: int, name: str, strength: Strength) -> None:
    """A pattern's evidence (code or shorthand) at ``offset``, unless negated or a relative's."""
    first = _token_at(tokens, offset)
    if first is not None and (negated(tokens, first) or relative_owns(tokens, first)):
        target.drop("negated-or-relative")
    elif strength is Strength.STRONG:
        target.strong.add(name)
    else:
        target.weak.add(name)


def _longest(hits: list[tuple[int, int, Term | _Exclusion]]) -> list[tuple[int, int, Term]]:
    """Term hits not inside a longer hit of the same category (``pregnancy`` inside ``pregnancy test``): one
    sweep per category over the hits sorted by start, longest first."""
    terms = sorted(
        ((first, length, label) for first, length, label in hits if isinstance(label, Term)),
        key=lambda hit: (hit[2].category.value, hit[0], -hit[1]),
    )
    kept: list[tuple[int, int, Term]] = []
    category, reach, reach_span = None, -1, (-1, -1)
    for first, length, term in terms:
        if term.category is not category:
            category, reach, reach_span = term.category, -1, (-1, -1)
        end = first + length
        if reach >= end and reach_span != (first, end):
            continue
        kept.append((first, length, term))
        if end > reach:
            reach, reach_span = end, (first, end)
    return kept


def _excluded_positions(hits: Iterable[tuple[int, int, Term | _Exclusion]]) -> set[tuple[SensitiveCategory, int]]:
    return {
        (label.category, position)
        for first, length, label in hits
        if isinstance(label, _Exclusion)
        for position in range(first, first + length)
    }


def _judge(
    target: CategoryEvidence,
    term: Term,
    tokens: Tokens,
    first: int,
    length: int,
    excluded: set[tuple[SensitiveCategory, int]],
) -> None:
    if any((term.category, p) in excluded for p in range(first, first + length)):
        target.drop("exclusion")
    elif negated(tokens, first) or (term.category in SCREENED and answered_no(tokens, first, length)):
        target.drop("negated")
    elif relative_owns(tokens, first):
        target.drop("relative")
    elif term.result_negates and (negative_result(tokens, first, length) or _negative_before(tokens, first)):
        target.drop("negative-result")
    elif term.category in SCREENED and screened(tokens, first):
        target.drop("screening")
    elif term.strength is Strength.STRONG:
        target.strong.add(term.id)
    elif term.category in HISTORY_PROMOTES and tokens.history[first]:
        target.strong.add(term.id + ".history")
    else:
        target.weak.add(term.id)


def _negative_before(tokens: Tokens, first: int) -> bool:
    """``negative pregnancy test``: a result written before the test (only tests whose negative result is no
    evidence ask)."""
    return (
        first > 0
        and tokens.words[first - 1] in {"negative", "neg"}
        and tokens.clause[first - 1] == tokens.clause[first]
    )


def _token_at(tokens: Tokens, offset: int) -> int | None:
    position = bisect_left(tokens.starts, offset)
    return position if position < len(tokens.starts) else None
