"""Microsoft's FHIR anonymizer functional cases, rebuilt as our own fixtures from the published shapes
(microsoft/Tools-for-Health-Data-Anonymization, FHIR/src/*FunctionalTests: Configurations/*.json,
TestResources/patient-basic.json and its ``*-target.json``); nothing of that project is vendored."""

from __future__ import annotations

import copy
import json
from typing import Any

_KEPT_ZIP3 = ["036", "059", "102", "203", "205", "369", "556", "692", "821", "823", "878", "879", "884", "893"]
_HUMAN, _ADDRESS = "nodesByType('HumanName')", "nodesByType('Address')"
COMMON_CONFIG: dict[str, Any] = {
    "fhirVersion": "",
    "fhirPathRules": [
        {"path": f"Patient.{_HUMAN}.use", "method": "keep"},
        {"path": f"Patient.{_ADDRESS}.state", "method": "keep"},
        {"path": f"Patient.{_ADDRESS}.country", "method": "keep"},
        {"path": f"Patient.{_ADDRESS}.where(city='KeepTest')", "method": "keep"},
        {"path": "Patient.generalPractitioner", "method": "redact"},
        {"path": "Patient.link.other", "method": "redact"},
        *({"path": f"nodesByType('{t}')", "method": "dateShift"} for t in ("date", "dateTime", "instant")),
        *(
            {"path": f"nodesByType('{t}')", "method": "redact"}
            for t in ("Identifier", "HumanName", "Address", "Annotation", "Attachment", "ContactPoint", "Narrative")
        ),
        {"path": "Patient.id", "method": "cryptoHash"},
        {"path": "Observation.subject", "method": "cryptoHash"},
        {"path": "Bundle.entry.fullUrl", "method": "redact"},
    ],
    "parameters": {
        "dateShiftKey": "123",
        "cryptoHashKey": "123",
        "enablePartialAgesForRedact": True,
        "enablePartialDatesForRedact": True,
        "enablePartialZipCodesForRedact": True,
        "restrictedZipCodeTabulationAreas": _KEPT_ZIP3,
    },
}
REDACT_ALL_CONFIG: dict[str, Any] = {"fhirVersion": "", "fhirPathRules": [{"path": "Resource", "method": "redact"}]}
SUBSTITUTE_PRIMITIVE_CONFIG: dict[str, Any] = {
    "fhirPathRules": [{"path": "Patient.name.family", "method": "substitute", "replaceWith": "example"}]
}
_DATE_CASE = "$this <= @2020-01-01{t} and $this >= @1990-01-01{t}"
GENERALIZE_CONFIG: dict[str, Any] = {
    "fhirPathRules": [
        {"path": "nodesByType('Extension')", "method": "redact"},
        {
            "path": "Patient.communication.language.coding.code",
            "method": "generalize",
            "cases": {
                "$this in ('en-AU' | 'en-CA' | 'en-GB' | 'en-IN' | 'en-NZ' | 'en-SG' | 'en-US')": "'en'",
                "('es-AR' | 'es-ES' | 'es-UY') contains $this": "'es'",
            },
            "otherValues": "keep",
        },
        {
            "path": "nodesByType('date')",
            "method": "generalize",
            "cases": {_DATE_CASE.format(t=""): "@2000-01-01"},
            "otherValues": "redact",
        },
        {
            "path": "nodesByType('dateTime')",
            "method": "generalize",
            "cases": {_DATE_CASE.format(t="T00:00:00Z"): "@2000-01-01T00:00:00Z"},
        },
        {"path": "nodesByType('integer')", "method": "generalize", "cases": {"true": "1"}, "otherValues": "keep"},
        {
            "path": "Patient.nodesByType('Address').postalCode",
            "method": "generalize",
            "cases": {"$this.startsWith('123')": "$this.substring(0,3)+'****'"},
            "otherValues": "redact",
        },
    ]
}


