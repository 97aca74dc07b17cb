"""Deny by default, as properties: arbitrary messages with PHI planted in every string leaf leak none of it.

HL7 v2: random segments (known, Z-segments), random field counts past each segment's definition,
repetitions and components, OBX with empty or odd value types. FHIR R4: every resource type
``fhir.resources`` knows that a generic builder can make valid, its required elements filled, random
optional string elements, complex elements, extensions, element ids, comments and a narrative with a
name split across inline tags. Both through the worker's processing path with the rules detector.
Avro: random schemas of untagged strings (nested records, arrays, maps, unions): after protection every
planted string is either protected or handed to the detector. Example counts are kept modest for CI.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from functools import cache
from typing import Any

import fhir.resources.R4B as fhir_package
import pytest
from fhir.resources.R4B.resource import Resource as FhirResource
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.formats import fhir_model, hl7_model
from pipeline.core.formats.base import FORMAT_FHIR, FORMAT_HL7V2
from pipeline.core.formats.fhir import validate
from pipeline.core.schemas import _entry_from_raw
from pipeline.core.structured import protect_record
from tests.unit.processors import unit_processor
from tests.unit.test_deny_by_default import process

NAME, SSN, PHONE, EMAIL = "Glenn Whitaker", "536-22-8147", "(617) 555-0143", "glenn.whitaker@example.com"
URL = "https://whitaker-family.example.com/chart"
POOL = (NAME, SSN, PHONE, EMAIL, URL)
CHECKED = (*POOL, "Whitaker")
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def processor(registry, keyring):
    return unit_processor(registry, keyring)


def leaked(text: str) -> list[str]:
    return [value for value in CHECKED if value in text]


# -- HL7 v2 -----------------------------------------------------------------------------------------

SEGMENTS = ("PID", "PV1", "PV2", "NK1", "IN1", "IN2", "AL1", "NTE", "DG1", "ORC", "OBR", "OBX", "GT1", "TXA", "ZPI")
VALUE_TYPES = ("", "TX", "ST", "FT", "CE", "CWE", "NM", "SN", "TS", "XYZ")
VERSIONS = ("2.3", "2.5", "2.8")

planted = st.sampled_from(POOL)
leaf = st.one_of(st.just(""), planted)
component = st.lists(leaf, min_size=1, max_size=2).map("&".join)
repetition = st.lists(component, min_size=1, max_size=3).map("^".join)
field = st.lists(repetition, min_size=1, max_size=2).map("~".join)


@st.composite
def hl7_messages(draw: Any) -> str:
    version = draw(st.sampled_from(VERSIONS))
    msh = [f"MSH|^~\\&|{draw(planted)}|{draw(planted)}|{draw(planted)}|{draw(planted)}|20240105||ORU^R01", "C1"]
    lines = ["|".join([*msh, "P", version])]
    for name in draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6)):
        defined = len(hl7_model.field_types(version, name))
        count = draw(st.integers(1, defined + 4))  # past the definition too
        values = [draw(field) for _ in range(count)]
        if name == "OBX":
            values[0] = "1"
            if count > 1:
                values[1] = draw(st.sampled_from(VALUE_TYPES))
        lines.append("|".join([name, *values]))
    return "\r".join(lines) + "\r"


@PROPERTY
@given(message=hl7_messages())
def test_no_planted_value_leaves_an_arbitrary_hl7_message(processor, keyring, message):
    result = process(processor, keyring, FORMAT_HL7V2, message.encode())
    assert result.outcome == "ok", (result.reason, result.stage)
    out = result.outputs[0].value.decode()
    assert not leaked(out), leaked(out)
    assert "\n" not in out and out.endswith("\r")


# -- FHIR R4 ----------------------------------------------------------------------------------------

_PRIMITIVE_VALUES: dict[str, Any] = {
    "uri": "http://example.org/x",
    "url": "http://example.org/x",
    "canonical": "http://example.org/x",
    "id": "a1",
    "date": "2020-01-01",
    "dateTime": "2020-01-01",
    "instant": "2020-01-01T00:00:00Z",
    "time": "10:00:00",
    "boolean": True,
    "integer": 1,
    "positiveInt": 1,
    "unsignedInt": 1,
    "decimal": 1.5,
    "base64Binary": "aGk=",
    "oid": "urn:oid:1.2.3",
    "uuid": "urn:uuid:11111111-2222-3333-4444-555555555555",
    "uuidVersion": "urn:uuid:11111111-2222-3333-4444-555555555555",
}


def _extension(value: str) -> list[dict[str, Any]]:
    return [{"url": "http://example.org/fhir/ext", "valueString": value}]


def _required(info: Any, chosen: set[str]) -> bool:
    """Required, or the first member of a required choice (``medication[x]``) met in field order."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    choice = extra.get("one_of_many")
    if choice and extra.get("one_of_many_required") and choice not in chosen:
        chosen.add(choice)
        return True
    return info.is_required() or bool(extra.get("element_required"))


