"""Evidence for the sensitive categories beyond the model: maintained vocabularies (clinical terms, medication
classes, laboratory tests, ICD-10-CM codes) read with negation and family context, and the rule that combines
them with the model's scores (:mod:`.combine`). Pure: no model, no I/O; nothing here keeps note text."""

from pipeline.core.sensitive_evidence.combine import STRONG_SCORE, EvidenceClassifier, combine
from pipeline.core.sensitive_evidence.finder import CategoryEvidence, NoteEvidence, find_evidence

__all__ = ["STRONG_SCORE", "CategoryEvidence", "EvidenceClassifier", "NoteEvidence", "combine", "find_evidence"]
