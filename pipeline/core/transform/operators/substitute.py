"""Substitute: a fixed value in place of every value the rule covers (``value: REDACTED``), or, on a FHIR
complex element, a fixed element (``element``: its JSON, Microsoft's object ``replaceWith``)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action, ParamValue
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, Param


class SubstituteOperator(Operator):
    """Writes the rule's ``value``; a rule must give one (or, for a FHIR element, ``element``), so free
    text (no parameters) cannot use it."""

    action = Action.SUBSTITUTE
    needs_type = False
    in_text = False
    opaque = True
    parameters = {"value": Param(str), "element": Param(str)}

    def check_values(self, values: Mapping[str, ParamValue], given: set[str]) -> list[str]:
        if "value" in values and "element" in values:
            return ["takes value (a text) or element (a FHIR element as JSON), not both"]
        if "element" in values:
            try:
                element = json.loads(str(values["element"]))
            except ValueError:
                element = None
            return [] if isinstance(element, dict) else ["element must be a JSON object (a FHIR element)"]
        return [] if "value" in values else ["needs the text to write (value: ...)"]

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        replacement = ctx.params.get("value")  # an element rule on a single value: nothing to write, removed
        return None if replacement is None else str(replacement)
