"""Policies: which action applies to each PHI type in free text, and the checks that a policy makes sense."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pipeline.core.phi_types import PhiType
from pipeline.core.transform.actions import Action
from pipeline.core.transform.errors import PolicyError
from pipeline.core.transform.operators.generalize import GENERALIZABLE

#: Placeholders for every type: the safe default when a stream has no policy of its own.
DEFAULT_TEXT_POLICY: Mapping[PhiType, Action] = MappingProxyType(dict.fromkeys(PhiType, Action.REDACT))

_SHIFTABLE = frozenset({PhiType.DATE})


def validate_policy(policy: Mapping[PhiType, Action]) -> None:
    """Raise :class:`PolicyError` listing every type/action pair that cannot work together."""
    problems = []
    for phi_type, action in policy.items():
        if action is Action.SHIFT and phi_type not in _SHIFTABLE:
            problems.append(f"{phi_type.value}: 'shift' applies to DATE only")
        if action is Action.GENERALIZE and phi_type not in GENERALIZABLE:
            allowed = ", ".join(sorted(t.value for t in GENERALIZABLE))
            problems.append(f"{phi_type.value}: 'generalize' applies to {allowed} only")
    if problems:
        raise PolicyError("invalid text policy: " + "; ".join(problems))