def _fill(type_name: str, primitive: bool, value: str, info: Any, depth: int) -> Any:
    if primitive:
        if type_name in ("string", "markdown"):
            return value
        if type_name == "code":
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            return (extra.get("enum_values") or ["unknown"])[0]
        return _PRIMITIVE_VALUES.get(type_name, value)
    if type_name == "Reference":
        return {"reference": "Patient/p1", "display": value}
    if type_name == "CodeableConcept":
        return {"text": value, "coding": [{"code": "x", "display": value}]}
    if type_name == "Coding":
        return {"code": "x", "display": value}
    return _minimal(type_name, value, depth + 1)


def _elements(model: str) -> list[tuple[str, Any, fhir_model.ElementType, bool]]:
    """(JSON name, field info, element type, repeats) of every element of ``model``."""
    out = []
    for name, info in fhir_model.model_class(model).model_fields.items():
        key = info.alias or name
        if key in ("resource_type", "fhir_comments", "id", "extension", "modifierExtension"):
            continue
        found = fhir_model.element_type(model, key)
        if found is None or found.name == fhir_model.RESOURCE or found.name == "Element":
            continue
        repeats = "List" in str(info.annotation) or "list" in str(info.annotation)
        out.append((key, info, found, repeats))
    return out


def _minimal(model: str, value: str, depth: int = 0) -> dict[str, Any]:
    """``model`` with its required elements filled (strings planted), never empty."""
    out: dict[str, Any] = {}
    chosen: set[str] = set()
    if depth <= 3:
        for key, info, found, repeats in _elements(model):
            if key.startswith("_") or not _required(info, chosen):
                continue
            filled = _fill(found.name, found.primitive, value, info, depth)
            out[key] = [filled] if repeats else filled
    return out or {"extension": _extension(value)}


def _resource_types() -> list[str]:
    names = []
    for module in pkgutil.iter_modules(fhir_package.__path__):
        try:
            loaded = importlib.import_module(f"fhir.resources.R4B.{module.name}")
        except ImportError:
            continue
        for key, value in vars(loaded).items():
            if key.lower() == module.name and isinstance(value, type) and issubclass(value, FhirResource):
                names.append(key)
    return sorted(set(names))


@cache
def buildable() -> tuple[str, ...]:
    """Resource types the generic builder makes valid (required elements of a choice type defeat it)."""
    ok = []
    for name in _resource_types():
        if name in ("Resource", "DomainResource", "Bundle", "Parameters"):  # abstract, or wrappers of other resources
            continue
        try:
            resource = {"resourceType": name, **_minimal(name, NAME)}
            validate(resource)
        except Exception:  # noqa: S112 (a type this generic builder cannot fill validly: left out)
            continue
        ok.append(name)
    return tuple(ok)


