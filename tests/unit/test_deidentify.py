"""The Kafka-free de-identifier: what a note, a record, an HL7 v2 message or a FHIR resource gets through it,
that the worker's envelope publishes exactly what it makes, and the one action table it dispatches through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import Action, Deidentifier, PhiType, RejectedMessage, RuleDetector, parse_policy
from pipeline.core.codecs import decode_avro
from pipeline.core.crypto.envelope import Encryptor
from pipeline.core.errors import SchemaError
from pipeline.core.messages import InboundMessage
from pipeline.core.policy.loader import PolicyFileError
from pipeline.core.schemas import SchemaRegistry
from pipeline.core.sensitive import SensitivePolicy
from pipeline.core.transform.operators import OPERATORS
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from tests.unit.processors import unit_processor

SENSITIVE_MODEL = Path(__file__).resolve().parents[2] / "models" / "detector"  # its category head
NOTE = "Zebulon Quarrington was seen on 03/14/2024; he was born in 1929. Call 617-555-0142."


@pytest.fixture
def deidentifier(keyring, registry) -> Deidentifier:
    return Deidentifier(keyring=keyring, detector=RuleDetector(), registry=registry)


def test_a_note_gets_known_values_and_the_90_plus_rule(deidentifier):
    plain = deidentifier.text(NOTE)
    assert "1929" in plain.content  # a bare year is not PHI below 90
    done = deidentifier.text(NOTE, "patient-1", known=[(PhiType.NAME, "Zebulon Quarrington")], aged_90_plus=True)
    assert done.content is not None
    for value in ("Zebulon", "Quarrington", "1929", "03/14/2024", "617-555-0142"):
        assert value not in done.content, value
    assert {("NAME", "redact"), ("DATE", "redact"), ("PHONE", "redact")} <= {
        (t.phi_type, t.action) for t in done.transformations
    }
    for t in done.transformations:  # offsets are in the output: each points at its placeholder
        assert done.content[t.start : t.end] == f"[{t.phi_type}]"
    assert done.coverage.texts == 1 and done.coverage.characters == len(NOTE)
    assert 0 < done.coverage.phi_characters < len(NOTE)
    assert done.schema == "text" and not done.withheld


def test_a_note_is_withheld_where_the_sensitive_policy_says(keyring):
    from pipeline.runtime.sensitive_classifier import build_classifier

    classifier = build_classifier(SENSITIVE_MODEL, provider="cpu", threads=1)
    deidentifier = Deidentifier(
        keyring=keyring,
        detector=RuleDetector(),
        classifier=classifier,
        sensitive_policy=SensitivePolicy.parse("hiv_sti=withhold_text"),
    )
    done = deidentifier.text("HIV positive on Biktarvy, viral load undetectable, CD4 640.")
    assert done.withheld and done.content is None
    assert [t.action for t in done.transformations] == ["withhold"]


def test_the_worker_publishes_what_the_deidentifier_makes(keyring, registry, deidentifier):
    entry = registry.get("clinical_record")
    synthetic = next(synthetic_records(1, seed=11))
    record = dict(synthetic.record, ssn=None)  # ciphertexts are randomized: leave the one encrypted field out
    value = encode_record(entry, record, "avro")
    signed = signed_input(keyring, entry.ref, value, synthetic.key)
    message = InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, 0, 0)
    [result] = unit_processor(registry, keyring).process_batch([message])
    published = result.outputs[0]
    direct = deidentifier.document(entry.ref, value, message_id=signed.message_id)
    assert published.value == direct.content
    assert dict(published.headers)["phi-schema"].decode() == direct.schema
    library = deidentifier.record(entry, record)
    assert decode_avro(registry.get(direct.schema), direct.content)["note"] == library.content["note"]


def test_a_batch_returns_each_inputs_own_rejection(deidentifier):
    hl7 = b"MSH|^~\\&|A|B|C|D|20240314||ADT^A01|1|P|2.5\rPID|1||123^^^H^MR||Lee^Ann\r"
    fhir = json.dumps({"resourceType": "Patient", "name": [{"family": "Lee", "given": ["Ann"]}]}).encode()
    good, bad, other = deidentifier.documents([("hl7v2", hl7), ("fhir-r4", b"{not json"), ("fhir-r4", fhir)])
    assert isinstance(bad, RejectedMessage) and bad.reason and "not json" not in str(bad)
    assert not isinstance(good, RejectedMessage) and b"Lee" not in good.content
    assert not isinstance(other, RejectedMessage) and b"Lee" not in other.content


def test_every_action_has_one_operator_that_checks_its_types():
    assert set(OPERATORS) == set(Action)
    assert all(op.action is action for action, op in OPERATORS.items())
    assert OPERATORS[Action.DATE_SHIFT].validate(PhiType.NAME) == "'date-shift' applies to DATE only, not NAME"
    assert OPERATORS[Action.GENERALIZE].validate(PhiType.ZIP) is None
    assert OPERATORS[Action.TOKENIZE].validate(None) == "'tokenize' needs a PHI type ('tokenize NAME')"
    assert OPERATORS[Action.DETECT].validate_text(PhiType.NAME) is not None
    assert Action.parse("shift") is Action.DATE_SHIFT and Action.parse(" Date-Shift ") is Action.DATE_SHIFT


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nhl7v2:\n  rules:\n    PID-5: scramble NAME\n",
        "version: 1\ntext:\n  NAME: scramble\n",
        "version: 1\nfhir:\n  rules:\n    HumanName: keepish\n",
    ],
)
def test_an_unknown_action_fails_at_load(text):
    with pytest.raises(PolicyFileError, match="unknown action"):
        parse_policy(text, "p.yaml")


def _schema(tmp_path: Path, tags: dict[str, str]) -> SchemaRegistry:
    fields = [{"name": "id", "type": "string"}, {"name": "seen", "type": "string", **tags}]
    schema = {"type": "record", "name": "Visit", "fields": fields, "subject_field": "id"}
    (tmp_path / "visit.avsc").write_text(json.dumps(schema))
    return SchemaRegistry.load(tmp_path)


def test_an_avro_tag_takes_any_action_of_the_table_and_refuses_an_unknown_one(tmp_path, keyring):
    with pytest.raises(SchemaError, match="unknown action 'scramble'"):
        _schema(tmp_path, {"phi": "DATE", "action": "scramble"})
    registry = _schema(tmp_path, {"phi": "DATE", "action": "date-shift"})
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), registry=registry)
    first = deidentifier.record("visit", {"id": "p-1", "seen": "2024-03-14"})
    again = deidentifier.record("visit", {"id": "p-1", "seen": "2024-03-15"})
    assert first.content["seen"] != "2024-03-14" and len(first.content["seen"]) == 10
    assert [(t.phi_type, t.action) for t in first.transformations] == [("DATE", "date-shift")]
    moved = [int(r.content["seen"][-2:]) for r in (first, again)]
    assert moved[1] - moved[0] in (1, -27, -28, -29, -30)  # one patient, one offset: the interval is kept


def test_free_text_encryption_is_bound_to_the_message_and_the_path(keyring):
    policy = parse_policy("version: 1\ntext:\n  PHONE: encrypt\n", "p.yaml")
    deidentifier = Deidentifier(keyring=keyring, detector=RuleDetector(), policy=policy)
    done = deidentifier.text("Call 617-555-0142.", message_id="m-1")
    assert done.content is not None and "617-555-0142" not in done.content and "enc:" in done.content
    [t] = done.transformations
    assert (t.phi_type, t.action) == ("PHONE", "encrypt")
    assert t.start is not None and t.end is not None and done.message_id == "m-1"
    token = done.content[t.start : t.end]
    assert Encryptor(keyring).decrypt(token, done.message_id, "text", PhiType.PHONE) == "617-555-0142"


def test_the_public_names_resolve_and_are_listed_once():
    import pipeline

    assert set(pipeline.__all__) == {*pipeline._EXPORTS, "__version__"}
    for name in pipeline._EXPORTS:
        assert getattr(pipeline, name).__name__ == name