def _address(city: str, line: str, postal: str, start: str, text: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"use": "home", "type": "both"}
    if text:
        out["text"] = f"{line} Test1, Test2, Test3 1234"
    out.update(line=[line], city=city, district="TestRegion", state="TestState", postalCode=postal)
    out["period"] = {"start": start}
    return out


_GIVEN = ["GivenFirst", "GivenSecond"]
PATIENT_BASIC: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "example",
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Test Html</div>'},
    "identifier": [
        {
            "use": "usual",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": "urn:oid:1.2.36.146.595.217.0.1",
            "value": "12345",
            "period": {"start": "2001-01-01"},
            "assigner": {"display": "Test Healthcare"},
        }
    ],
    "active": True,
    "name": [
        {"use": "official", "family": "Family", "given": list(_GIVEN)},
        {"use": "usual", "given": ["GivenFirst"]},
        {"use": "maiden", "family": "Family", "given": list(_GIVEN), "period": {"end": "2002"}},
    ],
    "telecom": [
        {"use": "home"},
        {"system": "phone", "value": "(01) 1234 5678", "use": "work", "rank": 1},
        {"system": "phone", "value": "(01) 1234 5678", "use": "mobile", "rank": 2},
        {"system": "phone", "value": "(01) 4321 8765", "use": "old", "period": {"end": "2014"}},
    ],
    "gender": "male",
    "birthDate": "2000-01-01",
    "_birthDate": {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "2000-01-01T01:01:01-01:00",
            }
        ]
    },
    "deceasedBoolean": False,
    "address": [
        _address("TestCity", "123 Test St", "12345", "2000-01-01"),
        _address("KeepTest", "123 Test St", "12345", "2000-01-01"),
    ],
    "contact": [
        {
            "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}]}],
            "name": {
                "family": "TestFamily",
                "_family": {
                    "extension": [
                        {"url": "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix", "valueString": "VV"}
                    ]
                },
                "given": ["TestGiven"],
            },
            "telecom": [{"system": "phone", "value": "+01 (123) 456789"}],
            "address": _address("TestCity", "321 Test St", "54321", "2001-01-01", text=False),
            "gender": "female",
            "period": {"start": "2005"},
        }
    ],
    "managingOrganization": {"reference": "Organization/1"},
}
_SHIFTED = "2001-02-11", "2000-02-11"  # their key "123" moves dates by 41 days
COMMON_TARGET: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "698d54f0494528a759f19c8e87a9f99e75a5881b9267ee3926bcf62c992d84ba",
    "identifier": [{"period": {"start": _SHIFTED[0]}}],
    "active": True,
    "name": [{"use": "official"}, {"use": "usual"}, {"use": "maiden", "period": {"end": "2002"}}],
    "telecom": [{"period": {"end": "2014"}}],
    "gender": "male",
    "birthDate": _SHIFTED[1],
    "_birthDate": {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "2000-02-11T00:00:00-01:00",
            }
        ]
    },
    "deceasedBoolean": False,
    "address": [
        {"state": "TestState", "postalCode": "12300", "period": {"start": _SHIFTED[1]}},
        _address("KeepTest", "123 Test St", "12345", "2000-01-01"),
    ],
    "contact": [
        {
            "relationship": PATIENT_BASIC["contact"][0]["relationship"],
            "address": {"state": "TestState", "postalCode": "54300", "period": {"start": _SHIFTED[0]}},
            "gender": "female",
            "period": {"start": "2005"},
        }
    ],
    "managingOrganization": {"reference": "Organization/1"},
}
REDACT_ALL_TARGET: dict[str, Any] = {"resourceType": "Patient"}


def substitute_target() -> dict[str, Any]:
    target = copy.deepcopy(PATIENT_BASIC)
    for name in target["name"]:
        if "family" in name:
            name["family"] = "example"
    return target


