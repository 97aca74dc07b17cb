"""mask, crypto-hash, substitute and perturb: the operators, their parameters checked at load (policy
file and Avro tags), and each applied to an Avro record, an HL7 v2 message and a FHIR resource."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline import Deidentifier, RuleDetector, parse_policy
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.errors import SchemaError
from pipeline.core.phi_types import PhiType
from pipeline.core.policy.loader import PolicyFileError
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.spans import Span
from pipeline.core.transform import Action, TransformContext, transform_text
from pipeline.core.transform.actions import ActionParams
from pipeline.core.transform.operators import OPERATORS
from pipeline.core.transform.operators.crypto_hash import crypto_hash

KEY = b"0123456789abcdef0123456789abcdef"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _apply(action: Action, text: str, phi_type: PhiType, patient: str = "p1", key: bytes = KEY, **params):
    ctx = TransformContext(patient_key=patient, secret=key, params=ActionParams.of(params))
    return OPERATORS[action].protect(text, phi_type, ctx)


def test_mask_keeps_separators_and_the_last_n_and_always_hides_something():
    assert _apply(Action.MASK, "123-45-6789", PhiType.SSN) == "***-**-****"
    assert _apply(Action.MASK, "123-45-6789", PhiType.SSN, keep_last=4, char="#") == "###-##-6789"
    assert _apply(Action.MASK, "AB12", PhiType.ID, keep_last=9) == "****"  # keeping all would hide nothing
    assert _apply(Action.MASK, "--", PhiType.ID) is None


def test_crypto_hash_is_keyed_hex_and_the_same_for_every_patient():
    one = _apply(Action.CRYPTO_HASH, "123-45-6789", PhiType.SSN, patient="a")
    assert HEX64.match(one) and one == _apply(Action.CRYPTO_HASH, "123-45-6789", PhiType.SSN, patient="b")
    assert one == crypto_hash(KEY, "123-45-6789")
    assert one != _apply(Action.CRYPTO_HASH, "123-45-6789", PhiType.SSN, key=KEY[::-1])
    assert one != _apply(Action.CRYPTO_HASH, "123-45-6780", PhiType.SSN)


def test_substitute_writes_the_rules_value():
    assert _apply(Action.SUBSTITUTE, "Jane Roe", PhiType.NAME, value="REDACTED") == "REDACTED"


def test_perturb_stays_in_range_is_idempotent_and_buckets_the_oldest():
    values = [_apply(Action.PERTURB, str(age), PhiType.AGE, range=3) for age in range(20, 80)]
    assert all(abs(int(v) - age) <= 3 and int(v) != age for v, age in zip(values, range(20, 80), strict=True))
    assert values == [_apply(Action.PERTURB, str(age), PhiType.AGE, range=3) for age in range(20, 80)]
    assert _apply(Action.PERTURB, "93", PhiType.AGE, range=3) == "90+"
    assert all(int(_apply(Action.PERTURB, "89", PhiType.AGE, range=5, patient=p)) <= 89 for p in "abcdefgh")
    ratio = float(_apply(Action.PERTURB, "120.5", PhiType.ID, ratio=0.1))
    assert abs(ratio - 120.5) <= 12.05 and ratio != 120.5
    assert re.fullmatch(r"\d+\.\d", _apply(Action.PERTURB, "120.5", PhiType.ID, ratio=0.1))
    assert re.fullmatch(r"\d+\.\d\d", _apply(Action.PERTURB, "7", PhiType.ID, range=1, round_to=2))
    assert _apply(Action.PERTURB, "not a number", PhiType.ID, range=1) is None


def test_the_new_actions_in_free_text():
    ctx = TransformContext(patient_key="p1", secret=KEY)
    text = "SSN 123-45-6789, aged 72, phone 617-555-0142"
    spans = [Span(4, 15, PhiType.SSN), Span(17, 25, PhiType.AGE), Span(32, 44, PhiType.PHONE)]
    policy = {PhiType.SSN: Action.MASK, PhiType.AGE: Action.PERTURB, PhiType.PHONE: Action.CRYPTO_HASH}
    out = transform_text(text, spans, policy, ctx)
    assert out.text.startswith("SSN ***-**-****, aged ") and "72" not in out.text and "617" not in out.text
    assert [s.action for s in out.spans] == [Action.MASK, Action.PERTURB, Action.CRYPTO_HASH]
    assert Action.parse("cryptoHash") is Action.CRYPTO_HASH


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{action: mask, type: SSN, params: {keep: 4}}", "'mask' has no parameter 'keep' (it takes keep_last, char)"),
        ("{action: mask, type: SSN, params: {keep_last: four}}", "keep_last must be a whole number, not 'four'"),
        ("{action: mask, type: SSN, params: {char: '##'}}", "char must be 1 character, not '##'"),
        ("{action: substitute, type: SSN}", "'substitute': needs the text to write (value: ...)"),
        ("{action: perturb, type: AGE, params: {range: 2, ratio: 0.1}}", "give range or ratio, not both"),
        ("{action: perturb, type: AGE, params: {ratio: 3}}", "ratio must be at most 1, not 3.0"),
        ("{action: perturb, type: NAME}", "'perturb' applies to AGE only, not NAME"),
        ("{action: crypto-hash, type: SSN, params: {key: abc}}", "'crypto-hash' has no parameter 'key'"),
    ],
)
def test_parameters_are_checked_at_load_with_their_line(rule, message):
    text = f"version: 1\nhl7v2:\n  rules:\n    PID-19: {rule}\n"
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(text, "p.yaml")
    assert any(p.startswith("p.yaml:4: ") and message in p for p in caught.value.problems), caught.value.problems


def test_substitute_is_refused_in_the_free_text_policy():
    with pytest.raises(PolicyFileError, match="not an action for values found in free text"):
        parse_policy("version: 1\ntext:\n  NAME: substitute\n", "p.yaml")


def _registry(tmp_path: Path, **tags) -> SchemaRegistry:
    fields = [{"name": "id", "type": "string", "phi": "MRN", "action": "crypto-hash"}]
    fields += [{"name": name, "type": "string", **tag} for name, tag in tags.items()]
    schema = {"type": "record", "name": "Visit", "fields": fields, "subject_field": "id"}
    (tmp_path / "visit.avsc").write_text(json.dumps(schema))
    return SchemaRegistry.load(tmp_path)


def test_avro_tags_take_the_new_actions_and_their_parameters_are_checked(tmp_path, keyring):
    with pytest.raises(SchemaError, match="keep_last must be at least 0"):
        _registry(tmp_path, ssn={"phi": "SSN", "action": "mask", "params": {"keep_last": -1}})
    with pytest.raises(SchemaError, match="needs the text to write"):
        _registry(tmp_path, name={"phi": "NAME", "action": "substitute"})
    registry = _registry(
        tmp_path,
        ssn={"phi": "SSN", "action": "mask", "params": {"keep_last": 4}},
        name={"phi": "NAME", "action": "substitute", "params": {"value": "ANON"}},
        age={"phi": "AGE", "action": "perturb", "params": {"range": 3}},
    )
    assert "params" not in json.dumps(registry.output_for(registry.get("visit")).raw)
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), registry=registry)
    record = {"id": "MRN-1", "ssn": "123-45-6789", "name": "Jane Roe", "age": "47"}
    out = deidentifier.record("visit", record).content
    assert HEX64.match(out["id"]) and out["ssn"] == "***-**-6789" and out["name"] == "ANON"
    assert abs(int(out["age"]) - 47) <= 3 and out["age"] != "47"
    assert deidentifier.record("visit", record).content == out  # reprocessing gives the same record


POLICY = """version: 1
hl7v2:
  rules:
    PID-19: {action: mask, type: SSN, params: {keep_last: 4, char: "#"}}
    PID-3.1: crypto-hash MRN
    PID-5: {action: substitute, type: NAME, params: {value: ANON}}
    OBX-5: {action: perturb, params: {ratio: 0.1}, value_types: [NM]}
