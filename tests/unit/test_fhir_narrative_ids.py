"""Resource ids and references written in a FHIR narrative come out as the structured ones do: ``Patient/23``
in the XHTML becomes the same ``Patient/<pseudonym>`` as the resource's id and every reference to it, and a
generated narrative's ``id: 23`` the same pseudonym; a number that only happens to equal the id does not.
Where a ``keep`` rule keeps a resource's id, its ``fullUrl`` and the references to it in the document keep it
too. The leak check at the end gives every FHIR fixture of tests/unit a generated-style narrative naming its
ids and references, and finds none of the originals in the output."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pipeline import Deidentifier, RuleDetector
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.errors import RejectedMessage
from pipeline.core.formats.base import FORMAT_FHIR
from pipeline.core.formats.fhir import validate
from pipeline.core.formats.fhir_ids import PSEUDONYM_BASE, IdLedger, Ids, rewrite_narrative
from pipeline.core.policy.loader import parse_policy
from tests.unit import ms_fhir_cases, ms_fhir_cases_more_a, ms_fhir_cases_more_b

XHTML = "http://www.w3.org/1999/xhtml"
_HEX32 = re.compile(r"[0-9a-f]{32}")


def _without_pseudonyms(text: str) -> str:
    """The text with every 32-hex pseudonym set aside: a random one may spell '23' or start with '7'."""
    return _HEX32.sub("<pseudonym>", text)


def narrative(html: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{html}</div>'}


def deidentify(resource: dict[str, Any], policy: str | None = None) -> dict[str, Any]:
    parsed = parse_policy(policy, "policy.yaml") if policy else None
    deidentifier = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), policy=parsed)
    out = json.loads(deidentifier.document(FORMAT_FHIR, json.dumps(resource).encode()).content)
    validate(out)
    return out


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "23",
    "text": narrative(
        "<p><b>id</b>: 23</p><p>Seen 23 times; see <a>Organization/7</a>, #org1, Patient/23/_history/2 "
        "and http://example.org/fhir/Patient/23.</p>"
    ),
    "contained": [{"resourceType": "Organization", "id": "org1", "active": True}],
    "managingOrganization": {"reference": "Organization/7"},
    "generalPractitioner": [{"reference": "#org1"}],
}


def test_ids_and_references_in_the_narrative_get_the_structured_pseudonyms():
    out = deidentify(PATIENT)
    div = out["text"]["div"]
    own, org = out["id"], out["managingOrganization"]["reference"]
    local = out["contained"][0]["id"]
    assert _HEX32.fullmatch(own) and _HEX32.fullmatch(local) and org.startswith("Organization/")
    assert out["generalPractitioner"] == [{"reference": f"#{local}"}]
    assert f"<b>id</b>: {own}</p>" in div  # the generated narrative's "id: 23"
    assert f"<a>{org}</a>" in div and f"#{local}," in div
    assert f"Patient/{own} and " in div  # its version goes too (the URL after it: the detector's)
    assert "Seen 23 times" in div  # a number that only equals the id is not the id
    for original in ("Patient/23", "Organization/7", "#org1", ": 23<"):
        assert original not in _without_pseudonyms(div)


def test_a_bundle_narrative_names_its_entries_as_their_ids_and_references_do():
    out = deidentify(ms_fhir_cases.BUNDLE_BASIC)  # the shipped policy: narratives detected, not redacted
    patient, _, observation = (entry["resource"] for entry in out["entry"])
    assert observation["subject"] == {"reference": f"Patient/{patient['id']}"}
    assert f"<a>Patient/{patient['id']}</a>" in observation["text"]["div"]
    assert f"<b>id</b>: {patient['id']}</p>" in patient["text"]["div"]
    assert out["entry"][0]["fullUrl"] == f"{PSEUDONYM_BASE}/Patient/{patient['id']}"
    assert "23" not in _without_pseudonyms(patient["text"]["div"] + observation["text"]["div"])


@pytest.mark.parametrize(
    ("resource_id", "html", "kept"),
    [
        ("example", "<p>id: example</p><p>For example, Condition/Diagnosis.</p>", ["For example, Condition/Diagnosis"]),
        ("7", "<p>BP 120/80, room #7, 7 days, Practitioner/abc</p>", ["BP 120/80, room #7, 7 days, Practitioner/abc"]),
        ("23", "<p>ref 123/23 and 23.5 mg, x23, 23-b</p>", ["ref 123/23 and 23.5 mg, x23, 23-b"]),
    ],
)
def test_what_only_looks_like_an_id_is_left_alone(resource_id, html, kept):
    resource = {"resourceType": "Patient", "id": resource_id, "text": narrative(html)}
    div = deidentify(resource)["text"]["div"]
    for text in kept:
        assert text in div


def test_a_distinctive_id_is_replaced_wherever_it_stands_and_a_word_id_only_after_its_label():
    resource = {"resourceType": "Patient", "id": "pat-0042", "text": narrative("<p>See pat-0042 (pat-0042).</p>")}
    out = deidentify(resource)
    assert out["text"]["div"].count(out["id"]) == 2 and "pat-0042" not in out["text"]["div"]
    labelled = deidentify({"resourceType": "Patient", "id": "example", "text": narrative("<p>id: example</p>")})
    assert f"id: {labelled['id']}" in labelled["text"]["div"]


def test_a_kept_resource_id_keeps_its_full_url_and_the_references_to_it():
    policy = "version: 1\nfhir:\n  rules:\n    Observation.id: keep\n"
    out = deidentify(ms_fhir_cases.BUNDLE_BASIC, policy)
    patient, observation = out["entry"][0]["resource"], out["entry"][2]["resource"]
    assert observation["id"] == "123" and out["entry"][2]["fullUrl"] == f"{PSEUDONYM_BASE}/Observation/123"
    assert out["entry"][0]["fullUrl"] == f"{PSEUDONYM_BASE}/Patient/{patient['id']}"  # Patient's: pseudonym
    bundle = copy.deepcopy(ms_fhir_cases.BUNDLE_BASIC)
    bundle["entry"][0]["resource"]["text"] = narrative("<p>last result: Observation/123</p>")
    bundle["entry"][0]["resource"]["link"] = [{"other": {"reference": "Observation/123"}, "type": "seealso"}]
    out = deidentify(bundle, policy + "    Patient.link.other: tokenize ID\n")
    assert out["entry"][0]["resource"]["link"][0]["other"] == {"reference": "Observation/123"}
    assert "Observation/123" in out["entry"][0]["resource"]["text"]["div"]


def test_a_redacted_reference_named_in_the_narrative_goes_to_the_detector_as_a_known_value():
    policy = "version: 1\nfhir:\n  rules:\n    Reference.reference: redact ID\n"
    resource = {
        "resourceType": "Patient",
        "text": narrative("<p>Managed by Organization/7.</p>"),
        "managingOrganization": {"reference": "Organization/7"},
    }
    out = deidentify(resource, policy)
    assert "managingOrganization" not in out
    assert "Organization/7" not in out["text"]["div"] and "Organization/" not in out["text"]["div"].replace(
        "Organization/[", ""
    )


# -- the leak check: every FHIR fixture of tests/unit, with a generated-style narrative naming its ids ---------------
def _fixtures() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for module in (ms_fhir_cases, ms_fhir_cases_more_a, ms_fhir_cases_more_b):
        for name, case in module.CASES.items():
            found[f"{module.__name__.rsplit('.', 1)[-1]}:{name}"] = case[1]
    example = Path(__file__).resolve().parents[2] / "examples" / "patient.json"
    found["examples/patient.json"] = json.loads(example.read_text())
    return found


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return own + [r for k, v in value.items() if k not in ("contained", "resource") for r in _references(v)]
    if isinstance(value, list):
        return [r for item in value for r in _references(item)]
    return []


def _with_narratives(document: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The document with each resource's narrative naming its id, its fullUrl and its references (as FHIR's
    generated narratives do), and the original forms that must not come out."""
    document = copy.deepcopy(document)
    originals: set[str] = set()
    full_urls = {id(e.get("resource")): e.get("fullUrl") for e in document.get("entry", []) if isinstance(e, dict)}
    entries = [e["resource"] for e in document.get("entry", []) if isinstance(e.get("resource"), dict)]
    for resource in [document, *entries] if document["resourceType"] != "Bundle" else entries:
        named = [*_references(resource), *([full_urls[id(resource)]] if full_urls.get(id(resource)) else [])]
        named += [f"#{c['id']}" for c in resource.get("contained", []) if "id" in c]
        rows = [f"<p><b>id</b>: {resource['id']}</p>"] if "id" in resource else []
        rows += [f"<p>see <a>{name}</a></p>" for name in named]
        resource["text"] = narrative("".join(rows) or "<p>Generated</p>")
        originals |= {n for n in named if "/" in n or n.startswith(("#", "urn:"))}
        if "id" in resource:
            originals |= {f"{resource['resourceType']}/{resource['id']}", f": {resource['id']}<"}
    return document, originals


