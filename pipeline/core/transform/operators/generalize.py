"""Generalize: keep what Safe Harbor allows (year of a date, ZIP3, '90+') and drop the rest."""

from __future__ import annotations

import re

from pipeline.core.generalize import GeneralizationError, age_bucket, zip3
from pipeline.core.phi_types import TRAITS, PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator

_DIGITS = re.compile(r"\d+")
GENERALIZABLE: frozenset[PhiType] = frozenset(t for t, traits in TRAITS.items() if traits.generalizable)


class GeneralizeOperator(Operator):
    """DATE -> its year, ZIP -> first three digits (or 000), AGE -> '90+'; None when the shape is unknown."""

    action = Action.GENERALIZE
    phi_types = GENERALIZABLE

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        if phi_type is PhiType.AGE:  # an age in prose ('92 y/o'): its number, or the bucket itself
            digits = _DIGITS.search(value)
            return _generalized(digits.group(0), phi_type, ctx) if digits else "90+"
        return _generalized(value, phi_type, ctx)

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return _generalized(value, phi_type, ctx)


def _generalized(value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
    try:
        if phi_type is PhiType.DATE:
            return ctx.dates.year(value)
        if phi_type is PhiType.ZIP:
            return zip3(value)
        if phi_type is PhiType.AGE:
            return age_bucket(value)
    except GeneralizationError:
        return None
    return None
