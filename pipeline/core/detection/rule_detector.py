"""Rules-only detection: every recognizer over the text, merged by the ensemble."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.core.detection.base import Doc, ModelDetector, Recognizer
from pipeline.core.detection.merge import Ensemble
from pipeline.core.detection.propagate import complete, propagate
from pipeline.core.detection.registry import default_recognizers
from pipeline.core.detection.vetting import vet
from pipeline.core.spans import Span


class RuleDetector:
    """A :class:`~pipeline.core.detection.base.TextDetector` built from recognizers alone.

    Pure and thread-safe (recognizers hold only compiled regexes), so one instance serves a worker.
    """

    def __init__(self, recognizers: Sequence[Recognizer] | None = None, ensemble: Ensemble | None = None) -> None:
        self.name = "rules"
        self.models: tuple[ModelDetector, ...] = ()
        #: Always empty: the rules run no model (the worker's latency metric reads it from any detector).
        self.last_model_seconds: dict[str, float] = {}
        self.recognizers: tuple[Recognizer, ...] = tuple(default_recognizers() if recognizers is None else recognizers)
        self.ensemble = ensemble or Ensemble()

    def candidates(self, text: str) -> list[Span]:
        """Every recognizer's spans that can be PHI (:func:`~pipeline.core.detection.vetting.vet`), before
        thresholds and merging."""
        doc = Doc.of(text)
        spans: list[Span] = []
        for recognizer in self.recognizers:
            spans.extend(kept for kept in (vet(span, text) for span in recognizer.find(doc)) if kept is not None)
        return spans

    def detect(self, text: str) -> list[Span]:
        return complete(propagate(self.ensemble.merge(self.candidates(text), text), text), text)

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        return [self.detect(text) for text in texts]
