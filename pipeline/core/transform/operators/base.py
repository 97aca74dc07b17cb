"""The operator contract: each operator names its action, the PHI types it accepts, and checks a pairing.

``apply`` turns a value found in free text into its replacement (None: "cannot", the engine writes a
placeholder, so a value is never left in place); ``protect`` does the same for a structured value,
where None removes the value (a null, an emptied field).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action, ActionParams, ParamValue
from pipeline.core.transform.context import TransformContext


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter an operator takes: its kind (``int``, ``float``, ``str``), its default (None:
    required) and the smallest number or the exact length it allows."""

    kind: type
    default: ParamValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    length: int | None = None

    def convert(self, name: str, raw: object) -> tuple[ParamValue | None, str | None]:
        """The value in its kind, or a problem naming what was expected."""
        if isinstance(raw, bool) or isinstance(raw, (dict, list)):
            return None, f"{name} must be {self._expected()}"
        try:
            value: ParamValue = self.kind(raw)
        except (TypeError, ValueError):
            return None, f"{name} must be {self._expected()}, not {raw!r}"
        if self.kind is int and isinstance(raw, float) and raw != int(raw):
            return None, f"{name} must be {self._expected()}, not {raw!r}"
        if isinstance(value, (int, float)):
            if self.minimum is not None and value < self.minimum:
                return None, f"{name} must be at least {self.minimum:g}, not {value}"
            if self.maximum is not None and value > self.maximum:
                return None, f"{name} must be at most {self.maximum:g}, not {value}"
        if self.length is not None and len(str(value)) != self.length:
            return None, f"{name} must be {self.length} character{'s' if self.length != 1 else ''}, not {raw!r}"
        return value, None

    def _expected(self) -> str:
        return {int: "a whole number", float: "a number", str: "text"}.get(self.kind, self.kind.__name__)


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
    #: The parameters the action takes (``mask``: ``keep_last``, ``char``), checked at load.
    parameters: ClassVar[Mapping[str, Param]] = {}

    def check_params(self, raw: Mapping[str, object], written: str | None = None) -> tuple[ActionParams, list[str]]:
        """The parameters converted and completed with their defaults, and every problem with them."""
        name = written or self.action.value
        problems = []
        values: dict[str, ParamValue] = {}
        for key in sorted(set(raw) - set(self.parameters)):
            takes = ", ".join(self.parameters) or "no parameters"
            problems.append(f"'{name}' has no parameter {key!r} (it takes {takes})")
        for key, spec in self.parameters.items():
            if key in raw:
                value, problem = spec.convert(key, raw[key])
                if problem:
                    problems.append(f"'{name}': {problem}")
                elif value is not None:
                    values[key] = value
            elif spec.default is not None:
                values[key] = spec.default
        if not problems:
            problems.extend(f"'{name}': {p}" for p in self.check_values(values, set(raw)))
        return ActionParams.of(values), problems

    def check_values(self, values: Mapping[str, ParamValue], given: set[str]) -> list[str]:
        """Problems across parameters (two that exclude each other, a required one missing)."""
        return []

    def param(self, ctx: TransformContext, name: str) -> ParamValue | None:
        """The context's value for ``name``, or the declared default (free text carries no parameters)."""
        value = ctx.params.get(name)
        return self.parameters[name].default if value is None else value

    def validate(
        self, phi_type: PhiType | None, written: str | None = None, params: ActionParams | None = None
    ) -> str | None:
        """What is wrong with this action on ``phi_type`` (None: nothing); ``written`` is the action as the
        policy spelled it, quoted back in the message; ``params`` may widen the types (generalize's cases)."""
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
