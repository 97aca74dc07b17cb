"""HL7 v2 and FHIR R4 processors: per segment and resource, escapes, repetitions, attachments, narrative,
references. Free text is replaced by a marker here (detection is tested through the processing path)."""

from __future__ import annotations

import base64
import hashlib
import json
import xml.etree.ElementTree as ET

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.crypto.tokens import Tokenizer
from pipeline.core.errors import InvalidFhir
from pipeline.core.formats.fhir import FhirProcessor, validate
from pipeline.core.formats.hl7v2 import Hl7Message, Hl7Processor
from pipeline.core.formats.values import ValueProtector
from pipeline.core.policy import Format, default_policy, parse_policy
from pipeline.devtools.clinical import synthetic_fhir, synthetic_hl7

MARK = "[TEXT]"


@pytest.fixture(scope="module")
def protector_for(keyring):
    tokenizer, encryptor = Tokenizer(keyring), Encryptor(keyring)

    def make() -> ValueProtector:
        return ValueProtector(
            "msg-1", tokenizer.tokenize, encryptor.encrypt, keyring.current(KeyPurpose.PSEUDONYM).material
        )

    return make


def hl7(protector_for, value: bytes, policy=None):
    doc = Hl7Processor((policy or default_policy()).rules(Format.HL7V2)).protect(value, protector_for())
    texts = [slot.text for slot in doc.texts]
    for slot in doc.texts:
        slot.replace(MARK)
    return doc, texts, doc.render().decode()


def fhir(protector_for, resource: dict, policy=None):
    doc = FhirProcessor((policy or default_policy()).rules(Format.FHIR)).protect(
        json.dumps(resource).encode(), protector_for()
    )
    texts = [slot.text for slot in doc.texts]
    for slot in doc.texts:
        slot.replace(MARK)
    return doc, texts, json.loads(doc.render())


def segment(text: str, name: str) -> str:
    return next(line for line in text.split("\r") if line.startswith(name + "|"))


def fields(line: str) -> list[str]:
    return line.split("|")


MSG = (
    "MSH|^~\\&|EPIC|GENERAL HOSP|LAB|GH|20230105093000||ADT^A01^ADT_A01|CTRL123|P|2.5\r"
    "EVN|A01|20230105093000\r"
    "PID|1||MRN555^^^GH&1.2.3&ISO^MR~998877^^^SSA^SS||O\\T\\BRIEN^MARY^^^^^L||19620314|F|||"
    "12 ELM ST&ELM ST&12^APT 4^SPRINGFIELD^IL^62704^USA^H||(217)555-0101^PRN^PH~^NET^Internet^mary@example.org\r"
    "NTE|1||Called \\F\\ left msg for O\\T\\Brien\\.br\\second line \\S\\ \\R\\ \\E\\\r"
    "OBX|1|TX|NOTE||Seen by Dr Hale||||||F\r"
    "OBX|2|NM|GLU||99|mg/dL||||F\r"
    "OBX|3|TS|DOB||19620314||||||F\r"
    "ZPI|1|MARY prefers text\r"
)


def test_hl7_escape_sequences_are_read_and_written_back(protector_for):
    doc, texts, out = hl7(protector_for, MSG.encode())
    assert "Called | left msg for O&Brien\nsecond line ^ ~ \\" in texts
    again = Hl7Message(out)
    index = again.find("NTE")[0]
    assert again.delimiters.unescape(again.leaf(index, 3)) == MARK
    # text with every delimiter goes back escaped, and the structure holds
    doc = Hl7Processor(default_policy().rules(Format.HL7V2)).protect(MSG.encode(), protector_for())
    next(slot for slot in doc.texts if slot.path.startswith("NTE")).replace("a|b^c~d&e\\f\ng")
    rendered = doc.render().decode()
    nte = segment(rendered, "NTE")
    assert fields(nte)[3] == "a\\F\\b\\S\\c\\R\\d\\T\\e\\E\\f\\.br\\g"
    assert Hl7Message(rendered).delimiters.unescape(fields(nte)[3]) == "a|b^c~d&e\\f\ng"


def test_hl7_repetitions_components_and_subcomponents(protector_for):
    _, _, out = hl7(protector_for, MSG.encode())
    pid = fields(segment(out, "PID"))
    first, second = pid[3].split("~")
    assert first.startswith("tok:") and second.startswith("tok:")
    assert first.split("^")[3:] == ["", "MR"]  # assigning authority (HD) redacted, identifier type kept
    assert pid[5] == ""  # the name: every component redacted
    assert pid[7] == "1962"  # birth date: the year only
    assert pid[11] == "^^^IL^627^USA^H"  # street (SAD sub-components) and city redacted, ZIP3, state kept
    assert pid[13] == "^PRN^PH~^NET^" + MARK  # numbers and email go; "Internet" (a word, not a code shape) is detected
    assert "MARY" not in out and "998877" not in out and "62704" not in out


