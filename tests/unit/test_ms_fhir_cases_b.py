"""Microsoft's FHIR anonymizer functional cases, second share (tests/unit/ms_fhir_cases_more_b.py), run with the
harness of tests/unit/test_ms_fhir_import.py: complex and conflicting substitutes, contained resources (alone and in
a Bundle), redact-all on collections, a Bundle entry without a resource, and the processing-error configurations.
Each case names every element where we differ from their target, with the reason."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.errors import InvalidFhir
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhir_absent import DATA_ABSENT_REASON, MASKED
from pipeline.core.formats.fhirpath import is_fhirpath
from pipeline.core.formats.names import Format
from pipeline.core.policy.loader import PolicyFileError, parse_policy
from pipeline.core.policy.ms_fhir import import_ms_fhir
from tests.unit.ms_fhir_cases import config_text
from tests.unit.ms_fhir_cases_more_b import CASES, PROCESSING_ERROR_CASES, processing_error_config
from tests.unit.test_ms_fhir_import import date_offsets, run_case

_HEX32 = re.compile(r"[0-9a-f]{32}")

#: case -> (elements equal to their target, of the same shape, {element that differs: why})
EXPECTED: dict[str, tuple[int, int, dict[str, str]]] = {
    "patient-substitute-complex/substitute-complex": (4, 0, {}),
    "patient-substitute-multiple/substitute-multiple": (4, 0, {}),
    "patient-substitute-multiple-2/substitute-multiple-2": (4, 0, {}),
    "patient-substitute-conflict-rules/substitute-conflict-rules": (4, 0, {}),
    "contained-basic/common-config": (2, 0, {}),
    "contained-in-bundle/common-config": (3, 0, {}),
    "contained-substitute/substitute-multiple": (3, 0, {}),
    "bundle-substitute/substitute-multiple": (4, 0, {}),
    "bundle-without-entry-resource/common-config": (
        0,
        1,
        {
            "Bundle.meta.lastUpdated": "their dateShift writes an instant at midnight as +00:00 (25 characters); "
            "ours keeps the time of day and the Z (20)"
        },
    ),
}
#: redact-all on these leaves no required element (Condition.subject, Observation.status/code): their target is
#: not valid R4, and ours refuses to emit what is not (the message is dead-lettered with the reason)
REFUSED = (
    "contained-basic/redact-all-config",
    "contained-in-bundle/redact-all-config",
    "bundle-basic/redact-all-config",
)


def _output(config: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    policy = parse_policy(import_ms_fhir(config_text(config), "config.json")[0], "imported.yaml")
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=policy)
    return json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)


def _resources(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document, its Bundle entries' resources and every contained resource, in order."""
    out = [document]
    for entry in document.get("entry", []):
        if "resource" in entry:
            out.extend(_resources(entry["resource"]))
    for contained in document.get("contained", []):
        out.extend(_resources(contained))
    return out


def test_every_case_is_accounted_for():
    assert set(CASES) == set(EXPECTED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_case_matches_their_target_on_every_element_their_rules_select(name):
    equal, same_shape, differs = EXPECTED[name]
    outcome = run_case(*CASES[name])  # the output is validated as R4 (fhir.resources) inside
    assert outcome["differs"] == sorted(differs)
    assert (len(outcome["equal"]), len(outcome["same-shape"])) == (equal, same_shape)


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if "substitute" in n))
def test_substituted_names_equal_their_target_whole(name):
    """Beyond the input's elements: what the replacement adds (a period's end, a second given name) too."""
    config, resource, target = CASES[name]
    ours = [r.get("name") for r in _resources(_output(config, resource))]
    assert ours == [r.get("name") for r in _resources(target)]


def test_a_child_substituted_first_keeps_its_own_value_and_a_parent_first_takes_all():
    multiple = _output(*CASES["patient-substitute-multiple/substitute-multiple"][:2])
    assert multiple["name"][2]["period"] == {"start": "2020-01-01", "end": "2021-01-01"}
    parent_first = _output(*CASES["patient-substitute-multiple-2/substitute-multiple-2"][:2])
    assert {n["family"] for n in parent_first["name"]} == {"example"}  # the family rule after it never applies
    assert all("period" not in n and "use" not in n for n in parent_first["name"])
    conflict = _output(*CASES["patient-substitute-conflict-rules/substitute-conflict-rules"][:2])
    assert conflict["name"][2]["period"] == {"start": "2002"}  # the earlier redact's partial date stays


