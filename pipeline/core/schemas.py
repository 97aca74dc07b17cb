"""Avro schemas from ``schemas/`` and the PHI policy their tags carry.

Policy travels with the schema (the same idea as Confluent's field tags): an input field tagged
``"phi": "SSN", "action": "encrypt"`` is encrypted wherever the schema is used, and a producer that
changes the schema changes the policy in the same review. This module loads and checks those tags
and derives the de-identified output schema, so the output contract follows from the input one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastavro

from pipeline.core.avro_writer import compile_writer
from pipeline.core.errors import SchemaError
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError, parse_phi_type
from pipeline.core.sensitive_evidence.avro_codes import CODE_SYSTEM_TAG, CodeField, code_fields
from pipeline.core.transform.actions import NO_PARAMS, Action, ActionParams
from pipeline.core.transform.operators import OPERATORS

FREE_TEXT = "FREE_TEXT"

#: Fields the de-identified schema adds; an input schema may not use these names.
OUTPUT_METADATA_FIELDS = ("message_id", "source_schema", "phi_transformations", "sensitive_categories")
#: The de-identified record's list of sensitive categories found (``pipeline.core.sensitive``); empty by
#: default, so records written before it existed still read with today's schema.
SENSITIVE_CATEGORIES_FIELD: dict[str, Any] = {
    "name": "sensitive_categories",
    "type": {
        "type": "array",
        "items": {
            "type": "record",
            "name": "SensitiveCategory",
            "fields": [
                {"name": "category", "type": "string"},
                {"name": "score", "type": "double"},
                {"name": "action", "type": "string"},
            ],
        },
    },
    "default": [],
    "doc": "Sensitive categories found in the record's free text, with scores and the action taken",
}


@dataclass(frozen=True, slots=True)
class FieldPolicy:
    """What to do with one tagged field, at any depth of an input record.

    ``name`` is the field's schema path: ``note`` at the top level, ``guarantor.phone`` inside a nested
    record, ``contacts[].name`` inside the records of an array, ``extras{}.phone`` inside a map's
    values. Transformations name the concrete path (``contacts[1].name``; map keys are never named,
    as they may be PHI: ``extras{0}.phone`` is the first value in key order).
    """

    name: str
    phi_type: PhiType | None  # None for free text
    action: Action  # any of the action table's, checked against the type; ``detect`` for free text
    nullable: bool
    #: An untagged string: deny by default, it is scanned by the detector like free text (its output type
    #: is unchanged, so withheld text is written empty). ``"phi": "NONE"`` on the field opts out.
    implicit: bool = False
    #: The action's parameters (``"params": {"keep_last": 4}`` beside the tag), checked by its operator.
    params: ActionParams = NO_PARAMS

    @property
    def is_free_text(self) -> bool:
        return self.action is Action.DETECT

    @property
    def is_top_level(self) -> bool:
        return not any(c in self.name for c in ".[{")


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
    plan: Plan = None  # the tags compiled for the data walk (pipeline.core.structured)
    #: The schema compiled into an Avro writer, once (:mod:`pipeline.core.avro_writer`); None: fastavro writes.
    writer: Callable[[Any], bytes] | None = field(default=None, repr=False, compare=False)
    #: Fields tagged with a ``code_system`` (their values are classified for sensitive categories).
    code_fields: tuple[CodeField, ...] = ()

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


# -- the protection plan: the schema's tags compiled into a tree the data is walked with -------------


@dataclass(frozen=True, slots=True)
class LeafPlan:
    """A tagged field: every string or integer under it (itself, or the elements of its arrays and
    the values of its maps, at any nesting) takes ``policy``."""

    policy: FieldPolicy


@dataclass(eq=False, slots=True)
class RecordPlan:
    """A record type with tags somewhere below it: per field, the plan for that field's value."""

    name: str
    field_names: frozenset[str]
    required: frozenset[str]
    fields: dict[str, Plan] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArrayPlan:
    items: Plan


@dataclass(frozen=True, slots=True)
class MapPlan:
    values: Plan


@dataclass(frozen=True, slots=True)
class UnionPlan:
    """Members with tags below them; a value takes the first member its shape fits (as Avro writers do)."""

    records: tuple[RecordPlan, ...]
    array: ArrayPlan | None
    map: MapPlan | None
    text: LeafPlan | None = None  # a string member: a string value is scanned


