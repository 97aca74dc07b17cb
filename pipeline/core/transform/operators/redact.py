"""Redact: replace the value with its typed placeholder (free text), or remove it (a structured value)."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, placeholder


class RedactOperator(Operator):
    """``John Smith`` -> ``[NAME]``: the safest action and the default for any type without a policy."""

    action = Action.REDACT
    opaque = True

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return placeholder(phi_type)

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return None
