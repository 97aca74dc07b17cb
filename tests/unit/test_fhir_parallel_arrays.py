"""A repeating primitive and its ``_name`` list (FHIR JSON's parallel arrays: ``given`` with ``_given``) stay
aligned when de-identification removes some of the items: an item removed from both closes up in both, an
item whose value goes but whose extension stays is null in the value list. Before, the value list closed up
alone and each extension slid onto the next name. A null left by withheld text is removed, not written; and
``policy explain`` lists the required elements that will be written absent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhir_absent import REMOVED, absent_extension, prune
from pipeline.core.policy.loader import parse_policy
from pipeline.interfaces.policy_explain import explain_message, format_coverage
from tests.unit.test_fhir_absent import CLAIM

QUALIFIER = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier"


def qualifier(code: str) -> dict[str, Any]:
    return {"extension": [{"url": QUALIFIER, "valueCode": code}]}


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "name": [{"given": ["Jane", "Q", "Ann"], "_given": [None, qualifier("IN"), qualifier("CL")]}],
}


def deidentify(resource: dict[str, Any], where: str) -> dict[str, Any]:
    policy = f"version: 1\nfhir:\n  rules:\n    \"Patient.name.given.where($this = '{where}')\": redact NAME\n"
    policy += "    HumanName.given: keep\n"
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=parse_policy(policy, "p"))
    out = json.loads(deidentifier.document("fhir-r4", json.dumps(resource).encode()).content)
    validate(out)
    return out


def test_an_item_removed_with_no_extension_closes_up_in_both_lists():
    name = deidentify(PATIENT, "Jane")["name"][0]
    assert name["given"] == ["Q", "Ann"] and name["_given"] == [qualifier("IN"), qualifier("CL")]


def test_an_item_removed_whose_extension_stays_is_null_in_the_value_list():
    name = deidentify(PATIENT, "Q")["name"][0]
    assert name["given"] == ["Jane", None, "Ann"] and name["_given"] == [None, qualifier("IN"), qualifier("CL")]


@pytest.mark.parametrize(
    ("values", "extras", "expected"),
    [
        (
            ["a", REMOVED, "c"],
            [{"id": REMOVED}, qualifier("X"), REMOVED],
            (["a", None, "c"], [None, qualifier("X"), None]),
        ),
        ([REMOVED, "b"], [qualifier("X"), REMOVED], ([None, "b"], [qualifier("X"), None])),
        (["a", REMOVED], [REMOVED, REMOVED], (["a"], None)),  # no extension left: no _given
        ([REMOVED, REMOVED], [{"id": REMOVED}, None], (None, None)),
        ([None, "b"], [qualifier("X"), None], ([None, "b"], [qualifier("X"), None])),  # the input's own nulls
        (["", "b"], [None, None], (["b"], None)),  # an empty string a transformation left
    ],
)
def test_prune_keeps_the_lists_aligned(values, extras, expected):
    pruned = prune({"resourceType": "Patient", "name": [{"given": values, "_given": extras}]}).value
    name = pruned.get("name", [{}])[0] if pruned is not REMOVED else {}
    assert (name.get("given"), name.get("_given")) == expected


def test_a_null_left_by_withheld_text_is_removed_and_a_required_one_written_absent():
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": None}, "valueString": None}
    pruned = prune(observation)
    assert pruned.value == {"resourceType": "Observation", "status": "final", "code": absent_extension()}
    assert pruned.absent == ["Observation.code"]


def test_policy_explain_lists_the_elements_written_absent():
    coverage = explain_message(json.dumps(CLAIM).encode(), "fhir")
    absent = [r for r in coverage.records if r.action == "absent"]
    assert [r.path for r in absent] == ["Claim.diagnosis[0].diagnosisReference", "Claim.insurance[0].coverage"]
    assert "data-absent-reason" in absent[0].rule
    assert format_coverage(coverage).rstrip().endswith("; 2 element(s) written absent")