def test_a_conflicting_redact_keeps_only_the_year_inside_the_substituted_name():
    config, resource, _ = CASES["patient-substitute-conflict-rules/substitute-conflict-rules"]
    resource = json.loads(json.dumps(resource).replace('"start": "2002"', '"start": "2002-07-14"'))
    assert _output(config, resource)["name"][2]["period"] == {"start": "2002"}


@pytest.mark.parametrize("name", ["contained-basic/common-config", "contained-in-bundle/common-config"])
def test_a_contained_resource_keeps_its_local_reference_consistent(name):
    """Theirs keeps the contained id and '#p1' (no rule names them); ours pseudonymizes both alike."""
    config, resource, _ = CASES[name]
    condition = next(r for r in _resources(_output(config, resource)) if r["resourceType"] == "Condition")
    [practitioner] = condition["contained"]
    assert practitioner == {"resourceType": "Practitioner", "id": practitioner["id"]}  # the name redacted
    assert _HEX32.fullmatch(practitioner["id"]) and condition["asserter"]["reference"] == f"#{practitioner['id']}"


ABSENT_AFTER_REDACT_ALL = {
    "contained-basic/redact-all-config": {"Condition.subject"},
    "contained-in-bundle/redact-all-config": {"Bundle.type", "Condition.subject"},
    "bundle-basic/redact-all-config": {"Bundle.type", "Observation.status", "Observation.code"},
}


