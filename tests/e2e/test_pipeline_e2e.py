"""The foundation's promise on the real broker: every input accounted for, no PHI value in any output."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.inputs import encode_record, hostile_messages, signed_input
from pipeline.core.leaks import LeakScanner
from pipeline.core.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.stream.clients import decode_output
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

RECORDS = 1000


def test_thousand_records_with_bad_inputs_all_accounted_for_and_nothing_leaks(
    topic_settings, registry, keyring, tmp_path
):
    settings = topic_settings
    assert settings.partitions >= 4
    entry = registry.get("clinical_record")
    records = list(synthetic_records(RECORDS, seed=21))
    encodings = ("avro", "json", "confluent")
    good = [
        signed_input(keyring, entry.ref, encode_record(entry, r.record, encodings[i % 3]), r.key)
        for i, r in enumerate(records)
    ]
    kinds = hostile_messages(keyring, entry, records[0].record, "hostile-key", settings.max_message_bytes)
    bad = [kinds[i % len(kinds)] for i in range(int(RECORDS * 0.06))]
    expected_reason = {h.message.message_id: h.expected_reason for h in bad}
    expected = {g.message_id for g in good} | set(expected_reason)
    assert len(bad) / len(expected) >= 0.05

    log = tmp_path / "worker.log"
    with worker_process(settings, log) as worker:
        send(settings, good + [h.message for h in bad])
        started = time.monotonic()
        outputs = read_outputs(settings, expected, timeout=240)
        elapsed = time.monotonic() - started
        assert worker.poll() is None, log_tail(log)

    redacted = [m for m in outputs if m.topic == settings.topic_redacted]
    dead = [m for m in outputs if m.topic == settings.topic_deadletter]
    audits = [m for m in outputs if m.topic == settings.topic_audit]
    out_ids = Counter(message_id(m) for m in redacted + dead)
    missing = expected - set(out_ids)
    assert not missing, f"{len(missing)} inputs unaccounted for after {elapsed:.0f} s\n{log_tail(log)}"
    assert set(out_ids) == expected
    assert {message_id(m) for m in redacted} == {g.message_id for g in good}

    # every output is signed with the egress key and carries its input's message id
    for message in outputs:
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)

    # the work spread over at least four partitions
    assert len({m.partition for m in redacted}) >= 4

    # dead letters carry the right reason, and their sealed bytes decrypt back to the original input
    letters = {message_id(m): decode_output(registry, m) for m in dead}
    wrong = {
        mid: (letters[mid]["reason"], reason)
        for mid, reason in expected_reason.items()
        if letters[mid]["reason"] != reason
    }
    assert not wrong, wrong
    originals = {h.message.message_id: h.message.value for h in bad}
    encryptor = Encryptor(keyring)
    for mid, letter in list(letters.items())[:20]:
        assert encryptor.open_bytes(letter["sealed_value"], mid, context="deadletter/value") == originals[mid]

    # one audit event per input, none of them a duplicate
    audit_events = [decode_output(registry, m) for m in audits]
    audited = Counter(e["message_id"] for e in audit_events)
    assert set(audited) >= expected

    # no planted PHI value anywhere: records, dead letters (as stored) and audit events
    scanner = LeakScanner([v for r in records for v in r.planted], benign=" ".join(FINDINGS + DRUGS))
    assert scanner.size > RECORDS * 10
    texts = [(f"redacted:{message_id(m)}", json.dumps(decode_output(registry, m), default=str)) for m in redacted]
    texts += [(f"{m.topic}:{m.offset}", (m.value or b"").decode("latin-1")) for m in redacted + dead + audits]
    texts += [(f"deadletter:{mid}", json.dumps(letter)) for mid, letter in letters.items()]
    texts += [(f"audit:{e['event_id']}", json.dumps(e)) for e in audit_events]
    texts += [(f"key:{m.topic}:{m.offset}", (m.key or b"").decode("latin-1")) for m in outputs]
    leaks = scanner.scan_all(texts)
    assert not leaks, f"{len(leaks)} planted values found, first at {leaks[0].location}"

    # the de-identified record keeps clinical content and protects PHI fields
    sample = decode_avro(registry.output_for(entry), redacted[0].value)
    assert sample["vitals"] is not None and sample["diagnosis_codes"]
    assert sample["patient_name"] is None and sample["ssn"].startswith("enc:")
    assert any(t["field"] == "note" for t in sample["phi_transformations"])
