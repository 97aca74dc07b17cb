"""Date shift: move every date of a patient by the same keyed offset, so intervals between them survive."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.dateparse import shift_date_text


class DateShiftOperator:
    """'03/14/1962' -> '05/02/1962' for an offset of +49 days, in the input's own format."""

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        shifted = shift_date_text(value, ctx.date_offset())
        return shifted if shifted != value else None
