"""A code of an allow-listed code system is vocabulary, kept by ``keep`` whatever its length: a FHIR
``Coding.code`` beside a listed ``system`` (SNOMED CT 86406008, eight digits) and an HL7 v2 coded element's
identifier beside a listed coding system (``86406008^...^SCT``). Before, ``keep`` kept numbers of up to six
digits only, so such a code went to the detector (``[ID]``) and, in a record whose text a sensitive category
withholds, came out null. A code under an unknown system is decided as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import Deidentifier, RuleDetector
from pipeline.core.coverage import is_code_system, keepable
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.formats.fhir import validate
from pipeline.core.policy.loader import parse_policy
from pipeline.core.sensitive import NoteClassifier
from pipeline.runtime.sensitive_classifier import build_classifier

SNOMED, LOINC = "http://snomed.info/sct", "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HIV = "86406008"  # SNOMED CT: human immunodeficiency virus infection
MODEL = Path(__file__).resolve().parents[2] / "models" / "detector"  # the category head beside the detector


@pytest.mark.parametrize(
    ("code", "system", "kept"),
    [
        (HIV, SNOMED, True),
        ("900000000000207008", SNOMED, True),  # 18 digits, a valid SCTID
        ("1049502", RXNORM, True),  # an RxCUI of seven digits
        ("8867-4", LOINC, True),
        (HIV, "SCT", True),  # HL7 v2 table 0396 names
        ("1049502", "RXNORM", True),
        (HIV, None, False),  # no system: a number of more than six digits goes to the detector, as before
        (HIV, "http://example.org/codes", False),  # an unknown system: as before
        (HIV, "99LOCAL", False),
        ("12345678", SNOMED, False),  # not an SCTID: its check digit is wrong
        ("86406009", SNOMED, False),
        ("536228147", "http://hl7.org/fhir/sid/us-ssn", False),  # an identifier system under a listed prefix
        ("1234567893", "http://hl7.org/fhir/sid/us-npi", False),
        ("536-22-8147", LOINC, False),  # SSN-shaped
        ("jane@example.org", LOINC, False),
        ("Jane Roe", SNOMED, False),  # not a code's shape
    ],
)
def test_a_code_of_a_listed_system_is_kept_whatever_its_length(code, system, kept):
    assert keepable(code, system) is kept


def test_listed_systems():
    assert is_code_system(SNOMED) and is_code_system("LN") and is_code_system("i10")
    assert not is_code_system("http://hl7.org/fhir/sid/us-mbi") and not is_code_system(None)
    assert is_code_system("http://hl7.org/fhir/sid/icd-10-cm")


def _condition(code: str, system: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}], "text": "HIV infection"},
    }


def _bundle(*resources: dict[str, Any]) -> bytes:
    return json.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    ).encode()


def _codings(content: bytes) -> list[dict[str, Any]]:
    out = json.loads(content)
    validate(out)
    return [e["resource"]["code"]["coding"][0] for e in out["entry"] if e["resource"]["resourceType"] == "Condition"]


def test_fhir_snomed_code_is_kept_and_an_unknown_systems_goes_to_the_detector():
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector())
    content = deidentifier.document(
        "fhir-r4", _bundle(_condition(HIV, SNOMED), _condition(HIV, "urn:oid:1.2.3"))
    ).content
    listed, unknown = _codings(content)
    assert listed == {"system": SNOMED, "code": HIV}
    assert unknown.get("code") != HIV  # the detector's (an eight-digit number: [ID])


def test_the_system_is_read_as_the_input_has_it_whatever_a_rule_does_to_it():
    policy = "version: 1\nfhir:\n  rules:\n    Coding.system: redact URL\n"
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=parse_policy(policy, "p"))
    resource = _condition(HIV, SNOMED)
    resource["code"]["coding"][0] = {"system": SNOMED, "code": HIV}
    [coding] = _codings(deidentifier.document("fhir-r4", _bundle(resource)).content)
    assert coding == {"code": HIV}


HL7 = (
    "MSH|^~\\&|EPIC|GH|RECEIVER|LAB|202401010930||ADT^A08^ADT_A01|C1|P|2.5\r"
    "PID|1||123^^^GH^MR||Doe^Jane||19800101|F\rPV1|1|I\r"
    "DG1|1||{code}^HIV infection^{system}^B20^HIV disease^{alternate}||20240101|A\r"
)


@pytest.mark.parametrize(
    ("system", "alternate", "kept"),
    [("SCT", "I10", {HIV, "B20"}), ("99LOCAL", "I10", {"B20"}), ("SCT", "99ZZ", {HIV, "B20"})],
)
def test_hl7_coded_element_identifier_beside_a_listed_coding_system_is_kept(system, alternate, kept):
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector())
    message = HL7.format(code=HIV, system=system, alternate=alternate).encode()
    dg1 = next(s for s in deidentifier.document("hl7v2", message).content.decode().split("\r") if s.startswith("DG1"))
    identifiers = {dg1.split("|")[3].split("^")[0], dg1.split("|")[3].split("^")[3]}
    assert identifiers & {HIV, "B20"} == kept


@pytest.fixture(scope="module")
def classifier() -> NoteClassifier:
    return build_classifier(MODEL, provider="cpu", threads=1)


def test_a_withheld_record_keeps_its_listed_codes(classifier):
    """The HIV code withholds the record's text; the code itself is vocabulary and still flows (was null)."""
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), classifier=classifier)
    done = deidentifier.document("fhir-r4", _bundle(_condition(HIV, SNOMED)))
    assert done.withheld
    [coding] = _codings(done.content)
    assert coding == {"system": SNOMED, "code": HIV}
    hl7 = deidentifier.document("hl7v2", HL7.format(code=HIV, system="SCT", alternate="I10").encode())
    assert hl7.withheld and f"|{HIV}^" in hl7.content.decode()
