"""Tamper-evident audit trail: each event carries the hash of the one before it and a signature.

Why: HIPAA's audit-control safeguard needs records that cannot be quietly edited, dropped or
reordered. A hash chain makes any edit break every later link; a per-chain sequence number makes a drop
or reordering visible; an HMAC with the AUDIT key stops someone who can write the topic from forging a
whole new consistent chain.

One chain per writer (for example ``<worker>-<partition>``). :meth:`AuditChain.append` adds to the
event dict (treated as opaque JSON data, never needing a PHI value)::

    chain_id   the chain's id
    seq        0, 1, 2, ... per chain
    prev_hash  the previous event's ``hash``; GENESIS_HASH ("0" * 64) at seq 0
    hash       hex SHA-256 of the canonical JSON of the event without ``hash`` and ``sig``
    sig        "v1:<audit-key-id>:<base64 HMAC-SHA256(AUDIT key, "phi-pipeline/audit/v1" 0x00 hash)>"

Canonical JSON: keys sorted, no whitespace, UTF-8 (not ASCII-escaped), NaN and Infinity refused. A
chain resumes after a restart from its last ``(seq, hash)``. Resume only from the last event actually
in the audit topic (or start a new chain id per process incarnation): resuming from a stale position
writes a second event with an existing seq, which :func:`verify_chain` reports as a ``duplicate`` fork.

:func:`verify_chain` reads events in topic order, groups them by ``chain_id`` and reports, per chain,
the first bad event with one of these reasons: ``malformed``, ``edited`` (hash does not match
content), ``bad-signature``, ``unknown-key``, ``retired-key``, ``broken-link`` (``prev_hash`` is not the
previous event's hash), ``gap`` (a seq is missing), ``reordering`` (a missing seq turns up later),
``duplicate`` (a seq seen before). A chain cannot show that events after its last one were dropped;
compare the last seq with the writer's own record for that.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.core.crypto.encoding import b64, decode_b64
from pipeline.core.crypto.keyring import (
    KeyPurpose,
    Keyring,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
)
from pipeline.core.errors import PipelineError

GENESIS_HASH = "0" * 64
SIGNATURE_VERSION = "v1"
CHAIN_FIELDS = ("chain_id", "seq", "prev_hash", "hash", "sig")
_CHAIN_FIELD_SET = frozenset(CHAIN_FIELDS)
_SIG_DOMAIN = b"phi-pipeline/audit/v1\x00"
_HASH_RE = re.compile(r"^[0-9a-f]{64}$")

# Stable reason codes reported by verify_chain.
MALFORMED = "malformed"
EDITED = "edited"
BAD_SIGNATURE = "bad-signature"
UNKNOWN_KEY = "unknown-key"
RETIRED_KEY = "retired-key"
BROKEN_LINK = "broken-link"
GAP = "gap"
REORDERING = "reordering"
DUPLICATE = "duplicate"


class AuditChainError(PipelineError):
    """An event cannot be appended (reserved field present, not JSON-serializable) or bad resume state."""


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8; the exact bytes that are hashed."""
    return _CANONICAL.encode(obj).encode("utf-8")