def test_most_resource_types_are_built():
    assert len(buildable()) == len(_resource_types()) - 4, sorted(set(_resource_types()) - set(buildable()))


@st.composite
def fhir_resources(draw: Any) -> dict[str, Any]:
    rtype = draw(st.sampled_from(buildable()))
    value = draw(planted)
    resource: dict[str, Any] = {"resourceType": rtype, "id": "GlennWhitaker", **_minimal(rtype, value)}
    optional = [e for e in _elements(rtype) if e[0] not in resource and not e[0].startswith("_")]
    strings = [e for e in optional if e[2].name in ("string", "markdown")]
    complex_ = [
        e
        for e in optional
        if e[2].name
        in (
            "CodeableConcept",
            "Annotation",
            "Identifier",
            "HumanName",
            "ContactPoint",
            "Address",
            "Reference",
            "Coding",
        )
    ]
    for key, _, _, repeats in draw(st.lists(st.sampled_from(strings), max_size=4, unique=True)) if strings else []:
        text = draw(planted)
        resource[key] = [text] if repeats else text
        if draw(st.booleans()):
            resource[f"_{key}"] = (
                {"id": "GlennWhitaker", "extension": _extension(draw(planted))}
                if not repeats
                else [{"id": "GlennWhitaker"}]
            )
    samples = {
        "CodeableConcept": {"text": value, "coding": [{"system": URL, "code": "x", "display": value}]},
        "Annotation": {"text": value, "authorString": NAME},
        "Identifier": {
            "system": f"https://hospital.example.org/ssn/{SSN}",
            "value": SSN,
            "assigner": {"display": NAME},
        },
        "HumanName": {"family": "Whitaker", "given": ["Glenn"], "text": NAME},
        "ContactPoint": {"system": "phone", "value": PHONE},
        "Address": {"line": [value], "city": "Whitaker", "text": value},
        "Reference": {"display": NAME, "identifier": {"value": SSN}},
        "Coding": {"system": URL, "code": "x", "display": value},
    }
    for key, _, found, repeats in (
        draw(st.lists(st.sampled_from(complex_), max_size=3, unique=True)) if complex_ else []
    ):
        resource[key] = [samples[found.name]] if repeats else samples[found.name]
    if "text" in fhir_model.model_class(rtype).model_fields and draw(st.booleans()):
        div = (
            '<div xmlns="http://www.w3.org/1999/xhtml"><p>Seen <b>Gle</b>nn Whitaker, '
            f'<a href="mailto:{EMAIL}">mail</a> <span title="{PHONE}">{draw(planted)}</span></p></div>'
        )
        resource["text"] = {"status": "generated", "div": div}
    if "extension" in fhir_model.model_class(rtype).model_fields:
        resource["extension"] = [
            {"url": "http://example.org/a", "valueMarkdown": draw(planted)},
            {"url": "http://example.org/b", "extension": _extension(draw(planted))},
        ]
    try:
        validate(copy.deepcopy(resource))
    except Exception:
        resource = {"resourceType": rtype, "id": "GlennWhitaker", **_minimal(rtype, value)}
    return resource


@PROPERTY
@given(resource=fhir_resources())
def test_no_planted_value_leaves_an_arbitrary_fhir_resource(processor, keyring, resource):
    result = process(processor, keyring, FORMAT_FHIR, json.dumps(resource).encode())
    assert result.outcome == "ok", (resource["resourceType"], result.reason, result.stage)
    out = result.outputs[0].value.decode()
    assert not leaked(out), (resource["resourceType"], leaked(out))
    assert "GlennWhitaker" not in out  # resource and element ids


# -- Avro -------------------------------------------------------------------------------------------

_counter = iter(range(10**9))


