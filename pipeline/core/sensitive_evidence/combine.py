"""The decision: the model's score per category, combined with the note's evidence.

Per category, with the model's score ``m`` and its threshold ``t``:

- **strong evidence** (a term that documents the patient's own care in the category, or an ICD-10-CM code
  of it, affirmed and not a relative's): the category is found, whatever the model says; the score is
  ``max(m, STRONG_SCORE)`` (never below ``t``);
- **weak evidence only** (a term shared with ordinary care: ``etoh``, ``anxiety``, ``quetiapine``,
  ``pregnancy test``): the model decides; the score is ``m``. For ``mental_health`` two different kinds of
  weak evidence are needed (a symptom word and a psychiatric medication, say): ICU notes chart situational
  anxiety on nearly every page, and the model cannot tell it from an anxiety disorder;
- **no evidence**: the category is not found; the score is 0. No template phrasing, injection, procedure
  or post-operative day can put a note in a category on the model's word alone.

Psychotherapy notes need session evidence *and* are never found in a nursing or ICU progress note (45 CFR
164.501 defines them by author and content): a note with systems-review headings scores 0; otherwise two
distinct session terms are strong evidence, any one session, client or modality term lets the model decide. A
psychotherapy note found is always ``mental_health`` too (CRITERIA.md).

:class:`EvidenceClassifier` wraps any :class:`~pipeline.core.sensitive.NoteClassifier` (the ONNX model in
the worker) and returns the combined scores, so the thresholds, the policy and :func:`decide` apply
unchanged. It runs the model only on the texts whose decision the model's score can change
(:func:`needs_model`: weak evidence only, or a single psychotherapy term); elsewhere the decision is the
evidence's alone (found on strong evidence, scored :data:`STRONG_SCORE`; not found without evidence, 0),
exactly what the model's score would have led to. Most notes carry no evidence at all, so classification
costs the vocabulary scan, not a second encoder pass. Pure: no model, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.core.sensitive import NoteClassifier, SensitiveCategory
from pipeline.core.sensitive_evidence.finder import CategoryEvidence, NoteEvidence, find_evidence

#: The score of a category found on strong evidence when the model scored it lower.
STRONG_SCORE = 0.9
PSYCHOTHERAPY = SensitiveCategory.PSYCHOTHERAPY_NOTES
MENTAL_HEALTH = SensitiveCategory.MENTAL_HEALTH


def combine(
    model: Mapping[SensitiveCategory, float],
    evidence: NoteEvidence,
    thresholds: Mapping[SensitiveCategory, float],
) -> dict[SensitiveCategory, float]:
    """Combined scores for every category the model scored (see the module docstring)."""
    combined: dict[SensitiveCategory, float] = {}
    for category, score in model.items():
        found = evidence[category]
        threshold = thresholds.get(category, 0.5)
        if category is PSYCHOTHERAPY:
            combined[category] = _psychotherapy(float(score), evidence, threshold)
        elif found.strong:
            combined[category] = max(float(score), STRONG_SCORE, threshold)
        elif _model_decides(category, found):
            combined[category] = float(score)
        else:
            combined[category] = 0.0
    psychotherapy = combined.get(PSYCHOTHERAPY, 0.0)
    if MENTAL_HEALTH in combined and psychotherapy >= thresholds.get(PSYCHOTHERAPY, 0.5):
        combined[MENTAL_HEALTH] = max(combined[MENTAL_HEALTH], psychotherapy, thresholds.get(MENTAL_HEALTH, 0.5))
    return {c: round(s, 4) for c, s in combined.items()}


def needs_model(evidence: NoteEvidence) -> bool:
    """Whether the model's score can change any category's decision for a text with this evidence."""
    for category, found in evidence.categories.items():
        if category is PSYCHOTHERAPY:
            if _psychotherapy_possible(evidence) and not _psychotherapy_proven(evidence):
                return True
        elif not found.strong and _model_decides(category, found):
            return True
    return False


def _model_decides(category: SensitiveCategory, found: CategoryEvidence) -> bool:
    """Weak evidence enough for the model to decide: one kind, or two for mental health."""
    return len(found.weak) >= (2 if category is MENTAL_HEALTH else 1)


def _psychotherapy_proven(evidence: NoteEvidence) -> bool:
    found = evidence[PSYCHOTHERAPY]
    return len(found.strong) >= 2 or bool(found.strong and found.weak)


def _psychotherapy_possible(evidence: NoteEvidence) -> bool:
    """Enough for the model to decide: any session, client or modality term outside a nursing note."""
    return not evidence.nursing_note and evidence[PSYCHOTHERAPY].any


def _psychotherapy(score: float, evidence: NoteEvidence, threshold: float) -> float:
    if not _psychotherapy_possible(evidence):
        return 0.0
    if _psychotherapy_proven(evidence):
        return max(score, STRONG_SCORE, threshold)
    return score


class EvidenceClassifier:
    """A :class:`NoteClassifier` whose scores are the inner model's combined with each text's evidence."""

    def __init__(self, model: NoteClassifier) -> None:
        self.model = model
        self.name = f"{model.name}+evidence"
        self.thresholds: Mapping[SensitiveCategory, float] = model.thresholds

    def classify(self, text: str) -> dict[SensitiveCategory, float]:
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[dict[SensitiveCategory, float]]:
        evidence = [find_evidence(t) for t in texts]
        asked = [i for i, found in enumerate(evidence) if needs_model(found)]
        answers = dict(zip(asked, self.model.classify_batch([texts[i] for i in asked]), strict=True)) if asked else {}
        silent = dict.fromkeys(self.thresholds, 0.0)
        return [combine(answers.get(i, silent), found, self.thresholds) for i, found in enumerate(evidence)]

    def explain(self, text: str) -> dict[str, object]:
        """The model's scores, the evidence and the combined scores of one text (term ids, never text)."""
        model = self.model.classify_batch([text])[0]
        evidence = find_evidence(text)
        return {
            "model": {c.value: round(float(s), 4) for c, s in model.items()},
            "evidence": evidence.as_record(),
            "nursing_note": evidence.nursing_note,
            "combined": {c.value: s for c, s in combine(model, evidence, self.thresholds).items()},
        }

    def describe(self) -> str:
        return f"{self.model.describe()} with evidence (vocabularies, ICD-10-CM codes, negation and family context)"
