"""Arbitrary JSON in every field of otherwise good records, through ``RecordProcessor.process_batch`` with the
real model detector (rules and the shipped int8 model, as a worker runs them).

Each example is one batch: good records (Avro and JSON) around a record whose field (top level or inside
``vitals``) holds an arbitrary JSON value: lone surrogates, integers past every limit, NaN and
infinities, deep nesting, wrong types, 100 KB strings, or a plausible value. An independent oracle,
written from the schema, says whether the record is acceptable. Nothing raises; every good record comes
out; the mutated record comes out exactly when the oracle accepts it, and otherwise is a dead letter with
a reason (never ``processing-error``: that would be a failure nobody anticipated); a tagged value that is
accepted appears in no output. The spans the model finds are not checked (the model may be retrained).

CI runs ``PIPELINE_FUZZ_EXAMPLES`` examples (60 by default); the full-size run:
``make fuzz-full`` (``PIPELINE_FUZZ_EXAMPLES=200000``, no per-test timeout)
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.core.errors import PipelineError
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from tests.unit.processors import unit_processor

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("PIPELINE_FUZZ_EXAMPLES", "60"))
#: A long run appends "<examples> <seconds>" here every 500 examples, so its progress can be followed.
PROGRESS = os.environ.get("PIPELINE_FUZZ_PROGRESS")
_COUNT = {"examples": 0, "started": time.monotonic()}
MODEL = REPO / "models" / "detector"
POOL = [r.record for r in synthetic_records(24, seed=404)]
PLACEHOLDER = "__fuzz_value_placeholder__"

INT32 = (-(2**31), 2**31 - 1)
YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
ZIP = re.compile(r"^\s*(\d{5})(?:-?\d{4})?\s*$")
REQUIRED_TEXT = ("record_id", "patient_id", "patient_name", "mrn")
NULLABLE_TEXT = ("ssn", "phone", "email", "street_address", "city", "state", "health_plan_id", "attending", "note")
DATES = {"date_of_birth": False, "admission_date": False, "discharge_date": True}  # name -> nullable
VITALS_INT = ("heart_rate", "systolic_bp", "diastolic_bp", "spo2")
TAGGED = {*REQUIRED_TEXT, "ssn", "phone", "email", "street_address", "city", "health_plan_id", "attending"}
FIELDS = [*REQUIRED_TEXT, *NULLABLE_TEXT, *DATES, "age", "zip", "diagnosis_codes", "vitals"] + [
    f"vitals.{name}" for name in (*VITALS_INT, "temperature_c")
]


@pytest.fixture(scope="module")
def processor(registry, keyring):
    if not (MODEL / "model_quantized.onnx").exists() and not any(MODEL.glob("*.onnx")):
        pytest.fail(f"the shipped detector model is missing from {MODEL}")
    from pipeline.runtime.detectors import build_detector

    return unit_processor(registry, keyring, build_detector(MODEL), worker_id="fuzz")


# -- values ---------------------------------------------------------------------------------------------

SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
PLAUSIBLE = st.one_of(
    st.sampled_from(["2021-06-30", "Sept 3 1931", "02139", "90210-1234", "Pt seen by Dr. Lee, call 555-123-4567."]),
    st.integers(-5, 130),
    st.lists(st.sampled_from(["I10", "E11.9"]), max_size=3),
    st.fixed_dictionaries({"heart_rate": st.integers(30, 200), "temperature_c": st.floats(34, 42)}),
)


def _raw(value: object) -> str:
    return json.dumps(value)  # escapes lone surrogates as \udXXX; NaN and infinities as bare words


HOSTILE = st.one_of(
    JSON_VALUES.map(_raw),
    st.tuples(ANY_TEXT, SURROGATE, ANY_TEXT).map(lambda t: _raw("".join(t))),
    st.tuples(st.sampled_from(["", "-"]), st.integers(4_290, 6_000)).map(lambda t: t[0] + "9" * t[1]),
    st.integers(300, 2_000).map(lambda n: str(10**n)),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0.0"]),
    st.integers(10, 3_000).map(lambda d: "[" * d + "]" * d),
    st.integers(10, 3_000).map(lambda d: '{"a":' * d + "1" + "}" * d),
    st.sampled_from(["x", "Dr. Lee 555-123-4567 ", "\u00e9\u4e2d", "MRN 1234567; "]).map(
        lambda s: _raw((s * (100_000 // len(s) + 1))[:100_000])
    ),
)
TEXTS = st.sampled_from([POOL[0]["note"], "", "Dr. Ngo", "MRN 1234567", "1931-02-03"]).map(_raw)
#: A third each: hostile values, plausible ones of any type, and text a record could hold.
RAW = st.sampled_from(["hostile", "plausible", "text"]).flatmap(
    lambda kind: {"hostile": HOSTILE, "plausible": PLAUSIBLE.map(_raw), "text": TEXTS}[kind]
)


# -- the oracle: which values the schema (and the field's action) accepts ------------------------------


def _parse(raw: str) -> tuple[bool, object]:
    try:
        return True, json.loads(raw)
    except (ValueError, RecursionError):
        return False, None


def _no_lone_surrogate_or_overflow(value: object) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= 64:  # deeper than any record: refused at decode
            return False
        if isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            return False
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**1024:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in (*item.keys(), *item.values()))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def _is_int(value: object, low: int = INT32[0]) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= INT32[1]


def _nullable_int(value: object) -> bool:
    return value is None or _is_int(value)


def _vitals_ok(value: object) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    temperature = value.get("temperature_c")
    temperature_ok = temperature is None or (isinstance(temperature, int | float) and not isinstance(temperature, bool))
    return all(_nullable_int(value.get(name)) for name in VITALS_INT) and temperature_ok


def accepted(field: str, value: object) -> bool:
    if field in REQUIRED_TEXT:
        return isinstance(value, str)
    if field in NULLABLE_TEXT:
        return value is None or isinstance(value, str)
    if field in DATES:
        return (value is None and DATES[field]) or (isinstance(value, str) and YEAR.search(value) is not None)
    if field == "age":
        return value is None or _is_int(value, low=0)
    if field == "zip":
        return value is None or (isinstance(value, str) and ZIP.match(value) is not None)
    if field == "diagnosis_codes":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if field == "vitals":
        return _vitals_ok(value)
    return _vitals_ok({field.split(".", 1)[1]: value})


def mutated_json(base: dict, field: str, raw: str) -> bytes:
    record = json.loads(json.dumps(base))
    if field.startswith("vitals."):
        record["vitals"] = dict(record["vitals"] or {}, **{field.split(".", 1)[1]: PLACEHOLDER})
    else:
        record[field] = PLACEHOLDER
    return json.dumps(record).replace(json.dumps(PLACEHOLDER), raw, 1).encode("utf-8")


def _inbound(signed, offset):
    return InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, offset, 0)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(FIELDS),
    raw=RAW,
    picks=st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=2),
    position=st.integers(0, 2),
    encoding=st.sampled_from(["avro", "json"]),
)
def test_property_arbitrary_json_in_any_field_through_the_model_pipeline(
    processor, registry, keyring, field, raw, picks, position, encoding
):
    entry = registry.get("clinical_record")
    good = [
        signed_input(keyring, entry.ref, encode_record(entry, POOL[i], encoding), POOL[i]["record_id"]) for i in picks
    ]
    base = POOL[picks[0]]
    bad = signed_input(keyring, entry.ref, mutated_json(base, field, raw), base["record_id"])
    position = min(position, len(good))
    batch = [*good[:position], bad, *good[position:]]
    parsed, value = _parse(raw)
    expect_ok = parsed and _no_lone_surrogate_or_overflow(value) and accepted(field, value)
    if parsed and isinstance(value, float) and not math.isfinite(value):
        event("non-finite float")
    event(f"expected {'ok' if expect_ok else 'dead letter'}")

    try:
        results = processor.process_batch([_inbound(s, i) for i, s in enumerate(batch)])
    except PipelineError as exc:  # pragma: no cover - the property is that this never happens
        pytest.fail(f"process_batch raised {type(exc).__name__}")
    assert len(results) == len(batch)
    mutated = results.pop(position)
    assert [r.outcome for r in results] == ["ok"] * len(good), [(r.reason, r.stage) for r in results]
    assert mutated.outcome in ("ok", "deadletter")
    if mutated.outcome == "deadletter":
        assert mutated.reason and mutated.reason != "processing-error", (mutated.reason, mutated.stage)
        event(f"dead letter: {mutated.reason}")
    assert (mutated.outcome == "ok") == expect_ok, (field, mutated.reason, mutated.stage, raw[:80])
    _COUNT["examples"] += 1
    if PROGRESS and _COUNT["examples"] % 500 == 0:
        with open(PROGRESS, "a", encoding="utf-8") as progress:
            progress.write(f"{_COUNT['examples']} {time.monotonic() - _COUNT['started']:.0f}\n")
    if expect_ok and field in TAGGED and isinstance(value, str) and len(value.strip()) >= 16:
        assert value.encode("utf-8") not in mutated.outputs[0].value
