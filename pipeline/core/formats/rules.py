"""What a policy says about the leaves of one format: per path, an action and a PHI type.

The formats read these; the policy (:mod:`pipeline.core.policy`) is built of them, with the free-text
actions, deny and allow lists and recognizers besides. Actions are the one vocabulary of
:class:`pipeline.core.transform.actions.Action`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import NO_PARAMS, Action, ActionParams

#: The formats' earlier name for :class:`Action` (the same enum).
RuleAction = Action


@dataclass(frozen=True, slots=True)
class Rule:
    """One path's action. ``value_types`` narrows an HL7 v2 rule on ``OBX-5`` to the value types (OBX-2)
    it applies to; ``line`` is where the rule was written (0 for rules made in code)."""

    action: Action
    phi_type: PhiType | None = None
    value_types: frozenset[str] = frozenset()
    line: int = 0
    #: The action's parameters (``mask``: ``keep_last``), checked by its operator at load.
    params: ActionParams = NO_PARAMS

    def describe(self) -> str:
        typed = f" {self.phi_type.value}" if self.phi_type else ""
        params = f" ({self.params.describe()})" if self.params else ""
        return f"{self.action.value}{typed}{params}"


@dataclass(frozen=True, slots=True)
class FormatRules:
    """The rules of one format, by path; ``unlisted`` is what happens to a segment (HL7 v2) the policy
    does not know at all: Z-segments, for example."""

    rules: Mapping[str, Rule] = field(default_factory=dict)
    unlisted: Action = Action.REDACT

    def get(self, path: str) -> Rule | None:
        return self.rules.get(path)
