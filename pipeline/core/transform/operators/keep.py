"""Keep: leave the value as it is (for types a policy deliberately allows, e.g. under a data-use agreement)."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator


class KeepOperator(Operator):
    """Returns the value unchanged; the span is still recorded so reviewers see what was kept."""

    action = Action.KEEP
    needs_type = False  # a keep rule may name a type, for the record

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return value
