"""A policy's deny list, allow list and custom recognizers around any :class:`Detector`.

Deny-list terms and patterns are always PHI of their type; custom recognizers (a regex, context words
that raise the score when one occurs within 40 characters before a match, a score, a PHI type) add
spans when their score reaches the recognizer's threshold of 0.5; the allow list removes every span
whose text is an allowed term or fully matches an allowed pattern. Detection still runs once per
batch: the inner detector's batch call, then these cheap passes per text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipeline.core.detection.base import Detector, ModelDetector
from pipeline.core.policy.model import Policy
from pipeline.core.spans import Span

POLICY_DETECTOR = "policy"
_CONTEXT_WINDOW = 40
_THRESHOLD = 0.5


class PolicyDetector:
    """``inner``'s spans, plus the policy's deny list and recognizers, minus its allow list."""

    def __init__(self, inner: Detector, policy: Policy) -> None:
        self.inner = inner
        self.policy = policy
        self.name = f"{inner.name}+policy"

    @property
    def models(self) -> Sequence[ModelDetector]:
        return self.inner.models

    @property
    def last_model_seconds(self) -> Mapping[str, float]:
        return self.inner.last_model_seconds

    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        found = self.inner.detect_batch(texts)
        return [self.adjust(text, spans) for text, spans in zip(texts, found, strict=True)]

    def adjust(self, text: str, spans: Sequence[Span]) -> list[Span]:
        """``spans`` with the policy's additions and without its allowed values."""
        out = list(spans)
        for deny in self.policy.deny:
            for start, end in deny.entries.finditer(text):
                out.append(Span(start, end, deny.phi_type, 1.0, POLICY_DETECTOR, ("deny-list",)))
        lower = text.lower()
        for recognizer in self.policy.recognizers:
            for match in recognizer.pattern.finditer(text):
                if match.end() <= match.start():
                    continue
                score = recognizer.score
                window = lower[max(0, match.start() - _CONTEXT_WINDOW) : match.start()]
                if any(word in window for word in recognizer.context):
                    score = min(1.0, score + recognizer.context_boost)
                if score >= _THRESHOLD:
                    reasons = (f"custom:{recognizer.name}",)
                    out.append(Span(match.start(), match.end(), recognizer.phi_type, score, POLICY_DETECTOR, reasons))
        if self.policy.allow:
            out = [s for s in out if not self.policy.allow.covers(text[s.start : s.end])]
        return out
