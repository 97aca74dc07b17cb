"""Microsoft's FHIR anonymizer functional cases, second share (tests/unit/ms_fhir_cases_more_a.py): the
special-content, null-date and no-partial patients and the version-specific (R4 vs STU3) resources, run with
the harness of test_ms_fhir_import.py. Every element a rule of theirs selects equals their target, or has its
shape where the method is keyed by their keys, or differs for the reason recorded with the case."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.errors import InvalidFhir, InvalidOutput
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhir_absent import DATA_ABSENT_REASON, MASKED
from pipeline.core.policy.loader import parse_policy
from pipeline.core.policy.ms_fhir import import_ms_fhir
from tests.unit.ms_fhir_cases import COMMON_CONFIG, config_text
from tests.unit.ms_fhir_cases_more_a import (
    ABSENT,
    CASES,
    COMPARED,
    DIFFERENCES,
    OURS_REFUSED,
    R4_CONFIG,
    REFUSED,
    SERVICE_REQUEST,
    SPECIAL_CONTENT,
)
from tests.unit.test_ms_fhir_import import _leaves, _unindexed, date_offsets, run_case


def deidentified(config: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    policy = parse_policy(import_ms_fhir(config_text(config), "config.json")[0], "imported.yaml")
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=policy)
    return json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_matches_their_target_but_for_the_recorded_differences(name):
    config, resource, target = CASES[name]
    outcome = run_case(config, resource, target)  # validates our output as R4 (fhir.resources)
    assert outcome["differs"] == sorted(DIFFERENCES[name])
    assert (len(outcome["equal"]), len(outcome["same-shape"])) == COMPARED[name]
    if any(rule["method"].lower() == "dateshift" for rule in config["fhirPathRules"]):
        assert len(date_offsets(config, resource)) == 1  # every shifted date of the resource moved by one offset


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_id_or_reference_gets_one_pseudonym_and_two_get_two(name):
    config, resource, _ = CASES[name]
    before, after = _leaves(resource, "", {}), _leaves(deidentified(config, resource), "", {})
    seen: dict[str, set[str]] = defaultdict(set)
    for path, value in before.items():
        if path.endswith((".reference", ".id")) and path in after:
            seen[value].add(after[path])
    assert all(len(pseudonyms) == 1 for pseudonyms in seen.values())
    assert len({next(iter(p)) for p in seen.values()}) == len(seen)


def test_a_local_reference_names_its_contained_resource_pseudonym():
    out = deidentified(R4_CONFIG, SERVICE_REQUEST)
    fasting, serum = (item["id"] for item in out["contained"])
    assert out["supportingInfo"] == [{"reference": f"#{fasting}"}] and out["specimen"] == [{"reference": f"#{serum}"}]
    assert out["subject"] == out["contained"][0]["subject"] == out["contained"][1]["subject"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_stu3_resources_and_elements_are_refused_as_theirs_are(name):
    config, resource = REFUSED[name]
    with pytest.raises(InvalidFhir, match=r"not a FHIR R4 resource|against FHIR R4"):
        deidentified(config, resource)


@pytest.mark.parametrize("name", sorted(ABSENT))
def test_where_their_target_drops_a_required_element_ours_writes_it_absent(name):
    config, resource, target = CASES[name]
    with pytest.raises(ValidationError):
        validate(target)  # theirs: a required element missing
    out = deidentified(config, resource)
    validate(out)
    root = resource["resourceType"]
    ours, theirs = _unindexed(_leaves(out, root, {})), _unindexed(_leaves(target, root, {}))
    assert set(theirs) <= set(ours)
    extra = {path: set(values) for path, values in ours.items() if path not in theirs}
    assert extra == {
        **{f"{path}.extension[].url": {json.dumps(DATA_ABSENT_REASON)} for path in ABSENT[name]},
        **{f"{path}.extension[].valueCode": {json.dumps(MASKED)} for path in ABSENT[name]},
    }


@pytest.mark.parametrize("name", sorted(OURS_REFUSED))
def test_where_their_output_is_not_r4_ours_is_refused(name):
    config, resource, target, _why = OURS_REFUSED[name]
    if target is None:  # the input itself is not an R4B resource
        with pytest.raises(InvalidFhir, match="not a FHIR R4 resource"):
            deidentified(config, resource)
        return
    validate(resource)  # the input is valid R4; their target is not
    with pytest.raises(ValidationError):
        validate(target)
    with pytest.raises(InvalidOutput, match="not valid R4"):
        deidentified(config, resource)


def test_their_special_content_date_with_a_bare_zone_is_not_r4():
    resource = json.loads(json.dumps(SPECIAL_CONTENT))
    resource["identifier"][0]["period"]["start"] = "2001-01-01Z"  # as their input has it
    with pytest.raises(InvalidFhir):
        deidentified(COMMON_CONFIG, resource)


def test_nodes_by_type_takes_a_type_name_with_digits():
    config = {"fhirPathRules": [{"path": "nodesByType('base64Binary')", "method": "redact"}]}
    attachment = {"contentType": "application/pdf", "data": "SGVsbG8="}
    out = deidentified(config, {"resourceType": "Contract", "id": "c", "legallyBindingAttachment": attachment})
    assert out["legallyBindingAttachment"] == {"contentType": "application/pdf"}