#: ``json.dumps`` with these options, made once (``dumps`` builds an encoder per call for any option).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(event: Mapping[str, Any]) -> str:
    """Hex SHA-256 of an event's canonical JSON, leaving out its own ``hash`` and ``sig``."""
    body = {k: v for k, v in event.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def _sig_mac(material: bytes, hash_hex: str) -> bytes:
    return hmac.new(material, _SIG_DOMAIN + hash_hex.encode("ascii"), hashlib.sha256).digest()


class AuditChain:
    """Appends events to one chain. Thread-safe: appends are serialized so seq never repeats.

    ``last_seq``/``last_hash`` resume a chain after a restart (both or neither); without them the
    chain starts at seq 0 from :data:`GENESIS_HASH`.
    """

    def __init__(
        self, keyring: Keyring, chain_id: str, last_seq: int | None = None, last_hash: str | None = None
    ) -> None:
        if not isinstance(chain_id, str) or not chain_id:
            raise AuditChainError("chain_id must be a non-empty string, for example '<worker>-<partition>'")
        if (last_seq is None) != (last_hash is None):
            raise AuditChainError("to resume a chain give both last_seq and last_hash (from its last event)")
        if last_seq is not None:
            if not isinstance(last_seq, int) or isinstance(last_seq, bool) or last_seq < 0:
                raise AuditChainError("last_seq must be a non-negative integer")
            if not isinstance(last_hash, str) or not _HASH_RE.match(last_hash):
                raise AuditChainError("last_hash must be the 64-character hex hash of the chain's last event")
        self._keyring = keyring
        self._chain_id = chain_id
        self._next_seq = 0 if last_seq is None else last_seq + 1
        self._prev_hash = GENESIS_HASH if last_hash is None else last_hash
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, keyring: Keyring, last_event: Mapping[str, Any]) -> AuditChain:
        """Continue the chain whose last written event is ``last_event`` (read back from the topic)."""
        try:
            return cls(keyring, last_event["chain_id"], last_event["seq"], last_event["hash"])
        except KeyError as exc:
            raise AuditChainError(f"cannot resume: last event lacks the {exc.args[0]!r} field") from None

    def __repr__(self) -> str:
        return f"AuditChain(chain_id={self._chain_id!r}, next_seq={self._next_seq})"

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def position(self) -> tuple[int | None, str]:
        """``(last_seq, last_hash)`` to persist for resuming; ``(None, GENESIS_HASH)`` when empty."""
        with self._lock:
            return (self._next_seq - 1 if self._next_seq else None, self._prev_hash)

    def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The event with ``chain_id``, ``seq``, ``prev_hash``, ``hash`` and ``sig`` added.

        The result is a fresh JSON-normal dict (tuples become lists): exactly what will be hashed
        again when it is read back. The chain advances only if this returns.
        """
        if type(event) is not dict and not isinstance(event, Mapping):
            raise AuditChainError("an audit event must be a dict")
        if not _CHAIN_FIELD_SET.isdisjoint(event):
            reserved = sorted(set(event) & _CHAIN_FIELD_SET)
            raise AuditChainError(f"audit event already has chain field(s) {', '.join(reserved)}; the chain sets them")
        signing_key = self._keyring.current(KeyPurpose.AUDIT)
        with self._lock:
            body = dict(event)
            body.update(chain_id=self._chain_id, seq=self._next_seq, prev_hash=self._prev_hash)
            try:
                encoded = canonical_json(body)
            except (TypeError, ValueError) as exc:
                raise AuditChainError(
                    f"audit event is not JSON-serializable ({type(exc).__name__}); use str, numbers, bools, "
                    "None, lists and dicts with string keys"
                ) from None
            # Canonical JSON is a fixed point: re-encoding the parsed form gives the same bytes, so the
            # hash of ``encoded`` is what a verifier recomputes from the event read back. An event of plain
            # values (the builders' events) is its own parsed form: copied, not parsed again.
            body = _plain_copy(body) or json.loads(encoded)
            digest = hashlib.sha256(encoded).hexdigest()
            tag = b64(_sig_mac(signing_key.material, digest))
            body["hash"] = digest
            body["sig"] = f"{SIGNATURE_VERSION}:{signing_key.key_id}:{tag}"
            self._next_seq += 1
            self._prev_hash = digest
            return body


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_copy(event: dict[str, Any]) -> dict[str, Any] | None:
    """A copy equal to ``json.loads(canonical_json(event))`` when the event holds only plain scalars and
    flat dicts of them under string keys (exact types: no subclass, no tuple); None otherwise."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        kind = type(value)
        if type(key) is not str:
            return None
        if kind in _SCALARS:
            out[key] = value
        elif kind is dict:
            for inner_key, inner in value.items():
                if type(inner_key) is not str or type(inner) not in _SCALARS:
                    return None
            out[key] = dict(value)
        else:
            return None
    return out


