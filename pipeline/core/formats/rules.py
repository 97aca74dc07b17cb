"""What a policy says about the leaves of one format: per path, an action and a PHI type.

The formats read these; the policy (:mod:`pipeline.core.policy`) is built of them, with the free-text
actions, deny and allow lists and recognizers besides. Actions are the one vocabulary of
:class:`pipeline.core.transform.actions.Action`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.core.rule import Rule
from pipeline.core.transform.actions import Action

__all__ = ["FormatRules", "Rule", "RuleAction"]

#: The formats' earlier name for :class:`Action` (the same enum).
RuleAction = Action


@dataclass(frozen=True, slots=True)
class FormatRules:
    """The rules of one format, by path; ``unlisted`` is what happens to a segment (HL7 v2) the policy
    does not know at all: Z-segments, for example."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    unlisted: Action = Action.REDACT

    def get(self, path: str) -> Rule | None:
        return self.rules.get(path)
