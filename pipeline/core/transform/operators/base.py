"""The operator contract: a value and its type in, replacement text out (or None: 'cannot, redact it')."""

from __future__ import annotations

from typing import Protocol

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.context import TransformContext


class Operator(Protocol):
    """Returning None makes the engine fall back to a placeholder, so a value is never left in place."""

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None: ...


def placeholder(phi_type: PhiType) -> str:
    """The typed placeholder, e.g. ``[NAME]``."""
    return f"[{phi_type.value}]"
