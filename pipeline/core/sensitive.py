"""Sensitive categories: notes the law protects beyond Safe Harbor, and what the pipeline does with them.

Removing the 18 identifiers does not make every note shareable. A note-level classifier (the runtime
layer implements :class:`NoteClassifier`) scores each category; :class:`SensitivePolicy` maps each
category found to one action, and :func:`decide` turns a note's scores into the categories found and the
one action the record gets (the strictest of its categories'). The criteria for each category, with its
legal source, are in ``models/sensitive/CRITERIA.md``.

Pure: no model, no Kafka. A category name and an action are closed vocabularies, safe in metrics
labels and audit events; a score is a number; nothing here ever holds text from a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from pipeline.core.errors import ConfigError


class SensitiveCategory(StrEnum):
    """The categories the classifier scores (its label order is the order here)."""

    SUBSTANCE_USE = "substance_use"  # 42 CFR Part 2
    MENTAL_HEALTH = "mental_health"  # state mental-health confidentiality laws
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes"  # 45 CFR 164.501, 164.508(a)(2)
    HIV_STI = "hiv_sti"  # state HIV/STI confidentiality laws
    REPRODUCTIVE = "reproductive"  # 45 CFR 164.502(a)(5)(iii) (2024 reproductive health privacy rule)
    GENETIC = "genetic"  # GINA; 45 CFR 160.103, 164.502(a)(5)(i)


class SensitiveAction(StrEnum):
    """What happens to a record with a category found, from the mildest to the strictest.

    - ``pass``: the record flows as usual; its categories are listed on it;
    - ``drop_summary``: the record flows, but no summary is written from it;
    - ``withhold_text``: the free-text fields are withheld (null); structured fields still flow (no summary,
      as there is no text to summarize);
    - ``restrict``: the whole de-identified record goes to the restricted topic instead (``phi.restricted``).
    """

    PASS = "pass"  # noqa: S105 (an action, not a password)
    DROP_SUMMARY = "drop_summary"
    WITHHOLD_TEXT = "withhold_text"
    RESTRICT = "restrict"


#: Strictness order: a record with several categories gets the strictest of their actions.
STRICTNESS: tuple[SensitiveAction, ...] = tuple(SensitiveAction)
#: The action of a record with no category found.
NO_CATEGORY = SensitiveAction.PASS


class UnknownCategoryError(ConfigError):
    """A policy or a model names a category this pipeline does not know."""

    reason = "unknown-sensitive-category"


def parse_category(name: str) -> SensitiveCategory:
    try:
        return SensitiveCategory(name.strip().lower())
    except ValueError:
        known = ", ".join(c.value for c in SensitiveCategory)
        raise UnknownCategoryError(f"unknown sensitive category {name!r}; known: {known}") from None


def parse_action(name: str) -> SensitiveAction:
    try:
        return SensitiveAction(name.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(a.value for a in SensitiveAction)
        raise ConfigError(f"unknown sensitive-category action {name!r}; known: {known}") from None


#: The default policy: the strictest handling where federal law forbids redisclosure without consent
#: (Part 2 records, psychotherapy notes), the text withheld where state laws and the 2024 rule limit
#: disclosure (HIV/STI, reproductive health care, genetic information), and no generated summary of
#: mental health notes.
DEFAULT_ACTIONS: Mapping[SensitiveCategory, SensitiveAction] = {
    SensitiveCategory.SUBSTANCE_USE: SensitiveAction.RESTRICT,
    SensitiveCategory.MENTAL_HEALTH: SensitiveAction.DROP_SUMMARY,
    SensitiveCategory.PSYCHOTHERAPY_NOTES: SensitiveAction.RESTRICT,
    SensitiveCategory.HIV_STI: SensitiveAction.WITHHOLD_TEXT,
    SensitiveCategory.REPRODUCTIVE: SensitiveAction.WITHHOLD_TEXT,
    SensitiveCategory.GENETIC: SensitiveAction.WITHHOLD_TEXT,
}


@dataclass(frozen=True)
class SensitivePolicy:
    """Per category, one action. Small on purpose: a policy file maps onto it one key per category.

    Every category has an action (the defaults fill what is not given), so no category found is ever
    left without a decision.
    """

    actions: Mapping[SensitiveCategory, SensitiveAction] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", {**DEFAULT_ACTIONS, **dict(self.actions)})

    @classmethod
    def parse(cls, text: str) -> SensitivePolicy:
        """``category=action`` pairs, comma-separated (``substance_use=restrict,genetic=pass``); categories
        not named keep their default."""
        actions: dict[SensitiveCategory, SensitiveAction] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, action = part.partition("=")
            if not sep:
                raise ConfigError(f"{part!r} is not category=action")
            category = parse_category(name)
            if category in actions:
                raise ConfigError(f"category {category.value!r} is given twice")
            actions[category] = parse_action(action)
        return cls(actions)

    def action_for(self, category: SensitiveCategory) -> SensitiveAction:
        return self.actions[category]

    def describe(self) -> str:
        """The policy in the form :meth:`parse` reads (so settings passed to a child process round-trip)."""
        return ",".join(f"{c.value}={self.actions[c].value}" for c in SensitiveCategory)

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """One category found in a record, its score and the action its policy gives it."""

    category: SensitiveCategory
    score: float
    action: SensitiveAction

    def as_record(self) -> dict[str, object]:
        return {"category": self.category.value, "score": round(float(self.score), 4), "action": self.action.value}


@dataclass(frozen=True, slots=True)
class SensitiveDecision:
    """A record's categories (those at or above their thresholds, highest score first) and its action."""

    found: tuple[CategoryScore, ...]
    action: SensitiveAction

    @property
    def categories(self) -> tuple[SensitiveCategory, ...]:
        return tuple(c.category for c in self.found)


