"""Mask: every letter and digit replaced by a mask character, the last N kept (``***-**-6789``)."""

from __future__ import annotations

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator, Param


class MaskOperator(Operator):
    """Letters and digits masked, separators and length kept; ``keep_last`` letters or digits at the end
    stay readable. A value with no more than ``keep_last`` of them is masked whole, so some of it is
    always hidden."""

    action = Action.MASK
    parameters = {"keep_last": Param(int, 0, minimum=0, maximum=64), "char": Param(str, "*", length=1)}

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        keep = int(self.param(ctx, "keep_last") or 0)
        char = str(self.param(ctx, "char"))
        maskable = [i for i, c in enumerate(value) if c.isalnum()]
        if not maskable:
            return None
        hidden = set(maskable[: len(maskable) - keep] if keep < len(maskable) else maskable)
        return "".join(char if i in hidden else c for i, c in enumerate(value))