def test_hl7_msh_stays_valid_with_a_tokenized_control_id(protector_for):
    _, _, out = hl7(protector_for, MSG.encode())
    msh = fields(segment(out, "MSH"))
    assert msh[1] == "^~\\&" and msh[8] == "ADT^A01^ADT_A01" and msh[11] == "2.5" and msh[6] == "2023"
    assert msh[9].startswith("tok:") and msh[9] != "CTRL123"
    parsed = parse_message(out, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
    assert [s.name for s in parsed.children] == ["MSH", "EVN", "PID", "NTE", "OBX", "OBX", "OBX", "ZPI"]


def test_hl7_obx_value_follows_its_value_type_and_z_segments_are_redacted(protector_for):
    _, texts, out = hl7(protector_for, MSG.encode())
    obx = [fields(line) for line in out.split("\r") if line.startswith("OBX")]
    assert obx[0][5] == MARK and "Seen by Dr Hale" in texts  # TX: detected
    assert obx[1][5] == "99"  # NM: kept
    assert obx[2][5] == "1962"  # TS: a date, generalized
    assert segment(out, "ZPI").rstrip("|") == "ZPI"


SEGMENT_CASES = [
    ("MSH", "CTL41"),
    ("EVN", None),
    ("PID", "mrn"),
    ("NK1", "kin"),
    ("PV1", "npi"),
    ("PV2", "city"),
    ("GT1", "ssn"),
    ("IN1", "health_plan_id"),
    ("ORC", "mrn"),
    ("OBR", "npi"),
    ("OBX", "note"),
    ("TXA", "npi"),
    ("NTE", None),
]


@pytest.mark.parametrize(("name", "_"), SEGMENT_CASES)
def test_every_segment_keeps_its_place_and_loses_its_phi(protector_for, name, _):
    messages = [m for m in synthetic_hl7(12, seed=41) if f"\r{name}|".encode() in b"\r" + m.value]
    assert messages, name
    for message in messages:
        _, _, out = hl7(protector_for, message.value)
        before = [line[:3] for line in message.value.decode().split("\r") if line]
        after = [line[:3] for line in out.split("\r") if line]
        assert before == after
        lines = [line for line in out.split("\r") if line.startswith(name)]
        for value in message.planted:
            if len(str(value)) >= 4:
                assert all(str(value) not in line for line in lines), (name, value)


def test_hl7_patient_aged_90_or_more_loses_the_birth_year(protector_for):
    old = MSG.replace("19620314|F", "19200314|F")
    _, _, out = hl7(protector_for, old.encode())
    assert fields(segment(out, "PID"))[7] == ""


def test_hl7_policy_date_shift_keeps_intervals_and_precision(protector_for):
    policy = parse_policy("version: 1\nhl7v2:\n  rules:\n    TS.1: date-shift DATE\n    DTM: date-shift DATE\n", "p")
    _, _, out = hl7(protector_for, MSG.replace("EVN|A01|20230105093000", "EVN|A01|20230110093000").encode(), policy)
    msh_time = fields(segment(out, "MSH"))[6]
    evn_time = fields(segment(out, "EVN"))[2]
    assert len(msh_time) == 14 and msh_time.endswith("093000") and msh_time != "20230105093000"
    from datetime import date

    def day(text):
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))

    assert (day(evn_time) - day(msh_time)).days == 5


# -- FHIR --------------------------------------------------------------------------------------------


def bundle_resources(seed: int = 42) -> list[dict]:
    return [e["resource"] for e in json.loads(next(synthetic_fhir(1, seed=seed)).value)["entry"]]


@pytest.mark.parametrize(
    "resource_type",
    [
        "Patient",
        "RelatedPerson",
        "Practitioner",
        "Encounter",
        "Observation",
        "Condition",
        "DiagnosticReport",
        "DocumentReference",
    ],
)
def test_every_resource_type_validates_and_loses_its_structured_phi(protector_for, resource_type):
    message = next(synthetic_fhir(1, seed=42))
    resource = next(r for r in bundle_resources() if r["resourceType"] == resource_type)
    _, _, out = fhir(protector_for, resource)
    validate(out)
    text = json.dumps(out)
    for value in message.planted:
        if len(str(value)) >= 4:
            assert str(value) not in text, (resource_type, value)
    assert out["id"] != resource["id"] and len(out["id"]) == 32


def test_references_stay_consistent_across_the_bundle(protector_for):
    message = next(synthetic_fhir(1, seed=42))
    data = json.loads(message.value)
    patient = data["entry"][0]
    data["entry"][1]["resource"]["patient"] = {"reference": patient["fullUrl"]}
    data["entry"][2]["resource"]["extension"] = [
        {
            "url": "http://example.org/x",
            "valueReference": {"reference": f"http://ehr.example/fhir/Patient/{patient['resource']['id']}"},
        }
    ]
    _, _, out = fhir(protector_for, data)
    validate(out)
    new_patient = out["entry"][0]
    pid = new_patient["resource"]["id"]
    refs = [e["resource"].get("subject", {}).get("reference") for e in out["entry"]]
    assert {r for r in refs if r} == {f"Patient/{pid}"}
    assert out["entry"][1]["resource"]["patient"]["reference"] == new_patient["fullUrl"]
    assert new_patient["fullUrl"].startswith("urn:uuid:") and new_patient["fullUrl"] != patient["fullUrl"]
    absolute = out["entry"][2]["resource"]["extension"][0]["valueReference"]["reference"]
    assert absolute.endswith(f"/Patient/{pid}") and "ehr.example" not in absolute
    again = fhir(protector_for, json.loads(message.value))[2]
    assert again["entry"][0]["resource"]["id"] == pid  # the same original, the same pseudonym


