"""Generalize: keep what Safe Harbor allows (year of a date, ZIP3, '90+') and drop the rest."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from pipeline.core.generalize import GeneralizationError, age_bucket, zip3
from pipeline.core.phi_types import TRAITS, PhiType
from pipeline.core.transform.actions import Action, ActionParams, ParamValue
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.fhirpath_cases import apply_cases, cases_problem
from pipeline.core.transform.operators.base import Operator, Param

_DIGITS = re.compile(r"\d+")
GENERALIZABLE: frozenset[PhiType] = frozenset(t for t, traits in TRAITS.items() if traits.generalizable)


class GeneralizeOperator(Operator):
    """DATE -> its year, ZIP -> first three digits (or 000), AGE -> '90+'; None when the shape is unknown.

    With ``cases`` (Microsoft's generalize: a JSON list of ``[condition, result]`` FHIRPath expressions on
    ``$this``), the first case that holds gives the value, and ``other`` (redact or keep) says what happens
    to a value no case takes; such a rule may name any type."""

    action = Action.GENERALIZE
    phi_types = GENERALIZABLE
    parameters = {"cases": Param(str), "other": Param(str)}

    def validate(
        self, phi_type: PhiType | None, written: str | None = None, params: ActionParams | None = None
    ) -> str | None:
        if params is not None and params.get("cases"):
            return None
        return super().validate(phi_type, written, params)

    def check_values(self, values: Mapping[str, ParamValue], given: set[str]) -> list[str]:
        if str(values.get("other", "redact")) not in ("redact", "keep"):
            return ["other must be redact or keep"]
        if "cases" not in values:
            return ["other applies with cases only"] if "other" in values else []
        try:
            cases = _cases(str(values["cases"]))
        except ValueError:
            return ['cases must be a JSON list of ["condition", "result"] pairs']
        problem = cases_problem(cases)
        return [f"cases: {problem}"] if problem else []

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        if phi_type is PhiType.AGE:  # an age in prose ('92 y/o'): its number, or the bucket itself
            digits = _DIGITS.search(value)
            return _generalized(digits.group(0), phi_type, ctx) if digits else "90+"
        return _generalized(value, phi_type, ctx)

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        if not ctx.params.items:  # no parameters (nearly every rule): no cases to read
            return _generalized(value, phi_type, ctx)
        cases = ctx.params.get("cases")
        if cases:
            found = apply_cases(value, _cases(str(cases)))
            if found is None and ctx.params.get("other") == "keep":
                return value
            return found
        return _generalized(value, phi_type, ctx)


def _cases(text: str) -> list[tuple[str, str]]:
    pairs = json.loads(text)
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(e, str) for e in p) for p in pairs
    ):
        raise ValueError("not a list of pairs")
    return [(condition, result) for condition, result in pairs]


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
