"""Schemaless Avro binary, written by a writer compiled once per schema.

``fastavro.schemaless_writer`` walks the schema for every record and picks a union's branch by
validating the value against each branch in turn; for the de-identified record (a union per field and
a record per transformation) that is most of the cost of emitting it. Here a parsed schema is compiled
once (at load, beside its parse) into nested closures that append the encoding's pieces to a list, and
a union's branch is picked by the value's Python type alone. A record's writer is generated code, one
line per field for strings, numbers and their unions with null.

Only schemas where that choice is unambiguous are compiled: no logical types, and no union with two
branches one Python type could fit (two numeric types, or a record beside a map). For any other schema
:func:`compile_writer` returns None and the caller keeps fastavro. The bytes are fastavro's, byte for
byte (``tests/unit/test_avro_writer.py`` compares them on every shipped schema). A value this writer
does not take (one that does not fit its schema, or a form only fastavro reads: a tuple naming a union
branch, a mapping that is not a dict) raises, never writes something else; :func:`pipeline.core.codecs.encode_avro`
then hands the record to fastavro, which writes it or raises its own error.

Parts that repeat from record to record are written once: a field's value may be given as its
:class:`Encoded` bytes (the de-identified record's transformations, an audit event's maps kept by
:class:`RepeatedMaps`), which a compiled record writer copies in place. Only compiled writers take it,
so callers that pass one fall back to the plain value if the writer refuses the record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pipeline.core.errors import PipelineError

Parts = list[bytes]
Write = Callable[[Any, Parts], None]

_DOUBLE = struct.Struct("<d").pack
_FLOAT = struct.Struct("<f").pack
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_SMALL = [bytes([n << 1]) for n in range(64)]  # zigzag varints of 0..63: one byte
_NUMERIC = ("int", "long", "float", "double")


class Encoded(bytes):
    """A field's value already in its Avro encoding (a part many records share, encoded once): a compiled
    record writer copies it as it is, in place of the value. Only compiled writers take it."""


class RepeatedMaps:
    """A record schema's maps of strings or numbers whose contents repeat from record to record (an audit
    event's counts and details), each content's encoding remembered: :meth:`shared` puts it in place."""

    def __init__(self, parsed: Any, limit: int = 4096) -> None:
        self._limit = limit
        self._fields: dict[str, tuple[Write, dict[tuple[Any, ...], Encoded]]] = {}
        for avro_field in parsed.get("fields", ()) if isinstance(parsed, dict) else ():
            kind = avro_field.get("type")
            if isinstance(kind, dict) and kind.get("type") == "map" and kind.get("values") in ("string", "int", "long"):
                self._fields[avro_field["name"]] = (_scalar_map(kind["values"] == "string"), {})

    def shared(self, record: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` with each such map as its :class:`Encoded` bytes (for a compiled writer)."""
        out = dict(record)
        for name, (write, known) in self._fields.items():
            value = record.get(name)
            if type(value) is not dict:
                continue
            key = tuple(value.items())
            found = known.get(key)
            if found is None:
                if len(known) >= self._limit:  # contents without end (scores): start again
                    known.clear()
                parts: Parts = []
                write(value, parts)
                found = known[key] = Encoded(b"".join(parts))
            out[name] = found
        return out


class UnsupportedSchema(PipelineError):
    """The schema uses something this writer leaves to fastavro (caught by :func:`compile_writer`)."""

    reason = "schema-not-compiled"


def varint(n: int) -> bytes:
    """Avro's zigzag variable-length encoding of a long (``OverflowError`` past a long's range)."""
    if 0 <= n < 64:
        return _SMALL[n]
    if not _LONG_RANGE[0] <= n <= _LONG_RANGE[1]:
        raise OverflowError("integer does not fit an Avro long")
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def compile_parts_writer(parsed: Any) -> Write | None:
    """A function that appends a value's Avro encoding to a list of parts (for a value written inside
    another's encoding), or None where fastavro must write it."""
    try:
        return _compile(parsed, {}, _namespace(parsed, ""))
    except UnsupportedSchema:
        return None


def compile_writer(parsed: Any) -> Callable[[Any], bytes] | None:
    """A function from a record to its schemaless Avro bytes, or None where fastavro must write it."""
    write = compile_parts_writer(parsed)
    if write is None:
        return None

    def encode(record: Any) -> bytes:
        parts: Parts = []
        write(record, parts)
        return b"".join(parts)

    return encode


