"""Redact: replace the value with its typed placeholder (free text), or remove it (a structured value).

A structured redaction may keep what Safe Harbor allows (Microsoft's partial redaction): a date's year
(``partial_dates``), an age under 90 (``partial_ages``), a ZIP code's first three digits with the rest
zeroed (``partial_zip``; ``00000`` for HHS's low-population areas and those in ``restricted_zip3``).
"""

from __future__ import annotations

from pipeline.core.generalize import LOW_POPULATION_ZIP3
from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, Param, placeholder


class RedactOperator(Operator):
    """``John Smith`` -> ``[NAME]``: the safest action and the default for any type without a policy."""

    action = Action.REDACT
    opaque = True
    parameters = {
        "partial_dates": Param(int, minimum=0, maximum=1),
        "partial_ages": Param(int, minimum=0, maximum=1),
        "partial_zip": Param(int, minimum=0, maximum=1),
        "restricted_zip3": Param(str),
    }

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return placeholder(phi_type)

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        params = ctx.params
        if phi_type is PhiType.DATE and params.get("partial_dates"):
            return ctx.dates.year(value)
        if phi_type is PhiType.AGE and params.get("partial_ages"):
            return value if value.strip().isdigit() and int(value) < 90 else None
        if phi_type is PhiType.ZIP and params.get("partial_zip"):
            digits = value.strip()
            if not digits.isdigit() or len(digits) < 3:
                return None
            listed = str(params.get("restricted_zip3") or "")
            restricted = {z.strip() for z in listed.split(",") if z.strip()} | LOW_POPULATION_ZIP3  # never fewer
            return "0" * len(digits) if digits[:3] in restricted else digits[:3] + "0" * (len(digits) - 3)
        return None
