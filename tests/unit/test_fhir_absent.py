"""A required FHIR element that de-identification empties is written with FHIR's Data Absent Reason extension
(``masked``), not dropped: the output validates, and the extension carries nothing of the value.

The scan at the end builds, for every R4B resource type, a resource holding only its required elements
(from the models' own definitions), with references that carry only a display name and attachments only a
URL, as many real feeds send them; under the shipped Safe Harbor policy each one used to be dead-lettered
as invalid output wherever such an element was required (``Claim.patient``, ``DocumentReference.content``).
"""

from __future__ import annotations

import copy
import json
import pkgutil
from typing import Any

import fhir.resources.R4B as r4b
import pytest
from fhir.resources.R4B.resource import Resource

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.formats import fhir_model
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhir_absent import DATA_ABSENT_REASON, REMOVED, absent_extension, prune
from pipeline.core.policy.loader import parse_policy

ABSENT = absent_extension()
PHI = "Jane Roe"
CLAIM: dict[str, Any] = {
    "resourceType": "Claim",
    "status": "active",
    "type": {"coding": [{"code": "oral"}]},
    "use": "claim",
    "patient": {"reference": "Patient/1"},
    "created": "2014-08-16",
    "provider": {"reference": "Organization/1"},
    "priority": {"text": f"normal, says {PHI}"},
    "diagnosis": [{"sequence": 1, "diagnosisReference": {"display": PHI}}],
    "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": PHI}}],
}


def deidentify(resource: dict[str, Any], policy: str | None = None) -> tuple[dict[str, Any], str]:
    parsed = parse_policy(policy, "policy.yaml") if policy else None
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=parsed)
    content = deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content
    return json.loads(content), content.decode()


def test_a_required_complex_element_emptied_is_the_extension_alone():
    out, text = deidentify(CLAIM, "version: 1\nfhir:\n  rules:\n    Claim.priority: redact ID\n")
    assert out["priority"] == ABSENT and "normal" not in text
    validate(out)


def test_a_required_choice_is_written_under_the_type_the_input_used():
    out, text = deidentify(CLAIM)  # Safe Harbor: Reference.display redacted (NAME)
    assert out["diagnosis"] == [{"sequence": 1, "diagnosisReference": ABSENT}]
    assert out["insurance"][0]["coverage"] == ABSENT and PHI not in text
    validate(out)


def test_a_required_primitive_emptied_is_its_underscore_sibling():
    out, text = deidentify(CLAIM, "version: 1\nfhir:\n  rules:\n    Claim.created: redact DATE\n")
    assert "created" not in out and out["_created"] == ABSENT and "2014" not in text
    assert list(out).index("_created") == list(CLAIM).index("created")  # where the input had it
    validate(out)


def test_a_required_primitive_a_transformation_left_empty_is_absent_too():
    policy = 'version: 1\nfhir:\n  rules:\n    Claim.use: {action: substitute, type: ID, params: {value: ""}}\n'
    out, _ = deidentify(CLAIM, policy)
    assert "use" not in out and out["_use"] == ABSENT
    validate(out)


def test_a_required_array_emptied_gets_one_item_with_its_own_required_elements_absent():
    resource = {**CLAIM, "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": PHI}}] * 2}
    pruned = prune({**resource, "insurance": [dict.fromkeys(item, REMOVED) for item in resource["insurance"]]})
    assert pruned.value["insurance"] == [{**ABSENT, "_sequence": ABSENT, "_focal": ABSENT, "coverage": ABSENT}]
    assert pruned.absent == ["Claim.insurance"]
    validate(pruned.value)


def test_an_optional_element_emptied_is_simply_removed():
    resource = {**CLAIM, "payee": {"type": {"text": "x"}}, "diagnosis": [{"sequence": 1, "diagnosisReference": {}}]}
    resource["payee"]["type"]["text"] = REMOVED
    resource["diagnosis"][0] = dict.fromkeys(resource["diagnosis"][0], REMOVED)
    pruned = prune(resource)
    assert "payee" not in pruned.value and "diagnosis" not in pruned.value and pruned.absent == []


def test_required_elements_come_from_the_models_definitions():
    by_name = {r.names: r for r in fhir_model.required_elements("ClaimDiagnosis")}
    assert set(by_name) == {("sequence",), ("diagnosisCodeableConcept", "diagnosisReference")}
    assert fhir_model.required_elements("Claim")[1].repeats is True  # insurance: 1..*
    assert fhir_model.is_required("Encounter", "class") and not fhir_model.is_required("Patient", "name")
    assert fhir_model.required_elements("NoSuchThing") == ()