def _string_type(draw: Any, depth: int) -> Any:
    kinds = ["string", "nullable", "array", "map"] + (["record"] if depth < 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "string":
        return "string"
    if kind == "nullable":
        return ["null", "string"]
    if kind == "array":
        return {"type": "array", "items": _string_type(draw, depth + 1)}
    if kind == "map":
        return {"type": "map", "values": _string_type(draw, depth + 1)}
    fields = [{"name": f"f{i}", "type": _string_type(draw, depth + 1)} for i in range(draw(st.integers(1, 3)))]
    return {"type": "record", "name": f"R{next(_counter)}", "fields": fields}


def _value(draw: Any, avro_type: Any) -> Any:
    if avro_type == "string" or avro_type == ["null", "string"]:
        return draw(planted)
    if avro_type["type"] == "array":
        return [_value(draw, avro_type["items"]) for _ in range(draw(st.integers(0, 2)))]
    if avro_type["type"] == "map":
        return {f"k{i}": _value(draw, avro_type["values"]) for i in range(draw(st.integers(0, 2)))}
    return {f["name"]: _value(draw, f["type"]) for f in avro_type["fields"]}


@st.composite
def avro_records(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = [{"name": "rid", "type": "string", "phi": "ID", "action": "tokenize"}]
    fields += [{"name": f"u{i}", "type": _string_type(draw, 0)} for i in range(draw(st.integers(1, 4)))]
    schema = {"type": "record", "name": f"Top{next(_counter)}", "namespace": "t", "fields": fields}
    record = {f["name"]: _value(draw, f["type"]) for f in fields}
    return schema, record


@PROPERTY
@given(sample=avro_records())
def test_every_untagged_avro_string_is_protected_or_scanned(sample):
    schema, record = sample
    entry = _entry_from_raw("sample", schema)
    protected = protect_record(entry, record, lambda value, rule, path: ("tok", rule.action))
    for slot in protected.texts:  # what the detector is handed is no longer the record's concern
        slot.replace("[SCANNED]")
    assert not leaked(json.dumps(protected.record))


def _every_string_planted(rtype: str) -> dict[str, Any]:
    """``rtype`` with its required elements, every optional string element, a narrative and extensions
    planted; its minimal form where the whole does not validate (an element's own invariants)."""
    resource: dict[str, Any] = {"resourceType": rtype, "id": "GlennWhitaker", **_minimal(rtype, NAME)}
    for number, (key, _, found, repeats) in enumerate(_elements(rtype)):
        if key not in resource and not key.startswith("_") and found.name in ("string", "markdown"):
            text = POOL[number % len(POOL)]
            resource[key] = [text] if repeats else text
    fields = fhir_model.model_class(rtype).model_fields
    if "text" in fields:
        div = f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Gle</b>nn Whitaker <i>{PHONE}</i></p></div>'
        resource["text"] = {"status": "generated", "div": div}
    if "extension" in fields:
        resource["extension"] = [{"url": "http://example.org/a", "valueMarkdown": EMAIL}]
    try:
        validate(copy.deepcopy(resource))
    except Exception:
        resource = {"resourceType": rtype, "id": "GlennWhitaker", **_minimal(rtype, NAME)}
    return resource


def test_every_resource_type_with_every_string_element_planted(processor, keyring):
    from pipeline.core.processing import InboundMessage
    from pipeline.devtools.inputs import signed_input

    resources = [_every_string_planted(rtype) for rtype in buildable()]
    for first in range(0, len(resources), 20):
        batch = []
        for offset, resource in enumerate(resources[first : first + 20], start=first):
            signed = signed_input(keyring, FORMAT_FHIR, json.dumps(resource).encode(), b"k")
            batch.append(InboundMessage(signed.value, signed.key, tuple(signed.headers), "t", 0, offset, 0))
        for resource, result in zip(resources[first : first + 20], processor.process_batch(batch), strict=True):
            assert result.outcome == "ok", (resource["resourceType"], result.reason)
            out = result.outputs[0].value.decode()
            assert not leaked(out) and "GlennWhitaker" not in out, (resource["resourceType"], leaked(out))
