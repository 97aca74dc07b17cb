"""The shipped sensitive-category classifier on real ICU nursing notes (the shared development half).

Labels (ids only) are in models/sensitive_eval/physionet_dev_labels.jsonl; the text is read from
../shared/data and the tests skip when it is absent. The classifier is the worker's (evidence first, the
model only where its score can change a decision), so the whole development half runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.sensitive import SensitiveCategory as C
from pipeline.modelbuild.sensitive import realnotes
from pipeline.runtime.sensitive_classifier import build_classifier
from tests.conftest import SHARED_DATA

NOTES = SHARED_DATA / "physionet_deid_dev" / "notes.jsonl"
MODEL = Path(__file__).resolve().parents[2] / "models" / "detector"  # the category head beside the detector
pytestmark = pytest.mark.skipif(not NOTES.exists(), reason=f"{NOTES} is absent (shared real-note data)")


@pytest.fixture(scope="module")
def flagged() -> dict[str, frozenset[C]]:
    notes = realnotes.read_notes(NOTES)
    classifier = build_classifier(MODEL, provider="cpu", threads=1)
    ids = list(notes)
    scores = classifier.classify_batch([notes[i] for i in ids])
    return {i: realnotes.flagged(s, classifier.thresholds) for i, s in zip(ids, scores, strict=True)}


def test_every_labelled_id_is_a_development_half_note_and_labels_are_known_categories():
    notes = realnotes.read_notes(NOTES)
    labels = realnotes.read_labels()
    assert len(labels) >= 300 and set(labels) <= set(notes)
    strata = {json.loads(line)["stratum"] for line in realnotes.LABELS.read_text(encoding="utf-8").splitlines()}
    assert strata == {"keyword", "random", "keyword-2"}


def test_precision_and_recall_on_the_hand_labelled_real_notes(flagged):
    labels = realnotes.read_labels()
    tp = sum(len(flagged[i] & gold) for i, gold in labels.items())
    fp = sum(len(flagged[i] - gold) for i, gold in labels.items())
    fn = sum(len(gold - flagged[i]) for i, gold in labels.items())
    assert tp / (tp + fp) >= 0.8, (tp, fp, fn)
    assert tp / (tp + fn) >= 0.75, (tp, fp, fn)


def test_no_nursing_note_is_flagged_a_psychotherapy_note_and_unfounded_flags_stay_under_one_percent(flagged):
    notes = realnotes.read_notes(NOTES)
    assert not any(C.PSYCHOTHERAPY_NOTES in f for f in flagged.values())
    for category in (C.HIV_STI, C.GENETIC, C.REPRODUCTIVE):
        bare = [i for i, f in flagged.items() if category in f and not realnotes.SCREEN[category].search(notes[i])]
        assert len(bare) <= 0.01 * len(notes), (category, bare[:5])
    assert sum(bool(f) for f in flagged.values()) <= 0.05 * len(notes)
