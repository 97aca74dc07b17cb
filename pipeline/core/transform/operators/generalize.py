"""Generalize: keep what Safe Harbor allows (year of a date, ZIP3, '90+') and drop the rest."""

from __future__ import annotations

import re

from pipeline.core.generalize import GeneralizationError, age_bucket, zip3
from pipeline.core.phi_types import PhiType
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.dateparse import year_of

_DIGITS = re.compile(r"\d+")
GENERALIZABLE: frozenset[PhiType] = frozenset({PhiType.DATE, PhiType.ZIP, PhiType.AGE})


class GeneralizeOperator:
    """DATE -> its year, ZIP -> first three digits (or 000), AGE -> '90+'; None when the shape is unknown."""

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        try:
            if phi_type is PhiType.DATE:
                return year_of(value)
            if phi_type is PhiType.ZIP:
                return zip3(value)
            if phi_type is PhiType.AGE:
                digits = _DIGITS.search(value)
                return age_bucket(digits.group(0)) if digits else "90+"
        except GeneralizationError:
            return None
        return None
