"""Operator commands: ``audit verify``, ``deadletter replay`` and ``reveal``.

``audit verify`` reads the whole audit topic and checks every hash chain and signature, pointing at
the first bad event. ``deadletter replay`` opens the sealed original bytes of dead letters and sends
them back to the input topic (after a fix), exactly as they first arrived. ``reveal`` turns a token
or ciphertext back into its value for an authorized role, and writes an audit event for every
attempt, allowed or not.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import uuid
from pathlib import Path

from pipeline.config import Settings
from pipeline.core.audit import reveal_event
from pipeline.core.crypto.audit_chain import AuditChain, verify_chain
from pipeline.core.crypto.envelope import Encryptor, EnvelopeError
from pipeline.core.crypto.reveal import RevealPolicy, reveal
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.processing import audit_output
from pipeline.interfaces.components import load_keyring, load_schemas
from pipeline.interfaces.logs import configure_logging
from pipeline.stream.clients import Outgoing, consume, decode_output, produce


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
    replay.add_argument("--timeout", type=float, default=30.0)
    replay.set_defaults(func=_deadletter_replay)

    rev = subparsers.add_parser("reveal", help="reveal a token or ciphertext (authorized roles only; audited)")
    rev.add_argument("protected", help="a tok:... token or enc:... ciphertext")
    rev.add_argument("--type", required=True, dest="phi_type", help="its PHI type, e.g. MRN")
    rev.add_argument("--role", required=True)
    rev.add_argument("--policy", required=True, type=Path, help="role policy JSON file")
    rev.add_argument("--api-token-file", type=Path, help="file holding the API token (default: stdin)")
    rev.add_argument("--message-id", help="for ciphertexts: the record's message id")
    rev.add_argument("--field", help="for ciphertexts: the field path it was encrypted under")
    rev.set_defaults(func=_reveal)


def _settings() -> Settings:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return settings


def _audit_verify(args: argparse.Namespace) -> int:
    settings = _settings()
    keyring = load_keyring(settings)
    registry = load_schemas(settings)
    messages = asyncio.run(consume(settings, [settings.topic_audit], timeout=args.timeout, idle_timeout=3.0))
    # Each chain lives in one partition (keyed by chain id), so partition order is chain order.
    messages.sort(key=lambda m: (m.partition, m.offset))
    events = [decode_output(registry, m) for m in messages]
    report = verify_chain(events, keyring, allow_duplicates=args.allow_duplicates)
    print(report.summary())
    failure = report.first_failure
    if failure is not None:
        where = messages[failure.index]
        print(f"first bad event: partition {where.partition} offset {where.offset}: {failure.reason}", file=sys.stderr)
    return 0 if report.ok and events else 1


def _deadletter_replay(args: argparse.Namespace) -> int:
    settings = _settings()
    keyring = load_keyring(settings)
    registry = load_schemas(settings)
    encryptor = Encryptor(keyring)
    messages = asyncio.run(consume(settings, [settings.topic_deadletter], timeout=args.timeout, idle_timeout=3.0))
    outgoing: list[Outgoing] = []
    for message in messages:
        letter = decode_output(registry, message)
        mid = letter.get("message_id")
        if args.reason and letter.get("reason") not in args.reason:
            continue
        if args.message_id and mid not in args.message_id:
            continue
        try:
            value = encryptor.open_bytes(letter["sealed_value"], mid, context="deadletter/value")
            key = (
                encryptor.open_bytes(letter["sealed_key"], mid, context="deadletter/key")
                if letter["sealed_key"]
                else None
            )
            headers_json = encryptor.open_bytes(letter["sealed_headers"], mid, context="deadletter/headers")
        except (EnvelopeError, TypeError) as exc:
            print(
                f"skip {mid}: sealed bytes do not open ({getattr(exc, 'reason', type(exc).__name__)})", file=sys.stderr
            )
            continue
        headers = [(name, base64.b64decode(v)) for name, v in json.loads(headers_json)]
        print(f"{'would replay' if args.dry_run else 'replay'} {mid} ({letter['reason']}, {len(value)} bytes)")
        outgoing.append(Outgoing(key, value, headers))
    if not args.dry_run and outgoing:
        asyncio.run(produce(settings, settings.topic_ingest, outgoing))
    print(f"{len(outgoing)} dead letters {'selected' if args.dry_run else 'replayed to ' + settings.topic_ingest}")
    return 0


def _reveal(args: argparse.Namespace) -> int:
    settings = _settings()
    keyring = load_keyring(settings)
    registry = load_schemas(settings)
    policy = RevealPolicy.load(args.policy)
    api_token = (args.api_token_file.read_text() if args.api_token_file else sys.stdin.readline()).strip()
    result = reveal(
        args.protected,
        args.phi_type,
        api_token,
        args.role,
        policy,
        Tokenizer(keyring),
        Encryptor(keyring),
        args.message_id,
        args.field,
    )
    raw = result.audit_event
    chain = AuditChain(keyring, f"reveal/{settings.worker_id}/{uuid.uuid4().hex[:12]}")
    out = audit_output(keyring, registry.get("audit_event"), chain, reveal_event(raw))
    asyncio.run(produce(settings, settings.topic_audit, [Outgoing(out.key, out.value, out.headers)]))
    if not result.allowed:
        print(f"reveal refused: {raw['outcome']} ({raw.get('reason')}); the attempt was audited", file=sys.stderr)
        return 3
    print(result.value)
    return 0
