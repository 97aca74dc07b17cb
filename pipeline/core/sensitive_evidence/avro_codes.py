"""Coded fields of an Avro schema (the ``code_system`` tag) and their values in a record.

A field that holds codes says so beside its PHI tag: ``{"name": "diagnosis_codes", "type": {"type":
"array", "items": "string"}, "phi": "NONE", "code_system": "icd-10-cm"}``. The tag names a system
:func:`~pipeline.core.sensitive_evidence.code_systems.system_of` reads (a short name, a FHIR URI or an
OID); any other name is refused when the schema loads. Tagged fields may sit at any depth of inline
records (and arrays of them); their values are strings or arrays of strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pipeline.core.sensitive_evidence.code_systems import CodeSystem, parse_system
from pipeline.core.sensitive_evidence.coded import Coded

#: The schema attribute that names a field's code system.
CODE_SYSTEM_TAG = "code_system"
CodeField = tuple[tuple[str, ...], CodeSystem]


def code_fields(schema_name: str, raw: Mapping[str, Any]) -> tuple[CodeField, ...]:
    """(field path, system) of every field tagged with a code system; :class:`SchemaError` for a system
    the pipeline does not read."""
    return tuple(_record_fields(schema_name, raw, ()))


def _record_fields(schema_name: str, record: Mapping[str, Any], path: tuple[str, ...]) -> Iterator[CodeField]:
    for avro_field in record.get("fields") or ():
        if not isinstance(avro_field, Mapping) or not isinstance(avro_field.get("name"), str):
            continue
        here = (*path, avro_field["name"])
        if CODE_SYSTEM_TAG in avro_field:
            where = f"schema {schema_name!r}, field {'.'.join(here)!r}"
            yield here, parse_system(avro_field[CODE_SYSTEM_TAG], where)
        for inner in _inline_records(avro_field.get("type")):
            yield from _record_fields(schema_name, inner, here)


def _inline_records(avro_type: Any) -> Iterator[Mapping[str, Any]]:
    """Records defined inline in a field's type (through unions and arrays)."""
    if isinstance(avro_type, list):
        for member in avro_type:
            yield from _inline_records(member)
    elif isinstance(avro_type, Mapping):
        if avro_type.get("type") == "record":
            yield avro_type
        elif avro_type.get("type") == "array":
            yield from _inline_records(avro_type.get("items"))


def codes_in_record(fields: tuple[CodeField, ...], record: Mapping[str, Any]) -> list[Coded]:
    """The coded values of a decoded record under its schema's code fields."""
    found: list[Coded] = []
    for path, system in fields:
        values: list[str] = []
        _values(record, path, values)
        name = system.value
        found.extend([Coded(name, code) for code in values])
    return found


def _values(node: Any, path: tuple[str, ...], out: list[str]) -> None:
    """The strings at ``path`` under ``node`` (through lists at any step), appended to ``out``."""
    if isinstance(node, list):
        for item in node:
            _values(item, path, out)
    elif not path:
        if isinstance(node, str):
            out.append(node)
    elif type(node) is dict or isinstance(node, Mapping):  # the abstract check only for other mappings
        _values(node.get(path[0]), path[1:], out)
