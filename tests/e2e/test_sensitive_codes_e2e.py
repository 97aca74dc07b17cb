"""Coded sensitive categories on the real broker (issue 26): records whose category only a code carries,
through one worker with the shipped classifier and the default policy (``PHI_SENSITIVE_POLICY`` unset).

An HL7 v2 ADT whose only sign of substance use is DG1-3 ``F11.20`` and an Avro record whose only sign is
``diagnosis_codes`` ``F11.20`` go to ``phi.restricted`` (never ``phi.redacted``); a FHIR Bundle whose only
sign of HIV is a Condition coded SNOMED CT 86406008 and an HL7 v2 ORU whose only sign is an HIV test's
LOINC code (OBX-3) go to ``phi.redacted`` with their free text withheld; the same Bundle with the Condition
refuted, and an ADT coded F17.210 (tobacco), flow as ordinary records. Each decision is an audit event.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from pipeline.core.sensitive import SensitivePolicy
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.stream.clients import consume, decode_output
from tests.e2e.helpers import log_tail, message_id, send, worker_process

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ORDINARY = "Specimen received and processed without delay."
MSH = "MSH|^~\\&|EPIC|GH|RECEIVER|LAB|202401010930||{kind}|C{n}|P|2.5"
PID = "PID|1||{mrn}^^^GH^MR||Doe^Jane||19800101|F"


def _hl7(kind: str, n: int, *segments: str) -> bytes:
    return ("\r".join([MSH.format(kind=kind, n=n), PID.format(mrn=7000 + n), *segments]) + "\r").encode()


def _bundle(verification: str) -> bytes:
    condition = {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]
        },
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "86406008"}]},
    }
    note = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/p1"},
        "valueString": ORDINARY,
    }
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Jane"]}]}
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in (patient, condition, note)]}
    ).encode()


def test_records_whose_category_only_a_code_carries_are_routed_by_the_default_policy(
    topic_settings, registry, keyring, tmp_path
):
    settings = topic_settings.with_overrides(sensitive_classifier=True, sensitive_policy=SensitivePolicy())
    entry = registry.get("clinical_record")
    avro = dict(next(iter(synthetic_records(1, seed=29))).record, note=ORDINARY, diagnosis_codes=["I10", "F11.20"])
    inputs = {
        "hl7_adt_oud": ("hl7v2", _hl7("ADT^A08^ADT_A01", 1, "PV1|1|I", "DG1|1||F11.20^^I10||20240101|A")),
        "avro_oud": (entry.ref, encode_record(entry, avro, "avro")),
        "fhir_hiv": ("fhir-r4", _bundle("confirmed")),
        "hl7_oru_hiv": (
            "hl7v2",
            _hl7(
                "ORU^R01^ORU_R01",
                2,
                "OBR|1|||56888-1^^LN",
                "OBX|1|ST|56888-1^^LN||Nonreactive||||||F",
                f"NTE|1||{ORDINARY}",
            ),
        ),
        "fhir_refuted": ("fhir-r4", _bundle("refuted")),
        "hl7_tobacco": ("hl7v2", _hl7("ADT^A08^ADT_A01", 3, "PV1|1|I", "DG1|1||F17.210^^I10||20240101|A")),
    }
    signed = {kind: signed_input(keyring, schema, value, f"key-{kind}") for kind, (schema, value) in inputs.items()}
    ids = {kind: s.message_id for kind, s in signed.items()}
    by_id = {v: k for k, v in ids.items()}
    restricted_kinds = {"hl7_adt_oud", "avro_oud"}
    withheld_kinds = {"fhir_hiv", "hl7_oru_hiv"}
    topics = [settings.topic_redacted, settings.topic_restricted, settings.topic_audit, settings.topic_deadletter]

    def complete(found) -> bool:
        outputs = {message_id(m) for m in found if m.topic in (settings.topic_redacted, settings.topic_restricted)}
        decisions = sum(
            1
            for m in found
            if m.topic == settings.topic_audit and decode_output(registry, m)["event_type"] == "sensitive_decision"
        )
        return outputs >= set(ids.values()) and decisions >= len(restricted_kinds | withheld_kinds)

    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        send(settings, list(signed.values()))
        found = asyncio.run(consume(settings, topics, until=complete, timeout=240))
    assert complete(found), log_tail(log)
    assert not [m for m in found if m.topic == settings.topic_deadletter], log_tail(log)

    where = {by_id[message_id(m)]: m for m in found if m.topic in (settings.topic_redacted, settings.topic_restricted)}
    assert {k for k, m in where.items() if m.topic == settings.topic_restricted} == restricted_kinds
    assert {k for k, m in where.items() if m.topic == settings.topic_redacted} == set(ids) - restricted_kinds

    avro_out = decode_output(registry, where["avro_oud"])
    assert [c["category"] for c in avro_out["sensitive_categories"]] == ["substance_use"]
    assert avro_out["sensitive_categories"][0]["action"] == "restrict"
    fhir_out = json.loads(where["fhir_hiv"].value)
    assert fhir_out["entry"][2]["resource"].get("valueString") is None  # the text withheld
    assert ORDINARY.encode() not in where["hl7_oru_hiv"].value
    assert ORDINARY in where["fhir_refuted"].value.decode()  # a refuted diagnosis is no diagnosis

    events = [decode_output(registry, m) for m in found if m.topic == settings.topic_audit]
    decisions = {by_id[e["message_id"]]: e for e in events if e["event_type"] == "sensitive_decision"}
    assert set(decisions) == restricted_kinds | withheld_kinds
    assert decisions["hl7_adt_oud"]["outcome"] == "restrict" and decisions["fhir_hiv"]["outcome"] == "withhold_text"
    assert "category:substance_use" in decisions["avro_oud"]["details"]
    assert "category:hiv_sti" in decisions["hl7_oru_hiv"]["details"]