Plan = LeafPlan | RecordPlan | ArrayPlan | MapPlan | UnionPlan | None

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
#: What a tagged field's type may hold at its leaves: text and whole numbers (and null).
_TAGGABLE_LEAVES = frozenset({"null", "string", "int", "long"})
_TAG_KEYS = ("phi", "action", "params")
#: The tag that opts a field out of scanning: its values are not PHI (codes, states), kept as they are.
NOT_PHI = "NONE"


def _is_nullable(avro_type: Any) -> bool:
    return isinstance(avro_type, list) and "null" in avro_type


class _PlanBuilder:
    """Walks a raw Avro schema once: checks every tag (refusing any the pipeline cannot enforce) and
    compiles the protection plan. Named types are followed by reference; a recursive type is walked once."""

    def __init__(self, schema_name: str, raw: Mapping[str, Any]) -> None:
        self.schema_name = schema_name
        self.raw = raw
        self.named: dict[str, Any] = {}
        self.records: dict[str, RecordPlan] = {}
        self.policies: list[FieldPolicy] = []

    def build(self) -> Plan:
        return self._type(self.raw, "", self.raw.get("namespace"))

    def _where(self, path: str) -> str:
        return f"schema {self.schema_name!r}, field {path!r}"

    @staticmethod
    def _full_name(name: str, namespace: str | None) -> str:
        return name if "." in name or not namespace else f"{namespace}.{name}"

    def _resolve(self, avro_type: Any, namespace: str | None) -> Any:
        if isinstance(avro_type, str) and avro_type not in _PRIMITIVES:
            return self.named.get(self._full_name(avro_type, namespace), self.named.get(avro_type, avro_type))
        return avro_type

    def _type(self, avro_type: Any, path: str, namespace: str | None) -> Plan:
        avro_type = self._resolve(avro_type, namespace)
        if isinstance(avro_type, list):
            members = [self._type(member, path, namespace) for member in avro_type]
            records = tuple(m for m in members if isinstance(m, RecordPlan))
            arrays = [m for m in members if isinstance(m, ArrayPlan)]
            maps = [m for m in members if isinstance(m, MapPlan)]
            texts = [m for m in members if isinstance(m, LeafPlan)]
            if not (records or arrays or maps or texts):
                return None
            return UnionPlan(
                records, arrays[0] if arrays else None, maps[0] if maps else None, texts[0] if texts else None
            )
        if avro_type == "string" or (isinstance(avro_type, dict) and avro_type.get("type") == "string"):
            return LeafPlan(FieldPolicy(path, None, "detect", nullable=True, implicit=True))  # deny by default
        if not isinstance(avro_type, dict):
            return None
        kind = avro_type.get("type")
        if kind in ("record", "error"):
            return self._record(avro_type, path, namespace)
        if kind == "array":
            items = self._type(avro_type.get("items"), f"{path}[]", namespace)
            return ArrayPlan(items) if items is not None else None
        if kind == "map":
            values = self._type(avro_type.get("values"), f"{path}{{}}", namespace)
            return MapPlan(values) if values is not None else None
        if kind in ("enum", "fixed"):
            self.named[self._full_name(avro_type["name"], avro_type.get("namespace", namespace))] = avro_type
        return None

    def _record(self, record: Mapping[str, Any], path: str, namespace: str | None) -> Plan:
        namespace = record.get("namespace", namespace)
        full = self._full_name(record["name"], namespace)
        if full in self.records:  # used again, or a recursive reference whose plan is being built
            return self.records[full]
        self.named[full] = record
        avro_fields = record.get("fields", [])
        plan = RecordPlan(
            full,
            frozenset(f["name"] for f in avro_fields),
            frozenset(f["name"] for f in avro_fields if "default" not in f),
        )
        self.records[full] = plan
        for avro_field in avro_fields:
            here = f"{path}.{avro_field['name']}" if path else avro_field["name"]
            if avro_field.get("phi") == NOT_PHI:  # opted out: kept as it is, never scanned
                if avro_field.get("action", "keep") != "keep":
                    raise SchemaError(f"{self._where(here)}: a field tagged phi NONE takes no action (or 'keep')")
                nullable = _is_nullable(avro_field["type"])
                plan.fields[avro_field["name"]] = LeafPlan(FieldPolicy(here, None, "keep", nullable))
                continue
            if any(k in avro_field for k in _TAG_KEYS):
                plan.fields[avro_field["name"]] = LeafPlan(self._leaf(avro_field, here, namespace, top=not path))
            else:
                sub = self._type(avro_field["type"], here, namespace)
                if sub is not None:
                    plan.fields[avro_field["name"]] = sub
        return plan if plan.fields or not path else None

    def _leaf_types(self, avro_type: Any, namespace: str | None) -> set[str]:
        """Every primitive or kind a tagged field's value can hold, through unions, arrays and maps."""
        avro_type = self._resolve(avro_type, namespace)
        if isinstance(avro_type, list):
            return set().union(*(self._leaf_types(m, namespace) for m in avro_type))
        if isinstance(avro_type, str):
            return {avro_type if avro_type in _PRIMITIVES else "named type " + avro_type}
        if isinstance(avro_type, dict):
            kind = avro_type.get("type")
            if kind == "array":
                return self._leaf_types(avro_type.get("items"), namespace)
            if kind == "map":
                return self._leaf_types(avro_type.get("values"), namespace)
            if kind in _PRIMITIVES:  # {"type": "string", "logicalType": ...}
                return {f"logical type {avro_type['logicalType']}" if "logicalType" in avro_type else kind}
            return {str(kind)}
        return {"unknown"}

    def _leaf(self, avro_field: Mapping[str, Any], path: str, namespace: str | None, top: bool) -> FieldPolicy:
        where = self._where(path)
        if top and avro_field.get("name") in OUTPUT_METADATA_FIELDS:
            raise SchemaError(f"{where}: the name is reserved for output metadata; rename the field")
        tag, action = avro_field.get("phi"), avro_field.get("action")
        if tag is None or action is None:
            raise SchemaError(f"{where}: a PHI field needs both a 'phi' tag and an 'action'")
        leaves = self._leaf_types(avro_field["type"], namespace)
        if not leaves <= _TAGGABLE_LEAVES or leaves == {"null"}:
            cannot = ", ".join(sorted(leaves - _TAGGABLE_LEAVES)) or "null only"
            raise SchemaError(
                f"{where}: PHI tags are supported on string, int or long fields (optionally nullable, or arrays "
                f"and maps of them), not on {cannot}; tag the fields inside a record instead of the record"
            )
        nullable = _is_nullable(avro_field["type"])
        try:
            parsed = Action.parse(str(action))
        except ValueError as exc:
            raise SchemaError(f"{where}: {exc}") from None
        if tag == FREE_TEXT:
            if parsed is not Action.DETECT or "params" in avro_field:
                raise SchemaError(f"{where}: a FREE_TEXT field takes action 'detect' (and no params)")
            if leaves - {"null"} != {"string"}:
                raise SchemaError(f"{where}: a FREE_TEXT field must hold strings only")
            policy = FieldPolicy(path, None, parsed, nullable)
        else:
            try:
                phi_type = parse_phi_type(tag)
            except UnknownPhiTypeError as exc:
                raise SchemaError(f"{where}: {exc}") from None
            problem = OPERATORS[parsed].validate(phi_type, str(action))
            if problem:
                raise SchemaError(f"{where}: {problem}")
            raw = avro_field.get("params", {})
            if not isinstance(raw, dict):
                raise SchemaError(f"{where}: 'params' must be an object, for example {{\"keep_last\": 4}}")
            params, problems = OPERATORS[parsed].check_params(raw, str(action))
            if problems:
                raise SchemaError(f"{where}: " + "; ".join(problems))
            policy = FieldPolicy(path, phi_type, parsed, nullable, params=params)
        self.policies.append(policy)
        return policy