NOTHING_FOUND = SensitiveDecision((), NO_CATEGORY)


@runtime_checkable
class NoteClassifier(Protocol):
    """A note-level multi-label classifier: per text, a score in [0, 1] for every category it knows, and
    the threshold at or above which a category counts as found. The runtime layer implements it."""

    name: str
    thresholds: Mapping[SensitiveCategory, float]

    def classify_batch(self, texts: Sequence[str]) -> list[dict[SensitiveCategory, float]]: ...

    def describe(self) -> str:
        """The model in use, for the start-up log (a folder, file and hash; never text)."""
        ...


def strictest(actions: Sequence[SensitiveAction]) -> SensitiveAction:
    return max(actions, key=STRICTNESS.index, default=NO_CATEGORY)


def found_categories(
    scores: Mapping[SensitiveCategory, float], thresholds: Mapping[SensitiveCategory, float]
) -> list[tuple[SensitiveCategory, float]]:
    """Categories at or above their threshold, highest score first (ties in category order)."""
    hits = [(c, float(s)) for c, s in scores.items() if c in thresholds and float(s) >= thresholds[c]]
    order = list(SensitiveCategory)
    return sorted(hits, key=lambda hit: (-hit[1], order.index(hit[0])))


def decide(
    scores_per_text: Sequence[Mapping[SensitiveCategory, float]],
    thresholds: Mapping[SensitiveCategory, float],
    policy: SensitivePolicy,
) -> SensitiveDecision:
    """One record's decision from the scores of each of its free-text fields: a category's score is its
    highest over the fields; the record's action is the strictest among the categories found."""
    merged: dict[SensitiveCategory, float] = {}
    for scores in scores_per_text:
        for category, score in scores.items():
            merged[category] = max(merged.get(category, 0.0), float(score))
    found = tuple(CategoryScore(c, s, policy.action_for(c)) for c, s in found_categories(merged, thresholds))
    if not found:
        return NOTHING_FOUND
    return SensitiveDecision(found, strictest([f.action for f in found]))