def test_each_resource_of_a_bundle_is_read_against_its_own_type():
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"family": "Roe"}]}},
            {"resource": copy.deepcopy(CLAIM)},
        ],
    }
    out, text = deidentify(bundle)
    claim = out["entry"][1]["resource"]
    assert claim["insurance"][0]["coverage"] == ABSENT and PHI not in text and "Roe" not in text
    validate(out)


# -- every R4B resource type, its required elements only, under the shipped policy ----------------------------
_COMPLEX = {
    "Reference": {"display": "John Smith"},
    "Attachment": {"url": "http://example.org/docs/1.pdf"},
    "CodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "1234"}]},
    "Coding": {"system": "http://snomed.info/sct", "code": "1234"},
    "Identifier": {"system": "http://hospital.example/mrn", "value": "12345"},
    "Period": {"start": "2020-01-02"},
    "Quantity": {"value": 1, "unit": "mg"},
    "Money": {"value": 1, "currency": "USD"},
}
_PRIMITIVE = {
    "boolean": True,
    "integer": 1,
    "decimal": 1.5,
    "positiveInt": 1,
    "unsignedInt": 0,
    "date": "2020-01-02",
    "dateTime": "2020-01-02T10:00:00Z",
    "instant": "2020-01-02T10:00:00Z",
    "time": "10:00:00",
    "uri": "http://example.org/x",
    "url": "http://example.org/x",
    "canonical": "http://example.org/fhir/Questionnaire/x",
    "base64Binary": "SGVsbG8=",
    "code": "active",
    "id": "abc",
    "oid": "urn:oid:1.2.3",
    "uuid": "urn:uuid:6f8e8b2c-3c0e-4f0b-9a0e-2b6b7b1d9f10",
}


def _enum(model: str, name: str) -> Any:
    fields = fhir_model.fhir_model_fields(model)
    info = next(f for key, f in fields.items() if (f.alias or key) == name)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return (extra.get("enum_values") or [None])[0]


def _required_only(model: str, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for required in fhir_model.required_elements(model):
        name, kind = required.names[0], required.types[0]
        if kind.name in (fhir_model.RESOURCE, "Extension"):
            continue
        if kind.primitive:
            value: Any = _enum(model, name) or _PRIMITIVE.get(kind.name, "sample text")
        else:
            value = {**_COMPLEX.get(kind.name, {}), **(_required_only(kind.name, depth + 1) if depth < 8 else {})}
            value = value or {"extension": [{"url": "http://example.org/ext", "valueString": "sample text"}]}
        out[name] = [value] if required.repeats else value
    return out


def _resource_types() -> list[str]:
    names = []
    for module in pkgutil.iter_modules(r4b.__path__):
        loaded = __import__(f"fhir.resources.R4B.{module.name}", fromlist=["_"])
        for cls in vars(loaded).values():
            if isinstance(cls, type) and issubclass(cls, Resource) and cls.__name__.lower() == module.name:
                names.append(cls.__name__)
    return sorted(set(names) - {"Resource", "DomainResource"})


def _absent_paths(value: Any, path: str, out: list[str]) -> list[str]:
    if isinstance(value, dict):
        if value.get("url") == DATA_ABSENT_REASON:
            out.append(path.rsplit(".extension", 1)[0])
        for key, item in value.items():
            _absent_paths(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            _absent_paths(item, path, out)
    return out


@pytest.fixture(scope="module")
def scanned() -> dict[str, list[str]]:
    """Resource type -> the elements written absent (each validated) under the shipped policy."""
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector())
    found: dict[str, list[str]] = {}
    for name in _resource_types():
        resource = {"resourceType": name, "id": "x1", **_required_only(name)}
        validate(resource)
        out = json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)
        validate(out)
        assert "John Smith" not in json.dumps(out)
        found[name] = _absent_paths(out, name, [])
    return found


def test_every_resource_type_publishes_under_the_shipped_policy_with_required_elements_absent(scanned):
    assert len(scanned) == 141  # R4B's resource types
    affected = {name: paths for name, paths in scanned.items() if paths}
    assert len(affected) == 48  # each was dead-lettered before (output-invalid)
    assert affected["Claim"] == ["Claim.insurance.coverage", "Claim.patient", "Claim.provider"]
    assert affected["DocumentReference"] == ["DocumentReference.content", "DocumentReference.content.attachment"]
    for paths in affected.values():
        for path in paths:
            *parents, element = path.split(".")
            model = parents[0]
            for step in parents[1:]:
                model = fhir_model.element_type(model, step).name
            assert fhir_model.is_required(model, element), path  # only where the definition requires it
