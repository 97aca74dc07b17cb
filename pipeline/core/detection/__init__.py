"""PHI detection in free text: recognizers (patterns, checksums, context), a model hook, an ensemble.

Public surface: :class:`TextDetector` (the protocol every detector meets), :class:`RuleDetector`
(rules only), :class:`EnsembleDetector` (rules plus models) and :class:`Ensemble` (the merge policy).
"""

from pipeline.core.detection.base import Doc, Recognizer, TextDetector
from pipeline.core.detection.ensemble import EnsembleDetector
from pipeline.core.detection.merge import DEFAULT_THRESHOLDS, Ensemble
from pipeline.core.detection.registry import default_recognizers
from pipeline.core.detection.rule_detector import RuleDetector

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Doc",
    "Ensemble",
    "EnsembleDetector",
    "Recognizer",
    "RuleDetector",
    "TextDetector",
    "default_recognizers",
]
