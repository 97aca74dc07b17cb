"""The redaction core with the shipped sensitive-category classifier: one batch, every action.

Uses the real category head (beside the detector, models/detector) on notes written to sit plainly in one
category, beside the rules detector. Checks where each record goes, what is withheld, the decision audit event, that the
classifier sees the original text, and that one note the classifier cannot handle is that note's dead letter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.codecs import decode_avro
from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.messages import InboundMessage
from pipeline.core.processing import RecordProcessor
from pipeline.core.roles import Outcome, OutputRole
from pipeline.core.sensitive import NoteClassifier, SensitiveAction, SensitiveCategory, SensitivePolicy, strictest
from pipeline.core.sensitive_evidence import EvidenceClassifier
from pipeline.core.summary_processing import AgentAuditTrail, SummaryProcessor
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.runtime.sensitive_classifier import SensitiveModelError, build_classifier
from tests.unit.processors import unit_processor

MODEL = Path(__file__).resolve().parents[2] / "models" / "detector"  # the category head beside the detector
POISON = "Zq-classifier-poison"
NOTES = {
    "substance_use": "Pt with opioid use disorder on methadone 90 mg daily from the OTP, UDS positive for fentanyl.",
    "hiv_sti": "HIV positive on Biktarvy, viral load undetectable, CD4 640.",
    "mental_health": "Major depressive disorder, PHQ-9 19, started sertraline 50 mg, psychiatry to follow.",
    "genetic": "Germline testing: pathogenic BRCA2 variant identified after genetic counseling.",
    "none": "POD1 after right knee replacement, ambulating with PT, pain controlled, tolerating diet.",
}
POLICY = SensitivePolicy.parse("substance_use=restrict,hiv_sti=withhold_text,mental_health=drop_summary,genetic=pass")


@pytest.fixture(scope="module")
def classifier() -> NoteClassifier:
    return build_classifier(MODEL, provider="cpu", threads=1)


def _processor(registry, keyring, classifier) -> RecordProcessor:
    return unit_processor(registry, keyring, classifier=classifier, sensitive_policy=POLICY)


def _batch(registry, keyring, notes: dict[str, str]):
    entry = registry.get("clinical_record")
    records = list(synthetic_records(len(notes), seed=5))
    messages = []
    for offset, ((_kind, note), synthetic) in enumerate(zip(notes.items(), records, strict=True)):
        record = dict(synthetic.record, note=f"{synthetic.record['patient_name']}: {note}")
        signed = signed_input(keyring, entry.ref, encode_record(entry, record, "avro"), synthetic.key)
        messages.append(InboundMessage(signed.value, signed.key, tuple(signed.headers), "phi.ingest", 0, offset, 0))
    return list(notes), messages


def _record(registry, result):
    out = result.outputs[0]
    return out.role, decode_avro(registry.get(dict(out.headers)["phi-schema"].decode()), out.value)


def test_each_action_routes_withholds_or_passes_and_each_decision_is_audited(registry, keyring, classifier):
    kinds, messages = _batch(registry, keyring, NOTES)
    results = _processor(registry, keyring, classifier).process_batch(messages)
    by_kind = dict(zip(kinds, results, strict=True))
    for kind, result in by_kind.items():
        assert result.outcome is Outcome.OK, (kind, result.reason)
        role, record = _record(registry, result)
        listed = {c["category"]: c["action"] for c in record["sensitive_categories"]}
        audits = [o for o in result.outputs if o.role is OutputRole.AUDIT]
        events = [decode_avro(registry.get("audit_event"), o.value) for o in audits]
        if kind == "none":
            assert listed == {} and role is OutputRole.REDACTED and record["note"]
            assert [e["event_type"] for e in events] == ["message_processed"]
            assert result.sensitive == ()
            continue
        assert listed.get(kind) == POLICY.action_for(SensitiveCategory(kind)).value, (kind, listed)
        assert [e["event_type"] for e in events] == ["sensitive_decision", "message_processed"]
        decision = events[0]
        assert decision["outcome"] == strictest([SensitiveAction(a) for a in listed.values()]).value
        assert f"category:{kind}" in decision["details"]
        assert (kind, listed[kind]) in result.sensitive
    assert _record(registry, by_kind["substance_use"])[0] is OutputRole.RESTRICTED
    withheld = _record(registry, by_kind["hiv_sti"])[1]
    assert withheld["note"] is None
    withheld_fields = {(t["field"], t["phi_type"], t["action"]) for t in withheld["phi_transformations"]}
    assert ("note", "FREE_TEXT", "withhold") in withheld_fields
    for kind in ("mental_health", "genetic"):
        role, record = _record(registry, by_kind[kind])
        assert role is OutputRole.REDACTED and record["note"]
        assert by_kind[kind].outputs[0].role is OutputRole.REDACTED


def test_records_the_policy_drops_the_summary_of_are_skipped_by_the_summary_agent(registry, keyring, classifier):
    kinds, messages = _batch(registry, keyring, {k: NOTES[k] for k in ("mental_health", "genetic", "none")})
    processor = _processor(registry, keyring, classifier)
    results = processor.process_batch(messages)
    redacted = [r.outputs[0] for r in results]
    summaries = SummaryProcessor(
        registry=registry,
        keyring=keyring,
        detector=RuleDetector(),
        audit=AgentAuditTrail.for_agent(keyring, registry, "unit", "run", "summarize"),
        generate=None,
        model_name=None,
    )
    done = summaries.process_batch(
        [InboundMessage(o.value, o.key, o.headers, "phi.redacted", 0, i, 0) for i, o in enumerate(redacted)]
    )
    by_kind = {
        kind: next(s for s in done if s.message_id == r.message_id) for kind, r in zip(kinds, results, strict=True)
    }
    assert (by_kind["mental_health"].outcome, by_kind["mental_health"].reason) == ("skipped", "sensitive-category")
    assert by_kind["mental_health"].outputs == []
    assert by_kind["genetic"].outcome == by_kind["none"].outcome == "extractive"  # no generator: the chosen method


class Watching:
    """A classifier passed through unchanged, keeping every text it was asked to classify."""

    def __init__(self, inner: NoteClassifier, seen: list[str]) -> None:
        self.inner, self.seen = inner, seen
        self.name, self.thresholds = inner.name, inner.thresholds

    def classify_batch(self, texts):
        self.seen.extend(texts)
        return self.inner.classify_batch(texts)

    def describe(self):
        return self.inner.describe()


def test_the_classifier_reads_the_original_text_not_the_redacted_one(registry, keyring, classifier):
    seen: list[str] = []
    _kinds, messages = _batch(registry, keyring, {"none": NOTES["none"]})
    _processor(registry, keyring, Watching(classifier, seen)).process_batch(messages)
    name = next(iter(synthetic_records(1, seed=5))).record["patient_name"]
    assert seen == [f"{name}: {NOTES['none']}"]  # the patient's name is still there: nothing was redacted yet


def test_a_note_the_classifier_cannot_handle_is_dead_lettered_alone(registry, keyring, classifier):
    class Poisoned:
        """Fails on any batch holding the poison marker, as a model runtime may on one odd text."""

        name = classifier.name
        thresholds = classifier.thresholds

        def classify_batch(self, texts):
            if any(POISON in t for t in texts):
                raise RuntimeError("cannot handle this text")
            return classifier.classify_batch(texts)

        def describe(self):
            return classifier.describe()

    notes = {"none": NOTES["none"], "poison": POISON, "genetic": NOTES["genetic"]}
    _kinds, messages = _batch(registry, keyring, notes)
    results = _processor(registry, keyring, Poisoned()).process_batch(messages)
    assert [(r.outcome, r.stage) for r in results] == [
        (Outcome.OK, "emit"),
        (Outcome.DEADLETTER, "classify"),
        (Outcome.OK, "emit"),
    ]
    assert results[1].reason == "processing-error"


def test_the_model_runs_only_on_notes_whose_decision_its_score_can_change():
    model = build_classifier(MODEL, provider="cpu", threads=1, evidence=False)
    asked: list[str] = []
    texts = [NOTES["none"], NOTES["substance_use"], "Pt reports etoh use on weekends, last use unknown."]
    scores = EvidenceClassifier(Watching(model, asked)).classify_batch(texts)
    assert asked == [texts[2]]  # no evidence: nothing to ask; strong evidence: found without the model
    assert not any(s >= model.thresholds[c] for c, s in scores[0].items())
    assert scores[1][SensitiveCategory.SUBSTANCE_USE] >= model.thresholds[SensitiveCategory.SUBSTANCE_USE]


def test_scores_do_not_depend_on_batch_neighbours(classifier):
    texts = [*NOTES.values(), "x" * 3000 + " opioid use disorder on methadone"]
    alone = [classifier.classify(t) for t in texts]
    together = classifier.classify_batch(texts)
    assert alone == together


def test_a_missing_model_refuses_with_what_to_change(tmp_path):
    with pytest.raises(SensitiveModelError, match="PHI_SENSITIVE_MODEL"):
        build_classifier(tmp_path / "absent")
    (tmp_path / "broken").mkdir()
    with pytest.raises(SensitiveModelError, match="cannot be loaded"):
        build_classifier(tmp_path / "broken")


def test_strictest_action_order_is_pass_to_restrict():
    assert [a.value for a in SensitiveAction] == ["pass", "drop_summary", "withhold_text", "restrict"]
