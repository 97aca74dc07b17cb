"""Synthetic HL7 v2 messages and FHIR R4 Bundles, with every planted PHI value listed.

Built from the same seeded Faker records as :mod:`pipeline.devtools.synthetic` (notes included), so
a test can check that none of the planted values survives. HL7 v2: ADT^A01/A03/A04/A08, ORU^R01 and
MDM^T02 across versions 2.3 to 2.8, with repetitions, sub-components and escape sequences. FHIR: a
Bundle of Patient, RelatedPerson, Practitioner, Encounter, Observation, Condition, DiagnosticReport
and DocumentReference (a base64 text attachment), with XHTML narrative and references between them.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.devtools.synthetic import FINDINGS, synthetic_records

HL7_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8")
HL7_EVENTS = (("ADT", "A01"), ("ADT", "A03"), ("ADT", "A04"), ("ADT", "A08"), ("ORU", "R01"), ("MDM", "T02"))


@dataclass
class ClinicalMessage:
    """One message: its key (encounter id), bytes, ``phi-schema`` header and the PHI planted in it."""

    key: str
    value: bytes
    schema: str
    kind: str
    planted: list[str] = field(default_factory=list)


def _hl7_date(iso: str) -> str:
    return iso.replace("-", "")


def _esc(text: str) -> str:
    """Text as an HL7 v2 leaf (standard delimiters)."""
    out = text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("~", "\\R\\")
    return out.replace("&", "\\T\\").replace("\n", "\\.br\\")


def synthetic_hl7(count: int, seed: int = 21) -> Iterator[ClinicalMessage]:
    """``count`` HL7 v2 messages (one per record), cycling message types and versions."""
    rng = random.Random(seed)
    for index, synthetic in enumerate(synthetic_records(count, seed=seed)):
        rec = synthetic.record
        planted = list(synthetic.planted)
        kind, event = HL7_EVENTS[index % len(HL7_EVENTS)]
        version = HL7_VERSIONS[index % len(HL7_VERSIONS)]
        first, last = rec["patient_name"].split(" ", 1)
        att_first, att_last = rec["attending"].split(" ", 1)
        control = f"CTL{seed:02d}{index:07d}"
        admitted = _hl7_date(rec["admission_date"])
        born = _hl7_date(rec["date_of_birth"])
        kin_first = rng.choice(("Maria", "Dolores", "Kenji", "Ingrid", "Tobias", "Priya"))
        kin_phone = f"({rng.randint(201, 989)}){rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
        npi = f"{rng.randint(1_000_000_000, 1_999_999_999)}"
        planted += [control, admitted, born, kin_phone, npi, f"{first}^{last}", rec["zip"]]
        structure = f"{kind}_{event}" if kind != "ADT" or event != "A08" else "ADT_A01"
        msh_type = f"{kind}^{event}" if version == "2.3" else f"{kind}^{event}^{structure}"
        lines = [
            f"MSH|^~\\&|EPIC|GENERAL HOSP|RECEIVER|REGIONAL LAB|{admitted}0930||{msh_type}|{control}|P|{version}",
        ]
        if kind in ("ADT", "MDM"):
            lines.append(f"EVN|{event}|{admitted}0930|||{att_last}^{att_first}")
        lines.append(
            f"PID|1|{rec['patient_id']}|{rec['mrn']}^^^GH^MR~{rec['ssn'].replace('-', '')}^^^SSA^SS|"
            f"|{_esc(last)}^{_esc(first)}^Q^^^^L||{born}|F|{_esc(last)}^{_esc(first)}^^^^^A|"
            f"|{_esc(rec['street_address'])}^^{_esc(rec['city'])}^{rec['state']}^{rec['zip']}^USA^H"
            f"|GH|{rec['phone']}^PRN^PH~^NET^Internet^{rec['email']}|||M||{rec['record_id']}|{rec['ssn']}"
        )
        street = f"{_esc(rec['street_address'])}^^{_esc(rec['city'])}^{rec['state']}^{rec['zip']}^USA^H"
        doctor = f"{npi}^{_esc(att_last)}^{_esc(att_first)}^^^^MD"
        if kind == "ADT":
            lines.append(
                _segment("NK1", {1: "1", 2: f"{_esc(last)}^{kin_first}", 3: "SPO^Spouse", 4: street, 5: kin_phone})
            )
            planted.append(kin_first)
        pv1 = {1: "1", 2: "I", 3: "4W^412^B^GH", 7: doctor, 10: "MED", 17: doctor, 18: "IN", 19: f"{rec['record_id']}V"}
        lines.append(_segment("PV1", pv1 | {44: f"{admitted}0930"}))
        if kind == "ADT":
            pv2 = {3: "^Chest pain", 9: admitted, 12: f"Transfer from {_esc(rec['city'])} for {_esc(last)}"}
            lines.append(_segment("PV2", pv2))
            if event in ("A01", "A04"):
                gt1 = {1: "1", 2: f"G{rec['mrn']}", 3: f"{_esc(last)}^{_esc(first)}", 5: street, 6: rec["phone"]}
                lines.append(_segment("GT1", gt1 | {8: born, 9: "F", 11: "SEL", 12: rec["ssn"]}))
                in1 = {1: "1", 2: "PPO1", 3: "BCBS01", 4: "BLUE CROSS", 8: f"GRP{rec['mrn']}"}
                in1 |= {16: f"{_esc(last)}^{_esc(first)}", 17: "SEL", 18: born, 19: street, 36: rec["health_plan_id"]}
                lines.append(_segment("IN1", in1))
        if kind == "ORU":
            order = {1: "RE", 2: f"PL{rec['mrn']}", 3: f"FL{rec['mrn']}", 5: "CM", 9: f"{admitted}1000"}
            lines.append(_segment("ORC", order))
            request = {1: "1", 2: f"PL{rec['mrn']}", 3: f"FL{rec['mrn']}", 4: "11506-3^Progress note^LN"}
            lines.append(_segment("OBR", request | {7: f"{admitted}1000", 16: doctor}))
            rate = str(rec["vitals"]["heart_rate"])
            lines.append(_segment("OBX", {1: "1", 2: "NM", 3: "8867-4^Heart rate^LN", 5: rate, 6: "/min", 11: "F"}))
            note = {1: "2", 2: "TX", 3: "11506-3^Progress note^LN", 5: _esc(rec["note"]), 11: "F"}
            lines.append(_segment("OBX", note | {14: f"{admitted}1000"}))
            lines.append(_segment("OBX", {1: "3", 2: "TS", 3: "DOB^Birth^L", 5: born, 11: "F"}))
        if kind == "MDM":
            txa = {1: "1", 2: "DS", 3: "TX", 4: f"{admitted}1100", 5: doctor, 6: admitted, 12: f"DOC{rec['mrn']}"}
            lines.append(_segment("TXA", txa | {16: f"note_{rec['mrn']}.txt", 17: "AU"}))
            for number, sentence in enumerate(re.split(r"(?<!Dr)\. ", rec["note"]), start=1):
                text = {1: str(number), 2: "TX", 3: "18842-5^Discharge summary^LN", 4: str(number), 5: _esc(sentence)}
                lines.append(_segment("OBX", text | {11: "F"}))
        lines.append(f"NTE|1||Family \\T\\ friends aware~second line {_esc(rng.choice(FINDINGS))}")
        lines.append(f"ZPI|1|{_esc(last)} prefers {rec['phone']}")
        value = ("\r".join(lines) + "\r").encode("utf-8")
        yield ClinicalMessage(rec["record_id"], value, f"{FORMAT_HL7V2}:{version}", f"{kind}^{event}", planted)


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment from its non-empty fields by number."""
    values = [""] * max(fields)
    for number, value in fields.items():
        values[number - 1] = value
    return "|".join([name, *values])


