"""``phi-pipeline policy explain --format F FILE``: every leaf of a sample message with the rule that
decides it and what happens to it, so a privacy officer can read what a policy does before turning it on.

Nothing is detected and no value is printed: one line per leaf, ``PATH  DECISION  ACTION  RULE``
(decision: ruled, detected, dropped or kept), then the counts. Keys are a throwaway keyring.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.coverage import Coverage, Decision
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import RejectedMessage
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.policy import load_policy

FORMATS = ("hl7v2", "fhir", "jsonl")


def register(actions: argparse._SubParsersAction) -> None:
    explain = actions.add_parser(
        "explain", help="print every leaf of a sample message with the rule that decides it and the action"
    )
    explain.add_argument("--format", required=True, choices=FORMATS, dest="input_format")
    explain.add_argument("--policy", type=Path, help="policy file (default PHI_POLICY_PATH, else the Safe Harbor one)")
    explain.add_argument("file", type=Path, help="one sample message (HL7 v2, FHIR JSON, or one JSONL record)")
    explain.set_defaults(func=run_policy_explain)


def explain_message(value: bytes, input_format: str, policy_path: Path | None = None) -> Coverage:
    """The coverage of ``value`` under the policy, every leaf recorded."""
    from pipeline.config import Settings

    settings = Settings.from_env()
    policy = load_policy(policy_path or settings.policy_path)
    keyring = Keyring.generate()
    tokenizer, encryptor = Tokenizer(keyring), Encryptor(keyring)
    protector = ValueProtector(
        "explain", tokenizer.tokenize, encryptor.encrypt, keyring.current(KeyPurpose.PSEUDONYM).material
    )
    if input_format in ("hl7v2", "fhir"):
        fmt = FORMAT_HL7V2 if input_format == "hl7v2" else FORMAT_FHIR
        return FormatProcessors(dict(policy.formats)).protect(fmt, value, protector, explain=True).coverage
    from pipeline.core.codecs import decode
    from pipeline.core.formats.processor import avro_values
    from pipeline.core.structured import protect_record
    from pipeline.runtime.assembly import load_schemas

    registry = load_schemas(settings)
    entry, record = decode(registry, settings.input_schema, value.strip(), settings.input_schema)
    return protect_record(entry, record, avro_values(protector), explain=True).coverage


def format_coverage(coverage: Coverage) -> str:
    width = max((len(r.path) for r in coverage.records), default=4)
    lines = [f"{'PATH'.ljust(width)}  {'DECISION':8}  {'ACTION':10}  RULE"]
    lines += [f"{r.path.ljust(width)}  {r.decision.value:8}  {r.action:10}  {r.rule}" for r in coverage.records]
    counts = ", ".join(f"{d.value} {coverage.counts.get(d, 0)}" for d in Decision)
    leaves = sum(coverage.counts.values())
    absent = len(coverage.records) - leaves  # records that are no leaf: FHIR elements written absent
    lines.append(f"{leaves} leaves: {counts}" + (f"; {absent} element(s) written absent" if absent > 0 else ""))
    return "\n".join(lines) + "\n"


def run_policy_explain(args: argparse.Namespace) -> int:
    try:
        value = args.file.read_bytes()
    except OSError as exc:
        print(f"policy explain: cannot read {args.file}: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    try:
        coverage = explain_message(value, args.input_format, args.policy)
    except RejectedMessage as exc:
        print(f"policy explain: {args.file}: {exc.reason} ({exc.detail})", file=sys.stderr)
        return 1
    sys.stdout.write(format_coverage(coverage))
    return 0
