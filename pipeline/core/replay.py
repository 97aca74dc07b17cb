"""Which dead letters a replay sends back: the selection behind ``phi-pipeline deadletter replay``.

Replay is idempotent. Every replayed original is recorded in the audit topic (a
``deadletter_replayed`` event carrying the original's fingerprint), and a later run skips dead letters
whose original was replayed before. Without that, each run also replayed the dead letters that earlier
replays produced (the same originals, rejected again), doubling them run after run. ``again`` replays
such originals once more, for a second attempt after another fix. Within one run an original is
replayed once, however many dead letters carry it (at-least-once delivery can write a letter twice).

The fingerprint identifies the original bytes, not the message id (a message that failed verification
may get a different derived id each time it is rejected)::

    v1:<dead-letter key id>:<base64 HMAC-SHA256(key, "phi-pipeline/replay/v1" || key || value || headers)>

each part length-prefixed as in :mod:`pipeline.core.crypto.integrity`. It is keyed, so the audit topic
gains no digest of PHI that could be checked against guesses. A letter is compared under every
dead-letter key that a recorded fingerprint names, so a key rotation between runs changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pipeline.core.crypto.encoding import b64
from pipeline.core.crypto.keyring import Key

Where = TypeVar("Where")
FINGERPRINT_VERSION = "v1"
_DOMAIN = b"phi-pipeline/replay/v1"
_FIELD = struct.Struct(">BQ")


def _field(data: bytes | None) -> bytes:
    return _FIELD.pack(0, 0) if data is None else _FIELD.pack(1, len(data)) + data


def fingerprint(key: Key, record_key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> str:
    """The keyed fingerprint of an original message (module docstring)."""
    header_bytes = json.dumps([[name, b64(data)] for name, data in headers]).encode("utf-8")
    material = b"".join((_field(_DOMAIN), _field(record_key), _field(value), _field(header_bytes)))
    tag = hmac.new(key.material, material, hashlib.sha256).digest()
    return f"{FINGERPRINT_VERSION}:{key.key_id}:{b64(tag)}"


def fingerprint_key_ids(recorded: Iterable[str]) -> set[str]:
    """The key ids that recorded fingerprints were made with (malformed ones are ignored)."""
    found = set()
    for text in recorded:
        parts = text.split(":") if isinstance(text, str) else []
        if len(parts) == 3 and parts[0] == FINGERPRINT_VERSION and parts[1]:
            found.add(parts[1])
    return found


@dataclass(frozen=True, slots=True)
class ReplayCandidate(Generic[Where]):
    """A dead letter whose original opened: where it was read, the letter, and its fingerprints under
    each dead-letter key considered (``record`` is the one under the current key, to be recorded)."""

    where: Where
    letter: Mapping[str, Any]
    fingerprints: frozenset[str]
    record: str


@dataclass
class ReplayPlan(Generic[Where]):
    """The letters to replay, in the order read, and what was left out."""

    selected: list[ReplayCandidate[Where]] = field(default_factory=list)
    replayed_before: int = 0  # letters whose original an earlier run replayed
    repeated: int = 0  # further letters of an original already selected in this run


def matches(letter: Mapping[str, Any], reasons: Collection[str] | None, message_ids: Collection[str] | None) -> bool:
    """The ``--reason`` / ``--message-id`` filters (each empty or None: no filter)."""
    return (not reasons or letter.get("reason") in reasons) and (
        not message_ids or letter.get("message_id") in message_ids
    )


def plan_replay(
    candidates: Iterable[ReplayCandidate[Where]], replayed: Collection[str], *, again: bool = False
) -> ReplayPlan[Where]:
    """Select candidates (in topic order) given the fingerprints recorded by earlier replays."""
    plan: ReplayPlan[Where] = ReplayPlan()
    chosen: set[str] = set()
    for candidate in candidates:
        if candidate.fingerprints & chosen:
            plan.repeated += 1
        elif not again and not candidate.fingerprints.isdisjoint(replayed):
            plan.replayed_before += 1
        else:
            chosen |= candidate.fingerprints
            plan.selected.append(candidate)
    return plan
