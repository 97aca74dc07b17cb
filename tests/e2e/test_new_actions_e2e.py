"""mask, crypto-hash, substitute and perturb on the worker: one Avro record (schema tags), one HL7 v2
message and one FHIR resource (policy rules), through the embedded broker and one real worker process."""

from __future__ import annotations

import json
import shutil

import pytest

from pipeline.core.crypto.integrity import verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.transform.operators.crypto_hash import crypto_hash
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.stream.clients import decode_output
from tests.conftest import REPO_ROOT, isolated_settings
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process
from tests.unit.test_new_actions import HEX64, HL7, OBSERVATION, PATIENT, POLICY

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.timeout(600)]

VISIT = {
    "type": "record",
    "name": "Visit",
    "subject_field": "id",
    "fields": [
        {"name": "id", "type": "string", "phi": "MRN", "action": "crypto-hash"},
        {"name": "ssn", "type": "string", "phi": "SSN", "action": "mask", "params": {"keep_last": 4}},
        {"name": "name", "type": "string", "phi": "NAME", "action": "substitute", "params": {"value": "ANON"}},
        {"name": "age", "type": "string", "phi": "AGE", "action": "perturb", "params": {"range": 3}},
    ],
}
RECORD = {"id": "MRN-20931", "ssn": "123-45-6789", "name": "Jane Roe", "age": "47"}


@pytest.fixture(scope="module")
def run(base_settings, broker, keyring, tmp_path_factory):
    folder = tmp_path_factory.mktemp("actions")
    schemas = folder / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    (schemas / "visit.avsc").write_text(json.dumps(VISIT))
    (folder / "policy.yaml").write_text(POLICY)
    registry = SchemaRegistry.load(schemas)
    settings = isolated_settings(base_settings, broker, "e2e-actions").with_overrides(
        schema_dir=schemas, policy_path=folder / "policy.yaml"
    )
    entry = registry.get("visit")
    cases = {
        "avro": (entry.ref, encode_record(entry, RECORD, "avro")),
        "hl7": (FORMAT_HL7V2, HL7.encode()),
        "patient": (FORMAT_FHIR, json.dumps(PATIENT).encode()),
        "observation": (FORMAT_FHIR, json.dumps(OBSERVATION).encode()),
    }
    inputs = {}
    for name, (schema, value) in cases.items():
        signed = signed_input(keyring, schema, value, name)
        inputs[signed.message_id] = (signed, name)
    log = folder / "worker.log"
    with worker_process(settings, log) as worker:
        send(settings, [signed for signed, _ in inputs.values()])
        outputs = read_outputs(settings, set(inputs), timeout=240)
        assert worker.poll() is None, log_tail(log)
    redacted = {inputs[message_id(m)][1]: m for m in outputs if m.topic == settings.topic_redacted}
    assert set(redacted) == set(cases), log_tail(log)
    for message in redacted.values():
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, message.headers, message.key, message.value)
    return registry, redacted


def test_the_avro_record_is_masked_hashed_substituted_and_perturbed(run, keyring):
    registry, redacted = run
    out = decode_output(registry, redacted["avro"])
    secret = keyring.current(KeyPurpose.PSEUDONYM).material
    assert out["id"] == crypto_hash(secret, "MRN-20931") and out["ssn"] == "***-**-6789" and out["name"] == "ANON"
    assert abs(int(out["age"]) - 47) <= 3 and out["age"] != "47"
    assert {(t["field"], t["action"]) for t in out["phi_transformations"]} >= {
        ("id", "crypto-hash"),
        ("ssn", "mask"),
        ("name", "substitute"),
        ("age", "perturb"),
    }


def test_the_hl7_message_and_the_fhir_resources_take_the_policy_rules(run, keyring):
    _, redacted = run
    pid = redacted["hl7"].value.decode().split("\r")[1].split("|")
    assert pid[19] == "###-##-6789" and HEX64.match(pid[3].split("^")[0]) and pid[5] == "ANON^ANON"
    patient = json.loads(redacted["patient"].value)
    secret = keyring.current(KeyPurpose.PSEUDONYM).material
    assert patient["identifier"][0]["value"] == "*******99" and patient["name"][0]["family"] == "Doe"
    assert patient["telecom"][0]["value"] == crypto_hash(secret, "617-555-0142")
    value = json.loads(redacted["observation"].value)["valueQuantity"]["value"]
    assert abs(value - 120.5) <= 3 and value != 120.5
