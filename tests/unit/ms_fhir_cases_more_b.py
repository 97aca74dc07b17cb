"""More of Microsoft's FHIR anonymizer functional cases, rebuilt as our own fixtures from the published shapes
(microsoft/Tools-for-Health-Data-Anonymization, FHIR/src/Microsoft.Health.Fhir.Anonymizer.Shared.FunctionalTests:
ResourceTests.cs and CollectionResourceTests.cs, their Configurations/*.json, TestResources/*.json and
``*-target.json``): complex and conflicting substitutes, contained resources, contained resources in a Bundle,
redact-all on collections, a Bundle entry without a resource, and the processing-error configurations.
Nothing of that project is vendored; their targets' ``meta.security`` labels are left out (we add none).

Where their published input is not valid R4 or not in the published set, the fixture says what it adds."""

from __future__ import annotations

import copy
from typing import Any

from tests.unit.ms_fhir_cases import BUNDLE_BASIC, COMMON_CONFIG, PATIENT_BASIC, REDACT_ALL_CONFIG

_NAME: dict[str, Any] = {"family": "example", "given": ["test", "testing"]}
_PERIOD = {"start": "2020-01-01", "end": "2021-01-01"}
SUBSTITUTE_COMPLEX_CONFIG: dict[str, Any] = {
    "fhirPathRules": [{"path": "Patient.name", "method": "substitute", "replaceWith": _NAME}]
}
#: "Child node is substituted first": the period keeps its own substitute inside the substituted name.
SUBSTITUTE_MULTIPLE_CONFIG: dict[str, Any] = {
    "fhirPathRules": [
        {"path": "Patient.name.period", "method": "substitute", "replaceWith": _PERIOD},
        {"path": "Patient.name", "method": "substitute", "replaceWith": _NAME},
    ]
}
#: "Parent node is substituted first": the family rule after it never applies.
SUBSTITUTE_MULTIPLE_2_CONFIG: dict[str, Any] = {
    "fhirPathRules": [
        {"path": "Patient.name", "method": "substitute", "replaceWith": _NAME},
        {"path": "Patient.name.family", "method": "substitute", "replaceWith": "familttest"},
    ]
}
SUBSTITUTE_CONFLICT_CONFIG: dict[str, Any] = {
    "fhirPathRules": [
        {"path": "Patient.name.period.start", "method": "redact"},
        {"path": "Patient.name", "method": "substitute", "replaceWith": _NAME},
    ],
    "parameters": {"enablePartialDatesForRedact": True},
}


def processing_error_config(option: str | None) -> dict[str, Any]:
    """Their configuration-{skip,raise,without}-processing-error.json: a generalize case comparing a name
    with a number (an error on every resource with a name), a path on a type that does not exist."""
    config: dict[str, Any] = {"fhirVersion": ""}
    if option is not None:
        config["processingErrors"] = option
    config["fhirPathRules"] = [
        {"path": "nodesByType('HumanName').family", "method": "generalize", "cases": {"$this>=0 and $this<20": "20"}},
        {"path": "TestResource", "method": "redact"},
        {"path": "nodesByType('HumanName')", "method": "redact"},
        {"path": "Resource", "method": "keep"},
        {"path": "Device.where(id.exists()).id", "method": "keep"},
    ]
    config["parameters"] = {
        "dateShiftKey": "",
        "cryptoHashKey": "",
        **{k: v for k, v in COMMON_CONFIG["parameters"].items() if k.startswith(("enable", "restricted"))},
    }
    return config


def _patient_multiple() -> dict[str, Any]:
    """Their patient-substitute-multiple.json: patient-basic with the maiden name's period a start."""
    patient = copy.deepcopy(PATIENT_BASIC)
    patient["name"][2]["period"] = {"start": "2002"}
    return patient


def _names(resource: dict[str, Any], *extra: dict[str, Any]) -> dict[str, Any]:
    """``resource`` with every name substituted; ``extra`` merged into the names at the same positions."""
    out = copy.deepcopy(resource)
    out["name"] = [{**copy.deepcopy(_NAME), **(extra[i] if i < len(extra) else {})} for i in range(len(out["name"]))]
    return out


