"""The whole pipeline minus Kafka: verify, decode, protect, detect, transform, sign, audit."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.audit_chain import verify_chain
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, hostile_messages, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, synthetic_records
from tests.unit.processors import unit_processor


@pytest.fixture(scope="module")
def processor(registry, keyring):
    return unit_processor(registry, keyring)


def inbound(signed, offset=0, partition=0):
    return InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", partition, offset, 0)


def test_good_records_come_out_protected_signed_and_audited(processor, registry, keyring):
    entry = registry.get("clinical_record")
    records = list(synthetic_records(40, seed=8))
    batch = [
        inbound(signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key), offset=i)
        for i, r in enumerate(records)
    ]
    results = processor.process_batch(batch)
    assert [r.outcome for r in results] == ["ok"] * 40
    scanner = LeakScanner([v for r in records for v in r.planted], benign=" ".join(FINDINGS + DRUGS))
    out_entry = registry.output_for(entry)
    audit_events = []
    for result in results:
        record_msg, audit_msg = result.outputs
        assert (record_msg.role, audit_msg.role) == ("redacted", "audit")
        for message in result.outputs:
            verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
        decoded = decode_avro(out_entry, record_msg.value)
        assert decoded["message_id"] == result.message_id
        assert not scanner.scan(json.dumps(decoded), result.message_id)
        audit_events.append(decode_avro(registry.get("audit_event"), audit_msg.value))
    assert verify_chain(audit_events, keyring).ok
    entities = Counter()
    for result in results:
        entities.update(result.entities)
    found_types = {phi_type for phi_type, _ in entities}
    assert {"NAME", "DATE", "PHONE"} <= found_types


def test_outputs_are_deterministic_except_encryption(processor, registry, keyring):
    entry = registry.get("clinical_record")
    record = next(synthetic_records(1, seed=8))
    signed = signed_input(keyring, entry.ref, encode_record(entry, record.record, "avro"), record.key, "msg-fixed")
    first = decode_avro(registry.output_for(entry), processor.process_batch([inbound(signed)])[0].outputs[0].value)
    again = decode_avro(registry.output_for(entry), processor.process_batch([inbound(signed)])[0].outputs[0].value)
    first.pop("ssn"), again.pop("ssn")
    assert first == again


def test_every_hostile_message_is_a_dead_letter_with_its_reason(processor, registry, keyring):
    entry = registry.get("clinical_record")
    record = next(synthetic_records(1, seed=8)).record
    hostile = hostile_messages(keyring, entry, record, "k", 1_048_576)
    results = processor.process_batch([inbound(h.message, offset=i) for i, h in enumerate(hostile)])
    assert len(results) == len(hostile)
    for h, result in zip(hostile, results, strict=True):
        assert result.outcome == "deadletter", h.kind
        assert result.reason == h.expected_reason, h.kind
        letter = decode_avro(registry.get("dead_letter"), result.outputs[0].value)
        assert letter["reason"] == h.expected_reason
        assert record["patient_name"] not in json.dumps(letter)
        if h.expected_reason == "oversized":
            assert letter["sealed_value"] is None and "not copied" in letter["detail"]
        elif h.message.value:
            opened = Encryptor(keyring).open_bytes(letter["sealed_value"], letter["message_id"], "deadletter/value")
            assert opened == h.message.value


def test_detector_failure_dead_letters_the_batch_instead_of_losing_it(registry, keyring):
    class Broken:
        name = "broken"
        models = ()
        last_model_seconds: dict = {}

        def detect_batch(self, texts):
            raise RuntimeError("boom")

    processor = unit_processor(registry, keyring, Broken())
    entry = registry.get("clinical_record")
    records = list(synthetic_records(3, seed=8))
    batch = [inbound(signed_input(keyring, entry.ref, encode_record(entry, r.record, "json"), r.key)) for r in records]
    results = processor.process_batch(batch)
    assert [(r.outcome, r.reason, r.stage) for r in results] == [("deadletter", "processing-error", "detect")] * 3
