"""Audit events: what happened to each message, by whom, with counts and reasons, never a value.

Builders here return plain dicts matching ``schemas/audit_event.avsc`` minus the chain fields; the
caller appends them to an :class:`~pipeline.core.crypto.audit_chain.AuditChain`, which adds
``chain_id``, ``seq``, ``prev_hash``, ``hash`` and ``sig``. Event ids are derived from the message id
and event type, so a reprocessed message yields the same event id (consumers can spot duplicates).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_NAMESPACE = uuid.UUID("6b7c1f0e-3c55-4a8e-9a53-1f2d0c7e9b11")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_id(event_type: str, message_id: str) -> str:
    """``str(uuid.uuid5(namespace, "<event type>:<message id>"))``, built from the SHA-1 digest directly
    (RFC 4122 section 4.3: version 5 and the variant bits set), without the ``UUID`` object's cost."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + f"{event_type}:{message_id}".encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _base(
    event_type: str, actor: str, stage: str, outcome: str, message_id: str | None, time: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id(event_type, message_id) if message_id else str(uuid.uuid4()),
        "event_type": event_type,
        "time": time or utc_now_iso(),
        "actor": actor,
        "message_id": message_id,
        "schema": None,
        "source": None,
        "stage": stage,
        "outcome": outcome,
        "reason": None,
        "entity_counts": {},
        "action_counts": {},
        "details": {},
    }


def processed_event(
    *,
    actor: str,
    message_id: str,
    schema: str,
    source: str,
    entity_counts: Mapping[str, int],
    action_counts: Mapping[str, int],
    details: Mapping[str, str] | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """A message that left as a de-identified record (:func:`_base`'s fields, in its order, filled at once:
    one per message)."""
    return {
        "event_id": event_id("message_processed", message_id) if message_id else str(uuid.uuid4()),
        "event_type": "message_processed",
        "time": time or utc_now_iso(),
        "actor": actor,
        "message_id": message_id,
        "schema": schema,
        "source": source,
        "stage": "emit",
        "outcome": "ok",
        "reason": None,
        "entity_counts": dict(entity_counts),
        "action_counts": dict(action_counts),
        "details": dict(details or {}),
    }


SENSITIVE_DECISION = "sensitive_decision"


def sensitive_event(
    *,
    actor: str,
    message_id: str,
    schema: str,
    source: str,
    action: str,
    categories: Mapping[str, float],
    actions: Mapping[str, str],
    classifier: str,
    time: str | None = None,
) -> dict[str, Any]:
    """The policy's decision on a record with sensitive categories: the action taken (the outcome), each
    category with its score and its own action, and the classifier; names and numbers only, never text."""
    event = _base(SENSITIVE_DECISION, actor, "classify", action, message_id, time)
    event.update(schema=schema, source=source, action_counts={action: 1})
    event["details"] = {
        "classifier": classifier,
        **{f"category:{name}": f"{score:.4f} {actions[name]}" for name, score in categories.items()},
    }
    return event


def rejected_event(
    *,
    actor: str,
    message_id: str,
    stage: str,
    reason: str,
    source: str,
    schema: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """A message that left as a dead letter; the reason is a stable code, not the detail text."""
    event = _base("message_rejected", actor, stage, "deadletter", message_id, time)
    event.update(schema=schema, source=source, reason=reason)
    return event


def summary_event(
    *, actor: str, message_id: str, outcome: str, reason: str | None, phi_found: int, time: str | None = None
) -> dict[str, Any]:
    event = _base("summary", actor, "summarize", outcome, message_id, time)
    event.update(reason=reason, entity_counts={"PHI_IN_SUMMARY": phi_found})
    return event


REPLAYED = "deadletter_replayed"


def replay_event(
    *, actor: str, message_id: str, reason: str, letter: str, original: str, run_id: str
) -> dict[str, Any]:
    """A dead letter's original sent back to the input topic by ``deadletter replay``.

    ``letter`` is the dead letter's topic/partition/offset; ``original`` the keyed fingerprint of the
    original bytes (:func:`pipeline.core.replay.fingerprint`), which later runs skip; ``run_id`` names
    the replay run, so a deliberate second replay (``--again``) is an event of its own.
    """
    event = _base(REPLAYED, actor, "replay", "replayed", message_id, None)
    event.update(event_id=event_id(REPLAYED, f"{message_id}@{run_id}"), source=letter, reason=reason)
    event["details"] = {"run": run_id, "original": original}
    return event


#: What a reveal attempt's audit event records besides actor, outcome, reason and message id: names,
#: codes and key ids only (the reveal service's endpoint, how the caller authenticated, which API token id).
REVEAL_DETAILS = (
    "role", "phi_type", "purpose", "protected_kind", "key_id", "field_path", "endpoint", "auth", "credential",
)  # fmt: skip


def reveal_event(attempt: Mapping[str, Any]) -> dict[str, Any]:
    """The audit form of a reveal attempt (from :func:`pipeline.core.access.reveal.reveal`): who, which
    role, which type, what outcome, under which key; never the value or the API token."""
    event = _base(
        "reveal", attempt.get("actor") or "(unauthenticated)", "reveal", attempt["outcome"], None, attempt.get("time")
    )
    event["message_id"] = attempt.get("message_id")
    event["reason"] = attempt.get("reason")
    event["details"] = {name: str(attempt[name]) for name in REVEAL_DETAILS if attempt.get(name) is not None}
    return event