class PartitionChains:
    """One writer's chains, one per input partition: ``<prefix>/p<partition>``.

    A chain's events must reach the topic in the order they were chained, so each writer (an agent of
    one worker incarnation) owns its chains and sends their events in the order it appended them; two
    writers that send from separate coroutines must never share a chain. Give each a distinct ``prefix``.
    """

    def __init__(self, keyring: Keyring, prefix: str) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise AuditChainError("a chain prefix must be a non-empty string, for example '<worker>/<run>/<agent>'")
        self._keyring = keyring
        self._prefix = prefix
        self._chains: dict[int, AuditChain] = {}
        self._lock = threading.Lock()

    @property
    def prefix(self) -> str:
        return self._prefix

    def get(self, partition: int) -> AuditChain:
        """The chain for ``partition``, created at seq 0 on first use."""
        with self._lock:
            chain = self._chains.get(partition)
            if chain is None:
                chain = self._chains[partition] = AuditChain(self._keyring, f"{self._prefix}/p{partition}")
            return chain


@dataclass(frozen=True, slots=True)
class ChainFailure:
    """The first bad event of a chain: its position in the input (0-based), its seq and why."""

    chain_id: str | None
    index: int
    seq: int | None
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"chain {self.chain_id!r}: event #{self.index} (seq {self.seq}): {self.reason}: {self.detail}"


