"""Avro schemas from ``schemas/`` and the PHI policy their tags carry.

Policy travels with the schema (the same idea as Confluent's field tags): an input field tagged
``"phi": "SSN", "action": "encrypt"`` is encrypted wherever the schema is used, and a producer that
changes the schema changes the policy in the same review. This module loads and checks those tags
and derives the de-identified output schema, so the output contract follows from the input one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

from pipeline.core.errors import SchemaError
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError, parse_phi_type

FREE_TEXT = "FREE_TEXT"

#: Actions a structured field may carry, and the PHI types each makes sense for (None: any type).
FIELD_ACTIONS: dict[str, frozenset[PhiType] | None] = {
    "redact": None,
    "tokenize": None,
    "encrypt": None,
    "generalize": frozenset({PhiType.DATE, PhiType.ZIP, PhiType.AGE}),
    "keep": None,
}
#: Fields the de-identified schema adds; an input schema may not use these names.
OUTPUT_METADATA_FIELDS = ("message_id", "source_schema", "phi_transformations")


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """What to do with one top-level field of an input record."""

    name: str
    phi_type: PhiType | None  # None for the free-text field
    action: str  # one of FIELD_ACTIONS, or "detect" for free text
    nullable: bool

    @property
    def is_free_text(self) -> bool:
        return self.action == "detect"


@dataclass(frozen=True)
class SchemaEntry:
    """One loaded schema: its identity, parsed form, raw JSON and, for inputs, its field policy."""

    name: str  # file stem, e.g. "clinical_record"
    version: int
    registry_id: int | None
    raw: dict[str, Any]
    parsed: Any
    policies: tuple[FieldPolicy, ...]
    subject_field: str | None

    @property
    def ref(self) -> str:
        """The ``phi-schema`` header value: ``name:version``."""
        return f"{self.name}:{self.version}"

    @property
    def is_input(self) -> bool:
        return bool(self.policies)

    @property
    def free_text_fields(self) -> tuple[FieldPolicy, ...]:
        return tuple(p for p in self.policies if p.is_free_text)


def _is_nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


def _is_string_like(avro_type: Any) -> bool:
    members = avro_type if isinstance(avro_type, list) else [avro_type]
    return all(m in ("null", "string", "int", "long") for m in members) and any(m != "null" for m in members)


def _field_policies(name: str, raw: Mapping[str, Any]) -> tuple[FieldPolicy, ...]:
    policies: list[FieldPolicy] = []
    for field in raw.get("fields", []):
        if "phi" not in field and "action" not in field:
            continue
        where = f"schema {name!r}, field {field.get('name')!r}"
        if field.get("name") in OUTPUT_METADATA_FIELDS:
            raise SchemaError(f"{where}: the name is reserved for output metadata; rename the field")
        tag, action = field.get("phi"), field.get("action")
        if tag is None or action is None:
            raise SchemaError(f"{where}: a PHI field needs both a 'phi' tag and an 'action'")
        if not _is_string_like(field["type"]):
            raise SchemaError(f"{where}: PHI tags are supported on string, int or long fields (optionally nullable)")
        if tag == FREE_TEXT:
            if action != "detect":
                raise SchemaError(f"{where}: a FREE_TEXT field takes action 'detect'")
            policies.append(FieldPolicy(field["name"], None, "detect", _is_nullable(field["type"])))
            continue
        try:
            phi_type = parse_phi_type(tag)
        except UnknownPhiTypeError as exc:
            raise SchemaError(f"{where}: {exc}") from None
        if action not in FIELD_ACTIONS:
            raise SchemaError(f"{where}: action {action!r} must be one of {', '.join(FIELD_ACTIONS)}")
        allowed = FIELD_ACTIONS[action]
        if allowed is not None and phi_type not in allowed:
            kinds = ", ".join(sorted(allowed))
            raise SchemaError(f"{where}: action {action!r} applies to {kinds}, not {phi_type}")
        policies.append(FieldPolicy(field["name"], phi_type, action, _is_nullable(field["type"])))
    return tuple(policies)


def deidentified_schema(entry: SchemaEntry) -> dict[str, Any]:
    """The output schema for an input schema: PHI fields become nullable strings, metadata is added.

    Protected values are strings whatever the input type (tokens, ciphertexts, ``90+``), and a
    redacted field is null; every transformation is listed with its type, action and, for free text,
    its position in the output, never the value.
    """
    raw = copy.deepcopy(entry.raw)
    policy_names = {p.name for p in entry.policies}
    fields: list[dict[str, Any]] = [
        {"name": "message_id", "type": "string"},
        {"name": "source_schema", "type": "string"},
    ]
    for field in raw["fields"]:
        clean = {k: v for k, v in field.items() if k not in ("phi", "action")}
        if field["name"] in policy_names:
            clean["type"] = ["null", "string"]
            clean["default"] = None
        fields.append(clean)
    fields.append(
        {
            "name": "phi_transformations",
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Transformation",
                    "fields": [
                        {"name": "field", "type": "string"},
                        {"name": "phi_type", "type": "string"},
                        {"name": "action", "type": "string"},
                        {"name": "start", "type": ["null", "int"], "default": None},
                        {"name": "end", "type": ["null", "int"], "default": None},
                        {"name": "detector", "type": ["null", "string"], "default": None},
                    ],
                },
            },
        }
    )
    return {
        "type": "record",
        "name": "Deidentified" + raw["name"],
        "namespace": raw.get("namespace", "org.phipipeline") + ".deidentified",
        "doc": f"De-identified form of {entry.name}: no PHI value, only protected forms.",
        "version": entry.version,
        "fields": fields,
    }


class SchemaRegistry:
    """Every ``*.avsc`` in a folder, by ``name:version`` and by registry id (Confluent wire format)."""

    def __init__(self, entries: Mapping[str, SchemaEntry]) -> None:
        self._by_ref = dict(entries)
        self._by_id = {e.registry_id: e for e in entries.values() if e.registry_id is not None}
        self._latest: dict[str, SchemaEntry] = {}
        for entry in entries.values():
            if entry.name not in self._latest or entry.version > self._latest[entry.name].version:
                self._latest[entry.name] = entry

    @classmethod
    def load(cls, folder: Path) -> SchemaRegistry:
        if not folder.is_dir():
            raise SchemaError(f"schema folder {str(folder)!r} does not exist (set PHI_SCHEMA_DIR)")
        entries: dict[str, SchemaEntry] = {}
        for path in sorted(folder.glob("*.avsc")):
            entry = _load_entry(path)
            entries[entry.ref] = entry
            if entry.is_input:
                derived = _entry_from_raw(f"deidentified_{entry.name}", deidentified_schema(entry))
                entries.setdefault(derived.ref, derived)
        if not entries:
            raise SchemaError(f"no *.avsc schema files in {str(folder)!r}")
        return cls(entries)

    def get(self, ref: str) -> SchemaEntry:
        """By ``name:version``, or by ``name`` alone for its latest version."""
        name, _, version = ref.partition(":")
        entry = self._by_ref.get(ref) if version else self._latest.get(name)
        if entry is None:
            known = ", ".join(sorted(self._by_ref))
            raise SchemaError(f"unknown schema {ref!r}; known: {known}")
        return entry

    def by_registry_id(self, registry_id: int) -> SchemaEntry:
        try:
            return self._by_id[registry_id]
        except KeyError:
            raise SchemaError(f"no schema with registry id {registry_id}") from None

    def output_for(self, entry: SchemaEntry) -> SchemaEntry:
        return self.get(f"deidentified_{entry.name}:{entry.version}")

    def __iter__(self) -> Iterator[SchemaEntry]:
        return iter(self._by_ref.values())


def _load_entry(path: Path) -> SchemaEntry:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{path.name}: cannot read schema: {exc}") from None
    return _entry_from_raw(path.stem, raw)


def _entry_from_raw(name: str, raw: dict[str, Any]) -> SchemaEntry:
    version = raw.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise SchemaError(f"schema {name!r}: 'version' must be a whole number from 1")
    try:
        parsed = fastavro.parse_schema(copy.deepcopy(raw))
    except Exception as exc:  # fastavro raises several unrelated types for bad schemas
        raise SchemaError(f"schema {name!r} is not valid Avro: {exc}") from None
    policies = _field_policies(name, raw)
    subject = raw.get("subject_field")
    field_names = {f["name"] for f in raw.get("fields", [])}
    if subject is not None and subject not in field_names:
        raise SchemaError(f"schema {name!r}: subject_field {subject!r} is not a field")
    return SchemaEntry(name, version, raw.get("registry_id"), raw, parsed, policies, subject)
