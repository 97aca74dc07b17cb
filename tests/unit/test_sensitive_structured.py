"""Coded data in HL7 v2 and FHIR: what of it reaches the sensitive-category evidence.

The format layer hands the classifier every text it sends to the detector: an HL7 DG1-4 diagnosis
description, OBX-5 text values, a FHIR CodeableConcept.text. Those are classified like any note. Coded
fields (DG1-3, Coding.code) are read apart, before protection, into the document's ``codes``
(tests/unit/test_sensitive_codes.py and test_sensitive_coded_records.py).
"""

from __future__ import annotations

import json

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.formats.base import ProtectedDocument
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.sensitive import SensitiveCategory as C
from pipeline.core.sensitive_evidence import NoteEvidence, find_evidence
from pipeline.core.sensitive_evidence.codes import categories_of_code

HL7 = (
    "\r".join(
        [
            "MSH|^~\\&|EPIC|GH|RECEIVER|LAB|202401010930||ADT^A08^ADT_A01|C1|P|2.5",
            "PID|1||123^^^GH^MR||Doe^Jane||19800101|F",
            "PV1|1|I",
            "DG1|1||F10.20^Alcohol dependence, uncomplicated^I10|Alcohol dependence, uncomplicated|20240101|A",
            "OBX|1|TX|11506-3^Progress note^LN||HIV-1 RNA viral load 40 copies/mL on Biktarvy||||||F",
        ]
    )
    + "\r"
)
CONDITION = {
    "resourceType": "Condition",
    "id": "c1",
    "subject": {"reference": "Patient/p1"},
    "code": {
        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "Z33.1", "display": "Pregnant state"}],
        "text": "Pregnant state, incidental",
    },
}


def _protect(fmt: str, value: bytes, keyring) -> ProtectedDocument:
    protector = ValueProtector(
        "msg-1", Tokenizer(keyring).tokenize, Encryptor(keyring).encrypt, keyring.current(KeyPurpose.PSEUDONYM).material
    )
    return FormatProcessors({}).protect(fmt, value, protector)


def _evidence(fmt: str, value: bytes, keyring) -> tuple[NoteEvidence, list[str]]:
    document = _protect(fmt, value, keyring)
    merged = NoteEvidence()
    for slot in document.texts:
        merged.merge(find_evidence(slot.text))
    return merged, [slot.path for slot in document.texts]


def _codes(fmt: str, value: bytes, keyring) -> set[C]:
    return set(_protect(fmt, value, keyring).codes.categories)


def test_hl7_diagnosis_descriptions_and_text_results_are_classified(keyring):
    evidence, paths = _evidence("hl7v2", HL7.encode(), keyring)
    assert any(p.startswith("DG1") for p in paths) and any(p.startswith("OBX") for p in paths)
    assert evidence[C.SUBSTANCE_USE].strong and evidence[C.HIV_STI].strong
    assert categories_of_code("F10.20") == {C.SUBSTANCE_USE}
    assert _codes("hl7v2", HL7.encode(), keyring) == {C.SUBSTANCE_USE}  # DG1-3 F10.20; OBX-3 codes a progress note


def test_fhir_codeable_concept_text_is_classified(keyring):
    evidence, paths = _evidence("fhir-r4", json.dumps(CONDITION).encode(), keyring)
    assert "Condition.code.text" in paths
    assert evidence[C.REPRODUCTIVE].strong
    assert categories_of_code("Z33.1") == {C.REPRODUCTIVE}
    assert _codes("fhir-r4", json.dumps(CONDITION).encode(), keyring) == {C.REPRODUCTIVE}