@dataclass(slots=True)
class ChainStatus:
    """What was found on one chain."""

    chain_id: str
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    failure: ChainFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(slots=True)
class ChainReport:
    """All chains seen, plus events that belong to no chain (no usable ``chain_id``)."""

    chains: dict[str, ChainStatus] = field(default_factory=dict)
    unchained: list[ChainFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unchained and all(c.ok for c in self.chains.values())

    @property
    def failures(self) -> list[ChainFailure]:
        """Every chain's first failure, plus unchained events, in input order."""
        found = [c.failure for c in self.chains.values() if c.failure is not None] + self.unchained
        return sorted(found, key=lambda f: f.index)

    @property
    def first_failure(self) -> ChainFailure | None:
        failures = self.failures
        return failures[0] if failures else None

    def summary(self) -> str:
        """Human-readable lines for ``phi-pipeline audit verify``."""
        lines = []
        for c in sorted(self.chains.values(), key=lambda c: c.chain_id):
            state = "ok" if c.ok else f"FAILED at {c.failure}"
            lines.append(f"chain {c.chain_id!r}: {c.events} events, seq {c.first_seq}..{c.last_seq}: {state}")
        lines.extend(f"FAILED: {f}" for f in self.unchained)
        lines.append("audit chains verified" if self.ok else f"{len(self.failures)} chain failure(s)")
        return "\n".join(lines)


def _check_signature(event: Mapping[str, Any], keyring: Keyring) -> tuple[str, str] | None:
    sig = event["sig"]
    parts = sig.split(":")
    if len(parts) != 3 or parts[0] != SIGNATURE_VERSION:
        return BAD_SIGNATURE, "sig is not v1:<key-id>:<base64>"
    key_id, tag_text = parts[1], parts[2]
    try:
        key = keyring.get(key_id, KeyPurpose.AUDIT)
    except WrongKeyPurposeError:
        return BAD_SIGNATURE, "sig names a key that is not an audit key"
    except RetiredKeyError:
        return RETIRED_KEY, f"sig was made with retired key {key_id}"
    except UnknownKeyError as exc:
        return UNKNOWN_KEY, str(exc)
    try:
        tag = decode_b64(tag_text, "sig MAC")
    except ValueError as exc:
        return BAD_SIGNATURE, str(exc)
    if not hmac.compare_digest(_sig_mac(key.material, event["hash"]), tag):
        return BAD_SIGNATURE, f"sig does not match the event hash under key {key.key_id}"
    return None


def _structure_problem(event: Mapping[str, Any]) -> str | None:
    missing = [f for f in CHAIN_FIELDS if f not in event]
    if missing:
        return f"lacks chain field(s) {', '.join(missing)}"
    seq = event["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "seq is not a non-negative integer"
    for name in ("prev_hash", "hash"):
        value = event[name]
        if not isinstance(value, str) or not _HASH_RE.match(value):
            return f"{name} is not a 64-character lowercase hex hash"
    if not isinstance(event["sig"], str):
        return "sig is not a string"
    return None


def _verify_one_chain(
    status: ChainStatus,
    items: list[tuple[int, Mapping[str, Any]]],
    keyring: Keyring,
    require_genesis: bool,
    allow_duplicates: bool,
) -> None:
    chain_id = status.chain_id
    later_seqs = [ev.get("seq") for _, ev in items]
    expected: int | None = 0 if require_genesis else None
    prev_hash = GENESIS_HASH
    seen: dict[int, str] = {}

    def fail(index: int, seq: object, reason: str, detail: str) -> None:
        status.failure = ChainFailure(chain_id, index, seq if isinstance(seq, int) else None, reason, detail)

    for position, (index, event) in enumerate(items):
        status.events += 1
        if status.failure is not None:
            continue
        problem = _structure_problem(event)
        if problem:
            fail(index, event.get("seq"), MALFORMED, problem)
            continue
        seq = event["seq"]
        try:
            recomputed = event_hash(event)
        except (TypeError, ValueError, UnicodeEncodeError):
            fail(index, seq, MALFORMED, "event is not canonical-JSON serializable")
            continue
        if not hmac.compare_digest(recomputed, event["hash"]):
            fail(index, seq, EDITED, "content does not match its hash: the event was changed after it was written")
            continue
        bad_sig = _check_signature(event, keyring)
        if bad_sig:
            fail(index, seq, *bad_sig)
            continue
        if expected is None:  # starting mid-chain: trust the first event's link as the anchor
            expected, prev_hash = seq, event["prev_hash"]
        if seq == expected:
            if event["prev_hash"] != prev_hash:
                fail(index, seq, BROKEN_LINK, f"prev_hash is not the hash of seq {seq - 1}")
                continue
            seen[seq] = event["hash"]
            prev_hash = event["hash"]
            expected += 1
            if status.first_seq is None:
                status.first_seq = seq
            status.last_seq, status.last_hash = seq, event["hash"]
        elif seq < expected:
            if seq in seen:
                if seen[seq] == event["hash"]:
                    if allow_duplicates:
                        continue
                    fail(index, seq, DUPLICATE, f"seq {seq} appears again (an exact re-delivery)")
                else:
                    fail(index, seq, DUPLICATE, f"seq {seq} appears again with other content (a forked chain)")
            else:
                fail(index, seq, REORDERING, f"seq {seq} arrives after seq {expected - 1}")
        else:
            missing = range(expected, seq)
            if any(s in missing for s in later_seqs[position + 1 :] if isinstance(s, int)):
                fail(index, seq, REORDERING, f"seq {seq} arrives before seq {expected}")
            else:
                fail(index, seq, GAP, f"seq {expected}..{seq - 1} missing before seq {seq}")


def verify_chain(
    events: Iterable[Mapping[str, Any]],
    keyring: Keyring,
    *,
    require_genesis: bool = True,
    allow_duplicates: bool = False,
) -> ChainReport:
    """Check every chain in ``events`` (in topic order) and report the first bad event of each.

    ``require_genesis=False`` accepts chains whose first event is not seq 0 (older events expired from
    the topic), trusting that first event as the anchor. ``allow_duplicates=True`` skips exact
    re-deliveries (same seq and hash), which at-least-once producers can cause.
    """
    report = ChainReport()
    grouped: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, event in enumerate(events):
        chain_id = event.get("chain_id") if isinstance(event, Mapping) else None
        if not isinstance(chain_id, str) or not chain_id:
            report.unchained.append(ChainFailure(None, index, None, MALFORMED, "event has no usable chain_id"))
            continue
        grouped.setdefault(chain_id, []).append((index, event))
    for chain_id, items in grouped.items():
        status = report.chains[chain_id] = ChainStatus(chain_id)
        _verify_one_chain(status, items, keyring, require_genesis, allow_duplicates)
    return report
