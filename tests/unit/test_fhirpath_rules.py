"""FHIRPath in the policy's FHIR rules: nodesByType, where, ofType, descendants; rules in order, first
match wins; the project's own paths keep working; ``policy explain`` names the rule that took each leaf."""

from __future__ import annotations

import json

import pytest

from pipeline import Deidentifier, RuleDetector, parse_policy
from pipeline.core.crypto.keyring import KeyPurpose, Keyring
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhirpath import ancestors, problem
from pipeline.core.formats.registry import FormatProcessors
from pipeline.core.formats.values import ValueProtector
from pipeline.core.policy.loader import PolicyFileError
from tests.unit.test_new_actions import OBSERVATION

POLICY = """version: 1
fhir:
  rules:
    "Patient.telecom.where(system = 'phone').value": {action: mask, type: PHONE, params: {keep_last: 4}}
    "nodesByType('HumanName')": {action: substitute, type: NAME, params: {value: X}}
    "Patient.name.given": redact NAME
    "Patient.descendants().ofType(date)": generalize DATE
    "Bundle.entry.resource.ofType(Observation).valueQuantity.value": {action: perturb, params: {range: 2}}
    Patient.address.postalCode: redact ZIP
"""
PATIENT = {
    "resourceType": "Patient",
    "birthDate": "1960-03-04",
    "name": [{"family": "Lee", "given": ["Ann"]}],
    "telecom": [{"system": "phone", "value": "617-555-0142"}, {"system": "email", "value": "ann@example.org"}],
    "address": [{"city": "Boston", "postalCode": "02115"}],
}


def _coverage(policy_text: str, resource: dict) -> dict[str, tuple[str, str]]:
    keyring = Keyring.generate()
    protector = ValueProtector(
        "m", Tokenizer(keyring).tokenize, lambda *a: "enc", keyring.current(KeyPurpose.PSEUDONYM).material
    )
    policy = parse_policy(policy_text, "p.yaml")
    processors = FormatProcessors(dict(policy.formats))
    coverage = processors.protect(FORMAT_FHIR, json.dumps(resource).encode(), protector, explain=True).coverage
    return {r.path: (r.action, r.rule) for r in coverage.records}


def test_fhirpath_rules_select_in_order_and_explain_names_them():
    leaves = _coverage(POLICY, PATIENT)
    assert leaves["Patient.telecom[0].value"] == (
        "mask",
        "Patient.telecom.where(system = 'phone').value: mask PHONE (char='*' keep_last=4)",
    )
    assert leaves["Patient.telecom[1].value"][1] == "ContactPoint.value: redact EMAIL"  # where() left it out
    # nodesByType comes first, so it takes the given name too (the later Patient.name.given rule does not)
    assert leaves["Patient.name[0].given[0]"][1] == "nodesByType('HumanName'): substitute NAME (value='X')"
    assert leaves["Patient.birthDate"][1] == "Patient.descendants().ofType(date): generalize DATE"
    assert leaves["Patient.address[0].postalCode"] == ("redact", "Patient.address.postalCode: redact ZIP")


def test_the_output_follows_the_rules_and_bundle_entries_are_evaluated(keyring):
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=parse_policy(POLICY, "p.yaml"))
    out = json.loads(deidentifier.document("fhir-r4", json.dumps(PATIENT).encode()).content)
    assert out["name"] == [{"family": "X", "given": ["X"]}] and out["birthDate"] == "1960"
    assert out["telecom"][0]["value"] == "***-***-0142" and "address" not in out
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": OBSERVATION}]}
    done = json.loads(deidentifier.document("fhir-r4", json.dumps(bundle).encode()).content)
    value = done["entry"][0]["resource"]["valueQuantity"]["value"]
    assert value != 120.5 and abs(value - 120.5) <= 2


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("Patient.name.where(use = 'official'", "not valid FHIRPath"),
        ("Patient.name.frobnicate()", "FHIRPath cannot evaluate it (Not implemented: frobnicate)"),
        ("nodesByType('HumanName'))", "not valid FHIRPath"),
    ],
)
def test_a_broken_expression_fails_at_load_with_its_line(path, message):
    assert message in (problem(path) or "")
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(f'version: 1\nfhir:\n  rules:\n    "{path}": redact NAME\n', "p.yaml")
    assert caught.value.problems[0].startswith("p.yaml:4: ") and message in caught.value.problems[0]


def test_ancestors_walk_up_the_walkers_paths():
    assert ancestors("Patient.name[0].given[1]") == [
        "Patient.name[0].given[1]",
        "Patient.name[0].given",
        "Patient.name[0]",
        "Patient.name",
        "Patient",
    ]