#: R4 requires Condition.subject; their contained-*.json have none, so ours adds one (kept by both tools).
_SUBJECT = {"reference": "Patient/example"}
_PRACTITIONER = {"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Person", "given": ["Patricia"]}]}
CONTAINED_BASIC: dict[str, Any] = {
    "resourceType": "Condition",
    "contained": [_PRACTITIONER],
    "asserter": {"reference": "#p1"},
    "subject": _SUBJECT,
}
CONTAINED_TARGET: dict[str, Any] = {
    "resourceType": "Condition",
    "contained": [{"resourceType": "Practitioner", "id": "p1"}],
    "asserter": {"reference": "#p1"},
    "subject": _SUBJECT,
}
CONTAINED_REDACT_ALL_TARGET: dict[str, Any] = {
    "resourceType": "Condition",
    "contained": [{"resourceType": "Practitioner"}],
}


def _bundle(*resources: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry = [{**({"fullUrl": full_url} if full_url else {}), "resource": r} for r in resources]
    return {"resourceType": "Bundle", "id": "bundle-references", "type": "collection", "entry": entry}


CONTAINED_IN_BUNDLE = _bundle(CONTAINED_BASIC, full_url="http://example.org/fhir/Condition/123")
CONTAINED_IN_BUNDLE_TARGET = _bundle(CONTAINED_TARGET)
CONTAINED_IN_BUNDLE_REDACT_ALL_TARGET: dict[str, Any] = {
    "resourceType": "Bundle",
    "entry": [{"resource": CONTAINED_REDACT_ALL_TARGET}],
}
BUNDLE_REDACT_ALL_TARGET: dict[str, Any] = {
    "resourceType": "Bundle",
    "entry": [{"resource": {"resourceType": t}} for t in ("Patient", "Patient", "Observation")],
}

CONTAINED_SUBSTITUTE: dict[str, Any] = {
    "resourceType": "Condition",
    "contained": [
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Family1", "given": ["Patricia"]}]},
        {
            "resourceType": "Patient",
            "id": "p2",
            "name": [{"family": "Family2", "given": ["Patricia", "Jim"], "period": {"start": "1999-01-01"}}],
        },
    ],
    "asserter": {"reference": "#p1"},
    "subject": _SUBJECT,
}
CONTAINED_SUBSTITUTE_TARGET: dict[str, Any] = {
    **CONTAINED_SUBSTITUTE,
    "contained": [
        _names(CONTAINED_SUBSTITUTE["contained"][0]),
        _names(CONTAINED_SUBSTITUTE["contained"][1], {"period": _PERIOD}),
    ],
}


def _bundle_substitute() -> tuple[dict[str, Any], dict[str, Any]]:
    """Their bundle-substitute.json (bundle-basic with a nickname on the second patient) and its target."""
    bundle = copy.deepcopy(BUNDLE_BASIC)
    second = bundle["entry"][1]["resource"]
    second["name"] = [
        {
            "use": "nickname",
            "family": "Family02",
            "given": ["GivenFirst02", "GivenSecond02"],
            "period": {"end": "2012-12-30"},
        }
    ]
    target = copy.deepcopy(bundle)
    target["entry"][0]["resource"] = _names(bundle["entry"][0]["resource"])
    target["entry"][1]["resource"] = _names(second, {"period": _PERIOD})
    return bundle, target


_HTEST = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "HTEST",
    "display": "test health data",
}


def _request(since: str) -> dict[str, Any]:
    return {"method": "GET", "url": "Patient/12334", "ifNoneMatch": 'W/"4"', "ifModifiedSince": since}