def _absent_paths(node: Any, path: str = "") -> set[str]:
    """Paths (resource type and element names) that carry only the data-absent-reason extension."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _absent_paths(item, path)
    elif isinstance(node, dict):
        here = node.get("resourceType", path)
        for key, value in node.items():
            name = key.removeprefix("_")
            if isinstance(value, dict) and value.get("extension") == [{"url": DATA_ABSENT_REASON, "valueCode": MASKED}]:
                found.add(f"{here}.{name}")
            else:
                found |= _absent_paths(value, f"{here}.{name}" if "resourceType" not in node else here)
    return found


@pytest.mark.parametrize("name", REFUSED)
def test_redact_all_writes_required_elements_absent_where_their_target_is_not_r4(name):
    """Their redact-all target drops required elements (not valid R4); ours publishes them as data-absent-reason."""
    config, resource, target = CASES[name]
    with pytest.raises(ValidationError):
        validate(target)
    output = _output(config, resource)
    validate(output)
    assert _absent_paths(output) == ABSENT_AFTER_REDACT_ALL[name]


def test_instants_of_one_bundle_shift_together():
    config, bundle, _ = CASES["bundle-without-entry-resource/common-config"]
    assert len(date_offsets(config, bundle)) == 1


@pytest.mark.parametrize("name", sorted(PROCESSING_ERROR_CASES))
def test_the_processing_error_configurations_import_and_protect_every_name(name):
    """Theirs: an empty result (skip) or an exception (raise, and by default), because their FHIRPath refuses
    to compare a family name with a number. fhirpathpy gives an empty result, so the generalize case never
    applies, the family falls to otherValues' default (redact) and the resource goes through; every name is
    gone and the rest is kept as their 'Resource: keep' says (codes, numbers; free text to the detector)."""
    option, resource = PROCESSING_ERROR_CASES[name]
    _, notes = import_ms_fhir(config_text(processing_error_config(option)), "config.json")
    noted = [n for n in notes if "processingErrors" in n]
    assert noted == (
        []
        if option is None
        else [
            "config.json:3: processingErrors: a resource that cannot be "
            "processed is always dead-lettered with its reason"
        ]
    )
    output = _output(processing_error_config(option), resource)
    validate(output)
    for each in _resources(output):
        assert all(set(n) <= {"period", "use"} for n in each.get("name", [])), each.get("name")


def test_a_complex_replacewith_imports_as_an_element_and_a_bad_element_is_refused():
    config = CASES["patient-substitute-complex/substitute-complex"][0]
    policy = parse_policy(import_ms_fhir(config_text(config), "c.json")[0], "i.yaml")
    [rule] = [r for p, r in policy.formats[Format.FHIR].rules.items() if is_fhirpath(p)]
    assert json.loads(str(rule.params.get("element"))) == {"family": "example", "given": ["test", "testing"]}
    for params, problem in (
        ("{element: '[1]'}", "element must be a JSON object"),
        ("{element: '{}', value: x}", "not both"),
    ):
        policy_text = f"version: 1\nfhir:\n  rules:\n    (Patient.name): {{action: substitute, params: {params}}}\n"
        with pytest.raises(PolicyFileError, match=re.escape(problem)):
            parse_policy(policy_text, "p.yaml")


def test_an_element_substitute_on_a_single_value_removes_it():
    config = {"fhirPathRules": [{"path": "Patient.name.family", "method": "substitute", "replaceWith": {"a": 1}}]}
    resource = {"resourceType": "Patient", "name": [{"family": "Family", "use": "official"}]}
    assert _output(config, resource)["name"] == [{"use": "official"}]


def _condition(age: float) -> dict[str, Any]:
    age_element = {"value": age, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}
    return {"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetAge": age_element}


@pytest.mark.parametrize(("partial", "age", "kept"), [(True, 45, {"value": 45}), (True, 95, None), (False, 45, None)])
def test_partial_ages_keep_an_age_under_90_as_theirs_does(partial, age, kept):
    """Their RedactProcessor: an Age's number under 90 stays with enablePartialAgesForRedact; its unit, system
    and code are redacted like any other value."""
    config = {"fhirPathRules": [{"path": "nodesByType('Age')", "method": "redact"}]}
    config["parameters"] = {"enablePartialAgesForRedact": partial}
    assert _output(config, _condition(age)).get("onsetAge") == kept


def test_nodes_by_name_selects_every_element_of_that_name():
    config = {"fhirPathRules": [{"path": "nodesByName('family')", "method": "redact"}]}
    config["fhirPathRules"].append({"path": "Patient.name.given", "method": "keep"})
    patient = {"resourceType": "Patient", "name": [{"family": "Family", "given": ["GivenFirst"]}]}
    patient["contact"] = [{"name": {"family": "TestFamily"}, "gender": "female"}]
    output = _output(config, patient)
    assert output["name"] == [{"given": ["GivenFirst"]}] and "name" not in output["contact"][0]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({"fhirVersion": "R4"}, None),
        ({"fhirVersion": "Stu3"}, "fhirVersion: the pipeline reads FHIR R4 only"),
        ({"parameters": {"encryptKey": "abc"}}, "encryptKey refused: keys live in the keyring"),
        ({"parameters": {"dateShiftScope": "resource"}}, "dateShiftScope: dates shift per patient here"),
        ({"parameters": {"customSettings": {}}}, "parameters: unknown setting 'customSettings'"),
    ],
)
def test_their_other_settings_are_noted_or_refused_with_their_line(setting, expected):
    text = json.dumps({"fhirPathRules": [{"path": "Patient.name", "method": "redact"}], **setting}, indent=2)
    line = 1 + text.splitlines().index(next(s for s in text.splitlines() if next(iter(setting)) in s))
    if "parameters" in setting:
        line += 1  # the setting itself, under "parameters"
    try:
        found = import_ms_fhir(text, "c.json")[1]
    except PolicyFileError as exc:
        found = exc.problems
    if expected is None:
        assert found == []
    else:
        [one] = found
        assert one.startswith(f"c.json:{line}: {expected}"), one


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"BAD BAD BAD\n", "not JSON"), (b'{"resourceType": "Patient", "badField": "NotAField"}', "Patient is not valid")],
)
def test_their_invalid_inputs_are_refused_under_ignoreinvalid(content, reason):
    """Their invalid-resource.json and invalid-json-resource.json, with configuration-ignoreinvalid: theirs
    returns an empty result; ours refuses the message (dead-lettered with the reason), the option noted."""
    text, notes = import_ms_fhir(config_text(processing_error_config("ignoreinvalid")), "config.json")
    assert any(n.startswith("config.json:3: processingErrors") for n in notes)
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=parse_policy(text, "i"))
    with pytest.raises(InvalidFhir, match=reason):
        deidentifier.document(FORMAT_FHIR, content)