@pytest.mark.parametrize("name", sorted(_fixtures()))
def test_no_fixture_narrative_keeps_an_original_id(name):
    document, originals = _with_narratives(_fixtures()[name])
    try:
        out = deidentify(document)
    except RejectedMessage:  # a fixture of theirs that is not R4 (the cases' own tests say why)
        pytest.skip("not an R4 input")
    divs = [r["text"]["div"] for r in [out, *(e.get("resource", {}) for e in out.get("entry", []))] if "text" in r]
    if not divs:
        pytest.skip("no resource in it to carry a narrative")
    leaked = {o for o in originals for div in divs if re.search(re.escape(o) + r"(?![A-Za-z0-9\-])", div)}
    assert leaked == set()


def test_the_rewrite_alone_takes_a_base_url_and_a_version_and_leaves_what_is_not_an_id():
    """Without the detector in front (it takes a URL first): the forms the rewrite itself replaces."""
    ids = Ids(b"k" * 32)
    ledger = IdLedger(ids, pseudonymized={"Patient/23"}, local={"c1"})
    root = ET.fromstring(  # noqa: S314 (a literal of ours)
        f'<div xmlns="{XHTML}"><p title="Patient/23">http://example.org/fhir/Patient/23/_history/2, #c1, #c2, '
        "urn:uuid:04121321-4af5-424c-a0e1-ed3aab1c349d, HumanName and Condition/Diagnosis; id = 23</p></div>"
    )
    own = ids.resource_id("Patient", "23")
    assert rewrite_narrative(root, ledger, "23", own) == 5
    paragraph = root[0]
    assert paragraph.get("title") == f"Patient/{own}"
    assert paragraph.text == (
        f"{PSEUDONYM_BASE}/Patient/{own}, #{ids.local_id('c1')}, #c2, "
        f"{ids.urn('04121321-4af5-424c-a0e1-ed3aab1c349d')}, HumanName and Condition/Diagnosis; id = {own}"
    )