def _namespace(schema: Any, enclosing: str) -> str:
    if isinstance(schema, dict):
        name = schema.get("name", "")
        if "." in name:
            return name.rsplit(".", 1)[0]
        return schema.get("namespace", enclosing)
    return enclosing


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _compile(schema: Any, named: dict[str, Write], namespace: str) -> Write:
    if isinstance(schema, list):
        return _union(schema, named, namespace)
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        ref = named.get(_full_name(schema, namespace)) or named.get(schema)
        if ref is None:
            raise UnsupportedSchema(f"unknown named type {schema}")
        return lambda datum, parts: ref(datum, parts)
    if "logicalType" in schema:
        raise UnsupportedSchema("logical types")
    kind = schema["type"]
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    if kind == "record" or kind == "error":
        return _record(schema, named, namespace)
    if kind == "array":
        return _array(_compile(schema["items"], named, namespace))
    if kind == "map":
        return _map(_compile(schema["values"], named, namespace), schema["values"])
    if kind == "enum":
        write = _enum(schema["symbols"])
    elif kind == "fixed":
        write = _fixed(schema["size"])
    else:
        raise UnsupportedSchema(f"type {kind}")
    named[_full_name(schema["name"], _namespace(schema, namespace))] = write
    return write


# -- primitives -------------------------------------------------------------------------------------------


def _null(datum: Any, parts: Parts) -> None:
    if datum is not None:
        raise ValueError("a null field holds a value")


def _boolean(datum: Any, parts: Parts) -> None:
    parts.append(b"\x01" if datum else b"\x00")


def _long(datum: Any, parts: Parts) -> None:
    parts.append(varint(datum))


def _double(datum: Any, parts: Parts) -> None:
    parts.append(_DOUBLE(datum))


def _float(datum: Any, parts: Parts) -> None:
    parts.append(_FLOAT(datum))


def _string(datum: Any, parts: Parts) -> None:
    data = datum.encode("utf-8")
    size = len(data)
    parts.append(_SMALL[size] if size < 64 else varint(size))
    parts.append(data)


def _bytes(datum: Any, parts: Parts) -> None:
    parts.append(varint(len(datum)))
    parts.append(bytes(datum))


_PRIMITIVES: dict[str, Write] = {
    "null": _null,
    "boolean": _boolean,
    "int": _long,
    "long": _long,
    "float": _float,
    "double": _double,
    "string": _string,
    "bytes": _bytes,
}


# -- complex types ----------------------------------------------------------------------------------------


def _record(schema: dict[str, Any], named: dict[str, Write], enclosing: str) -> Write:
    """A record's writer as straight-line code, generated once: strings, numbers and their unions with
    null written in place; other fields by their compiled writers (a record field in a loop is most of
    the cost of a closure per field)."""
    namespace = _namespace(schema, enclosing)
    full_name = _full_name(schema["name"], namespace)
    scope: dict[str, Any] = {
        "S": _SMALL, "varint": varint, "MISSING": _MISSING, "DOUBLE": _DOUBLE, "FLOAT": _FLOAT, "E": Encoded,
    }  # fmt: skip
    # A record may refer to itself: until its code exists, references reach it through the scope.
    named[full_name] = lambda datum, parts: scope["write"](datum, parts)
    lines = ["def write(datum, parts):", "    a = parts.append", "    get = datum.get"]
    for i, field in enumerate(schema["fields"]):
        field_type, name = field["type"], field["name"]
        nullable = field_type == "null" or (isinstance(field_type, list) and "null" in field_type)
        scope[f"D{i}"] = field.get("default")
        if "default" in field or nullable:
            lines.append(f"    v = get({name!r}, D{i})")
        else:
            lines.append(f"    v = get({name!r}, MISSING)")
            lines.append(f"    if v is MISSING: raise ValueError('no value and no default for ' + {name!r})")
        scope[f"W{i}"] = _compile(field_type, named, namespace)
        lines.extend("    " + line for line in _inline(field_type, i))
    exec(compile("\n".join(lines), f"<avro writer {full_name}>", "exec"), scope)  # noqa: S102 - code built above
    write: Write = scope["write"]
    named[full_name] = write
    return write


_MISSING = object()
_STRING = ["b = v.encode('utf-8')", "n = len(b)", "a(S[n] if n < 64 else varint(n))", "a(b)"]


def _inline(field_type: Any, i: int) -> list[str]:
    """The code writing ``v`` (field ``i``): in place for the common shapes, else by ``W<i>``."""
    if field_type == "string":
        return _STRING
    if field_type in ("int", "long"):
        return ["a(S[v] if type(v) is int and 0 <= v < 64 else varint(v))"]
    if field_type in ("double", "float"):  # fastavro converts first ("NaN" strings)
        return [f"a({field_type.upper()}(float(v)))"]
    if isinstance(field_type, list) and len(field_type) == 2 and "null" in field_type:
        other = field_type[1 - field_type.index("null")]
        null_tag, other_tag = varint(field_type.index("null")), varint(field_type.index(other))
        if other == "string":
            return [
                f"if v is None: a({null_tag!r})",
                f"elif type(v) is str: a({other_tag!r}); " + "; ".join(_STRING),
                f"else: W{i}(v, parts)",
            ]
        if other in ("int", "long"):
            low, high = _INT_RANGE if other == "int" else _LONG_RANGE
            return [
                f"if v is None: a({null_tag!r})",
                f"elif type(v) is int and {low} <= v <= {high}: a({other_tag!r}); "
                "a(S[v] if 0 <= v < 64 else varint(v))",
                f"else: W{i}(v, parts)",
            ]
    return ["if type(v) is E: a(v)", f"else: W{i}(v, parts)"]  # a value encoded beforehand, or the value


