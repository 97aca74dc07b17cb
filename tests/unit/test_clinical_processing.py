"""HL7 v2 and FHIR R4 through the whole processing path: verify, protect, detect, render, sign, audit."""

from __future__ import annotations

import json

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.formats.fhir import validate
from pipeline.core.messages import InboundMessage
from pipeline.devtools.clinical import synthetic_fhir, synthetic_hl7
from pipeline.devtools.inputs import signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS
from tests.unit.processors import unit_processor


@pytest.fixture(scope="module")
def processor(registry, keyring):
    return unit_processor(registry, keyring)


def run(processor, keyring, messages):
    batch = [InboundMessage(*_signed(keyring, m), "phi.ingest", 0, offset, 0) for offset, m in enumerate(messages)]
    return processor.process_batch(batch)


def _signed(keyring, message):
    signed = signed_input(keyring, message.schema, message.value, message.key)
    return signed.value, signed.key, tuple(signed.headers)


def test_hl7_messages_come_out_reparsed_signed_audited_and_without_planted_phi(processor, keyring, registry):
    messages = list(synthetic_hl7(48, seed=5))
    results = run(processor, keyring, messages)
    assert [r.outcome for r in results] == ["ok"] * len(messages), [r.reason for r in results]
    scanner = LeakScanner([v for m in messages for v in m.planted], benign=" ".join(FINDINGS + DRUGS))
    kinds = set()
    for message, result in zip(messages, results, strict=True):
        out, audit = result.outputs
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, out.headers, out.key, out.value)
        text = out.value.decode("utf-8")
        assert not scanner.scan(text, result.message_id), text
        before = parse_message(
            message.value.decode().replace("\n", "\r"), find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
        )
        after = parse_message(text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
        assert [s.name for s in after.children] == [s.name for s in before.children]
        assert after.msh.msh_9.to_er7() == before.msh.msh_9.to_er7()
        assert after.msh.msh_10.to_er7() != before.msh.msh_10.to_er7()  # control id tokenized
        assert after.msh.msh_10.to_er7().startswith("tok:")
        kinds.add(message.kind)
        event = decode_avro(registry.get("audit_event"), audit.value)
        assert event["schema"].startswith("hl7v2:")
    assert kinds == {"ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ORU^R01", "MDM^T02"}


def test_fhir_bundles_validate_keep_references_and_leak_nothing(processor, keyring):
    messages = list(synthetic_fhir(24, seed=6))
    results = run(processor, keyring, messages)
    assert [r.outcome for r in results] == ["ok"] * len(messages), [r.reason for r in results]
    scanner = LeakScanner([v for m in messages for v in m.planted], benign=" ".join(FINDINGS + DRUGS))
    for result in results:
        out = result.outputs[0]
        text = out.value.decode("utf-8")
        assert not scanner.scan(text, result.message_id), text
        bundle = json.loads(text)
        validate(bundle)
        ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
        refs = [r for e in bundle["entry"] for r in _references(e["resource"])]
        assert refs and all(ref in ids for ref in refs), (refs, ids)


def test_the_same_input_gives_the_same_output(processor, keyring):
    for message in (next(synthetic_hl7(1, seed=9)), next(synthetic_fhir(1, seed=9))):
        signed = signed_input(keyring, message.schema, message.value, message.key, "msg-fixed")
        inbound = InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, 0, 0)
        first = processor.process_batch([inbound])[0].outputs[0].value
        again = processor.process_batch([inbound])[0].outputs[0].value
        assert first == again


@pytest.mark.parametrize(
    ("schema", "value", "reason"),
    [
        ("hl7v2:2.5", b"PID|1||123\r", "invalid-hl7"),
        ("hl7v2:2.5", b"MSH|^~\\&|A|B|C|D|2023||ADT^A01|1|P|9.9\r", "invalid-hl7"),
        ("hl7v2:2.5", b"MSH|^~\\&|A|B|\xff\xfe|D|2023||ADT^A01|1|P|2.5\r", "invalid-utf8"),
        ("fhir-r4", b"{not json", "invalid-fhir"),
        ("fhir-r4", b'{"resourceType":"Patient","birthDate":"not-a-date"}', "invalid-fhir"),
        ("fhir-r4", b'{"resourceType":"NoSuchThing"}', "invalid-fhir"),
        ("fhir-r4", b'{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div"}}', "invalid-fhir"),
    ],
)
def test_bad_clinical_inputs_are_dead_letters_with_a_reason(processor, keyring, schema, value, reason):
    signed = signed_input(keyring, schema, value, "k")
    inbound = InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, 0, 0)
    result = processor.process_batch([inbound])[0]
    assert (result.outcome, result.reason) == ("deadletter", reason)


def _references(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)
