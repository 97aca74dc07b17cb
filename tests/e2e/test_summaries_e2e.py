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
from pipeline.core.inputs import encode_record, signed_input
from pipeline.core.leaks import LeakScanner
from pipeline.core.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.stream.clients import consume, decode_output
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


def test_summaries_carry_no_phi_and_keep_message_ids(topic_settings, registry, keyring, tmp_path):
    model = _model()
    settings = topic_settings.with_overrides(summarizer_enabled=True, summarizer_model=model, summary_batch_size=4)
    entry = registry.get("clinical_record")
    records = list(synthetic_records(NOTES, seed=31))
    inputs = [signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key) for r in records]
    expected = {i.message_id for i in inputs}
    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        send(settings, inputs)

        def done(found):
            return {message_id(m) for m in found if m.topic == settings.topic_summaries} >= expected

        outputs = asyncio.run(
            consume(
                settings,
                [settings.topic_summaries, settings.topic_redacted, settings.topic_audit],
                until=done,
                timeout=600,
            )
        )
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
