"""``phi-pipeline redact`` (HL7 v2, FHIR R4 or JSONL records, outside Kafka) and ``phi-pipeline policy check``.

``redact`` runs each input through the worker's own processing path (the same verification, policy,
detection, transformation and output checks), so a file de-identifies exactly as the stream would:
every input is signed with the keyring's ingest key, processed in batches, and its de-identified form
written to standard output; an input that cannot be processed is reported on stderr by its number and
reason (never its content) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.integrity import signed_headers
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.core.formats.framing import split_hl7
from pipeline.core.policy import Format, load_policy
from pipeline.core.policy.avro import check_avro_rules
from pipeline.core.policy.detector import PolicyDetector
from pipeline.core.processing import InboundMessage, RecordProcessor
from pipeline.core.roles import Outcome
from pipeline.interfaces import policy_explain

FORMATS = ("hl7v2", "fhir", "jsonl")


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.interfaces.detect_commands import _model_options

    redact = subparsers.add_parser("redact", help="de-identify HL7 v2, FHIR R4 or JSONL records from a file (no Kafka)")
    redact.add_argument("--format", required=True, choices=FORMATS, dest="input_format")
    redact.add_argument("--policy", type=Path, help="policy file (default PHI_POLICY_PATH, else the Safe Harbor one)")
    redact.add_argument(
        "--ephemeral-keys",
        action="store_true",
        help="use a throwaway keyring instead of PHI_KEYRING_PATH (tokens then differ on every run)",
    )
    redact.add_argument(
        "input",
        nargs="?",
        default="-",
        help="HL7 v2: a message at each MSH (blank lines, CR or MLLP frames between them; FHS/BHS batch whole); "
        "FHIR: one resource or Bundle per line, or one JSON "
        "document; JSONL: one record of PHI_INPUT_SCHEMA per line; - for standard input (default)",
    )
    _model_options(redact)
    redact.set_defaults(func=run_redact)

    policy = subparsers.add_parser("policy", help="check a policy file, or explain it on a sample message")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a policy file: every problem with its line, exit 2 if any")
    check.add_argument("file", type=Path)
    check.set_defaults(func=run_policy_check)
    policy_explain.register(actions)


def run_policy_check(args: argparse.Namespace) -> int:
    policy = load_policy(args.file)  # PolicyFileError (exit 2) lists every problem with its line
    counts = ", ".join(f"{fmt.value} {len(policy.rules(fmt).rules)} rules" for fmt in Format)
    extra = (
        f"deny lists {len(policy.deny)}, allow terms/patterns {len(policy.allow.terms) + len(policy.allow.patterns)}"
    )
    print(f"policy {args.file}: ok ({counts}; {extra}; recognizers {len(policy.recognizers)})")
    return 0


def split_inputs(text: str, input_format: str) -> list[str]:
    """The messages in a file: HL7 v2 split at every MSH segment, whatever separates the messages (blank
    lines, one carriage return, MLLP frames), a file or batch (FHS/BHS) whole; FHIR one JSON document or
    one per line; JSONL one per line."""
    if input_format == "hl7v2":
        return split_hl7(text)
    if input_format == "fhir" and text.strip().startswith("{"):
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return [text.strip()]
    return [line for line in text.splitlines() if line.strip()]


def _keyring(args: argparse.Namespace) -> Keyring:
    if args.ephemeral_keys:
        return Keyring.generate()
    from pipeline.interfaces.components import load_keyring, load_settings

    return load_keyring(load_settings())


def run_redact(args: argparse.Namespace) -> int:
    from pipeline.config import Settings
    from pipeline.interfaces.components import load_schemas
    from pipeline.interfaces.detect_commands import _build

    settings = Settings.from_env()
    keyring = _keyring(args)
    policy = load_policy(args.policy or settings.policy_path)
    detector = _build(args)
    registry = load_schemas(settings)
    check_avro_rules(policy, registry)
    processor = RecordProcessor(
        registry=registry,
        keyring=keyring,
        detector=PolicyDetector(detector, policy) if policy.changes_detection else detector,
        worker_id="redact-cli",
        max_message_bytes=settings.max_message_bytes,
        default_schema=settings.input_schema,
        policy=policy,
        max_text_chars=settings.max_text_chars,
        detect_budget_seconds=settings.detect_budget_seconds,
    )
    try:
        raw = sys.stdin.buffer.read() if args.input == "-" else Path(args.input).read_bytes()
    except OSError as exc:
        print(f"redact: cannot read {args.input}: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        print("redact: the input is not UTF-8", file=sys.stderr)
        return 2
    schema = {"hl7v2": FORMAT_HL7V2, "fhir": FORMAT_FHIR, "jsonl": settings.input_schema}[args.input_format]
    failed = 0
    for number, result, out in _process(processor, keyring, split_inputs(text, args.input_format), schema, args):
        if result.outcome is not Outcome.OK:
            failed += 1
            print(f"redact: input {number}: {result.reason} (stage {result.stage})", file=sys.stderr)
            continue
        sys.stdout.write(out)
    return 1 if failed else 0


def _process(
    processor: RecordProcessor, keyring: Keyring, inputs: list[str], schema: str, args: argparse.Namespace
) -> Iterator[tuple[int, object, str]]:
    size = max(1, args.batch_size)
    for first in range(0, len(inputs), size):
        batch = []
        for offset, item in enumerate(inputs[first : first + size], start=first):
            value = item.encode("utf-8")
            headers = tuple(
                signed_headers(keyring, f"redact-{offset + 1}", None, value, schema, KeyPurpose.INGEST_HMAC)
            )
            batch.append(InboundMessage(value, None, headers, "redact-input", 0, offset))
        for offset, result in enumerate(processor.process_batch(batch), start=first):
            out = ""
            if result.outcome is Outcome.OK:
                out = _render(processor, result.outputs[0], args.input_format)
            yield offset + 1, result, out


def _render(processor: RecordProcessor, output: object, input_format: str) -> str:
    value: bytes = output.value  # type: ignore[attr-defined]
    if input_format == "hl7v2":  # segments end with a carriage return, as HL7 v2 requires
        return value.decode("utf-8")
    if input_format == "fhir":
        return value.decode("utf-8") + "\n"
    schema = dict(output.headers)["phi-schema"].decode("utf-8")  # type: ignore[attr-defined]
    record = decode_avro(processor.registry.get(schema), value)
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"
