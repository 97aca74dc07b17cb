"""The structured record's hot path keeps its outputs: parts encoded once and reused, contexts copied
instead of rebuilt, code hits and leaf counts worked out once, each equal to what it replaces."""

from __future__ import annotations

import dataclasses
import io

import fastavro
import pytest

from pipeline.core.audit import processed_event
from pipeline.core.avro_writer import Encoded, RepeatedMaps, compile_parts_writer
from pipeline.core.coverage import Coverage, Decision
from pipeline.core.crypto.audit_chain import AuditChain
from pipeline.core.errors import ConfigError
from pipeline.core.formats.processor import TransformationBytes
from pipeline.core.sensitive_evidence.code_systems import CodeSystem
from pipeline.core.sensitive_evidence.coded import Coded, classify_codes
from pipeline.core.sensitive_evidence.codes import RANGES, ranges_of
from pipeline.core.structured import Transformation
from pipeline.core.transform.actions import ActionParams
from pipeline.core.transform.context import TransformContext

SHARED = (Transformation("record_id", "ID", "tokenize"), Transformation("ssn", "SSN", "encrypt"))


def _fastavro(parsed, record) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    return buffer.getvalue()


def _output_record(registry, transformations) -> tuple[object, dict]:
    output = registry.get("deidentified_clinical_record")
    record = {
        "record_id": "tok:a", "patient_id": "tok:b", "patient_name": None, "mrn": "tok:c", "date_of_birth": "1937",
        "admission_date": "2026", "message_id": "m-1", "source_schema": "clinical_record:1",
        "sensitive_categories": [], "phi_transformations": [t.as_record() for t in transformations],
    }  # fmt: skip
    return output, record


@pytest.mark.parametrize(
    "transformations",
    [
        [],
        list(SHARED),
        [*SHARED, Transformation("note", "NAME", "redact", 4, 9, "ensemble"), SHARED[0]],
        [Transformation("note", "FREE_TEXT", "withhold", None, None, "sensitive")],
    ],
)
def test_transformations_encoded_once_are_fastavros_bytes(registry, transformations):
    output, record = _output_record(registry, transformations)
    expected = _fastavro(output.parsed, record)
    encoder = TransformationBytes()
    for _ in range(2):  # made, then reused
        shared = encoder.encode(output, transformations)
        assert isinstance(shared, Encoded)
        assert output.writer({**record, "phi_transformations": shared}) == expected


def test_a_shared_transformation_is_encoded_once_and_the_store_is_bounded(registry):
    output, _ = _output_record(registry, [])
    encoder = TransformationBytes(limit=2)
    first = encoder.encode(output, list(SHARED))
    again = encoder.encode(output, list(SHARED))
    assert first == again
    many = [Transformation(f"f{i}", "ID", "tokenize") for i in range(5)]
    array = next(f["type"] for f in output.parsed["fields"] if f["name"] == "phi_transformations")
    items = compile_parts_writer(array["items"])
    assert items is not None
    expected: list[bytes] = [bytes([len(many) * 2])]
    for item in many:
        items(item.as_record(), expected)
    assert encoder.encode(output, many) == b"".join(expected) + b"\x00"  # past the limit it starts again


def test_an_output_without_a_compiled_writer_gets_none(registry):
    output, _ = _output_record(registry, [])
    uncompiled = dataclasses.replace(output, writer=None)
    assert TransformationBytes().encode(uncompiled, list(SHARED)) is None


def test_a_derived_context_equals_a_new_one_and_keeps_the_checked_fields():
    base = TransformContext(patient_key="", secret=b"s" * 32, shift_days=(-10, 10))
    params = ActionParams.of({"keep_last": 4})
    derived = base.derive(patient_key="P1", params=params)
    assert derived == dataclasses.replace(base, patient_key="P1", params=params)
    assert base.patient_key == ""  # the base is untouched
    assert (
        derived.date_offset()
        == TransformContext(patient_key="P1", secret=b"s" * 32, shift_days=(-10, 10)).date_offset()
    )
    with pytest.raises(ConfigError, match="secret and shift_days"):
        base.derive(secret=b"x")


def test_coverage_counts_decisions_at_once_and_skips_leaves_not_counted():
    coverage = Coverage()
    coverage.count([Decision.RULED, None, Decision.KEPT, Decision.RULED])
    assert coverage.as_details() == {
        "leaves_ruled": "2", "leaves_detected": "0", "leaves_dropped": "0", "leaves_kept": "1",
    }  # fmt: skip


@pytest.mark.parametrize("code", ["F10.20", "f10.20", " B20 ", "Z3A.01", "I50.9", "F99"])
def test_range_hits_are_the_ranges_walk_every_time(code):
    expected = {f"icd10cm.{label}" for label, _ in ranges_of(code.strip().upper(), RANGES)}
    for _ in range(2):  # computed, then remembered
        evidence = classify_codes([Coded(CodeSystem.ICD10CM.value, code)])
        assert {group for groups in evidence.found.values() for group in groups} == expected


def test_repeated_maps_write_the_events_bytes_and_refuse_nothing_they_do_not_know(registry, keyring):
    audit = registry.get("audit_event")
    maps = RepeatedMaps(audit.parsed, limit=2)
    chain = AuditChain(keyring, "w/run/p0")
    for n in range(4):  # each content twice, and past the limit
        event = chain.append(
            processed_event(
                actor="w", message_id=f"m-{n}", schema="clinical_record:1", source="in/0/0",
                entity_counts={"ID": 2 + n // 2, "NAME": 70}, action_counts={"tokenize": 2 + n // 2},
                details={"leaves_ruled": "é" * (n // 2 * 40)},
            )
        )  # fmt: skip
        shared = maps.shared(event)
        assert isinstance(shared["details"], Encoded) and shared["actor"] == "w"
        assert audit.writer(shared) == _fastavro(audit.parsed, event)
