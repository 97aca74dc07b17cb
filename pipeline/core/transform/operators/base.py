"""The operator contract: each operator names its action, the PHI types it accepts, and checks a pairing.

``apply`` turns a value found in free text into its replacement (None: "cannot", the engine writes a
placeholder, so a value is never left in place); ``protect`` does the same for a structured value,
where None removes the value (a null, an emptied field).
"""

from __future__ import annotations

from typing import ClassVar

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext


class Operator:
    """One action. Subclasses set ``action`` and, where it is narrower than every type, ``phi_types``."""

    action: ClassVar[Action]
    #: The PHI types the action applies to (None: any type).
    phi_types: ClassVar[frozenset[PhiType] | None] = None
    #: A rule with this action names the PHI type of its values (``redact NAME``).
    needs_type: ClassVar[bool] = True
    #: The action can be the free-text policy's answer for a type found in text.
    in_text: ClassVar[bool] = True
    #: Nothing of the value can be read from the output (redact, tokenize, encrypt); any other action may
    #: show part of it (a year), so Safe Harbor's 90+ rule takes over for the oldest patients' dates.
    opaque: ClassVar[bool] = False

    def validate(self, phi_type: PhiType | None, written: str | None = None) -> str | None:
        """What is wrong with this action on ``phi_type`` (None: nothing); ``written`` is the action as the
        policy spelled it, quoted back in the message."""
        name = written or self.action.value
        if phi_type is None:
            return f"'{name}' needs a PHI type ('{name} NAME')" if self.needs_type else None
        if self.phi_types is not None and phi_type not in self.phi_types:
            allowed = ", ".join(sorted(t.value for t in self.phi_types))
            return f"'{name}' applies to {allowed} only, not {phi_type.value}"
        return None

    def validate_text(self, phi_type: PhiType, written: str | None = None) -> str | None:
        """What is wrong with this action as the free-text policy's answer for ``phi_type``."""
        if not self.in_text:
            return f"'{written or self.action.value}' is not an action for values found in free text"
        return self.validate(phi_type, written)

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        raise NotImplementedError

    def protect(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        """A structured value's protected form (None: remove it); the free-text form unless overridden."""
        return self.apply(value, phi_type, ctx)


def placeholder(phi_type: PhiType) -> str:
    """The typed placeholder, e.g. ``[NAME]``."""
    return f"[{phi_type.value}]"