def _array(write_item: Write) -> Write:
    def write(datum: Any, parts: Parts) -> None:
        if len(datum):
            parts.append(varint(len(datum)))
            for item in datum:
                write_item(item, parts)
        parts.append(b"\x00")

    return write


def _map(write_value: Write, values: Any) -> Write:
    if values == "string" or values == "int" or values == "long":  # the audit event's maps: values in place
        return _scalar_map(values == "string")

    def write(datum: Any, parts: Parts) -> None:
        if len(datum):
            parts.append(varint(len(datum)))
            for key, value in datum.items():
                _string(key, parts)
                write_value(value, parts)
        parts.append(b"\x00")

    return write


def _scalar_map(strings: bool) -> Write:
    """A map of strings or of whole numbers, each entry written in place (as :func:`_string` and
    :func:`_long` write them: a value of another type raises as they do)."""

    def write(datum: Any, parts: Parts) -> None:
        if len(datum):
            append = parts.append
            append(varint(len(datum)))
            for key, value in datum.items():
                data = key.encode("utf-8")
                size = len(data)
                append(_SMALL[size] if size < 64 else varint(size))
                append(data)
                if strings:
                    data = value.encode("utf-8")
                    size = len(data)
                    append(_SMALL[size] if size < 64 else varint(size))
                    append(data)
                else:
                    append(_SMALL[value] if type(value) is int and 0 <= value < 64 else varint(value))
        parts.append(b"\x00")

    return write


def _enum(symbols: list[str]) -> Write:
    index = {symbol: varint(i) for i, symbol in enumerate(symbols)}

    def write(datum: Any, parts: Parts) -> None:
        parts.append(index[datum])

    return write


def _fixed(size: int) -> Write:
    def write(datum: Any, parts: Parts) -> None:
        if len(datum) != size:
            raise ValueError(f"fixed value of {len(datum)} bytes, not {size}")
        parts.append(bytes(datum))

    return write


# -- unions: the branch from the value's Python type ------------------------------------------------------


def _kind(schema: Any, named: dict[str, Write]) -> str:
    if isinstance(schema, list):
        raise UnsupportedSchema("a union inside a union")
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind in _PRIMITIVES or kind in ("record", "error", "array", "map", "enum", "fixed"):
        return "record" if kind == "error" else kind
    raise UnsupportedSchema(f"named type {kind} in a union")  # a reference: its kind is not known here


def _union(branches: list[Any], named: dict[str, Write], namespace: str) -> Write:
    kinds = [_kind(b, named) for b in branches]
    if sum(k in _NUMERIC for k in kinds) > 1 or sum(k in ("record", "map") for k in kinds) > 1:
        raise UnsupportedSchema("a union whose branch a Python type cannot pick")
    if sum(k in ("string", "enum") for k in kinds) > 1 or sum(k in ("bytes", "fixed") for k in kinds) > 1:
        raise UnsupportedSchema("a union whose branch a Python type cannot pick")
    table: list[tuple[str, bytes, Write]] = [
        (kind, varint(i), _compile(branch, named, namespace))
        for i, (kind, branch) in enumerate(zip(kinds, branches, strict=True))
    ]
    by_type: dict[type, tuple[bytes, Write]] = {}
    for kind, tag, write in table:
        for python_type in _PYTHON_TYPES[kind]:
            by_type.setdefault(python_type, (tag, _checked(kind, write)))

    def write(datum: Any, parts: Parts) -> None:
        chosen = by_type.get(type(datum))
        if chosen is None:
            raise ValueError(f"a {type(datum).__name__} fits no branch of the union")
        parts.append(chosen[0])
        chosen[1](datum, parts)

    return write


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "null": (type(None),),
    "boolean": (bool,),
    "int": (int,),
    "long": (int,),
    "float": (float, int),
    "double": (float, int),
    "string": (str,),
    "enum": (str,),
    "bytes": (bytes,),
    "fixed": (bytes,),
    "record": (dict,),
    "map": (dict,),
    "array": (list,),  # a tuple in a union is fastavro's (branch name, value) notation: left to it
}


def _checked(kind: str, write: Write) -> Write:
    """In a union, a value that does not fit its branch fails as fastavro's validation fails it."""
    if kind in ("int", "long"):
        low, high = _INT_RANGE if kind == "int" else _LONG_RANGE

        def write_int(datum: Any, parts: Parts) -> None:
            if not low <= datum <= high:
                raise ValueError(f"{datum.bit_length()}-bit integer does not fit an Avro {kind}")
            write(datum, parts)

        return write_int
    return write