def _narrative(html: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{html}</div>'}


_LOINC = {"coding": [{"system": "http://loinc.org", "code": "15074-8", "display": "Test display"}]}
BUNDLE_BASIC: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "bundle-references",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "http://example.org/fhir/Patient/23",
            "resource": {
                "resourceType": "Patient",
                "id": "23",
                "text": _narrative("<p><b>id</b>: 23</p><p><b>identifier</b>: 1234567</p>"),
                "identifier": [{"system": "http://example.org/ids", "value": "1234567"}],
                "name": [{"use": "official", "family": "Family", "given": list(_GIVEN)}],
            },
        },
        {
            "fullUrl": "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d",
            "resource": {"resourceType": "Patient", "text": _narrative("<p><b>Generated Narrative</b></p>")},
        },
        {
            "fullUrl": "http://example.org/fhir/Observation/123",
            "resource": {
                "resourceType": "Observation",
                "id": "123",
                "text": _narrative("<p><b>subject</b>: <a>Patient/23</a></p>"),
                "status": "final",
                "code": _LOINC,
                "subject": {"reference": "Patient/23"},
            },
        },
    ],
}
BUNDLE_TARGET: dict[str, Any] = {
    "resourceType": "Bundle",
    "id": "bundle-references",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "Patient",
                "id": "c846593cc9ec1e3a2126c5aa321f8e1c2246f976ffd8f1b9c0fe75a1e26c985d",
                "name": [{"use": "official"}],
            }
        },
        {"resource": {"resourceType": "Patient"}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": "123",
                "status": "final",
                "code": _LOINC,
                "subject": {"reference": "Patient/c846593cc9ec1e3a2126c5aa321f8e1c2246f976ffd8f1b9c0fe75a1e26c985d"},
            }
        },
    ],
}


def generalize_case() -> tuple[dict[str, Any], dict[str, Any]]:
    """Their patient-generalize input (``communication`` as a list: theirs has an object, not valid R4) and target."""
    source = copy.deepcopy(PATIENT_BASIC)
    source["identifier"][0]["period"]["start"] = "2001-03-04"
    source["birthDate"] = "2010-05-07"
    source["_birthDate"]["extension"][0]["valueDateTime"] = "2010-05-07T01:01:01-01:00"
    del source["deceasedBoolean"]
    source.update(deceasedDateTime="2017-01-01T01:01:01-01:00", multipleBirthInteger=10)
    source["address"][1]["period"]["start"] = "2013-01-01"
    source["communication"] = [{"language": {"coding": [{"code": "en-AU"}]}}]
    target = copy.deepcopy(source)
    moved = "2000-01-01T00:00:00Z"
    target["identifier"][0]["period"]["start"] = moved
    target["name"][2]["period"]["end"] = target["telecom"][3]["period"]["end"] = moved
    del target["_birthDate"], target["contact"][0]["name"]["_family"], target["contact"][0]["address"]["postalCode"]
    target.update(birthDate="2000-01-01", deceasedDateTime=moved, multipleBirthInteger=1)
    for address in target["address"]:
        address.update(postalCode="123****", period={"start": moved})
    target["contact"][0]["address"]["period"]["start"] = target["contact"][0]["period"]["start"] = moved
    target["communication"][0]["language"]["coding"][0]["code"] = "en"
    return source, target


#: name -> (configuration, input, expected output); their targets' meta.security labels left out (we add none)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "patient-basic/common-config": (COMMON_CONFIG, PATIENT_BASIC, COMMON_TARGET),
    "patient-basic/redact-all-config": (REDACT_ALL_CONFIG, PATIENT_BASIC, REDACT_ALL_TARGET),
    "patient-substitute-primitive/substitute-primitive": (
        SUBSTITUTE_PRIMITIVE_CONFIG,
        PATIENT_BASIC,
        substitute_target(),
    ),
    "patient-generalize/generalize-patient-config": (GENERALIZE_CONFIG, *generalize_case()),
    "bundle-basic/common-config": (COMMON_CONFIG, BUNDLE_BASIC, BUNDLE_TARGET),
}


def config_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2)