#: Their bundle-without-entry-resource.json; no test of theirs names its configuration: its target's only
#: changes (both instants moved by 7 days to midnight) are the common configuration's dateShift.
BUNDLE_WITHOUT_ENTRY_RESOURCE: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "bundle-transaction",
    "meta": {"lastUpdated": "2014-08-18T01:43:30Z", "tag": [_HTEST]},
    "type": "transaction",
    "entry": [{"request": _request("2015-08-31T08:14:33+10:00")}],
}
BUNDLE_WITHOUT_ENTRY_RESOURCE_TARGET: dict[str, Any] = {
    **BUNDLE_WITHOUT_ENTRY_RESOURCE,
    "meta": {"lastUpdated": "2014-08-25T00:00:00+00:00", "tag": [_HTEST]},
    "entry": [{"request": _request("2015-09-07T00:00:00+10:00")}],
}

Case = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
#: name -> (configuration, input, expected output)
CASES: dict[str, Case] = {
    "patient-substitute-complex/substitute-complex": (
        SUBSTITUTE_COMPLEX_CONFIG,
        PATIENT_BASIC,
        _names(PATIENT_BASIC),
    ),
    "patient-substitute-multiple/substitute-multiple": (
        SUBSTITUTE_MULTIPLE_CONFIG,
        _patient_multiple(),
        _names(_patient_multiple(), {}, {}, {"period": _PERIOD}),
    ),
    # their patient-substitute-multiple-2.json and its target are not in the published set we can read:
    # rebuilt from substitute-multiple's input and the test's own comment ("parent node is substituted first")
    "patient-substitute-multiple-2/substitute-multiple-2": (
        SUBSTITUTE_MULTIPLE_2_CONFIG,
        _patient_multiple(),
        _names(_patient_multiple()),
    ),
    # their patient-substitute-conflict-rules.json is not in the published set: substitute-multiple's input,
    # which its target fits (the redacted period start stays in the substituted name)
    "patient-substitute-conflict-rules/substitute-conflict-rules": (
        SUBSTITUTE_CONFLICT_CONFIG,
        _patient_multiple(),
        _names(_patient_multiple(), {}, {}, {"period": {"start": "2002"}}),
    ),
    "contained-basic/common-config": (COMMON_CONFIG, CONTAINED_BASIC, CONTAINED_TARGET),
    "contained-basic/redact-all-config": (REDACT_ALL_CONFIG, CONTAINED_BASIC, CONTAINED_REDACT_ALL_TARGET),
    "contained-in-bundle/common-config": (COMMON_CONFIG, CONTAINED_IN_BUNDLE, CONTAINED_IN_BUNDLE_TARGET),
    "contained-in-bundle/redact-all-config": (
        REDACT_ALL_CONFIG,
        CONTAINED_IN_BUNDLE,
        CONTAINED_IN_BUNDLE_REDACT_ALL_TARGET,
    ),
    "bundle-basic/redact-all-config": (REDACT_ALL_CONFIG, BUNDLE_BASIC, BUNDLE_REDACT_ALL_TARGET),
    "contained-substitute/substitute-multiple": (
        SUBSTITUTE_MULTIPLE_CONFIG,
        CONTAINED_SUBSTITUTE,
        CONTAINED_SUBSTITUTE_TARGET,
    ),
    "bundle-substitute/substitute-multiple": (SUBSTITUTE_MULTIPLE_CONFIG, *_bundle_substitute()),
    "bundle-without-entry-resource/common-config": (
        COMMON_CONFIG,
        BUNDLE_WITHOUT_ENTRY_RESOURCE,
        BUNDLE_WITHOUT_ENTRY_RESOURCE_TARGET,
    ),
}
#: Their processing-error tests: (configuration option, input); theirs gives an empty result ("skip") or throws.
PROCESSING_ERROR_CASES: dict[str, tuple[str | None, dict[str, Any]]] = {
    f"{name}/{option or 'without'}-processing-error": (option, resource)
    for name, resource in (
        ("patient-basic", PATIENT_BASIC),
        ("contained-basic", CONTAINED_BASIC),
        ("bundle-basic", BUNDLE_BASIC),
    )
    for option in ("skip", "raise", None)
    if name == "patient-basic" or option is not None
}