def _check_tags_only_on_fields(name: str, node: Any, path: str = "", on_field: bool = False) -> None:
    """No 'phi'/'action' key anywhere but on a record field: a tag the walker would never read is refused."""
    if isinstance(node, list):
        for item in node:
            _check_tags_only_on_fields(name, item, path)
    elif isinstance(node, dict):
        if not on_field and any(k in node for k in _TAG_KEYS):
            raise SchemaError(
                f"schema {name!r}, near {path or '<root>'!r}: 'phi'/'action' tags belong on record fields, "
                "not on a type; move the tag to the field that holds this value"
            )
        for key, child in node.items():
            if key == "fields" and isinstance(child, list):
                for avro_field in child:
                    if isinstance(avro_field, dict):
                        here = f"{path}.{avro_field.get('name')}" if path else str(avro_field.get("name"))
                        _check_tags_only_on_fields(name, avro_field, here, on_field=True)
            elif key in ("type", "items", "values"):
                _check_tags_only_on_fields(name, child, path)


def _field_policies(name: str, raw: Mapping[str, Any]) -> tuple[tuple[FieldPolicy, ...], Plan]:
    _check_tags_only_on_fields(name, raw)
    builder = _PlanBuilder(name, raw)
    plan = builder.build()
    return tuple(builder.policies), plan


