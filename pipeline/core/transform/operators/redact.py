"""Redact: replace the value with its typed placeholder."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import placeholder


class RedactOperator:
    """``John Smith`` -> ``[NAME]``: the safest action and the default for any type without a policy."""

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return placeholder(phi_type)
