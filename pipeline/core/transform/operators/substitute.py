"""Substitute: a fixed value in place of every value the rule covers (``value: REDACTED``)."""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action, ParamValue
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, Param


class SubstituteOperator(Operator):
    """Writes the rule's ``value``; a rule must give one, so free text (no parameters) cannot use it."""

    action = Action.SUBSTITUTE
    needs_type = False
    in_text = False
    opaque = True
    parameters = {"value": Param(str)}

    def check_values(self, values: Mapping[str, ParamValue], given: set[str]) -> list[str]:
        return [] if "value" in values else ["needs the text to write (value: ...)"]

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        replacement = ctx.params.get("value")
        return None if replacement is None else str(replacement)
