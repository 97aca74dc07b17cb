"""Bytes to records and back: Avro (schemaless binary or Confluent wire format) and JSON.

Every failure becomes a :class:`RejectedMessage` with a stable reason code, so the stream layer can
dead-letter it without knowing codec internals. Exception texts from the underlying libraries can
quote input bytes, so they are never passed on: messages name the encoding and the position only.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from typing import Any

import fastavro
from fastavro.validation import validate

from pipeline.core.errors import (
    EmptyMessage,
    InvalidJson,
    InvalidUtf8,
    NumberTooLarge,
    SchemaError,
    SchemaMismatch,
    UndecodableMessage,
    UnencodableText,
    UnknownSchema,
)
from pipeline.core.schemas import SchemaEntry, SchemaRegistry

STAGE = "decode"
CONFLUENT_MAGIC = 0
_CONFLUENT_HEADER = struct.Struct(">bI")
_MAX_INT_BITS = 1024  # a double's range: larger integers overflow when written
#: Deeper JSON is refused at decode: no record schema here nests this deep, and later stages (copying,
#: walking) recurse over the value.
MAX_JSON_DEPTH = 64


def encode_avro(entry: SchemaEntry, record: dict[str, Any]) -> bytes:
    """Schemaless Avro binary (the schema travels by reference in the ``phi-schema`` header): by the
    schema's compiled writer, or fastavro for a schema it does not compile or a value it does not take."""
    if entry.writer is not None:
        try:
            return entry.writer(record)
        except Exception:  # noqa: S110 - fastavro writes the same value or raises its own error
            pass
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, entry.parsed, record)
    return buffer.getvalue()


def encode_confluent(entry: SchemaEntry, record: dict[str, Any]) -> bytes:
    """Confluent wire format: magic byte 0, the 4-byte big-endian registry id, then Avro binary."""
    if entry.registry_id is None:
        raise SchemaError(f"schema {entry.ref!r} has no registry_id, so it cannot use the Confluent wire format")
    return _CONFLUENT_HEADER.pack(CONFLUENT_MAGIC, entry.registry_id) + encode_avro(entry, record)


