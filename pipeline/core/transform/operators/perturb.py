"""Perturb: numeric noise within a fixed range (``range: 5``) or a ratio of the value (``ratio: 0.1``).

The noise is keyed (HMAC of the patient key and the value), so reprocessing a message gives the same
output. Ages of 90 or more become ``90+`` (Safe Harbor), and a perturbed age stays within 0..89.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action, ParamValue
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, Param

_NUMBER = re.compile(r"-?\d+(?:\.(\d+))?")
_OLDEST = 89


class PerturbOperator(Operator):
    """``72`` -> ``70`` (range 5); ``12.5`` -> ``13.1`` (ratio 0.1). An age or an untyped measurement."""

    action = Action.PERTURB
    phi_types = frozenset({PhiType.AGE})
    needs_type = False
    parameters = {
        "range": Param(float, minimum=0.0),
        "ratio": Param(float, minimum=0.0, maximum=1.0),
        "round_to": Param(int, minimum=0, maximum=10),
    }

    def check_values(self, values: Mapping[str, ParamValue], given: set[str]) -> list[str]:
        if "range" in values and "ratio" in values:
            return ["give range or ratio, not both"]
        if not values.get("range") and not values.get("ratio") and ({"range", "ratio"} & given):
            return ["a range or ratio of 0 would leave the value as it is"]
        return []

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        match = _NUMBER.search(value)
        if match is None:
            return None
        replaced = self._number(match.group(0), match.group(1), phi_type, ctx)
        return value[: match.start()] + replaced + value[match.end() :]

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        match = _NUMBER.fullmatch(value.strip())
        return self._number(match.group(0), match.group(1), phi_type, ctx) if match else None

    def _number(self, text: str, decimals: str | None, phi_type: PhiType, ctx: TransformContext) -> str:
        number = float(text)
        if phi_type is PhiType.AGE and number > _OLDEST:
            return "90+"
        ratio = ctx.params.get("ratio")
        span = abs(number) * float(ratio) if ratio is not None else float(self.param(ctx, "range") or 2.0)
        places = ctx.params.get("round_to")
        places = int(places) if places is not None else len(decimals or "")
        unit = 10.0**-places
        fraction = int.from_bytes(ctx.digest("perturb", phi_type.value, text)[:8], "big") / 2.0**64
        noisy = round(number + (2.0 * fraction - 1.0) * span, places)
        if noisy == round(number, places) and span >= unit:  # noise smaller than the rounding: one unit off
            noisy += unit if fraction >= 0.5 else -unit
        if number >= 0:
            noisy = max(noisy, 0.0)
        if phi_type is PhiType.AGE:
            noisy = min(noisy, float(_OLDEST))
        return f"{noisy:.{places}f}"
