"""Operator commands: ``audit verify`` and ``deadletter replay`` (``reveal`` is a client of the reveal
service: :mod:`pipeline.interfaces.reveal_commands`).

``audit verify`` reads the whole audit topic and checks every hash chain and signature, pointing at
the first bad event. ``deadletter replay`` opens the sealed original bytes of dead letters and sends
them back to the input topic (after a fix), exactly as they first arrived, once per message id: each
replay is recorded in the audit topic and later runs skip what was replayed before.

Both reading tools read to the end offsets their topics had when they started (or fail), and believe
only records that carry the pipeline's egress signature: anything else is reported and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import uuid
from typing import Any

from pipeline.core.audit import REPLAYED, replay_event
from pipeline.core.crypto.audit_chain import AuditChain, verify_chain
from pipeline.core.crypto.envelope import Encryptor, EnvelopeError
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, KeyringError
from pipeline.core.messages import AUDIT_SCHEMA, DEADLETTER_SCHEMA, audit_output
from pipeline.core.replay import ReplayCandidate, fingerprint, fingerprint_key_ids, matches, plan_replay
from pipeline.core.schemas import SchemaRegistry
from pipeline.interfaces.components import load_keyring, load_settings
from pipeline.runtime.assembly import load_schemas
from pipeline.stream.clients import Consumed, Outgoing, produce
from pipeline.stream.reading import TopicRead, UntrustedRecordError, decode_trusted, read_to_end


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="audit trail tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="{verify}")
    verify = audit_sub.add_parser("verify", help="check every audit chain: gaps, reordering, edits, signatures")
    verify.add_argument("--timeout", type=float, default=30.0, help="seconds to read the topic (default 30)")
    verify.add_argument("--allow-duplicates", action="store_true", help="accept exact re-deliveries")
    verify.set_defaults(func=_audit_verify)

    dead = subparsers.add_parser("deadletter", help="dead-letter tools")
    dead_sub = dead.add_subparsers(dest="deadletter_command", required=True, metavar="{replay}")
    replay = dead_sub.add_parser("replay", help="decrypt dead letters and send the originals to the input topic")
    replay.add_argument("--reason", action="append", help="only dead letters with this reason (repeatable)")
    replay.add_argument("--message-id", action="append", help="only this message id (repeatable)")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed, send nothing")
    replay.add_argument(
        "--again", action="store_true", help="also replay message ids replayed before (once each, for a second attempt)"
    )
    replay.add_argument("--timeout", type=float, default=30.0)
    replay.set_defaults(func=_deadletter_replay)


def _trusted(
    keyring: Keyring, registry: SchemaRegistry, schema_name: str, messages: list[Consumed]
) -> tuple[list[Consumed], list[dict[str, Any]], int]:
    """The records that carry the pipeline's egress signature and decode, in order; the rest are
    reported on stderr (where, and why; never their content) and counted."""
    kept: list[Consumed] = []
    decoded: list[dict[str, Any]] = []
    skipped = 0
    for message in messages:
        try:
            decoded.append(decode_trusted(keyring, registry, schema_name, message))
        except UntrustedRecordError as exc:
            print(f"skipped {exc}", file=sys.stderr)
            skipped += 1
            continue
        kept.append(message)
    return kept, decoded, skipped


def _incomplete(read: TopicRead) -> bool:
    """Say so, on stderr, when a read stopped before the end offsets captured at its start."""
    for line in read.describe_short():
        print(f"incomplete read: {line}; raise --timeout or check the broker", file=sys.stderr)
    return not read.complete


def _audit_verify(args: argparse.Namespace) -> int:
    settings = load_settings()
    keyring = load_keyring(settings)
    registry = load_schemas(settings)
    read = asyncio.run(read_to_end(settings, [settings.topic_audit], timeout=args.timeout, idle_timeout=3.0))
    # Each chain lives in one partition (keyed by chain id), so partition order is chain order.
    ordered = sorted(read.messages, key=lambda m: (m.partition, m.offset))
    messages, events, skipped = _trusted(keyring, registry, AUDIT_SCHEMA, ordered)
    report = verify_chain(events, keyring, allow_duplicates=args.allow_duplicates)
    lines = report.summary().splitlines()
    incomplete = _incomplete(read)
    if incomplete:
        lines[-1] = "audit chains NOT verified: the read stopped before the end of the topic (see stderr)"
    print("\n".join(lines))
    if skipped:
        print(f"{skipped} record(s) skipped: not written by the pipeline, or altered (see stderr)")
    failure = report.first_failure
    if failure is not None:
        where = messages[failure.index]
        print(f"first bad event: partition {where.partition} offset {where.offset}: {failure.reason}", file=sys.stderr)
    return 0 if report.ok and events and not incomplete else 1


def _open_letter(encryptor: Encryptor, letter: dict[str, Any]) -> Outgoing | str:
    """The original message sealed in a dead letter, or why it cannot be replayed."""
    mid = letter["message_id"]

    def sealed(part: str) -> bytes | None:
        text = letter[f"sealed_{part}"]
        return None if text is None else encryptor.open_bytes(text, mid, context=f"deadletter/{part}")

    if letter["sealed_value"] is None:
        return (
            "its original was not copied into the dead letter (too large); it stays at "
            f"{letter['source_topic']}/{letter['source_partition']}/{letter['source_offset']} until retention"
        )
    try:
        value, key, header_list = sealed("value"), sealed("key"), json.loads(sealed("headers") or b"[]")
        headers = [(str(name), base64.b64decode(v, validate=True)) for name, v in header_list]
    except EnvelopeError as exc:
        return f"sealed bytes do not open ({exc.reason})"
    except (ValueError, TypeError):  # sealed headers that are not the [[name, base64], ...] list
        return "sealed headers are not a list of [name, base64] pairs"
    return Outgoing(key, value, headers)


def _deadletter_replay(args: argparse.Namespace) -> int:
    settings = load_settings()
    keyring = load_keyring(settings)
    registry = load_schemas(settings)
    encryptor = Encryptor(keyring)
    topics = [settings.topic_deadletter, settings.topic_audit]
    read = asyncio.run(read_to_end(settings, topics, timeout=args.timeout, idle_timeout=3.0))
    if _incomplete(read):  # a replay that has not seen every earlier replay could replay twice
        print("nothing replayed: the dead-letter and audit topics were not read to their ends", file=sys.stderr)
        return 1
    on = {topic: [m for m in read.messages if m.topic == topic] for topic in topics}
    letter_messages, letters, skipped = _trusted(keyring, registry, DEADLETTER_SCHEMA, on[settings.topic_deadletter])
    _, audit_events, audit_skipped = _trusted(keyring, registry, AUDIT_SCHEMA, on[settings.topic_audit])
    skipped += audit_skipped
    replayed = {e["details"].get("original", "") for e in audit_events if e["event_type"] == REPLAYED}
    current = keyring.current(KeyPurpose.DEADLETTER)
    keys = [current]
    for key_id in sorted(fingerprint_key_ids(replayed) - {current.key_id}):
        try:
            keys.append(keyring.get(key_id, KeyPurpose.DEADLETTER))
        except KeyringError:  # retired or gone: its records cannot be compared any more
            print(f"warning: earlier replays were recorded under key {key_id}, not usable here", file=sys.stderr)
    candidates: list[ReplayCandidate[tuple[Consumed, Outgoing]]] = []
    for where, letter in zip(letter_messages, letters, strict=True):
        if not matches(letter, args.reason, args.message_id):
            continue
        opened = _open_letter(encryptor, letter)
        if isinstance(opened, str):
            print(f"skip {letter['message_id']}: {opened}", file=sys.stderr)
            continue
        prints = {k.key_id: fingerprint(k, opened.key, opened.value, opened.headers) for k in keys}
        candidates.append(ReplayCandidate((where, opened), letter, frozenset(prints.values()), prints[current.key_id]))
    plan = plan_replay(candidates, replayed, again=args.again)
    run_id = uuid.uuid4().hex[:12]
    events: list[dict[str, Any]] = []
    for candidate in plan.selected:
        letter, (where, original) = candidate.letter, candidate.where
        verb = "would replay" if args.dry_run else "replay"
        print(f"{verb} {letter['message_id']} ({letter['reason']}, {len(original.value or b'')} bytes)")
        event = replay_event(
            actor=settings.worker_id,
            message_id=letter["message_id"],
            reason=letter["reason"],
            letter=f"{where.topic}/{where.partition}/{where.offset}",
            original=candidate.record,
            run_id=run_id,
        )
        events.append(event)
    if not args.dry_run and plan.selected:
        asyncio.run(produce(settings, settings.topic_ingest, [c.where[1] for c in plan.selected]))
        # Recorded after the originals are acknowledged (at-least-once): a crash in between means the
        # next run replays them again, under the same message ids, never that they are lost.
        chain = AuditChain(keyring, f"replay/{settings.worker_id}/{run_id}")
        schema = registry.get(AUDIT_SCHEMA)
        audits = [audit_output(keyring, schema, chain, event) for event in events]
        asyncio.run(produce(settings, settings.topic_audit, [Outgoing(a.key, a.value, a.headers) for a in audits]))
    done = "selected" if args.dry_run else "replayed to " + settings.topic_ingest
    print(f"{len(plan.selected)} dead letters {done}")
    if plan.replayed_before:
        print(f"{plan.replayed_before} dead letters skipped: their original was replayed before (--again: once more)")
    if skipped:
        print(f"{skipped} record(s) skipped: not written by the pipeline, or altered (see stderr)")
    return 0
