"""Merging spans from several detectors: unions, conflicts, thresholds, reasons."""

import itertools

import pytest

from pipeline.core.detection import Ensemble, EnsembleDetector, RuleDetector
from pipeline.core.detection.vetting import vet
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span


def span(start, end, phi_type, score, detector="rules:a", reasons=("r",)):
    return Span(start, end, phi_type, score, detector, reasons)


def test_same_type_overlaps_become_one_span_with_all_reasons():
    merged = Ensemble().merge(
        [
            span(0, 4, PhiType.NAME, 0.9, "model:x", ("model",)),
            span(0, 10, PhiType.NAME, 0.8, "rules:name", ("pattern:title",)),
        ]
    )
    assert [(s.start, s.end, s.type) for s in merged] == [(0, 10, PhiType.NAME)]
    assert set(merged[0].reasons) == {"model", "pattern:title"}
    assert merged[0].detector == "model:x+rules:name"
    assert merged[0].score > 0.9  # rules and model agreeing is stronger evidence


def test_higher_score_wins_a_type_conflict_and_loser_keeps_only_its_remainder():
    text = "0123456789ABCDEF"
    merged = Ensemble().merge([span(0, 10, PhiType.PHONE, 0.9), span(5, 16, PhiType.ID, 0.6)], text)
    assert [(s.start, s.end, s.type) for s in merged] == [(0, 10, PhiType.PHONE), (10, 16, PhiType.ID)]
    assert "trimmed" in merged[1].reasons


def test_fully_covered_loser_disappears():
    merged = Ensemble().merge([span(0, 10, PhiType.EMAIL, 0.95), span(3, 8, PhiType.URL, 0.6)], "x" * 10)
    assert [(s.type) for s in merged] == [PhiType.EMAIL]


def test_priority_breaks_score_ties():
    merged = Ensemble().merge([span(0, 9, PhiType.ID, 0.8), span(0, 9, PhiType.SSN, 0.8)], "123456780")
    assert [s.type for s in merged] == [PhiType.SSN]


def test_thresholds_per_type():
    ensemble = Ensemble(thresholds={PhiType.ZIP: 0.7})
    merged = ensemble.merge([span(0, 5, PhiType.ZIP, 0.6), span(10, 15, PhiType.PHONE, 0.6)])
    assert [s.type for s in merged] == [PhiType.PHONE]


def test_output_is_sorted_and_disjoint():
    spans = [span(i, i + 3, PhiType.ID if i % 2 else PhiType.NAME, 0.5 + (i % 5) / 10) for i in range(0, 60, 2)]
    merged = Ensemble().merge(spans, "a" * 70)
    for left, right in itertools.pairwise(merged):
        assert left.end <= right.start


class _FakeModel:
    """A model stand-in that reports a weak NAME where the rules see a weak candidate too."""

    name = "model:fake"
    provider = "cpu"
    model_dir = None

    def __init__(self, spans):
        self.spans = spans
        self.calls = 0

    def detect(self, text):
        return self.detect_batch([text])[0]

    def detect_batch(self, texts):
        self.calls += 1
        return [list(self.spans) for _ in texts]


def test_ensemble_detector_batches_the_model_once_and_merges_with_rules():
    model = _FakeModel([Span(9, 13, PhiType.NAME, 0.7, "model:fake", ("model",))])
    detector = EnsembleDetector(RuleDetector(), [model])
    texts = ["Seen by  Jack today, SSN 123-45-6780", "Seen by  Jack today, SSN 123-45-6780"]
    results = detector.detect_batch(texts)
    assert model.calls == 1
    for result in results:
        assert {s.type for s in result} == {PhiType.NAME, PhiType.SSN}


def test_a_model_span_keeps_its_type_when_a_rule_as_sure_backs_it():
    # 'home' is a weak phone cue; the ZIP rule (cue 'zip') is surer, so the model's ZIP must not become PHONE.
    text = "home zip 53048-2267, thanks"
    model = _FakeModel([Span(9, 19, PhiType.ZIP, 0.68, "model:fake", ("model",))])
    result = EnsembleDetector(RuleDetector(), [model]).detect(text)
    assert [(text[s.start : s.end], s.type) for s in result] == [("53048-2267", PhiType.ZIP)]


def test_a_shape_rule_retypes_an_unbacked_model_span():
    text = "SSN 123-45-6780 on file"
    model = _FakeModel([Span(4, 15, PhiType.PHONE, 0.9, "model:fake", ("model",))])
    result = EnsembleDetector(RuleDetector(), [model]).detect(text)
    assert [(text[s.start : s.end], s.type) for s in result] == [("123-45-6780", PhiType.SSN)]


def test_a_labelled_personal_id_outranks_the_model_type():
    text = "flagged; user lee.khan. Next"
    model = _FakeModel([Span(14, 22, PhiType.NAME, 0.99, "model:fake", ("model",))])
    result = EnsembleDetector(RuleDetector(), [model]).detect(text)
    assert [(text[s.start : s.end], s.type) for s in result] == [("lee.khan", PhiType.ID)]


@pytest.mark.parametrize(
    ("value", "kept"),
    [("next week", False), ("then", False), (":", False), ("3/4", True), ("March", True), ("Christmas", True)],
)
def test_model_dates_need_date_evidence(value, kept):
    text = f"seen {value} again"
    span_ = Span(5, 5 + len(value), PhiType.DATE, 0.9, "model:fake")
    assert (vet(span_, text) is not None) is kept


def test_model_spans_of_punctuation_only_are_dropped():
    assert vet(Span(0, 1, PhiType.PHONE, 0.9, "model:fake"), ". x") is None
    assert vet(Span(0, 4, PhiType.NAME, 0.9, "model:fake"), "John") is not None


@pytest.mark.parametrize(
    ("text", "phi_type"),
    [("PSC 0413, Box 8144", PhiType.ZIP), ("Cyprus 51034", PhiType.ZIP), ("CALLED DR AT PAGER 41772", PhiType.PHONE),
     ("ext. 4412", PhiType.PHONE), ("call 617-555-0134", PhiType.PHONE), ("seen 617-555-0134", PhiType.PHONE)],
)  # fmt: skip
def test_model_phone_numbers_short_of_seven_digits_without_a_cue_are_postcodes(text, phi_type):
    start = max(i for i, c in enumerate(text) if not (c.isdigit() or c == "-")) + 1
    vetted = vet(Span(start, len(text), PhiType.PHONE, 0.9, "model:fake"), text)
    assert vetted is not None and vetted.type is phi_type


def test_a_span_index_built_at_once_equals_one_built_span_by_span() -> None:
    import random

    from pipeline.core.detection.ensemble import _SpanIndex

    rng = random.Random(4)
    spans = []
    for _ in range(300):
        start = rng.randrange(200)
        spans.append(Span(start, start + rng.randint(1, 30), rng.choice([PhiType.NAME, PhiType.DATE]), 0.5, "x", ()))
    stepwise = _SpanIndex()
    for span in spans:
        stepwise.add(span)
    at_once = _SpanIndex(spans)
    assert at_once._entries == stepwise._entries and at_once._longest == stepwise._longest
    assert at_once._count == stepwise._count == len(spans)
    probe = Span(50, 60, PhiType.NAME, 0.5, "x", ())
    assert at_once.overlapping(probe) == stepwise.overlapping(probe) != []
