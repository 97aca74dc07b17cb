"""HL7 v2 and FHIR R4 beside Avro on the real broker, through one real worker process.

300 HL7 v2 messages (ADT A01/A03/A04/A08, ORU R01, MDM T02; versions 2.3 to 2.8), 300 FHIR Bundles and
100 Avro records, plus clinical inputs that must be dead-lettered. Every input comes out once or is
dead-lettered with its reason; every HL7 v2 output re-parses with its segments and message type, every
FHIR output validates as R4 with its references consistent; every output is signed; one audit event
per input; no planted PHI value in any topic.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.hl7v2 import reparse
from pipeline.devtools.clinical import synthetic_fhir, synthetic_hl7
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.leaks import LeakScanner
from pipeline.devtools.synthetic import DRUGS, FINDINGS, synthetic_records
from pipeline.stream.clients import decode_output
from tests.conftest import isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(1200)]

HL7_MESSAGES = 300
FHIR_BUNDLES = 300
AVRO_RECORDS = 100
BAD = [
    ("hl7v2:2.5", b"PID|1||123\r", "invalid-hl7"),
    ("hl7v2:2.5", b"MSH|^~\\&|A|B|C|D|2023||ADT^A01|1|P|1.0\r", "invalid-hl7"),
    ("fhir-r4", b'{"resourceType":"Patient","birthDate":"yesterday"}', "invalid-fhir"),
    ("fhir-r4", b"[1, 2, 3]", "invalid-fhir"),
]


@pytest.fixture(scope="module")
def run(base_settings, broker, registry, keyring, tmp_path_factory):
    settings = isolated_settings(base_settings, broker, "e2e-clinical")
    hl7 = list(synthetic_hl7(HL7_MESSAGES, seed=41))
    fhir = list(synthetic_fhir(FHIR_BUNDLES, seed=42))
    entry = registry.get("clinical_record")
    avro = list(synthetic_records(AVRO_RECORDS, seed=43))
    inputs = {}
    for m in hl7 + fhir:
        signed = signed_input(keyring, m.schema, m.value, m.key)
        inputs[signed.message_id] = (signed, m)
    for r in avro:
        signed = signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key)
        inputs[signed.message_id] = (signed, r)
    bad = {}
    for schema, value, reason in BAD * 5:
        signed = signed_input(keyring, schema, value, "bad")
        bad[signed.message_id] = (signed, reason)
    planted = [v for _, m in inputs.values() for v in m.planted]
    log = tmp_path_factory.mktemp("clinical") / "worker.log"
    everything = [s for s, _ in inputs.values()] + [s for s, _ in bad.values()]
    with worker_process(settings, log) as worker:
        send(settings, everything)
        outputs = read_outputs(settings, set(inputs) | set(bad), timeout=900, audit_events=len(everything))
        assert worker.poll() is None, log_tail(log)
    return settings, inputs, bad, planted, outputs


def test_every_input_is_one_output_or_one_dead_letter_with_its_reason(run, registry):
    settings, inputs, bad, _, outputs = run
    redacted = [m for m in outputs if m.topic == settings.topic_redacted]
    dead = [m for m in outputs if m.topic == settings.topic_deadletter]
    seen = Counter(message_id(m) for m in redacted + dead)
    assert set(seen) == set(inputs) | set(bad)
    assert max(seen.values()) == 1
    assert {message_id(m) for m in redacted} == set(inputs)
    reasons = {message_id(m): decode_output(registry, m)["reason"] for m in dead}
    assert reasons == {mid: reason for mid, (_, reason) in bad.items()}
    audits = [m for m in outputs if m.topic == settings.topic_audit]
    assert len(audits) == len(inputs) + len(bad)


def test_outputs_reparse_validate_keep_references_and_are_signed(run, keyring):
    settings, inputs, _, _, outputs = run
    formats = Counter()
    for index, message in enumerate(m for m in outputs if m.topic == settings.topic_redacted):
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
        schema = dict(message.headers)["phi-schema"].decode()
        source = inputs[message_id(message)][1]
        if schema.startswith("hl7v2:"):
            # segments, message type (MSH-9) and version (MSH-12) as python-hl7 reads them
            assert reparse(message.value.decode()) == reparse(source.value.decode())
            formats["hl7v2"] += 1
            if index % 10:
                continue  # hl7apy, a second parser, on every tenth message (it takes about 200 ms each)
            parsed = parse_message(
                message.value.decode(), find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
            )
            original = parse_message(
                source.value.decode(), find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
            )
            assert [s.name for s in parsed.children] == [s.name for s in original.children]
            assert parsed.msh.msh_9.to_er7() == original.msh.msh_9.to_er7()
        elif schema.startswith("fhir-r4:"):
            bundle = json.loads(message.value)
            validate(bundle)
            ids = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
            refs = [e["resource"].get("subject", {}).get("reference") for e in bundle["entry"]]
            assert all(ref in ids for ref in refs if ref is not None)
            formats["fhir"] += 1
        else:
            formats["avro"] += 1
    assert formats == {"hl7v2": HL7_MESSAGES, "fhir": FHIR_BUNDLES, "avro": AVRO_RECORDS}


def test_no_planted_phi_value_in_any_topic(run, registry):
    _, _, _, planted, outputs = run
    scanner = LeakScanner(planted, benign=" ".join(FINDINGS + DRUGS))
    assert scanner.size > 3000
    texts = []
    for message in outputs:
        texts.append((f"{message.topic}/raw", (message.value or b"").decode("utf-8", "replace")))
        texts.append((f"{message.topic}/decoded", json.dumps(decode_output(registry, message), default=str)))
        texts.append((f"{message.topic}/key", (message.key or b"").decode("utf-8", "replace")))
    leaks = scanner.scan_all(texts)
    assert not leaks, f"{len(leaks)} planted values found, e.g. in {leaks[0].location}"
