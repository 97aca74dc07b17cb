"""``phi-pipeline demo``: broker, worker and synthetic records in one command, inputs beside outputs.

It starts the embedded broker on a free port, a worker as a child process (the same
``phi-pipeline worker`` a deployment runs), sends signed synthetic records plus a few hostile
inputs, waits until every input is accounted for as an output or a dead letter, prints each input
beside its output and ends with one summary line, including a scan of every output for the PHI
values that went in.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.config import Settings
from pipeline.core.crypto.keyring import Keyring
from pipeline.interfaces.embedded_broker import EmbeddedBroker
from pipeline.interfaces.logs import configure_logging
from pipeline.interfaces.processes import spawn_worker, stop_process
from pipeline.runtime.assembly import load_schemas
from pipeline.stream.admin import ensure_topics
from pipeline.stream.clients import Consumed, Outgoing, consume, decode_output, input_message_id, produce

SHOWN_FIELDS = ("patient_name", "mrn", "date_of_birth", "age", "ssn", "zip", "admission_date", "note")


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="broker + worker + synthetic records; prints inputs beside outputs")
    demo.add_argument("--records", type=int, default=20, help="synthetic records to send (default 20)")
    demo.add_argument("--bad", type=int, default=3, help="hostile inputs to send as well (default 3)")
    demo.add_argument("--show", type=int, default=5, help="records to print in full, input beside output")
    demo.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for all outputs")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=run_demo)


def _side_by_side(before: dict[str, Any], after: dict[str, Any], width: int = 58) -> str:
    lines = [f"{'INPUT (carries PHI)':<{width}} | OUTPUT (de-identified)", "-" * width + "-+-" + "-" * width]
    for name in SHOWN_FIELDS:
        left = textwrap.wrap(f"{name}: {before.get(name)}", width) or [""]
        right = textwrap.wrap(f"{name}: {after.get(name)}", width) or [""]
        for i in range(max(len(left), len(right))):
            lines.append(f"{(left[i] if i < len(left) else ''):<{width}} | {right[i] if i < len(right) else ''}")
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    """Run broker, worker and synthetic records end to end; non-zero when an input is unaccounted for or leaks."""
    # Imported here, not at the top: the CLI module is loaded by every command, the worker included, and
    # the worker must not carry the demo's record generator and leak scanner (tests/unit/test_import_layers.py).
    from pipeline.devtools.clinical import synthetic_fhir, synthetic_hl7
    from pipeline.devtools.inputs import encode_record, hostile_messages, signed_input
    from pipeline.devtools.synthetic import synthetic_records

    base = Settings.from_env()
    configure_logging("WARNING")
    keyring = Keyring.generate()
    workdir = Path(tempfile.mkdtemp(prefix="phi-demo-"))
    records = list(synthetic_records(args.records, args.seed))
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        settings = broker.client_settings(keyring.to_json(), base, data_dir=workdir / "worker")
        print(f"embedded broker (tansu) at {broker.bootstrap}; topics: {', '.join(settings.topics)}")
        asyncio.run(ensure_topics(settings))
        entry = load_schemas(settings).get(settings.input_schema)
        inputs = [signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key) for r in records]
        # one HL7 v2 message and one FHIR Bundle beside the Avro records (issue 15)
        clinical = [next(synthetic_hl7(1, args.seed)), next(synthetic_fhir(1, args.seed))]
        clinical_inputs = [signed_input(keyring, c.schema, c.value, c.key) for c in clinical]
        inputs += clinical_inputs
        hostile = hostile_messages(keyring, entry, records[0].record, "hostile", settings.max_message_bytes)
        bad = [hostile[(i * 7) % len(hostile)] for i in range(args.bad)]  # a spread of kinds, not the first few
        expected_ids = {i.message_id for i in inputs} | {h.message.message_id for h in bad}
        worker = spawn_worker(settings, workdir / "worker.log", extra_env={"PHI_LOG_LEVEL": "WARNING"})
        try:
            messages = [Outgoing(i.key, i.value, i.headers) for i in inputs]
            messages += [Outgoing(h.message.key, h.message.value, h.message.headers) for h in bad]
            started = time.monotonic()
            sent = asyncio.run(produce(settings, settings.topic_ingest, messages))
            print(f"sent {sent} signed messages ({len(inputs)} records, {len(bad)} hostile); worker pid {worker.pid}")
            outputs = _collect(settings, expected_ids, args.timeout, worker)
            elapsed = time.monotonic() - started
        finally:
            stop_process(worker)
    return _report(
        settings, records, inputs, bad, outputs, expected_ids, elapsed, args.show, workdir, clinical, clinical_inputs
    )


def _collect(settings: Settings, expected: set[str], timeout: float, worker: subprocess.Popen[bytes]) -> list[Consumed]:
    bar = tqdm(
        total=len(expected),
        desc="accounted for",
        unit="msg",
        file=sys.stdout,
        leave=False,
        disable=not sys.stdout.isatty(),
    )

    registry = load_schemas(settings)

    def done(found: list[Consumed]) -> bool:
        ids = {
            input_message_id(registry, m, settings.topic_deadletter) for m in found if m.topic != settings.topic_audit
        }
        bar.n = len(ids & expected)
        bar.refresh()
        return ids >= expected or worker.poll() is not None

    topics = [settings.topic_redacted, settings.topic_restricted, settings.topic_deadletter, settings.topic_audit]
    found = asyncio.run(consume(settings, topics, until=done, timeout=timeout))
    bar.close()
    return found


def _message_id(message: Consumed) -> str:
    return dict(message.headers).get("phi-message-id", b"").decode("utf-8", "replace")


def _report(
    settings: Settings,
    records: list[Any],
    inputs: list[Any],
    bad: list[Any],
    outputs: list[Consumed],
    expected: set[str],
    elapsed: float,
    show: int,
    workdir: Path,
    clinical: list[Any],
    clinical_inputs: list[Any],
) -> int:
    from pipeline.devtools.leaks import LeakScanner
    from pipeline.devtools.synthetic import DRUGS, FINDINGS

    registry = load_schemas(settings)
    # A record of a sensitive category the policy restricts is an output too, on the restricted topic.
    redacted = {_message_id(m): m for m in outputs if m.topic in (settings.topic_redacted, settings.topic_restricted)}
    dead = {
        input_message_id(registry, m, settings.topic_deadletter): m
        for m in outputs
        if m.topic == settings.topic_deadletter
    }
    audits = [m for m in outputs if m.topic == settings.topic_audit]
    decoded = {mid: decode_output(registry, m) for mid, m in redacted.items()}
    for record, signed in list(zip(records, inputs[: len(records)], strict=True))[:show]:
        after = decoded.get(signed.message_id)
        print()
        print(_side_by_side(record.record, after) if after else f"{signed.message_id}: no output (see dead letters)")
    for message, signed in zip(clinical, clinical_inputs, strict=True):
        out = redacted.get(signed.message_id)
        print()
        print(_clinical_side_by_side(message, out.value if out is not None else None))
    reasons = Counter(decode_output(registry, m)["reason"] for m in dead.values())
    if dead:
        print("\ndead letters by reason: " + ", ".join(f"{r}={n}" for r, n in sorted(reasons.items())))
    entity_counts: Counter[str] = Counter()
    for record in decoded.values():
        entity_counts.update(t["phi_type"] for t in record.get("phi_transformations", []))
    planted = [value for r in records for value in r.planted] + [v for c in clinical for v in c.planted]
    scanner = LeakScanner(planted, benign=" ".join(FINDINGS + DRUGS))
    texts = [(f"redacted/{mid}", json.dumps(rec, default=str)) for mid, rec in decoded.items()]
    texts += [(f"redacted/{mid}/raw", (m.value or b"").decode("utf-8", "replace")) for mid, m in redacted.items()]
    texts += [(f"deadletter/{mid}", m.value.decode("utf-8", "replace")) for mid, m in dead.items() if m.value]
    texts += [(f"audit/{m.offset}", (m.value or b"").decode("utf-8", "replace")) for m in audits]
    leaks = scanner.scan_all(texts)
    accounted = len((set(redacted) | set(dead)) & expected)
    entities = " ".join(f"{t}={n}" for t, n in sorted(entity_counts.items()))
    print(
        f"\nsummary: in={len(expected)} out={len(redacted)} dead_letters={len(dead)} "
        f"accounted={accounted}/{len(expected)} audit_events={len(audits)} "
        f"phi_values_checked={scanner.size} phi_leaks={len(leaks)} seconds={elapsed:.1f} | entities: {entities}"
    )
    ok = accounted == len(expected) and not leaks
    if not ok:
        print(f"demo FAILED: see {workdir}/worker.log", file=sys.stderr)
    return 0 if ok else 1


def _clinical_lines(kind: str, value: bytes) -> list[str]:
    """HL7 v2 segment by segment; FHIR the Bundle's first two resources, pretty-printed."""
    text = value.decode("utf-8", "replace")
    if kind.startswith("hl7v2"):
        return [line for line in text.replace("\r", "\n").split("\n") if line]
    data = json.loads(text)
    shown = [e["resource"] for e in data.get("entry", [])[:2]] if data.get("resourceType") == "Bundle" else [data]
    return json.dumps(shown, indent=1).splitlines()[:60]


def _clinical_side_by_side(message: Any, output: bytes | None, width: int = 58) -> str:
    """One HL7 v2 or FHIR input beside its de-identified output, wrapped to two columns."""
    title = f"{message.schema} ({message.kind})"
    lines = [f"{'INPUT ' + title:<{width}} | OUTPUT (de-identified)", "-" * width + "-+-" + "-" * width]
    if output is None:
        return "\n".join([*lines, "no output (see dead letters)"])
    left = [
        part for line in _clinical_lines(message.schema, message.value) for part in textwrap.wrap(line, width) or [""]
    ]
    right = [part for line in _clinical_lines(message.schema, output) for part in textwrap.wrap(line, width) or [""]]
    for i in range(max(len(left), len(right))):
        lines.append(f"{(left[i] if i < len(left) else ''):<{width}} | {right[i] if i < len(right) else ''}")
    return "\n".join(lines)
