"""One message's failure, of any kind, is that message's dead letter: never its neighbours', never the worker's.

Each test puts one bad message among good ones in a single batch through ``RecordProcessor.process_batch``
and checks that the good ones come out, the bad one is a dead letter with its own reason, and nothing raises.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import pipeline
from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.crypto.integrity import HEADER_HMAC, SignatureError, verify_headers
from pipeline.core.crypto.keyring import KeyPurpose
from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.errors import PipelineError, RejectedMessage
from pipeline.core.messages import InboundMessage
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from tests.unit.processors import unit_processor

REPO = Path(__file__).resolve().parents[2]
POISON = "Zq-poison-marker"


def inbound(signed, offset=0, partition=0):
    return InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", partition, offset, 0)


def good_batch(registry, keyring, count=5, encoding="json"):
    entry = registry.get("clinical_record")
    records = list(synthetic_records(count, seed=21))
    return (
        entry,
        records,
        [signed_input(keyring, entry.ref, encode_record(entry, r.record, encoding), r.key) for r in records],
    )


def run_with(processor, signed, poison, at=2):
    batch = [*signed[:at], poison, *signed[at:]]
    results = processor.process_batch([inbound(s, offset=i) for i, s in enumerate(batch)])
    assert len(results) == len(batch)
    outcomes = [(r.outcome, r.reason, r.stage) for r in results]
    bad = outcomes.pop(at)
    assert outcomes == [("ok", None, "emit")] * len(signed), outcomes
    return bad, results[at]


def letter_of(registry, result):
    return decode_avro(registry.get("dead_letter"), result.outputs[0].value)


@pytest.mark.parametrize("encoding", ["json"])
@pytest.mark.parametrize("field", ["note", "patient_name", "city", "mrn"])
def test_lone_surrogate_is_rejected_at_decode_alone(registry, keyring, field, encoding):
    entry, records, signed = good_batch(registry, keyring)
    raw = json.dumps(dict(records[0].record, **{field: "Pt \ud800 seen"})).encode()
    assert b"\\ud800" in raw  # valid JSON: the escape, not the bytes
    for detector in (RuleDetector(), None):
        processor = unit_processor(registry, keyring, detector)
        bad, result = run_with(processor, signed, signed_input(keyring, entry.ref, raw, "k"))
        assert bad == ("deadletter", "invalid-unicode", "decode")
        assert "surrogate" in letter_of(registry, result)["detail"]


def test_huge_json_integer_has_its_own_reason(registry, keyring):
    entry, records, signed = good_batch(registry, keyring)
    raw = json.dumps(records[0].record).encode().replace(b'"age": ', b'"age": ' + b"9" * 5000 + b', "_x": ', 1)
    bad, result = run_with(unit_processor(registry, keyring), signed, signed_input(keyring, entry.ref, raw, "k"))
    assert bad == ("deadletter", "number-too-large", "decode")
    assert "9999" not in json.dumps(letter_of(registry, result))


class _PoisonDetector:
    """Fails on any batch holding the poison marker, as a model runtime may on one odd text."""

    name = "poison"
    models = ()
    last_model_seconds: dict = {}

    def __init__(self):
        self.inner = RuleDetector()
        self.calls = 0

    def detect_batch(self, texts):
        self.calls += 1
        if any(POISON in t for t in texts):
            raise TypeError("cannot handle this text")
        return self.inner.detect_batch(texts)


def test_detector_failure_on_a_batch_is_retried_message_by_message(registry, keyring):
    entry, records, signed = good_batch(registry, keyring)
    poison = signed_input(keyring, entry.ref, encode_record(entry, dict(records[0].record, note=POISON), "avro"), "k")
    detector = _PoisonDetector()
    bad, result = run_with(unit_processor(registry, keyring, detector), signed, poison)
    assert bad == ("deadletter", "processing-error", "detect")
    letter = letter_of(registry, result)
    assert letter["detail"] == "unexpected TypeError in stage detect" and POISON not in json.dumps(letter)
    assert letter["message_id"] == poison.message_id  # it passed verification: its own id
    assert detector.calls == 1 + 6  # the batch, then each message alone


def test_unexpected_exception_while_protecting_one_message(registry, keyring, monkeypatch):
    entry, records, signed = good_batch(registry, keyring)
    processor = unit_processor(registry, keyring)
    original = processor.deidentifier.tokenizer.tokenize

    def tokenize(value, phi_type):
        if value == "MRN-POISON":
            raise KeyError(value)  # an exception whose text is a value: it must not reach the letter
        return original(value, phi_type)

    monkeypatch.setattr(processor.deidentifier.tokenizer, "tokenize", tokenize)
    poison = signed_input(
        keyring, entry.ref, encode_record(entry, dict(records[0].record, mrn="MRN-POISON"), "json"), "k"
    )
    bad, result = run_with(processor, signed, poison)
    assert bad == ("deadletter", "processing-error", "protect")
    assert "MRN-POISON" not in json.dumps(letter_of(registry, result))


def test_unexpected_exception_while_transforming_one_message(registry, keyring, monkeypatch):
    entry, records, signed = good_batch(registry, keyring)
    processor = unit_processor(registry, keyring)
    original = processor.deidentifier.ensemble

    class Merger:
        def merge(self, spans, text):
            if POISON in text:
                raise IndexError("span out of range")
            return original.merge(spans, text)

    monkeypatch.setattr(processor.deidentifier, "ensemble", Merger())
    poison = signed_input(keyring, entry.ref, encode_record(entry, dict(records[0].record, note=POISON), "json"), "k")
    bad, _ = run_with(processor, signed, poison)
    assert bad == ("deadletter", "processing-error", "transform")


def test_a_failing_dead_letter_still_becomes_a_plain_one(registry, keyring, monkeypatch):
    entry, _records, signed = good_batch(registry, keyring)
    processor = unit_processor(registry, keyring)
    original = processor.dead_letters._seal

    def seal(data, message_id, part):
        if part == "headers":
            raise MemoryError
        return original(data, message_id, part)

    monkeypatch.setattr(processor.dead_letters, "_seal", seal)
    poison = signed_input(keyring, entry.ref, b"{not json", "k")
    bad, result = run_with(processor, signed, poison)
    assert bad == ("deadletter", "invalid-json", "decode")
    letter = letter_of(registry, result)
    assert letter["sealed_value"] is None and "not copied" in letter["detail"]


def test_unverified_message_gets_a_derived_id_and_its_claim_only_as_detail(registry, keyring):
    _entry, _records, signed = good_batch(registry, keyring, count=1)
    victim = signed[0]
    processor = unit_processor(registry, keyring)
    assert processor.process_batch([inbound(victim)])[0].message_id == victim.message_id
    forged = type(victim)(victim.message_id, victim.key, b"{}", [(n, v) for n, v in victim.headers if n != HEADER_HMAC])
    result = processor.process_batch([inbound(forged, offset=7)])[0]
    assert (result.outcome, result.reason) == ("deadletter", "hmac-missing")
    assert result.message_id.startswith("derived-") and result.message_id != victim.message_id
    letter = letter_of(registry, result)
    assert letter["message_id"] == result.message_id and letter["claimed_message_id"] == victim.message_id
    for out in result.outputs:
        headers = dict(out.headers)
        assert headers["phi-message-id"].decode() != victim.message_id
        verify_headers(keyring, KeyPurpose.EGRESS_HMAC, out.headers, out.key, out.value)
    audit = decode_avro(registry.get("audit_event"), result.outputs[1].value)
    assert audit["message_id"] == result.message_id
    assert Encryptor(keyring).open_bytes(letter["sealed_value"], result.message_id, "deadletter/value") == b"{}"


def test_header_bomb_dead_letter_fits_every_limit(registry, keyring):
    """Finding 1 of issue 20: ~8,000 empty headers with 120-character names and a one-byte value, unsigned."""
    headers = tuple((f"h{i:05d}-" + "x" * 113, b"") for i in range(8_000))
    bomb = InboundMessage(b"x", None, headers, "phi.ingest", 0, 5, 0)
    assert sum(len(n) for n, _ in headers) > 900_000
    for limit in (None, 2_230_000, 1_048_576, 100_000):  # default, the producer's of the finding, Kafka's
        processor = unit_processor(registry, keyring, max_output_bytes=limit)
        result = processor.process_batch([bomb])[0]
        assert (result.outcome, result.reason) == ("deadletter", "message-id-missing")
        for out in result.outputs:
            assert out.size <= processor.max_output_bytes, (limit, out.role, out.size)
        letter = letter_of(registry, result)
        assert len(letter["header_names"]) <= 32
        if limit is not None and limit <= 1_048_576:
            assert letter["sealed_headers"] is None and "stays at phi.ingest/0/5" in letter["detail"]


def test_plain_unsigned_megabyte_fits_a_default_kafka_limit(registry, keyring):
    """A 1,000,000-byte unsigned value: with a broker limit of 1 MB (Kafka's default) its letter still fits."""
    processor = unit_processor(registry, keyring, max_output_bytes=1_048_576)
    result = processor.process_batch([InboundMessage(b"\x07" * 1_000_000, b"k", (), "phi.ingest", 1, 9, 0)])[0]
    assert result.reason == "message-id-missing"
    assert all(out.size <= 1_048_576 for out in result.outputs)
    assert letter_of(registry, result)["sealed_value"] is None


def test_output_size_counts_headers_and_key(registry, keyring):
    _entry, _records, signed = good_batch(registry, keyring, count=1)
    processor = unit_processor(registry, keyring)
    ok = processor.process_batch([inbound(signed[0])])[0].outputs[0]
    processor.max_output_bytes = len(ok.value) + 10  # the value alone fits; with key and headers it does not
    result = processor.process_batch([inbound(signed[0])])[0]
    assert (result.outcome, result.reason, result.stage) == ("deadletter", "output-too-large", "emit")


def test_send_failure_becomes_a_coordinates_only_letter(registry, keyring):
    _entry, _records, signed = good_batch(registry, keyring, count=1)
    processor = unit_processor(registry, keyring)
    result = processor.process_batch([inbound(signed[0], offset=3)])[0]
    letter_result = processor.send_failed(result, ValueError("too large"))
    assert (letter_result.outcome, letter_result.reason, letter_result.stage) == (
        "deadletter",
        "output-rejected",
        "send",
    )
    assert [o.role for o in letter_result.outputs] == ["deadletter", "audit"]
    letter = letter_of(registry, letter_result)
    assert letter["message_id"] == signed[0].message_id and letter["sealed_value"] is None
    assert "phi.ingest/0/3" in letter["detail"]


def _pipeline_modules():
    for info in pkgutil.walk_packages(pipeline.__path__, "pipeline."):
        try:
            yield importlib.import_module(info.name)
        except ImportError:  # an optional extra (models) that is not installed
            continue


def test_one_exception_root_with_reasons_as_class_attributes():
    found = []
    for module in _pipeline_modules():
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    assert len(found) > 40
    outside = [c.__qualname__ for c in found if not issubclass(c, PipelineError)]
    assert not outside, f"exceptions not under PipelineError: {outside}"
    without = [c.__qualname__ for c in found if not isinstance(vars(c).get("reason", getattr(c, "reason", None)), str)]
    assert not without
    # No reason is set at run time: an assignment to self.reason anywhere in the package is the second way.
    for path in Path(pipeline.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    is_self_reason = (
                        isinstance(target, ast.Attribute)
                        and target.attr == "reason"
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    )
                    assert not is_self_reason, f"{path}:{node.lineno} sets self.reason"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_dead_letter_reason_is_documented():
    list(_pipeline_modules())
    reasons = {c.reason for c in _subclasses(RejectedMessage)} | {c.reason for c in _subclasses(SignatureError)}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Dead-letter reasons") :][:3000]
    missing = sorted(r for r in reasons if f"`{r}`" not in section)
    assert not missing, f"reasons missing from README's dead-letter list: {missing}"
    schema_doc = (REPO / "schemas" / "dead_letter.avsc").read_text(encoding="utf-8")
    assert not [r for r in reasons if r not in schema_doc]


def _legacy_v1_headers(keyring, message_id, key, value, schema=None):
    import base64
    import hashlib
    import hmac

    from pipeline.core.crypto.integrity import legacy_canonical_bytes

    signing = keyring.current(KeyPurpose.INGEST_HMAC)
    mac = hmac.new(signing.material, legacy_canonical_bytes(message_id, key, value), hashlib.sha256).digest()
    headers = [
        ("phi-message-id", message_id.encode()),
        ("phi-hmac", f"v1:{signing.key_id}:".encode() + base64.b64encode(mac)),
    ]
    return headers + ([("phi-schema", schema.encode())] if schema else [])


def test_the_schema_header_is_signed_at_ingest(registry, keyring):
    _entry, _records, signed = good_batch(registry, keyring, count=1, encoding="avro")
    good = signed[0]
    processor = unit_processor(registry, keyring)
    relabelled = type(good)(
        good.message_id,
        good.key,
        good.value,
        [(n, b"clinical_record:9" if n == "phi-schema" else v) for n, v in good.headers],
    )
    dropped = type(good)(good.message_id, good.key, good.value, [(n, v) for n, v in good.headers if n != "phi-schema"])
    results = processor.process_batch([inbound(m, offset=i) for i, m in enumerate([good, relabelled, dropped])])
    assert [(r.outcome, r.reason) for r in results] == [
        ("ok", None),
        ("deadletter", "hmac-mismatch"),
        ("deadletter", "hmac-mismatch"),
    ]
    for out in results[0].outputs:  # and on the way out
        assert verify_headers(keyring, KeyPurpose.EGRESS_HMAC, out.headers, out.key, out.value).version == "v2"


def test_legacy_v1_inputs_pass_only_without_an_unsigned_schema_header(registry, keyring):
    entry, _records, signed = good_batch(registry, keyring, count=1, encoding="avro")
    good = signed[0]
    processor = unit_processor(registry, keyring)
    bare = type(good)(
        good.message_id, good.key, good.value, _legacy_v1_headers(keyring, good.message_id, good.key, good.value)
    )
    with_schema = type(good)(
        good.message_id,
        good.key,
        good.value,
        _legacy_v1_headers(keyring, good.message_id, good.key, good.value, entry.ref),
    )
    results = processor.process_batch([inbound(bare), inbound(with_schema, offset=1)])
    assert [(r.outcome, r.reason) for r in results] == [("ok", None), ("deadletter", "hmac-schema-unsigned")]


def test_json_nested_past_any_record_is_refused_at_decode(registry, keyring):
    """Found by the model property test (seed 53): an extra key nesting 994 objects inside ``vitals`` passed the
    schema check (extra keys are ignored) and made copying the record recurse past Python's limit."""
    entry, records, signed = good_batch(registry, keyring)
    raw = json.dumps(dict(records[0].record, vitals={"heart_rate": 80})).replace(
        '"vitals": {', '"vitals": {"a": ' + '{"a": ' * 500 + "1" + "}" * 500 + ", ", 1
    )
    bad, result = run_with(
        unit_processor(registry, keyring), signed, signed_input(keyring, entry.ref, raw.encode(), "k")
    )
    assert bad == ("deadletter", "invalid-json", "decode")
    assert "nested deeper than 64" in letter_of(registry, result)["detail"]
