"""Policies: which action applies to each PHI type in free text, and the checks that a policy makes sense."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.errors import PolicyError
from pipeline.core.transform.operators import OPERATORS

#: Placeholders for every type: the safe default when a stream has no policy of its own.
DEFAULT_TEXT_POLICY: Mapping[PhiType, Action] = MappingProxyType(dict.fromkeys(PhiType, Action.REDACT))


def validate_policy(policy: Mapping[PhiType, Action]) -> None:
    """Raise :class:`PolicyError` listing every type/action pair that cannot work together (each
    operator of :data:`OPERATORS` says which types it accepts)."""
    problems = []
    for phi_type, action in policy.items():
        problem = OPERATORS[Action(action)].validate_text(phi_type)
        if problem:
            problems.append(f"{phi_type.value}: {problem}")
    if problems:
        raise PolicyError("invalid text policy: " + "; ".join(problems))