fhir:
  rules:
    Patient.identifier.value: {action: mask, type: MRN, params: {keep_last: 2}}
    HumanName.family: {action: substitute, type: NAME, params: {value: Doe}}
    Observation.valueQuantity.value: {action: perturb, params: {range: 3, round_to: 1}}
    Patient.telecom.value: crypto-hash PHONE
"""
HL7 = (
    "MSH|^~\\&|A|B|C|D|20240314||ORU^R01|1|P|2.5\r"
    "PID|1||123456^^^H^MR||Lee^Ann||19600101|F|||||||||||123-45-6789\r"
    "OBX|1|NM|8480-6^SBP^LN||120|mm[Hg]\r"
)
PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"value": "MRN778899"}],
    "name": [{"family": "Lee"}],
    "telecom": [{"system": "phone", "value": "617-555-0142"}],
}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"text": "systolic"},
    "valueQuantity": {"value": 120.5, "unit": "mm[Hg]"},
}


def test_hl7_and_fhir_rules_take_the_new_actions(keyring):
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=parse_policy(POLICY, "p.yaml"))
    hl7 = deidentifier.document("hl7v2", HL7.encode()).content.decode()
    pid = hl7.split("\r")[1].split("|")
    assert pid[19] == "###-##-6789" and HEX64.match(pid[3].split("^")[0]) and pid[5] == "ANON^ANON"
    obx = float(hl7.split("\r")[2].split("|")[5])
    assert abs(obx - 120) <= 12 and obx != 120
    patient = json.loads(deidentifier.document("fhir-r4", json.dumps(PATIENT).encode()).content)
    assert patient["identifier"][0]["value"] == "*******99" and patient["name"][0]["family"] == "Doe"
    assert patient["telecom"][0]["value"] == crypto_hash(keyring.current(KeyPurpose.PSEUDONYM).material, "617-555-0142")
    observation = json.loads(deidentifier.document("fhir-r4", json.dumps(OBSERVATION).encode()).content)
    value = observation["valueQuantity"]["value"]
    assert isinstance(value, float) and abs(value - 120.5) <= 3 and value != 120.5