def _xhtml(text: str) -> str:
    body = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{body}</p></div>'


def synthetic_fhir(count: int, seed: int = 31) -> Iterator[ClinicalMessage]:
    """``count`` FHIR R4 Bundles (one per record)."""
    rng = random.Random(seed)
    for index, synthetic in enumerate(synthetic_records(count, seed=seed)):
        rec = synthetic.record
        planted = list(synthetic.planted)
        first, last = rec["patient_name"].split(" ", 1)
        att_first, att_last = rec["attending"].split(" ", 1)
        pid = f"pat-{seed}-{index}"
        kin = rng.choice(("Rosalind", "Evander", "Margarethe", "Cornelius", "Annika"))
        npi = f"{rng.randint(1_000_000_000, 1_999_999_999)}"
        admitted = rec["admission_date"]
        discharged = rec["discharge_date"]
        planted += [pid, kin, npi, rec["zip"], rec["patient_id"]]
        ref = {"reference": f"Patient/{pid}", "display": rec["patient_name"]}
        doc_text = f"{rec['note']}\nSigned: Dr. {att_first} {att_last}, NPI {npi}."
        patient = {
            "resourceType": "Patient",
            "id": pid,
            "text": {
                "status": "generated",
                "div": _xhtml(f"{first} {last}, born {rec['date_of_birth']}, MRN {rec['mrn']}"),
            },
            "identifier": [
                {"system": "urn:oid:1.2.36.146.595.217.0.1", "value": rec["mrn"], "type": {"text": "MRN"}},
                {"system": "http://hl7.org/fhir/sid/us-ssn", "value": rec["ssn"]},
            ],
            "name": [{"use": "official", "family": last, "given": [first]}],
            "telecom": [{"system": "phone", "value": rec["phone"]}, {"system": "email", "value": rec["email"]}],
            "gender": "female",
            "birthDate": rec["date_of_birth"],
            "address": [
                {"line": [rec["street_address"]], "city": rec["city"], "state": rec["state"], "postalCode": rec["zip"]}
            ],
            "contact": [
                {"name": {"given": [kin], "family": last}, "telecom": [{"system": "phone", "value": rec["phone"]}]}
            ],
        }
        entries = [
            patient,
            {
                "resourceType": "RelatedPerson",
                "id": f"rp-{index}",
                "patient": {"reference": f"Patient/{pid}"},
                "name": [{"given": [kin], "family": last}],
                "telecom": [{"system": "phone", "value": rec["phone"]}],
            },
            {
                "resourceType": "Practitioner",
                "id": f"pr-{index}",
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
                "name": [{"family": att_last, "given": [att_first], "prefix": ["Dr."]}],
            },
            {
                "resourceType": "Encounter",
                "id": f"enc-{index}",
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "identifier": [{"value": rec["record_id"]}],
                "subject": ref,
                "period": {"start": f"{admitted}T09:30:00Z", "end": f"{discharged}T14:00:00Z"},
                "participant": [{"individual": {"reference": f"Practitioner/pr-{index}"}}],
            },
            {
                "resourceType": "Observation",
                "id": f"obs-{index}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"},
                "subject": ref,
                "encounter": {"reference": f"Encounter/enc-{index}"},
                "effectiveDateTime": f"{admitted}T10:00:00Z",
                "valueQuantity": {"value": rec["vitals"]["heart_rate"], "unit": "/min"},
                "note": [{"text": f"Taken by nurse; patient {first} {last} calm."}],
            },
            {
                "resourceType": "Condition",
                "id": f"cond-{index}",
                "subject": {"reference": f"Patient/{pid}"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": rec["diagnosis_codes"][0]}]},
                "onsetDateTime": admitted,
                "note": [{"text": f"Reported by {kin} on {admitted}."}],
            },
            {
                "resourceType": "DiagnosticReport",
                "id": f"dr-{index}",
                "status": "final",
                "code": {"text": "Progress note"},
                "subject": {"reference": f"Patient/{pid}"},
                "issued": f"{admitted}T12:00:00Z",
                "result": [{"reference": f"Observation/obs-{index}"}],
                "conclusion": rec["note"],
            },
            {
                "resourceType": "DocumentReference",
                "id": f"doc-{index}",
                "status": "current",
                "subject": {"reference": f"Patient/{pid}"},
                "date": f"{admitted}T12:00:00Z",
                "author": [{"reference": f"Practitioner/pr-{index}"}],
                "description": f"Discharge summary for {first} {last}",
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain; charset=utf-8",
                            "data": base64.b64encode(doc_text.encode()).decode("ascii"),
                            "title": f"{last} discharge summary",
                        }
                    }
                ],
            },
        ]
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": f"{admitted}T12:00:00Z",
            "entry": [{"fullUrl": f"urn:uuid:{_uuid(rng)}", "resource": r} for r in entries],
        }
        value = json.dumps(bundle, separators=(",", ":")).encode("utf-8")
        yield ClinicalMessage(rec["record_id"], value, f"{FORMAT_FHIR}:Bundle", "Bundle", planted)


def _uuid(rng: random.Random) -> str:
    raw = f"{rng.getrandbits(128):032x}"
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def planted_dates(messages: list[ClinicalMessage]) -> set[str]:
    """Dates planted in the messages (for callers that check that no full date survives)."""
    return {value for m in messages for value in m.planted if _is_date(value)}


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True