def _deidentified_type(avro_type: Any) -> Any:
    """A tagged field's type with every primitive leaf made a nullable string (tokens, ciphertexts, ``90+``)."""
    if isinstance(avro_type, list):
        members: list[Any] = []
        for member in avro_type:
            converted = _deidentified_type(member)
            for item in converted if isinstance(converted, list) else [converted]:
                if item not in members:
                    members.append(item)
        return sorted(members, key=lambda member: member != "null")
    if isinstance(avro_type, dict) and avro_type.get("type") == "array":
        return {"type": "array", "items": _deidentified_type(avro_type["items"])}
    if isinstance(avro_type, dict) and avro_type.get("type") == "map":
        return {"type": "map", "values": _deidentified_type(avro_type["values"])}
    return ["null", "string"]


def _strip_tags(node: Any) -> Any:
    """The schema with every tagged field's type de-identified and the tags removed, at any depth."""
    if isinstance(node, list):
        return [_strip_tags(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("phi") == NOT_PHI and "name" in node:  # opted out: its type is unchanged
        return {k: v for k, v in node.items() if k not in _TAG_KEYS and k != CODE_SYSTEM_TAG}
    if any(k in node for k in _TAG_KEYS) and "name" in node and "type" in node:  # a tagged field
        clean = {k: v for k, v in node.items() if k not in _TAG_KEYS and k != CODE_SYSTEM_TAG}
        clean["type"] = _deidentified_type(node["type"])
        if isinstance(clean["type"], list):  # a union with null first: a redacted value is null
            clean["default"] = None
        return clean
    return {k: _strip_tags(v) if k in ("fields", "type", "items", "values") else v for k, v in node.items()}


def deidentified_schema(entry: SchemaEntry) -> dict[str, Any]:
    """The output schema for an input schema: PHI fields become nullable strings, metadata is added.

    Protected values are strings whatever the input type (tokens, ciphertexts, ``90+``), and a
    redacted value is null, at any depth (inside nested records, arrays and maps too); every
    transformation is listed with its field path, type, action and, for free text, its position in
    the output, never the value.
    """
    raw = copy.deepcopy(entry.raw)
    fields: list[dict[str, Any]] = [
        {"name": "message_id", "type": "string"},
        {"name": "source_schema", "type": "string"},
    ]
    fields.extend(_strip_tags(avro_field) for avro_field in raw["fields"])
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
    fields.append(copy.deepcopy(SENSITIVE_CATEGORIES_FIELD))
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
        for entry in [e for e in entries.values() if e.is_input]:
            derived = _entry_from_raw(f"deidentified_{entry.name}", deidentified_schema(entry))
            shipped = entries.get(derived.ref)
            if shipped is not None and _without_registry_id(shipped.raw) != derived.raw:
                raise SchemaError(
                    f"{derived.name}.avsc is not the schema derived from {entry.name}.avsc: an input schema changed "
                    "without its shipped output schema; regenerate it with: python -m pipeline.devtools.output_schemas"
                )
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


def _without_registry_id(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != "registry_id"}


def shipped_output_schema(entry: SchemaEntry, registry_id: int | None) -> str:
    """The ``deidentified_<name>.avsc`` text for an input schema: the derived schema with its registry id,
    as shipped in ``schemas/`` so consumers can read outputs without running the pipeline."""
    raw = deidentified_schema(entry)
    if registry_id is not None:
        raw = {**{k: v for k, v in raw.items() if k != "fields"}, "registry_id": registry_id, "fields": raw["fields"]}
    return json.dumps(raw, indent=2, ensure_ascii=False) + "\n"


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
    policies, plan = _field_policies(name, raw)
    subject = raw.get("subject_field")
    field_names = {f["name"] for f in raw.get("fields", [])}
    if subject is not None and subject not in field_names:
        raise SchemaError(f"schema {name!r}: subject_field {subject!r} is not a field")
    writer = compile_writer(parsed)
    return SchemaEntry(
        name, version, raw.get("registry_id"), raw, parsed, policies, subject, plan, writer, code_fields(name, raw)
    )
