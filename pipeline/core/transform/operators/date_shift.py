"""Date shift: move every date of a patient by the same keyed offset, so intervals between them survive."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator


class DateShiftOperator(Operator):
    """'03/14/1962' -> '05/02/1962' for an offset of +49 days, in the value's own format (the context's
    date codec: written text, HL7 ``DTM``, FHIR ``dateTime``)."""

    action = Action.DATE_SHIFT
    phi_types = frozenset({PhiType.DATE})

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        shifted = ctx.dates.shift(value, ctx.date_offset())
        return shifted if shifted != value else None

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        return ctx.dates.shift(value, ctx.date_offset())
