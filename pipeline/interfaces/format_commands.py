"""``phi-pipeline redact`` (HL7 v2, FHIR R4 or JSONL records, outside Kafka) and ``phi-pipeline policy check``.

``redact`` runs each input through the worker's own :class:`~pipeline.core.deidentify.Deidentifier`
(the same policy, detection, transformation and output checks, built by the same assembly), so a file
de-identifies exactly as the stream would, in batches, without the message envelope (no signing, no
Kafka); its de-identified form is written to standard output; an input that cannot be processed is
reported on stderr by its number and reason (never its content) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.deidentify import Deidentified, Deidentifier
from pipeline.core.errors import ConfigError, RejectedMessage
from pipeline.core.formats.framing import split_hl7
from pipeline.core.formats.names import BY_CLI
from pipeline.core.policy import Format, load_policy
from pipeline.interfaces import policy_explain, policy_import

FORMATS = tuple(BY_CLI)


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.interfaces.detect_commands import model_options

    redact = subparsers.add_parser("redact", help="de-identify HL7 v2, FHIR R4 or JSONL records from a file (no Kafka)")
    redact.add_argument("--format", required=True, choices=FORMATS, dest="input_format")
    redact.add_argument("--policy", type=Path, help="policy file (default PHI_POLICY_PATH, else the Safe Harbor one)")
    redact.add_argument(
        "--ephemeral-keys",
        action="store_true",
        help="use a throwaway keyring instead of PHI_KEYRING_PATH (tokens then differ on every run)",
    )
    redact.add_argument("-o", "--output", default="-", help="where to write the records (default standard output)")
    redact.add_argument(
        "input",
        nargs="?",
        default="-",
        help="HL7 v2: a message at each MSH (blank lines, CR or MLLP frames between them; FHS/BHS batch whole); "
        "FHIR: one resource or Bundle per line, or one JSON "
        "document; JSONL: one record of PHI_INPUT_SCHEMA per line; - for standard input (default)",
    )
    model_options(redact)
    redact.set_defaults(func=run_redact)

    policy = subparsers.add_parser("policy", help="check a policy file, or explain it on a sample message")
    actions = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a policy file: every problem with its line, exit 2 if any")
    check.add_argument("file", type=Path)
    check.set_defaults(func=run_policy_check)
    policy_explain.register(actions)
    policy_import.register(actions)


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

    settings = load_settings()
    if settings.keyring_path is None and not settings.keyring:
        raise ConfigError(
            "no keyring configured: set PHI_KEYRING_PATH to a keyring file (create one with `phi-pipeline keys "
            "init --path keyring.json`), or pass --ephemeral-keys for throwaway keys (tokens differ on every run)"
        )
    return load_keyring(settings)


def run_redact(args: argparse.Namespace) -> int:
    from pipeline.config import Settings
    from pipeline.interfaces.detect_commands import build_detector_from_args
    from pipeline.runtime.assembly import build_deidentifier

    settings = Settings.from_env()
    deidentifier = build_deidentifier(
        settings, _keyring(args), detector=build_detector_from_args(args), policy_path=args.policy, classifier=False
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
    schema = BY_CLI[args.input_format].header or settings.input_schema
    inputs = split_inputs(text, args.input_format)
    failed = 0
    size = max(1, args.batch_size)
    target = contextlib.nullcontext(sys.stdout) if args.output == "-" else open(args.output, "w", encoding="utf-8")
    with target as sink:
        for first in range(0, len(inputs), size):
            batch = [(schema, item.encode("utf-8")) for item in inputs[first : first + size]]
            ids = [f"redact-{number}" for number in range(first + 1, first + len(batch) + 1)]
            for number, done in enumerate(deidentifier.documents(batch, message_ids=ids), start=first + 1):
                if isinstance(done, RejectedMessage):
                    failed += 1
                    print(f"redact: input {number}: {done.reason} (stage {done.stage})", file=sys.stderr)
                    continue
                sink.write(_render(deidentifier, done, args.input_format))
    return 1 if failed else 0


def _render(deidentifier: Deidentifier, done: Deidentified[bytes], input_format: str) -> str:
    if input_format == "hl7v2":  # segments end with a carriage return, as HL7 v2 requires
        return done.content.decode("utf-8")
    if input_format == "fhir":
        return done.content.decode("utf-8") + "\n"
    assert deidentifier.registry is not None
    record = decode_avro(deidentifier.registry.get(done.schema), done.content)
    return json.dumps(record, ensure_ascii=False, default=str) + "\n"
