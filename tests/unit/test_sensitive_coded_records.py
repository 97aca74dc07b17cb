"""Records whose category only a code carries, through the de-identifier with the shipped classifier and the
default policy: an HL7 ADT (DG1-3), an HL7 ORU (OBX-3), a FHIR Bundle (Condition.code), an Avro record
(``diagnosis_codes``), a refuted Condition, codes and text together, and classification off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.deidentify import Deidentifier
from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.sensitive import NoteClassifier, SensitiveAction
from pipeline.core.sensitive import SensitiveCategory as C
from pipeline.devtools.synthetic import synthetic_records
from pipeline.runtime.sensitive_classifier import build_classifier

MODEL = Path(__file__).resolve().parents[2] / "models" / "detector"  # the category head beside the detector
ORDINARY = "Specimen received and processed without delay."


@pytest.fixture(scope="module")
def classifier() -> NoteClassifier:
    return build_classifier(MODEL, provider="cpu", threads=1)


@pytest.fixture
def deidentifier(keyring, registry, classifier) -> Deidentifier:
    return Deidentifier(keyring=keyring, detector=RuleDetector(), classifier=classifier, registry=registry)


def hl7(*segments: str) -> bytes:
    header = [
        "MSH|^~\\&|EPIC|GH|RECEIVER|LAB|202401010930||{type}|C1|P|2.5",
        "PID|1||123^^^GH^MR||Doe^Jane||19800101|F",
    ]
    first = header[0].format(
        type="ORU^R01^ORU_R01" if any(s.startswith("OBX") for s in segments) else "ADT^A08^ADT_A01"
    )
    return ("\r".join([first, header[1], *segments]) + "\r").encode()


def test_hl7_adt_diagnosis_code_alone_restricts_the_message(deidentifier):
    done = deidentifier.document("hl7v2", hl7("PV1|1|I", "DG1|1||F11.20^^I10||20240101|A"))
    assert done.decision.categories == (C.SUBSTANCE_USE,)
    assert done.restricted and done.decision.found[0].score >= 0.9


def test_hl7_oru_test_code_alone_withholds_the_text(deidentifier):
    done = deidentifier.document(
        "hl7v2", hl7("OBR|1|||56888-1^^LN", "OBX|1|ST|56888-1^^LN||Nonreactive||||||F", f"NTE|1||{ORDINARY}")
    )
    assert done.decision.categories == (C.HIV_STI,)  # an HIV test counts whatever its result
    assert done.decision.action is SensitiveAction.WITHHOLD_TEXT
    assert ORDINARY.encode() not in done.content and b"Nonreactive" not in done.content
    assert b"56888-1" in done.content  # the coded fields still flow


def test_hl7_deleted_diagnosis_and_tobacco_are_not_categories(deidentifier):
    done = deidentifier.document(
        "hl7v2", hl7("PV1|1|I", "DG1|1||B20^^I10||20240101|A|||||||||||||||D", "DG1|2||F17.210^^I10||20240101|A")
    )
    assert done.decision.categories == ()


def bundle(*resources: dict) -> bytes:
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}", "resource": r}
                for i, r in enumerate(resources)
            ],
        }
    ).encode()


PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Jane"]}]}
NOTE = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/p1"},
    "valueString": ORDINARY,
}


def condition(code: str, system: str = "http://hl7.org/fhir/sid/icd-10-cm", verification: str = "confirmed") -> dict:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]
        },
        "code": {"coding": [{"system": system, "code": code}]},
    }


def test_fhir_bundle_condition_code_alone_withholds_the_text(deidentifier):
    done = deidentifier.document("fhir-r4", bundle(PATIENT, condition("86406008", "http://snomed.info/sct"), NOTE))
    assert done.decision.categories == (C.HIV_STI,)
    assert done.withheld
    observation = json.loads(done.content)["entry"][2]["resource"]
    assert observation["resourceType"] == "Observation" and observation.get("valueString") is None


def test_fhir_refuted_condition_is_no_category(deidentifier):
    done = deidentifier.document("fhir-r4", bundle(PATIENT, condition("Z21", verification="refuted"), NOTE))
    assert done.decision.categories == ()
    assert ORDINARY in done.content.decode()


def test_codes_and_text_combine(deidentifier):
    note = dict(NOTE, valueString="HIV positive on Biktarvy, viral load undetectable.")
    done = deidentifier.document("fhir-r4", bundle(PATIENT, condition("F33.1"), note))
    assert set(done.decision.categories) == {C.MENTAL_HEALTH, C.HIV_STI}  # the code's and the text's
    assert done.decision.action is SensitiveAction.WITHHOLD_TEXT


def test_avro_diagnosis_codes_alone_restrict_the_record(deidentifier, registry):
    record = dict(next(iter(synthetic_records(1, seed=3))).record, note=ORDINARY, diagnosis_codes=["I10", "F11.20"])
    done = deidentifier.record("clinical_record", record)
    assert done.decision.categories == (C.SUBSTANCE_USE,) and done.restricted
    ordinary = deidentifier.record("clinical_record", dict(record, diagnosis_codes=["I10", "F17.210"]))
    assert ordinary.decision.categories == ()


def test_classification_off_reads_no_codes(keyring):
    off = Deidentifier(keyring=keyring, detector=RuleDetector())
    assert off.document("hl7v2", hl7("PV1|1|I", "DG1|1||F11.20^^I10||20240101|A")).decision.categories == ()
