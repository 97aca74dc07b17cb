"""One leaf's action under a policy: what to do to it, as what PHI type, with which parameters.

Its own module below the formats and :mod:`pipeline.core.structured` (both take it): the formats'
policies are made of these, and structured records' field policies make one per field.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import NO_PARAMS, Action, ActionParams


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
