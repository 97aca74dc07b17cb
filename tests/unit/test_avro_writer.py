"""The compiled Avro writer writes fastavro's bytes, and leaves to fastavro what it does not take."""

from __future__ import annotations

import io
import math

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.avro_writer import compile_writer, varint
from pipeline.core.codecs import encode_avro
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.crypto.keyring import Keyring
from pipeline.devtools.synthetic import synthetic_records


def _fastavro(parsed, record) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def _datum(schema, draw, named):
    """A value that fits ``schema`` (a parsed fastavro schema), drawn with hypothesis."""
    if isinstance(schema, list):
        return _datum(draw(st.sampled_from(schema)), draw, named)
    if isinstance(schema, str):
        if schema in named:
            return _datum(named[schema], draw, named)
        schema = {"type": schema}
    kind = schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        return {f["name"]: _datum(f["type"], draw, named) for f in schema["fields"]}
    if kind == "array":
        return [_datum(schema["items"], draw, named) for _ in range(draw(st.integers(0, 3)))]
    if kind == "map":
        keys = draw(st.lists(st.text(max_size=8), max_size=3, unique=True))
        return {k: _datum(schema["values"], draw, named) for k in keys}
    strategy = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
        "string": st.text(max_size=80),
    }[kind]
    return draw(strategy)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_shipped_schema_writes_fastavros_bytes(registry, data):
    for entry in registry:
        assert entry.writer is not None, f"{entry.ref} is not compiled"
        record = _datum(entry.parsed, data.draw, {})
        assert entry.writer(record) == _fastavro(entry.parsed, record), entry.ref


def test_records_and_outputs_as_the_pipeline_writes_them(registry):
    entry = registry.get("clinical_record")
    for sample in synthetic_records(30, seed=7, with_notes=True):
        assert entry.writer(sample.record) == _fastavro(entry.parsed, sample.record)
    event = _event()
    audit = registry.get("audit_event")
    assert audit.writer(event) == _fastavro(audit.parsed, event)


@pytest.mark.parametrize("n", [0, 1, -1, 63, 64, -65, 2**31, -(2**63), 2**63 - 1])
def test_varint_is_avros_zigzag(n):
    assert varint(n) == _fastavro("long", n)


def _event() -> dict:
    return AuditChain(Keyring.generate(), "w/p0").append(
        {"event_id": "e", "event_type": "message_processed", "time": "t", "actor": "w", "stage": "emit",
         "outcome": "ok", "entity_counts": {"NAME": 2, "ID": 70_000}, "details": {"é": "ü" * 70}}
    )  # fmt: skip


def test_a_value_it_does_not_take_raises_and_fastavro_decides(registry):
    audit = registry.get("audit_event")
    event = _event()
    for bad in ({**event, "message_id": 3}, {**event, "seq": 2**70}, {**event, "details": {"k": 1}}):
        with pytest.raises((ValueError, TypeError, AttributeError, OverflowError)):
            audit.writer(bad)
        with pytest.raises(Exception):  # noqa: B017 - fastavro refuses it too (its own error class)
            encode_avro(audit, bad)
    named_branch = {**event, "message_id": ("string", "m-1")}  # fastavro's union notation: left to it
    with pytest.raises(ValueError):
        audit.writer(named_branch)
    assert encode_avro(audit, named_branch) == _fastavro(audit.parsed, {**event, "message_id": "m-1"})


DOUBLE = {"type": "record", "name": "D", "fields": [{"name": "x", "type": "double"}]}
AMBIGUOUS = (
    ["null", "int", "double"],
    ["null", {"type": "map", "values": "int"}, {"type": "record", "name": "S", "fields": []}],
    {"type": "long", "logicalType": "timestamp-millis"},
)


@pytest.mark.parametrize("schema", AMBIGUOUS, ids=["two-numbers", "map-and-record", "logical-type"])
def test_schemas_whose_branch_a_type_cannot_pick_stay_with_fastavro(schema):
    assert compile_writer(fastavro.parse_schema(schema)) is None


def test_a_double_field_converts_its_value_first_as_fastavro_does():
    parsed = fastavro.parse_schema(DOUBLE)
    written = compile_writer(parsed)({"x": "NaN"})
    assert written == _fastavro(parsed, {"x": "NaN"})
    assert math.isnan(fastavro.schemaless_reader(io.BytesIO(written), parsed, None)["x"])
