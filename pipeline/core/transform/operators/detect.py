"""Detect: not a replacement but a routing: the value is free text, and the detector finds its PHI."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action, ActionParams
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.errors import OperatorUnavailableError
from pipeline.core.transform.operators.base import Operator


class DetectOperator(Operator):
    """A rule or tag saying ``detect`` hands its value to the free-text detector; it names no type."""

    action = Action.DETECT
    needs_type = False
    in_text = False

    def validate(
        self, phi_type: PhiType | None, written: str | None = None, params: ActionParams | None = None
    ) -> str | None:
        if phi_type is not None:
            return f"'{written or self.action.value}' finds the types itself; drop {phi_type.value}"
        return None

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        raise OperatorUnavailableError("'detect' sends a value to the detector; it has no replacement of its own")
