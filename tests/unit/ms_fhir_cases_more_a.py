"""More of Microsoft's FHIR anonymizer functional cases, rebuilt as our own fixtures from the published shapes
(microsoft/Tools-for-Health-Data-Anonymization, FHIR/src/*FunctionalTests): the special-content, null-date and
no-partial patients (ResourceTests.cs) and the version-specific resources (R4.FunctionalTests/
VersionSpecificTests.cs with r4-configuration-sample.json); nothing of that project is vendored.

``CASES``: name -> (configuration, input, their expected output); ``DIFFERENCES``: name -> {element path: why
ours differs from their target}; ``ABSENT``: name -> {element path: why ours writes it absent where their target
drops a required element}; ``REFUSED``: name -> (configuration, input): inputs both tools refuse (STU3
resources and elements, which are not R4); ``OURS_REFUSED``: where ours refuses and theirs writes a target.
Narratives are shortened (both tools remove a narrative whole), and the inputs both refuse, or ours refuses
before any rule applies (MedicinalProduct), are cut to the elements that decide it.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from tests.unit.ms_fhir_cases import COMMON_CONFIG, COMMON_TARGET, PATIENT_BASIC, _narrative

_ID = "ours a 32-hex resource-id pseudonym (the same in every reference to it), theirs a 64-hex HMAC"
_REF = "ours the 32-hex pseudonym of the resource id it names (its id's pseudonym everywhere), theirs a 64-hex HMAC"
_LOCAL = "a '#id' reference: ours '#' and the contained id's 32-hex pseudonym, theirs '#' and a 64-hex HMAC"
_KEEP_TEXT = "'keep' keeps codes and numbers; this free text goes to the detector, which writes [STREET] (theirs: kept)"
_KEEP_DIGITS = "'keep' keeps up to 6 digits; a longer run may be an identifier: the detector writes [ID] (theirs: kept)"
_KEEP_URL = "'keep' keeps listed code-system URLs; another URL goes to the detector, which writes [URL] (theirs: kept)"
_KEEP_EMAIL = "'keep' never keeps an email-shaped value; the detector writes [EMAIL] (theirs: kept)"

# -- patient-special-content: common-config on non-ASCII names, addresses and a date with a bare 'Z' ----------
_SPECIAL = "§ABCabc 123!@#ŴΉЙ"
SPECIAL_CONTENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "example",
    "text": _narrative(_SPECIAL),
    # theirs has period.start '2001-01-01Z': not an R4 date (a zone needs a time), refused here (a test shows it)
    "identifier": [{**PATIENT_BASIC["identifier"][0], "value": "123ABCabc", "assigner": {"display": _SPECIAL}}],
    "active": True,
    "name": [{"use": "official", "family": "AbcŴΉЙ一", "given": ["Given AbcŴΉЙ一", "Given AbcŴΉЙ一1"]}],
    "telecom": [
        {"system": "phone", "value": "123456", "use": "work", "rank": 1},
        {"system": "phone", "value": "(01) 1234 5678", "use": "mobile", "rank": 2},
    ],
    "gender": "male",
    "birthDate": "1940-01-01",
    "_birthDate": {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1940-01-01T01:01:01-01:00",
            }
        ]
    },
    "address": [
        {"use": "home", "type": "both", "city": "Santa Monica", "line": ["123 Test St"]},
        {
            "use": "home",
            "text": "Abc ŴΉЙ一 Abc ŴΉЙ一 Abc ŴΉЙ一 Abc ŴΉЙ一",
            "line": ["Abc ŴΉЙ一 Abc ŴΉЙ一 Abc ŴΉЙ一 Abc ŴΉЙ一"],
            "city": "KeepTest",
            "district": "Abc ŴΉЙ",
            "state": "Abc ŴΉЙ",
            "postalCode": "123456789",
            "period": {"start": "2000-01-01"},
        },
    ],
}
SPECIAL_CONTENT_TARGET: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "698d54f0494528a759f19c8e87a9f99e75a5881b9267ee3926bcf62c992d84ba",
    "identifier": [{"period": {"start": "2001-02-10"}}],
    "active": True,
    "name": [{"use": "official"}],
    "gender": "male",
    "birthDate": "1940-02-11",
    "_birthDate": {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1940-02-11T00:00:00-01:00",
            }
        ]
    },
    "address": [SPECIAL_CONTENT["address"][1]],
}

# -- patient-null-date: patient-basic with no birthDate value (its _birthDate extension kept) ----------------
NULL_DATE: dict[str, Any] = {k: v for k, v in PATIENT_BASIC.items() if k != "birthDate"}
NULL_DATE_TARGET: dict[str, Any] = {k: v for k, v in COMMON_TARGET.items() if k != "birthDate"}

# -- patient-no-partial: common-no-partial-config (dates redacted, every partial switch off) on patient-basic --
# (their patient-no-partial.json is not in the code index; its target is patient-basic's under this configuration)
NO_PARTIAL_CONFIG: dict[str, Any] = copy.deepcopy(COMMON_CONFIG)
for _rule in NO_PARTIAL_CONFIG["fhirPathRules"]:
    if _rule["method"] == "dateShift":
        _rule["method"] = "redact"
NO_PARTIAL_CONFIG["parameters"] = {
    "cryptoHashKey": "123",
    **{f"enablePartial{k}ForRedact": False for k in ("Ages", "Dates", "ZipCodes")},
    "restrictedZipCodeTabulationAreas": COMMON_CONFIG["parameters"]["restrictedZipCodeTabulationAreas"],
}
NO_PARTIAL_TARGET: dict[str, Any] = {
    "resourceType": "Patient",
    "id": COMMON_TARGET["id"],
    "active": True,
    "name": [{"use": "official"}, {"use": "usual"}, {"use": "maiden"}],
    "gender": "male",
    "deceasedBoolean": False,
    "address": [{"state": "TestState"}, COMMON_TARGET["address"][1]],
    "contact": [
        {
            "relationship": PATIENT_BASIC["contact"][0]["relationship"],
            "address": {"state": "TestState"},
            "gender": "female",
        }
    ],
    "managingOrganization": {"reference": "Organization/1"},
}

# -- version-specific: r4-configuration-sample.json, its rules on the resources below (rules on other resource
# types select nothing here and are left out; the order is theirs) ------------------------------------------
_REDACT_CONTRACT = (
    "name title subtitle alias term.text term.offer.answer.value term.offer.text term.offer.linkId "
    "term.asset.context.text term.asset.condition term.asset.text term.asset.linkId term.asset.answer "
    "term.asset.valuedItem.payment term.asset.valuedItem.linkId term.action.linkId term.action.contextLinkId "
    "term.action.requesterLinkId term.action.performerLinkId term.action.reason term.action.reasonLinkId term.group"
)
_REDACT_NAMED = (
    "Bundle.entry.fullUrl Bundle.entry.request.url Bundle.entry.response.location "
    "Observation.value Observation.referenceRange Observation.component.value "
    "Specimen.processing.description Specimen.container.description ServiceRequest.patientInstruction "
    "Claim.supportingInfo.value Claim.insurance.businessArrangement Claim.insurance.preAuthRef "
    "Account.name Account.description " + " ".join(f"Contract.{p}" for p in _REDACT_CONTRACT.split())
)
_REDACT_TYPED = (
    "Expression').description Expression').expression Attachment').title Attachment').url "
    "CodeableConcept').text Coding').display Coding').code ContactDetail').name Identifier').value "
    "Reference').display"
)


def _rules(method: str, paths: str) -> list[dict[str, str]]:
    return [{"path": path, "method": method} for path in paths.split()]


R4_CONFIG: dict[str, Any] = {
    "fhirVersion": "R4",
    "fhirPathRules": [
        {"path": "nodesByType('Extension')", "method": "redact"},
        *_rules("keep", "OrganizationAffiliation.identifier OrganizationAffiliation.telecom"),
        {"path": "nodesByType('HumanName').use", "method": "keep"},
        {"path": "nodesByType('Address').country", "method": "keep"},
        {"path": "nodesByType('Address').state", "method": "keep"},
        {"path": "Resource.id", "method": "cryptoHash"},
        *_rules("redact", _REDACT_NAMED),
        *_rules("redact", " ".join(f"nodesByType('{p}" for p in _REDACT_TYPED.split())),
        {"path": "nodesByType('Reference').reference", "method": "cryptoHash"},
        *_rules("redact", "nodesByType('Narrative') nodesByType('base64Binary')"),
        *({"path": f"nodesByType('{t}')", "method": "dateshift"} for t in ("date", "dateTime", "instant")),
        *(
            {"path": f"nodesByType('{t}')", "method": "redact"}
            for t in ("Address", "Age", "Annotation", "HumanName", "ContactPoint")
        ),
    ],
    "parameters": {
        "dateShiftKey": "123",
        "dateShiftScope": "resource",
        "cryptoHashKey": "123",
        "encryptKey": "",
        **COMMON_CONFIG["parameters"],
    },
}


def _hash(value: str) -> str:
    """Stands in for their 64-hex HMAC of ``value`` (theirs keyed by '123'): the same length, and one value
    gives one hash as theirs does; compared in shape only."""
    return hashlib.sha256(value.encode()).hexdigest()


def _ref(reference: str) -> dict[str, str]:
    kind, _, rid = reference.partition("/")
    return {"reference": f"{kind}/{_hash(rid)}"}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code}
    return {"coding": [coding if display is None else {**coding, "display": display}]}


def _system_only(concept: dict[str, Any]) -> dict[str, Any]:
    """A CodeableConcept under their R4 sample: code, display and text redacted, the system kept."""
    return {"coding": [{"system": c["system"]} for c in concept["coding"]]}


_ROLE = _coding("http://terminology.hl7.org/CodeSystem/organization-role", "provider")
_PRACTICE = _coding("http://snomed.info/sct", "408443003", "General medical practice")
_EMAIL = {"system": "email", "value": "general.practice@example.org", "use": "work"}
AFFILIATION: dict[str, Any] = {
    "resourceType": "OrganizationAffiliation",
    "id": "example",
    "text": _narrative("<p>HL7 Payer Network services for Acme Hospital from 1-Jan 2012 to 31-Mar 2012</p>"),
    "identifier": [{"system": "http://www.acme.org/practitioners", "value": "23"}],
    "active": True,
    "period": {"start": "2012-01-01", "end": "2012-03-31"},
    "organization": {"reference": "Organization/hl7pay"},
    "participatingOrganization": {"reference": "Organization/f001"},
    "network": [{"reference": "Organization/hl7pay", "display": "HL7 Payer Network"}],
    "code": [_ROLE],
    "specialty": [_PRACTICE],
    "location": [{"reference": "Location/1", "display": "South Wing, second floor"}],
    "healthcareService": [{"reference": "HealthcareService/example"}],
    "telecom": [_EMAIL],
    "endpoint": [{"reference": "Endpoint/example"}],
}
AFFILIATION_TARGET: dict[str, Any] = {
    "resourceType": "OrganizationAffiliation",
    "id": _hash("example"),
    "identifier": AFFILIATION["identifier"],
    "active": True,
    "period": {"start": "2011-12-12", "end": "2012-03-11"},
    "organization": _ref("Organization/hl7pay"),
    "participatingOrganization": _ref("Organization/f001"),
    "network": [_ref("Organization/hl7pay")],
    "code": [_system_only(_ROLE)],
    "specialty": [_system_only(_PRACTICE)],
    "location": [_ref("Location/1")],
    "healthcareService": [_ref("HealthcareService/example")],
    "telecom": [_EMAIL],
    "endpoint": [_ref("Endpoint/example")],
}

# MedicinalProduct: an R4 resource that R4B (the models here) replaced with MedicinalProductDefinition
_EMA = "http://ema.europa.eu/example/"
MEDICINAL_PRODUCT: dict[str, Any] = {
    "resourceType": "MedicinalProduct",
    "id": "example",
    "text": _narrative("<p><b>id</b>: example</p>"),
    "identifier": [{"system": f"{_EMA}MPID", "value": "{mpid}"}],
    "name": [{"productName": "Equilidem 2.5 mg film-coated tablets", "namePart": [{"part": "Equilidem"}]}],
    "manufacturingBusinessOperation": [{"effectiveDate": "2013-03-15"}],
}

_LOINC_FASTING = _coding("http://loinc.org", "49541-6", "Fasting status - Reported")
_YES = _coding("http://terminology.hl7.org/CodeSystem/v2-0136", "Y", "Yes")
_SERUM = _coding("http://snomed.info/sct", "119364003", "Serum sample")
_PLACER = {**_coding("http://terminology.hl7.org/CodeSystem/v2-0203", "PLAC"), "text": "Placer"}
_LIPID = {**_coding("http://acme.org/tests", "LIPID"), "text": "Lipid Panel"}
_ICD9 = _coding("http://hl7.org/fhir/sid/icd-9", "V173", "Fam hx-ischem heart dis")
SERVICE_REQUEST: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "lipid",
    "text": _narrative("<p><b>id</b>: lipid</p><p><b>note</b>: patient is afraid of needles</p>"),
    "contained": [
        {
            "resourceType": "Observation",
            "id": "fasting",
            "status": "final",
            "code": _LOINC_FASTING,
            "subject": {"reference": "Patient/example"},
            "valueCodeableConcept": _YES,
        },
        {
            "resourceType": "Specimen",
            "id": "serum",
            "identifier": [{"system": "http://acme.org/specimens", "value": "20150107-0012"}],
            "type": _SERUM,
            "subject": {"reference": "Patient/example"},
            "collection": {"collectedDateTime": "2015-08-16T06:40:17Z"},
        },
    ],
    "identifier": [{"type": _PLACER, "system": "urn:oid:1.3.4.5.6.7", "value": "2345234234234"}],
    "status": "active",
    "intent": "original-order",
    "code": _LIPID,
    "subject": {"reference": "Patient/example"},
    "encounter": {"reference": "Encounter/example"},
    "occurrenceDateTime": "2013-05-02T16:16:00-07:00",
    "requester": {"reference": "Practitioner/example"},
    "performer": [{"reference": "Practitioner/f202"}],
    "reasonCode": [_ICD9],
    "supportingInfo": [{"reference": "#fasting", "display": "Fasting status"}],
    "specimen": [{"reference": "#serum", "display": "Serum specimen"}],
    "note": [{"text": "patient is afraid of needles"}],
}
SERVICE_REQUEST_TARGET: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": _hash("lipid"),
    "contained": [
        {
            "resourceType": "Observation",
            "id": _hash("fasting"),
            "status": "final",
            "code": _system_only(_LOINC_FASTING),
            "subject": _ref("Patient/example"),
        },
        {
            "resourceType": "Specimen",
            "id": _hash("serum"),
            "identifier": [{"system": "http://acme.org/specimens"}],
            "type": _system_only(_SERUM),
            "subject": _ref("Patient/example"),
            "collection": {"collectedDateTime": "2015-08-05T00:00:00Z"},
        },
    ],
    "identifier": [{"type": _system_only(_PLACER), "system": "urn:oid:1.3.4.5.6.7"}],
    "status": "active",
    "intent": "original-order",
    "code": _system_only(_LIPID),
    "subject": _ref("Patient/example"),
    "encounter": _ref("Encounter/example"),
    "occurrenceDateTime": "2013-04-21T00:00:00-07:00",
    "requester": _ref("Practitioner/example"),
    "performer": [_ref("Practitioner/f202")],
    "reasonCode": [_system_only(_ICD9)],
    "supportingInfo": [{"reference": f"#{_hash('fasting')}"}],
    "specimen": [{"reference": f"#{_hash('serum')}"}],
}

_CLAIM_TYPE = _coding("http://terminology.hl7.org/CodeSystem/claim-type", "oral")
_USD = {"value": 135.57, "currency": "USD"}
_CLAIM_ID = {"system": "http://happyvalley.com/claim", "value": "12345"}
CLAIM: dict[str, Any] = {
    "resourceType": "Claim",
    "id": "100150",
    "text": _narrative("A human-readable rendering of the Oral Health Claim"),
    "identifier": [_CLAIM_ID],
    "status": "active",
    "type": _CLAIM_TYPE,
    "use": "claim",
    "patient": {"reference": "Patient/1"},
    "created": "2014-08-16",
    "insurer": {"reference": "Organization/2"},
    "provider": {"reference": "Organization/1"},
    "priority": {"coding": [{"code": "normal"}]},
    "payee": {"type": {"coding": [{"code": "provider"}]}},
    "careTeam": [{"sequence": 1, "provider": {"reference": "Practitioner/example"}}],
    "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"code": "123456"}]}}],
    "insurance": [
        {"sequence": 1, "focal": True, "identifier": _CLAIM_ID, "coverage": {"reference": "Coverage/9876B1"}}
    ],
    "item": [
        {
            "sequence": 1,
            "careTeamSequence": [1],
            "productOrService": {"coding": [{"code": "1200"}]},
            "servicedDate": "2014-08-16",
            "unitPrice": _USD,
            "net": _USD,
        }
    ],
}
_CLAIM_SYSTEM = {"system": _CLAIM_ID["system"]}
CLAIM_TARGET: dict[str, Any] = {
    "resourceType": "Claim",
    "id": _hash("100150"),
    "identifier": [_CLAIM_SYSTEM],
    "status": "active",
    "type": _system_only(_CLAIM_TYPE),
    "use": "claim",
    "patient": _ref("Patient/1"),
    "created": "2014-07-06",
    "insurer": _ref("Organization/2"),
    "provider": _ref("Organization/1"),
    "careTeam": [{"sequence": 1, "provider": _ref("Practitioner/example")}],
    "diagnosis": [{"sequence": 1}],
    "insurance": [{"sequence": 1, "focal": True, "identifier": _CLAIM_SYSTEM, "coverage": _ref("Coverage/9876B1")}],
    "item": [{"sequence": 1, "careTeamSequence": [1], "servicedDate": "2014-07-06", "unitPrice": _USD, "net": _USD}],
}

_ACCOUNT_TYPE = {
    **_coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PBILLACCT", "patient billing account"),
    "text": "patient",
}
ACCOUNT: dict[str, Any] = {
    "resourceType": "Account",
    "id": "example",
    "text": _narrative("HACC Funded Billing for Peter James Chalmers"),
    "identifier": [{"system": "urn:oid:0.1.2.3.4.5.6.7", "value": "654321"}],
    "status": "active",
    "type": _ACCOUNT_TYPE,
    "name": "HACC Funded Billing for Peter James Chalmers",
    "subject": [{"reference": "Patient/example", "display": "Peter James Chalmers"}],
    "servicePeriod": {"start": "2016-01-01", "end": "2016-06-30"},
    "coverage": [{"coverage": {"reference": "Coverage/7546D"}, "priority": 1}],
    "owner": {"reference": "Organization/hl7"},
    "description": "Hospital charges",
}
ACCOUNT_TARGET: dict[str, Any] = {
    "resourceType": "Account",
    "id": _hash("example"),
    "identifier": [{"system": "urn:oid:0.1.2.3.4.5.6.7"}],
    "status": "active",
    "type": _system_only(_ACCOUNT_TYPE),
    "subject": [_ref("Patient/example")],
    "servicePeriod": {"start": "2015-12-12", "end": "2016-06-10"},
    "coverage": [{"coverage": _ref("Coverage/7546D"), "priority": 1}],
    "owner": _ref("Organization/hl7"),
}

_CAD = {"value": 200.00, "currency": "CAD"}
_VIN = "http://somewhere.motor-vehicle.com/vin"
_RICARDIAN = _coding("urn:ietf:rfc:3986", "RicardianContract")
_VALUED = {"effectiveTime": "1995", "quantity": {"value": 1}, "unitPrice": _CAD, "factor": 1.0, "points": 1.0}
CONTRACT: dict[str, Any] = {
    "resourceType": "Contract",
    "id": "C-123",
    "text": _narrative("A human-readable rendering of the contract"),
    "identifier": [{"system": "http://happyvalley.com/contract", "value": "12347"}],
    "term": [
        {
            "offer": {"text": "Can't refuse"},
            "asset": [
                {
                    "type": [_RICARDIAN],
                    "subtype": [{"text": "sample"}],
                    "period": [{"start": "2017-06-01"}],
                    "valuedItem": [
                        {
                            "entityCodeableConcept": {"text": "Ford Bobcat"},
                            "identifier": {"system": _VIN, "value": "XXSVT34-7665t952236"},
                            **_VALUED,
                            "net": _CAD,
                        }
                    ],
                }
            ],
        }
    ],
    "rule": [
        {"contentAttachment": {"contentType": "application/txt", "url": "http://www.rfc-editor.org/bcp/bcp13.txt"}}
    ],
    "legallyBindingAttachment": {"contentType": "application/pdf", "url": "http://www.aws3.com/storage/doc.pdf"},
}
CONTRACT_TARGET: dict[str, Any] = {
    "resourceType": "Contract",
    "id": _hash("C-123"),
    "identifier": [{"system": "http://happyvalley.com/contract"}],
    "term": [
        {
            "asset": [
                {
                    "type": [_system_only(_RICARDIAN)],
                    "period": [{"start": "2017-05-21"}],
                    "valuedItem": [{"identifier": {"system": _VIN}, **_VALUED, "net": _CAD}],
                }
            ]
        }
    ],
    "rule": [{"contentAttachment": {"contentType": "application/txt"}}],
    "legallyBindingAttachment": {"contentType": "application/pdf"},
}

# -- STU3 inputs both tools refuse under the R4 configuration (their engine: InvalidInputException) -----------
_STU3_ONLY = {
    "DeviceComponent": {"identifier": {"value": "0"}, "lastSystemChange": "2014-10-07T14:45:00Z"},
    "ProcessRequest": {"status": "active", "action": "poll", "created": "2014-08-16"},
    "ProcessResponse": {"status": "active", "created": "2014-08-16", "disposition": "Adjudication completed."},
}
REFUSED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    **{
        f"Stu3OnlyResource/{kind}": (R4_CONFIG, {"resourceType": kind, "id": "example", **fields})
        for kind, fields in _STU3_ONLY.items()
    },
    # STU3's Claim.use 'complete', .organization and item.service (R4: claim, provider, productOrService)
    "Stu3OnlyResource/Claim-Stu3": (
        R4_CONFIG,
        {
            **{k: v for k, v in CLAIM.items() if k not in ("provider", "item")},
            "use": "complete",
            "organization": {"reference": "Organization/1"},
            "item": [{"sequence": 1, "service": {"coding": [{"code": "1200"}]}, "servicedDate": "2014-08-16"}],
        },
    ),
    # STU3's Account.period, .active (a Period) and .balance
    "Stu3OnlyResource/Account-Stu3": (
        R4_CONFIG,
        {
            **{k: v for k, v in ACCOUNT.items() if k not in ("servicePeriod", "subject")},
            "subject": {"reference": "Patient/example"},
            "period": ACCOUNT["servicePeriod"],
            "active": ACCOUNT["servicePeriod"],
            "balance": {"value": -1200, "unit": "USD", "system": "urn:iso:std:iso:4217", "code": "USD"},
        },
    ),
    # STU3's Contract.agent (R4 has none)
    "Stu3OnlyResource/Contract-Stu3": (
        R4_CONFIG,
        {
            "resourceType": "Contract",
            "id": "pcd-example-notThem",
            "issued": "2015-11-18",
            "domain": [{"reference": "Location/ukp", "display": "Canada Infoway"}],
            "agent": [{"actor": {"reference": "Patient/f001"}}],
            "friendly": [{"contentAttachment": {"title": "The terms of the consent in friendly consumer speak."}}],
        },
    ),
}

#: name -> (configuration, input, their target); every case here also shifts its dates by one offset
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "patient-special-content/common-config": (COMMON_CONFIG, SPECIAL_CONTENT, SPECIAL_CONTENT_TARGET),
    "patient-null-date/common-config": (COMMON_CONFIG, NULL_DATE, NULL_DATE_TARGET),
    "patient-no-partial/common-no-partial-config": (NO_PARTIAL_CONFIG, PATIENT_BASIC, NO_PARTIAL_TARGET),
    "R4OnlyResource/OrganizationAffiliation": (R4_CONFIG, AFFILIATION, AFFILIATION_TARGET),
    "R4OnlyResource/ServiceRequest": (R4_CONFIG, SERVICE_REQUEST, SERVICE_REQUEST_TARGET),
    "R4OnlyResource/Account-R4": (R4_CONFIG, ACCOUNT, ACCOUNT_TARGET),
    "R4OnlyResource/Claim-R4": (R4_CONFIG, CLAIM, CLAIM_TARGET),
    "R4OnlyResource/Contract-R4": (R4_CONFIG, CONTRACT, CONTRACT_TARGET),
}
_COMMON_KEEP_TEST = {
    "Patient.address[].line[]": _KEEP_TEXT,
    "Patient.address[].text": _KEEP_TEXT,
    "Patient.id": _ID,
}


def _refs(root: str, paths: str) -> dict[str, str]:
    return {f"{root}.{path}.reference": _REF for path in paths.split()}


#: name -> {element path (list positions dropped): why ours differs from their target}
DIFFERENCES: dict[str, dict[str, str]] = {
    "patient-special-content/common-config": {"Patient.address[].postalCode": _KEEP_DIGITS, "Patient.id": _ID},
    "patient-null-date/common-config": _COMMON_KEEP_TEST,
    "patient-no-partial/common-no-partial-config": _COMMON_KEEP_TEST,
    "R4OnlyResource/OrganizationAffiliation": {
        **_refs(
            "OrganizationAffiliation",
            "endpoint[] healthcareService[] location[] network[] organization participatingOrganization",
        ),
        "OrganizationAffiliation.id": _ID,
        "OrganizationAffiliation.identifier[].system": _KEEP_URL,
        "OrganizationAffiliation.telecom[].value": _KEEP_EMAIL,
    },
    "R4OnlyResource/ServiceRequest": {
        **_refs("ServiceRequest", "contained[].subject encounter performer[] requester subject"),
        "ServiceRequest.id": _ID,
        "ServiceRequest.specimen[].reference": _LOCAL,
        "ServiceRequest.supportingInfo[].reference": _LOCAL,
    },
    "R4OnlyResource/Account-R4": {
        **_refs("Account", "coverage[].coverage owner subject[]"),
        "Account.id": _ID,
    },
    "R4OnlyResource/Claim-R4": {
        **_refs("Claim", "careTeam[].provider insurance[].coverage insurer patient provider"),
        "Claim.id": _ID,
    },
    "R4OnlyResource/Contract-R4": {"Contract.id": _ID},
}
_ABSENT = (
    "required (1..1); their rules emptied it and theirs drops it, so their target is not valid R4: ours writes it "
    "with FHIR's data-absent-reason extension (valueCode 'masked'), nothing of the value"
)
#: name -> {element path (list positions dropped): why ours has it where their target has not}
ABSENT: dict[str, dict[str, str]] = {
    "R4OnlyResource/Claim-R4": dict.fromkeys(
        ("Claim.priority", "Claim.diagnosis[].diagnosisCodeableConcept", "Claim.item[].productOrService"), _ABSENT
    ),
    "R4OnlyResource/Contract-R4": {"Contract.term[].offer": _ABSENT},
}
#: name -> (elements equal to their target, elements of the same shape: keyed by their keys), as run today
COMPARED: dict[str, tuple[int, int]] = {
    "patient-special-content/common-config": (22, 3),
    "patient-null-date/common-config": (33, 7),
    "patient-no-partial/common-no-partial-config": (41, 0),
    "R4OnlyResource/OrganizationAffiliation": (9, 2),
    "R4OnlyResource/ServiceRequest": (19, 2),
    "R4OnlyResource/Account-R4": (8, 2),
    "R4OnlyResource/Claim-R4": (8, 2),
    "R4OnlyResource/Contract-R4": (9, 2),
}
#: name -> (configuration, input, their target, why ours refuses the resource where theirs writes the target)
OURS_REFUSED: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None, str]] = {
    "R4OnlyResource/MedicinalProduct": (
        R4_CONFIG,
        MEDICINAL_PRODUCT,
        None,
        "an R4 resource that R4B (our models, FHIR 4.3.0) replaced: ours dead-letters it as not R4",
    ),
}
