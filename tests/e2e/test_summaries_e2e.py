"""Summaries on the real broker: written from redacted notes only, no PHI of the originals, ids kept.

Uses the built summarizer (models/summarizer/<variant>) when present; without it the summary agent
still runs, with extractive summaries, so the wiring, the PHI re-scan and the audit are always tested.
Build the model with `phi-pipeline model build-summarizer` (needs the `models` extra).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.stream.clients import consume, decode_output
from tests.e2e.cli import run_cli
from tests.e2e.helpers import log_tail, message_id, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("int8", "fp32", "int4")
NOTES = 8


def _model() -> Path | None:
    for variant in VARIANTS:
        folder = ROOT / "models" / "summarizer" / variant
        if (folder / "model.onnx").exists():
            return folder
    return None


def _send(settings, registry, keyring, records) -> set[str]:
    """Sign and send the records (Avro) to the ingest topic; their message ids."""
    entry = registry.get("clinical_record")
    inputs = [signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key) for r in records]
    send(settings, inputs)
    return {i.message_id for i in inputs}


def _summarized(settings, expected: set[str], also: list[str], timeout: float) -> list:
    """Read the summaries topic (and ``also``) until every expected message id has a summary."""

    def done(found):
        return {message_id(m) for m in found if m.topic == settings.topic_summaries} >= expected

    return asyncio.run(consume(settings, [settings.topic_summaries, *also], until=done, timeout=timeout))


def test_summaries_carry_no_phi_and_keep_message_ids(topic_settings, registry, keyring, tmp_path):
    model = _model()
    settings = topic_settings.with_overrides(
        summarizer_enabled=True, summarizer_model=model, summarizer="" if model else "extractive", summary_batch_size=4
    )
    records = list(synthetic_records(NOTES, seed=31))
    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        expected = _send(settings, registry, keyring, records)
        outputs = _summarized(settings, expected, [settings.topic_redacted, settings.topic_audit], timeout=600)
    summaries = [m for m in outputs if m.topic == settings.topic_summaries]
    assert {message_id(m) for m in summaries} == expected, log_tail(log)
    redacted_keys = {message_id(m): m.key for m in outputs if m.topic == settings.topic_redacted}
    scanner = LeakScanner([v for r in records for v in r.planted], benign=" ".join(FINDINGS + DRUGS))
    methods = []
    for message in summaries:
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
        summary = decode_output(registry, message)
        assert summary["message_id"] == message_id(message)
        assert message.key == redacted_keys[message_id(message)]  # same tokenized key as its record
        assert summary["summary"].strip()
        assert not scanner.scan(json.dumps(summary), message_id(message)), summary["summary"]
        methods.append(summary["method"])
    audited = [decode_output(registry, m) for m in outputs if m.topic == settings.topic_audit]
    summary_events = [e for e in audited if e["event_type"] == "summary"]
    assert {e["message_id"] for e in summary_events} == expected
    if model is None:
        assert set(methods) == {"extractive"}
    print(f"\nsummaries: model={model.name if model else 'none'} methods={sorted(methods)}")


CHAINED_RECORDS = 1200


def test_audit_chains_verify_with_the_summarizer_in_the_same_worker(topic_settings, registry, keyring, tmp_path):
    """Issue 20 #3: both agents in one worker, small redaction batches beside large summary batches.

    Rules-only detection: the chains, not the detector, are under test, and the model would make the
    run take minutes on a loaded 2-core machine."""
    settings = topic_settings.with_overrides(
        summarizer_enabled=True,
        summarizer_model=None,
        summarizer="extractive",
        summary_batch_size=64,
        batch_size=8,
        detector_model=None,
        rules_only=True,
    )
    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        expected = _send(settings, registry, keyring, synthetic_records(CHAINED_RECORDS, seed=47))
        _summarized(settings, expected, [], timeout=420)
        verified = run_cli(settings, "audit", "verify", "--timeout", "120")
    audits = asyncio.run(consume(settings, [settings.topic_audit], timeout=60, idle_timeout=3.0))
    events = [decode_output(registry, m) for m in audits]
    chains: dict[str, set[str]] = {}
    for event in events:
        chains.setdefault(event["event_type"], set()).add(event["chain_id"])
    print(f"\naudit: {len(events)} events; chains per event type: { {k: len(v) for k, v in chains.items()} }")
    assert verified.returncode == 0, verified.stdout + verified.stderr + log_tail(log)
    assert "audit chains verified" in verified.stdout
    assert len(events) >= 2 * CHAINED_RECORDS
    # each agent writes chains of its own: no chain holds both redaction and summary events
    assert chains["summary"] and not chains["summary"] & chains["message_processed"]