def test_base64_text_attachments_are_decoded_detected_and_reencoded(protector_for):
    note = "Patient Mary O'Brien called from 217-555-0101."
    data = base64.b64encode(note.encode()).decode()
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [
            {"attachment": {"contentType": "text/plain", "data": data, "size": len(note), "hash": "AAAA"}},
            {"attachment": {"contentType": "image/png", "data": base64.b64encode(b"\x89PNG").decode(), "size": 4}},
        ],
    }
    _, texts, out = fhir(protector_for, doc)
    assert note in texts
    text_part, image_part = (c["attachment"] for c in out["content"])
    assert base64.b64decode(text_part["data"]).decode() == MARK
    assert text_part["size"] == len(MARK)
    assert text_part["hash"] == base64.b64encode(hashlib.sha1(MARK.encode()).digest()).decode()  # noqa: S324
    assert "data" not in image_part and "size" not in image_part
    validate(out)


def test_xhtml_narrative_stays_well_formed_with_its_markup(protector_for):
    patient = {
        "resourceType": "Patient",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Mary <b>O&apos;Brien</b> &amp; son</p>'
            '<img src="#p" alt="Mary at home"/></div>',
        },
    }
    _, texts, out = fhir(protector_for, patient)
    assert {"Mary O'Brien & son", "Mary at home"} <= set(texts)  # the div's rendered text is one text
    root = ET.fromstring(out["text"]["div"])  # noqa: S314 (our own output)
    assert root.tag == "{http://www.w3.org/1999/xhtml}div"
    assert [e.tag.split("}")[1] for e in root.iter()] == ["div", "p", "b", "img"]
    assert "src" not in root.find(".//{http://www.w3.org/1999/xhtml}img").attrib  # a URL: redacted
    assert "Mary" not in out["text"]["div"] and "Brien" not in out["text"]["div"]
    validate(out)


def test_narrative_with_a_dtd_or_entity_is_refused(protector_for):
    patient = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    }
    patient["text"]["div"] = '<!DOCTYPE d [<!ENTITY e "x">]><div xmlns="http://www.w3.org/1999/xhtml">&e;</div>'
    with pytest.raises(InvalidFhir):
        fhir(protector_for, patient)


@pytest.mark.parametrize(
    ("div", "reason"),
    [
        ('<!DOCTYPE div><div xmlns="http://www.w3.org/1999/xhtml">x</div>', "DTD or entity"),
        ('<!DOCTYPE d SYSTEM "file:///etc/passwd"><div xmlns="http://www.w3.org/1999/xhtml">x</div>', "DTD"),
        ('<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;</div>', "not well-formed"),  # undeclared entity
        ('<div xmlns="http://www.w3.org/1999/xhtml"><!-- Mary --></div>', "comment"),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><![CDATA[Mary]]></div>', "CDATA"),
        ('<?xml-stylesheet href="x"?><div xmlns="http://www.w3.org/1999/xhtml">x</div>', "processing instruction"),
    ],
)
def test_narrative_markup_outside_xhtml_is_refused_with_its_reason(protector_for, div, reason):
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    with pytest.raises(InvalidFhir, match=reason):
        fhir(protector_for, patient)


def test_dates_birth_year_aged_90_and_instants(protector_for):
    patient = {"resourceType": "Patient", "birthDate": "1925-02-03", "meta": {"lastUpdated": "2024-05-06T07:08:09Z"}}
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"code": "IMP"},
        "period": {"start": "2024-05-01T10:00:00Z"},
    }
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}, {"resource": encounter}]}
    doc, _, out = fhir(protector_for, bundle)
    assert doc.aged_90_plus
    new_patient, new_encounter = (e["resource"] for e in out["entry"])
    assert "birthDate" not in new_patient and "meta" not in new_patient  # instant: no year-only form
    assert new_encounter["period"]["start"] == "2024"
    young = json.loads(json.dumps(bundle).replace("1925-02-03", "1962-02-03"))
    assert fhir(protector_for, young)[2]["entry"][0]["resource"]["birthDate"] == "1962"


def test_contained_resources_keep_consistent_local_ids_and_a_bundle_without_patient_has_a_subject(protector_for):
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "contained": [{"resourceType": "Practitioner", "id": "p1", "name": [{"family": "Hale"}]}],
        "performer": [{"reference": "#p1"}],
        "subject": {"reference": "urn:uuid:11111111-2222-3333-4444-555555555555"},
    }
    doc, _, out = fhir(protector_for, observation)
    local = out["contained"][0]["id"]
    assert local != "p1" and out["performer"][0]["reference"] == f"#{local}"  # pseudonymized alike
    assert "name" not in out["contained"][0]
    assert doc.subject == "urn:uuid:11111111-2222-3333-4444-555555555555"
    validate(out)