def encode_json(record: dict[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_avro(entry: SchemaEntry, data: bytes) -> dict[str, Any]:
    """Schemaless Avro with every byte consumed: trailing bytes mean the writer used another schema."""
    buffer = io.BytesIO(data)
    try:
        record = fastavro.schemaless_reader(buffer, entry.parsed, None)
    except UnicodeDecodeError as exc:
        raise InvalidUtf8(STAGE, f"Avro string is not valid UTF-8 (byte {exc.start})") from None
    except (EOFError, IndexError, struct.error):
        raise UndecodableMessage(STAGE, f"Avro data ends early for schema {entry.ref}") from None
    except Exception as exc:  # fastavro raises ValueError, TypeError, KeyError... on garbage
        raise UndecodableMessage(STAGE, f"not Avro for schema {entry.ref} ({type(exc).__name__})") from None
    if buffer.tell() != len(data):
        raise SchemaMismatch(
            STAGE,
            f"{len(data) - buffer.tell()} bytes left after decoding schema {entry.ref}: written with another schema",
        )
    if not isinstance(record, dict):
        raise SchemaMismatch(STAGE, f"schema {entry.ref} does not describe a record")
    return record


def decode_json(entry: SchemaEntry, data: bytes) -> dict[str, Any]:
    """Strict UTF-8 JSON object, then checked against the Avro schema (missing optional fields filled)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidUtf8(STAGE, f"JSON is not valid UTF-8 (byte {exc.start})") from None
    try:
        record = json.loads(text)
    except RecursionError:
        raise InvalidJson(STAGE, "JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(STAGE, f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits(), 4,300 by default)
        raise NumberTooLarge(
            STAGE, f"JSON holds an integer of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    check_encodable(record)
    if not isinstance(record, dict):
        raise SchemaMismatch(STAGE, f"JSON must be an object for schema {entry.ref}")
    return conform(entry, record)


def check_encodable(value: Any) -> None:
    """Every string (and object key) in a decoded JSON value can be written as UTF-8, and every number
    fits some Avro type.

    JSON's ``\\ud800`` escape decodes to a lone UTF-16 surrogate: valid JSON, but no UTF-8 encoder (Avro,
    the tokenizer, the model's tokenizer) can write it, so it is refused here, at decode, rather than
    failing a later stage. Likewise an integer past a double's range (Avro's schema check lets it into a
    ``double`` field, and writing it overflows). Iterative, so a deeply nested value cannot exhaust the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, int) and item.bit_length() > _MAX_INT_BITS:
            raise NumberTooLarge(STAGE, f"JSON holds an integer of {item.bit_length()} bits; no Avro type holds it")
        elif isinstance(item, dict | list) and depth >= MAX_JSON_DEPTH:
            raise InvalidJson(STAGE, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnencodableText(
            STAGE, f"JSON string holds a character UTF-8 cannot encode (a lone surrogate) at index {exc.start}"
        ) from None


def conform(entry: SchemaEntry, record: dict[str, Any]) -> dict[str, Any]:
    """Fill defaults for absent fields and validate types; unknown fields are an error (schema drift)."""
    fields = entry.raw["fields"]
    known = {f["name"] for f in fields}
    extra = sorted(set(record) - known)
    if extra:
        raise SchemaMismatch(STAGE, f"fields not in schema {entry.ref}: {', '.join(_field_names(extra))}")
    filled = dict(record)
    for field in fields:
        if field["name"] not in filled:
            if "default" not in field:
                raise SchemaMismatch(STAGE, f"required field {field['name']!r} missing for schema {entry.ref}")
            filled[field["name"]] = field["default"]
    try:
        validate(filled, entry.parsed, raise_errors=True)
    except Exception as exc:
        fields_named = getattr(exc, "errors", None)
        where = ", ".join(sorted({str(getattr(e, "field", "?")) for e in fields_named or []})) or "a field"
        raise SchemaMismatch(STAGE, f"wrong type in {where} for schema {entry.ref}") from None
    return filled


def _field_names(names: list[str]) -> list[str]:
    """Field names come from the input: quote them only when short and plain, else describe them."""
    return [repr(n) if n.isidentifier() and len(n) <= 64 else f"<{len(n)}-char name>" for n in names[:10]]


def decode(
    registry: SchemaRegistry, schema_ref: str | None, data: bytes, default_schema: str
) -> tuple[SchemaEntry, dict[str, Any]]:
    """Pick the encoding from the first byte and the schema from the header, the wire id, or the default.

    ``{`` starts JSON; byte 0 starts the Confluent wire format; anything else is schemaless Avro. An
    Avro record whose first field is a non-empty string never starts with either byte.
    """
    if not data:
        raise EmptyMessage(STAGE, "message value is empty")
    if data[:1] == b"\x00":
        if len(data) < _CONFLUENT_HEADER.size:
            raise UndecodableMessage(STAGE, "Confluent wire-format header is truncated")
        _, registry_id = _CONFLUENT_HEADER.unpack_from(data)
        try:
            entry = registry.by_registry_id(registry_id)
        except SchemaError as exc:
            raise UnknownSchema(STAGE, str(exc)) from None
        if not entry.is_input:  # output schemas have registry ids too, for consumers: never an input
            raise UnknownSchema(STAGE, f"registry id {registry_id} names {entry.ref}, which is not an input schema")
        return entry, decode_avro(entry, data[_CONFLUENT_HEADER.size :])
    try:
        entry = registry.get(schema_ref or default_schema)
    except SchemaError as exc:
        raise UnknownSchema(STAGE, _safe_schema_error(schema_ref, exc)) from None
    if not entry.is_input:
        raise UnknownSchema(STAGE, f"schema {entry.ref} is not an input schema")
    if data[:1] == b"{":
        return entry, decode_json(entry, data)
    return entry, decode_avro(entry, data)


def _safe_schema_error(schema_ref: str | None, exc: SchemaError) -> str:
    if schema_ref is not None and (len(schema_ref) > 80 or not schema_ref.isprintable()):
        return f"unknown schema in phi-schema header ({len(schema_ref)} characters)"
    return str(exc)
