import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.codecs import decode, decode_avro, encode_avro, encode_confluent, encode_json
from pipeline.core.errors import RejectedMessage, SchemaError
from pipeline.core.phi_types import PhiType
from pipeline.core.schemas import SchemaRegistry
from pipeline.devtools.synthetic import hostile_inputs, synthetic_records


@pytest.fixture(scope="module")
def record():
    return next(synthetic_records(1, seed=3)).record


def test_input_schema_policy(registry):
    entry = registry.get("clinical_record")
    by_name = {p.name: p for p in entry.policies}
    assert by_name["ssn"].phi_type is PhiType.SSN and by_name["ssn"].action == "encrypt"
    assert by_name["zip"].action == "generalize"
    assert [p.name for p in entry.free_text_fields] == ["note"]
    assert "state" not in by_name and "vitals" not in by_name
    assert entry.subject_field == "patient_id"


def test_output_schema_is_derived(registry):
    entry = registry.get("clinical_record:1")
    out = registry.output_for(entry)
    fields = {f["name"]: f for f in out.raw["fields"]}
    assert fields["ssn"]["type"] == ["null", "string"]
    assert fields["age"]["type"] == ["null", "string"]  # "90+" is a string
    assert "phi" not in json.dumps(out.raw["fields"][:-1]).replace("phi_", "")
    assert {"message_id", "source_schema", "phi_transformations"} <= set(fields)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"name": "x", "type": "string", "phi": "SSN"}, "needs both"),
        ({"name": "x", "type": "string", "phi": "NOPE", "action": "redact"}, "unknown PHI type"),
        ({"name": "x", "type": "string", "phi": "NAME", "action": "generalize"}, "applies to"),
        ({"name": "x", "type": "bytes", "phi": "NAME", "action": "redact"}, "supported"),
        ({"name": "x", "type": ["null", "double"], "phi": "AGE", "action": "redact"}, "supported"),
        (
            {"name": "x", "type": {"type": "record", "name": "G", "fields": [{"name": "n", "type": "string"}]}}
            | {"phi": "NAME", "action": "redact"},
            "tag the fields inside a record",
        ),
        (
            {"name": "x", "type": {"type": "array", "items": {"type": "string", "phi": "NAME"}}},
            "belong on record fields",
        ),
        ({"name": "x", "type": {"type": "array", "items": "int"}, "phi": "FREE_TEXT", "action": "detect"}, "strings"),
        ({"name": "message_id", "type": "string", "phi": "ID", "action": "redact"}, "reserved"),
        ({"name": "x", "type": "string", "phi": "FREE_TEXT", "action": "redact"}, "FREE_TEXT"),
    ],
)
def test_bad_tags_are_refused(tmp_path: Path, field, message):
    schema = {"type": "record", "name": "R", "fields": [field]}
    (tmp_path / "r.avsc").write_text(json.dumps(schema))
    with pytest.raises(SchemaError, match=message):
        SchemaRegistry.load(tmp_path)


def test_unknown_schema_lists_known(registry):
    with pytest.raises(SchemaError, match="clinical_record:1"):
        registry.get("lab_result:2")


def test_all_three_encodings_decode_to_the_same_record(registry, record):
    entry = registry.get("clinical_record")
    for data in (encode_avro(entry, record), encode_json(record), encode_confluent(entry, record)):
        decoded_entry, decoded = decode(registry, entry.ref, data, "clinical_record")
        assert decoded_entry.ref == entry.ref
        assert decoded == record


def test_json_fills_defaults(registry, record):
    entry = registry.get("clinical_record")
    slim = {k: v for k, v in record.items() if k not in ("ssn", "note", "vitals")}
    _, decoded = decode(registry, None, encode_json(slim), "clinical_record")
    assert decoded["ssn"] is None and decoded["note"] is None
    assert decode_avro(entry, encode_avro(entry, decoded)) == decoded


def test_every_hostile_payload_gets_its_reason(registry, record):
    entry = registry.get("clinical_record")
    for bad in hostile_inputs(encode_avro(entry, record), encode_json(record), max_bytes=1000):
        if bad.expected_reason in ("oversized",):
            continue  # the size limit is enforced before decoding
        with pytest.raises(RejectedMessage) as info:
            decode(registry, bad.schema_ref, bad.value, "clinical_record")
        assert info.value.reason == bad.expected_reason, bad.kind
        assert info.value.stage == "decode"


def test_rejection_text_never_quotes_the_payload(registry, record):
    entry = registry.get("clinical_record")
    for bad in hostile_inputs(encode_avro(entry, record), encode_json(record), max_bytes=1000):
        try:
            decode(registry, bad.schema_ref, bad.value, "clinical_record")
        except RejectedMessage as exc:
            for value in (record["patient_name"], record["ssn"], record["mrn"], record["email"]):
                assert value not in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_decoder_never_crashes_on_arbitrary_bytes(registry, data):
    try:
        decode(registry, "clinical_record:1", data, "clinical_record")
    except RejectedMessage as exc:
        assert exc.reason in {
            "empty",
            "undecodable",
            "invalid-utf8",
            "invalid-json",
            "schema-mismatch",
            "schema-unknown",
        }
