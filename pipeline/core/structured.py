"""Protect the tagged fields of a decoded record, one policy per field, as the schema says.

Structured fields are protected whole (a field is PHI or it is not); free text goes through the
detector instead. Each protected field yields a :class:`Transformation` naming the field, type and
action, never the value, for the de-identified record and the audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipeline.core.errors import RejectedMessage
from pipeline.core.generalize import GeneralizationError, age_bucket, year_only, zip3
from pipeline.core.phi_types import PhiType
from pipeline.core.schemas import SchemaEntry

STAGE = "protect"

TokenizeFn = Callable[[str, PhiType], str]
EncryptFn = Callable[[str, str, str, PhiType], str]  # value, message id, field path, type


@dataclass(frozen=True, slots=True)
class Transformation:
    """One protected value: which field, what type, which action; offsets only for free text."""

    field: str
    phi_type: str
    action: str
    start: int | None = None
    end: int | None = None
    detector: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "phi_type": self.phi_type,
            "action": self.action,
            "start": self.start,
            "end": self.end,
            "detector": self.detector,
        }


_GENERALIZERS: dict[PhiType, Callable[[Any], str]] = {
    PhiType.DATE: year_only,
    PhiType.ZIP: zip3,
    PhiType.AGE: age_bucket,
}


def protect_fields(
    entry: SchemaEntry,
    record: dict[str, Any],
    message_id: str,
    tokenize: TokenizeFn,
    encrypt: EncryptFn,
) -> tuple[dict[str, Any], list[Transformation]]:
    """The record with every tagged structured field protected; free-text fields are left for the detector."""
    out = dict(record)
    done: list[Transformation] = []
    for policy in entry.policies:
        if policy.is_free_text or policy.phi_type is None:
            continue
        value = record.get(policy.name)
        if value is None:
            continue
        text = str(value)
        phi_type, action = policy.phi_type, policy.action
        if action == "redact":
            out[policy.name] = None
        elif action == "tokenize":
            out[policy.name] = tokenize(text, phi_type)
        elif action == "encrypt":
            out[policy.name] = encrypt(text, message_id, policy.name, phi_type)
        elif action == "generalize":
            try:
                out[policy.name] = _GENERALIZERS[phi_type](text)
            except GeneralizationError as exc:
                raise RejectedMessage("invalid-field", STAGE, f"field {policy.name!r}: {exc}") from None
        else:  # keep: allowed by the schema's author, recorded so the choice is visible in the audit trail
            out[policy.name] = text
        done.append(Transformation(policy.name, phi_type.value, action))
    return out, done
